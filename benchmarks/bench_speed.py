"""Speed goals that need more than one model per measurement.

* `heads`: the late temporal heads of Table 4.1 against TGAP on ResNeXt101-3D, training steps timed round-robin
  (one step of every head per round) so that a drifting machine affects all heads alike; the ratio to TGAP is
  taken within each round, and its median, min and max reported.
* `torchvision_comparison`: our R(2+1)D against the same network built from torchvision's VideoResNet pieces.
* `activation_checkpointing`: peak memory and time of a training step with and without it.
* `breakdown`: where an inference pass spends its time: convolutions by kernel shape (timed with forward hooks,
  their multiply-adds counted from the shapes) and the other operators (torch.profiler, by operator).
* `trials`: torch.compile and bf16 autocast for CPU inference (opt-in: compiling takes minutes here).

`bench_all.py` runs them; each returns a list of dict rows.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from actionlib.engine.train import enable_activation_checkpointing, to_channels_last
from actionlib.models import create

from .common import PeakMemory, op_group, timed

REPO = Path(__file__).resolve().parents[1]

CPU = torch.device("cpu")


def spread(values: list[float], prefix: str) -> dict:
    """Median, min and max of `values` as `prefix`, `prefix_min`, `prefix_max`."""
    return {prefix: statistics.median(values), f"{prefix}_min": min(values), f"{prefix}_max": max(values)}


def prepare(model: nn.Module, shape: tuple, batch: int = 1, channels_last: bool = True):
    """The model and a random clip in the layout the library runs (channels-last unless asked otherwise)."""
    clip = torch.randn(batch, *shape)
    if channels_last:
        to_channels_last(model)
        clip = clip.contiguous(memory_format=torch.channels_last_3d)
    return model, clip


def _train_step(model: nn.Module, clip: torch.Tensor):
    target = torch.zeros(len(clip), dtype=torch.long)

    def step():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(clip), target).backward()

    return step


def heads(
    configs: dict[str, dict], shape: tuple, rounds: int, warmup: int = 1, batch: int = 1, same_backbone: str = ""
) -> list[dict]:
    """Training step of each head config {row id: create kwargs}, round-robin. Ratios per round against the first
    id (TGAP) and against `same_backbone` (the FRMB backbone with average pooling: the head's own cost)."""
    steps = {}
    for row_id, kwargs in configs.items():
        model, clip = prepare(create(**kwargs).train(), shape, batch)
        steps[row_id] = _train_step(model, clip)
    times = defaultdict(list)
    for r in range(warmup + rounds):
        for row_id, step in steps.items():
            start = time.perf_counter()
            step()
            if r >= warmup:
                times[row_id].append(time.perf_counter() - start)
    base = next(iter(configs))
    rows = []
    for row_id, kwargs in configs.items():
        ratios = [t / b for t, b in zip(times[row_id], times[base], strict=True)]
        same = [t / b for t, b in zip(times[row_id], times.get(same_backbone, times[base]), strict=True)]
        head = kwargs.get("head", "avg")
        reduction = kwargs.get("reduction")
        rows.append(
            {
                "id": row_id,
                "head": f"{head} ({reduction})" if reduction else f"{head} (TGAP)",
                "clip": "x".join(map(str, shape[1:])),
                "batch": batch,
                "rounds": rounds,
                **spread(times[row_id], "train_s"),
                **spread(ratios, "vs_tgap"),
                **spread(same, "vs_same_backbone"),
            }
        )
    return rows


def torchvision_r2plus1d(layers, num_classes: int = 51) -> nn.Module:
    """torchvision's R(2+1)D (VideoResNet with (2+1)D convolutions) at any depth; 18 is its `r2plus1d_18`."""
    from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, R2Plus1dStem, VideoResNet

    return VideoResNet(BasicBlock, [Conv2Plus1D] * 4, list(layers), R2Plus1dStem, num_classes=num_classes)


def ours_r2plus1d(layers, frames: int) -> nn.Module:
    """Our R(2+1)D classifier (avg head) with another trunk depth: the registry's R(2+1)D-34 with its trunk swapped."""
    from actionlib.models.r2plus1d import R2Plus1d

    model = create("r2plus1d_34", frames=frames)
    if tuple(layers) != (3, 4, 6, 3):
        model.backbone = R2Plus1d(layers=tuple(layers))
    return model


def torchvision_comparison(
    cases, repeats: int, warmup: int, layouts=("channels_last", "default"), size: int = 112
) -> list[dict]:
    """Inference time of ours / torchvision's for each (name, layers, frames) case and memory layout."""
    from actionlib.complexity import measure

    rows = []
    for name, layers, frames in cases:
        shape = (3, frames, size, size)
        for layout in layouts:
            seconds, gmacs = {}, {}
            for who, build in (("ours", ours_r2plus1d), ("torchvision", None)):
                model = ours_r2plus1d(layers, frames) if build else torchvision_r2plus1d(layers)
                gmacs[who] = measure(model, shape).multiply_adds / 1e9
                model, clip = prepare(model.eval(), shape, channels_last=layout == "channels_last")

                def infer(model=model, clip=clip):
                    with torch.inference_mode():
                        model(clip)

                seconds[who] = timed(infer, repeats, warmup, CPU)
            rows.append(
                {
                    "architecture": name,
                    "clip": f"{frames}x{size}x{size}",
                    "layout": layout,
                    "ours_gmacs": gmacs["ours"],
                    "torchvision_gmacs": gmacs["torchvision"],
                    **spread(seconds["ours"], "ours_s"),
                    **spread(seconds["torchvision"], "torchvision_s"),
                    "time_ratio": statistics.median(seconds["ours"]) / statistics.median(seconds["torchvision"]),
                    # multiply-adds per second, ours over torchvision's: the same speed per unit of work is 1
                    "rate_ratio": (gmacs["ours"] / statistics.median(seconds["ours"]))
                    / (gmacs["torchvision"] / statistics.median(seconds["torchvision"])),
                }
            )
    return rows


def activation_checkpointing(kwargs: dict, shape: tuple, batch: int, repeats: int, warmup: int) -> list[dict]:
    """Peak resident-memory growth and time of one training step, without and with activation checkpointing."""
    rows = []
    for enabled in (False, True):
        model, clip = prepare(create(**kwargs).train(), shape, batch)
        stages = enable_activation_checkpointing(model) if enabled else []
        step = _train_step(model, clip)
        with PeakMemory(CPU) as memory:
            times = timed(step, repeats, warmup, CPU)
        rows.append(
            {
                "model": " ".join([kwargs["name"]] + [f"{k}={v}" for k, v in kwargs.items() if k != "name"]),
                "clip": "x".join(map(str, shape[1:])),
                "batch": batch,
                "activation_checkpointing": enabled,
                "stages": " ".join(stages),
                **spread(times, "train_s"),
                "peak_mb": memory.mb,
            }
        )
        del model, clip, step
    return rows


def _conv_kind(conv: nn.Conv3d) -> str:
    kernel = "x".join(map(str, conv.kernel_size))
    if conv.groups > 1:
        return f"{kernel} grouped"
    return f"{kernel} stem" if conv.in_channels <= 3 else kernel


def breakdown(row_id: str, kwargs: dict, shape: tuple, ceiling: float) -> list[dict]:
    """One channels-last inference pass (after a warm-up): time per convolution kind and per other operator."""
    model, clip = prepare(create(**kwargs).eval(), shape)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    starts, spent, macs = {}, defaultdict(float), defaultdict(float)

    def before(module, _inputs):
        starts[module] = time.perf_counter()

    def after(module, _inputs, output):
        kind = _conv_kind(module)
        spent[kind] += time.perf_counter() - starts[module]
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        macs[kind] += output.numel() * per_output

    with torch.inference_mode():
        model(clip)  # warm-up
        start = time.perf_counter()
        model(clip)
        plain = time.perf_counter() - start
        handles = [h for m in convs for h in (m.register_forward_pre_hook(before), m.register_forward_hook(after))]
        start = time.perf_counter()
        model(clip)
        hooked = time.perf_counter() - start
        for handle in handles:
            handle.remove()
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(clip)
    rows = []
    for kind in sorted(spent, key=spent.get, reverse=True):
        rows.append(
            {
                "id": row_id,
                "part": f"conv {kind}",
                "seconds": spent[kind],
                "share_of_pass": spent[kind] / hooked,
                "gmacs": macs[kind] / 1e9,
                "pct_matmul": 100 * macs[kind] / 1e9 / spent[kind] / ceiling,
            }
        )
    # the operators outside the convolutions, by self time (profiler overhead inflates all alike)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    other = defaultdict(float)
    for event in events:
        if "conv" in event.key:
            continue
        other[op_group(event.key)] += event.self_cpu_time_total / total
    for group in sorted(other, key=other.get, reverse=True):
        rows.append(
            {"id": row_id, "part": f"op {group}", "seconds": other[group] * plain, "share_of_pass": other[group]}
        )
    rows.append({"id": row_id, "part": "whole pass (no hooks)", "seconds": plain, "share_of_pass": 1.0})
    return rows


TRIAL_SCRIPT = """
import json, statistics, time
import torch
from actionlib.engine.train import to_channels_last
from actionlib.models import create
torch.set_num_threads({threads})
model = create(**{kwargs!r}).eval()
to_channels_last(model)
clip = torch.randn(1, *{shape!r}).contiguous(memory_format=torch.channels_last_3d)
mode = {mode!r}
if mode == "compile":
    model = torch.compile(model)
def run():
    with torch.inference_mode():
        if mode == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                model(clip)
        else:
            model(clip)
start = time.perf_counter(); run(); first = time.perf_counter() - start
for _ in range({warmup}):
    run()
times = []
for _ in range({repeats}):
    start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
print(json.dumps({{"first_s": first, "times": times}}))
"""


def trials(
    goal: dict[str, tuple[dict, tuple]], repeats: int, warmup: int, threads: int, timeout: float, bf16_timeout: float
) -> list[dict]:
    """eager / torch.compile / bf16 autocast inference, channels-last, each in a fresh process with a time limit
    (a shorter one for bf16, which this CPU can only emulate: no AVX-512 BF16 or AMX)."""
    rows = []
    for row_id, (kwargs, shape) in goal.items():
        for mode in ("eager", "compile", "bf16"):
            limit = bf16_timeout if mode == "bf16" else timeout
            script = TRIAL_SCRIPT.format(
                kwargs=kwargs, shape=shape, mode=mode, repeats=repeats, warmup=warmup, threads=threads
            )
            start = time.perf_counter()
            try:
                # `python -c` imports from its working directory first: the child runs this checkout's actionlib
                done = subprocess.run(
                    [sys.executable, "-c", script], capture_output=True, text=True, timeout=limit, check=True, cwd=REPO
                )
            except subprocess.TimeoutExpired:
                rows.append({"id": row_id, "mode": mode, "note": f"not done after {limit:.0f} s: slower than that"})
                continue
            except subprocess.CalledProcessError as error:
                rows.append({"id": row_id, "mode": mode, "note": error.stderr.strip().splitlines()[-1][:200]})
                continue
            import json

            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(
                {
                    "id": row_id,
                    "mode": mode,
                    "first_call_s": result["first_s"],
                    **spread(result["times"], "infer_s"),
                    "process_s": time.perf_counter() - start,
                    "note": "",
                }
            )
        eager = next((r for r in rows if r["id"] == row_id and r["mode"] == "eager" and "infer_s" in r), None)
        for row in rows:
            if row["id"] == row_id and eager and "infer_s" in row:
                row["speedup_vs_eager"] = eager["infer_s"] / row["infer_s"]
    return rows
