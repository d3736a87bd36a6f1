"""Measurement helpers that bench_models and bench_speed both use: timed passes, peak memory, operator groups."""

from __future__ import annotations

import ctypes
import gc
import threading
import time

import psutil
import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, repeats: int, warmup: int, device: torch.device) -> list[float]:
    """Seconds of `repeats` calls of `step` after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def _release_memory() -> None:
    """Return freed heap to the system so that the next resident-set growth is the next model's own."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory growth (MB) while the block runs: CUDA allocations, or the sampled resident set on CPU."""

    def __init__(self, device: torch.device, interval: float = 0.01):
        self.device, self.interval, self.mb = device, interval, float("nan")

    def __enter__(self):
        _release_memory()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            self.process = psutil.Process()
            self.start = self.peak = self.process.memory_info().rss
            self.running = True
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.mb = (torch.cuda.max_memory_allocated(self.device) - self.start) / 2**20
        else:
            self.running = False
            self.thread.join()
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.mb = (self.peak - self.start) / 2**20
        return False


def op_group(name: str) -> str:
    """The kind of work a profiler operator name does (batch norm, pooling, layout copies, ...)."""
    groups = {
        "batch_norm": "batch norm",
        "relu": "relu",
        "clamp": "relu",
        "max_pool": "pooling",
        "avg_pool": "pooling",
        "mean": "pooling",
        "add": "residual add",
        "cat": "concatenation",
        "pad": "padding",
        "copy": "layout copies",
        "contiguous": "layout copies",
        "clone": "layout copies",
        "slice": "slicing",
        "addmm": "linear/attention",
        "linear": "linear/attention",
        "matmul": "linear/attention",
        "bmm": "linear/attention",
        "softmax": "linear/attention",
        "empty": "allocation",
    }
    # longest key first: "addmm" (a linear layer) must not be taken for "add" (a residual add)
    for key in sorted(groups, key=len, reverse=True):
        if key in name:
            return groups[key]
    return "other"
