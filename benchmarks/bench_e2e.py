"""End to end: training throughput with the real data pipeline, and `actionlib predict` latency.

* `end_to_end`: a synthetic dataset (actionlib.data.synthetic), the `actionlib train` data pipeline (ClipDataset
  from `build_dataset`, random clip + multi-scale crop + flip, seeded per sample, DataLoader workers) and a training
  step (channels-last forward, backward, SGD step). Three rates per model, each from per-batch times (median,
  min, max): the loader alone, the model step alone on a batch already in memory, and both together. The slower of
  loader and model is the bottleneck.
* `predict_latency`: `python -m actionlib predict` on a 10-second 320x240 video with a checkpoint of the thesis's
  shape written here (no trained weights are needed for timing): wall time of the whole command and its peak
  resident memory, against the time of a process that only imports the library.

`bench_all.py` runs them; each returns a list of dict rows.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler

from actionlib.engine.checkpointing import save_checkpoint
from actionlib.engine.inputs import build_dataset
from actionlib.engine.repro import SeededDataset, seed_worker
from actionlib.engine.train import TrainConfig, collate, to_channels_last
from actionlib.models import create

from .bench_data import write_test_video

REPO = Path(__file__).resolve().parents[1]


def spread(values: list[float], prefix: str) -> dict:
    return {prefix: statistics.median(values), f"{prefix}_min": min(values), f"{prefix}_max": max(values)}


def synthetic_dataset(root: Path, classes: int = 4, videos_per_class: int = 4) -> Path:
    """A small synthetic dataset (HMDB51 layout, 128x96 videos of 40 frames, one split)."""
    from actionlib.data.synthetic import CLASS_NAMES, generate

    generate(root, classes=list(CLASS_NAMES[:classes]), videos_per_class=videos_per_class, splits=1, pose=False)
    return root


def _loader(dataset, batch: int, workers: int, batches: int) -> DataLoader:
    """`actionlib train`'s loader settings, with a sampler that draws as many batches as needed."""
    sampler = RandomSampler(range(len(dataset)), replacement=True, num_samples=batch * batches)
    return DataLoader(
        SeededDataset(dataset, 0),
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=seed_worker,
        prefetch_factor=2 if workers else None,
    )


def end_to_end(root: Path, name: str, kwargs: dict, batch: int, batches: int, workers: int) -> dict:
    """Clips/s of the loader alone, the model step alone and both together; `batches` timed after one warm-up."""
    config = TrainConfig(model=kwargs["name"], dataset="synthetic", root=str(root), batch_size=batch)
    model = create(num_classes=4, **kwargs).train()
    to_channels_last(model)
    dataset = build_dataset(config, "train", model, "train")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step(batch_):
        clip = batch_["clip"].contiguous(memory_format=torch.channels_last_3d)
        loss = F.cross_entropy(model(clip), batch_["label"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def per_batch(iterator, work=None) -> list[float]:
        times, last = [], None
        for i, item in enumerate(iterator):
            if work is not None:
                work(item)
            now = time.perf_counter()
            if i >= 1:  # the first batch pays for worker start-up
                times.append(now - last)
            last = now
        return times

    loader_times = per_batch(_loader(dataset, batch, workers, batches + 1))
    fixed = next(iter(_loader(dataset, batch, 0, 1)))
    step(fixed)  # warm-up
    model_times = []
    for _ in range(batches):
        start = time.perf_counter()
        step(fixed)
        model_times.append(time.perf_counter() - start)
    both_times = per_batch(_loader(dataset, batch, workers, batches + 1), step)
    loader, alone, both = (batch / statistics.median(t) for t in (loader_times, model_times, both_times))
    clip = "x".join(map(str, fixed["clip"].shape[2:]))
    return {
        "model": name,
        "clip": clip,
        "batch": batch,
        "workers": workers,
        "torch_threads": torch.get_num_threads(),
        "batches_timed": batches,
        "loader_clips_per_s": loader,
        "model_clips_per_s": alone,
        "end_to_end_clips_per_s": both,
        **spread([batch / t for t in both_times], "end_to_end_batch_clips_per_s"),
        "end_to_end_vs_model": both / alone,
        "bottleneck": "loader" if loader < alone else "model",
    }


def write_predict_inputs(folder: Path, kwargs: dict, seconds: float = 10.0) -> tuple[Path, Path]:
    """A 10-second 320x240 video (25 fps, MPEG-4 in AVI) and a checkpoint in `load_model`'s layout."""
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "video.avi"
    write_test_video(video, seconds, 25, 320, 240, 12, seed=0)
    torch.manual_seed(0)
    model = create(**kwargs)
    options = {k: v for k, v in kwargs.items() if k not in ("name", "num_classes", "modality")}
    config = TrainConfig(
        model=kwargs["name"],
        options=options,
        modality=model.modality,
        num_classes=model.num_classes,
        class_names=[f"class_{i:02d}" for i in range(model.num_classes)],
    )
    checkpoint = save_checkpoint({"model": model.state_dict(), "config": config.to_dict()}, folder / "best.pt")
    return video, checkpoint


def _run(command: list[str], interval: float = 0.02) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB, sampled) of a child process. (Not the child's ru_maxrss: Linux
    carries the forking parent's high-water mark across exec, and this parent is large.)"""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, cwd=REPO)
        child, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            try:
                peak = max(peak, child.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(interval)
        process.wait()
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed: {errors.read().decode()[-500:]}")
    return seconds, peak / 2**20


def predict_latency(folder: Path, name: str, kwargs: dict, repeats: int, warmup: int = 1) -> dict:
    """`python -m actionlib predict VIDEO --checkpoint CKPT --device cpu` and a bare import, timed alternately."""
    video, checkpoint = write_predict_inputs(folder, kwargs)
    predict = [sys.executable, "-m", "actionlib", "predict", str(video), "--checkpoint", str(checkpoint)]
    predict += ["--device", "cpu", "--json"]
    startup = [sys.executable, "-c", "import torch, av, actionlib.engine.cli"]
    runs = {"predict": [], "startup": []}
    for i in range(warmup + repeats):
        for key, command in (("predict", predict), ("startup", startup)):
            result = _run(command)
            if i >= warmup:
                runs[key].append(result)
    seconds = [s for s, _ in runs["predict"]]
    startup_s = statistics.median(s for s, _ in runs["startup"])
    return {
        "model": name,
        "video": "10 s, 320x240, 25 fps (250 frames)",
        "protocol": "multi-center (default)",
        "repeats": repeats,
        **spread(seconds, "latency_s"),
        "import_only_s": startup_s,
        "latency_minus_import_s": statistics.median(seconds) - startup_s,
        "peak_mb": statistics.median(mb for _, mb in runs["predict"]),
        "import_only_peak_mb": statistics.median(mb for _, mb in runs["startup"]),
    }
