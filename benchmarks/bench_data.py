"""Data pipeline throughput: seeking decoder vs. decoding whole videos, with 0, 1 and 2 DataLoader workers.

Measures decoded + sampled + augmented training clips per second (16 x 112 x 112 clips, multi-scale crop, flip,
Hara normalisation, from 320x240 videos resized to 128x170 as for the 3D ResNeXt) for two readers:

* seek:  actionlib's VideoReader (seeks to the keyframe before the clip, decodes only up to its last frame);
* naive: decode every frame of the video, then slice out the clip.

The test videos are generated in a temporary folder (MPEG-4 Part 2 in AVI like HMDB51's, 25 fps, a keyframe
every `--gop` frames). Prints a Markdown table and writes a CSV (default results/benchmarks/data.csv).

    .venv/bin/python -m benchmarks.bench_data               # about a minute on 2 cores
    .venv/bin/python -m benchmarks.bench_data --seconds 4 --samples 48 --workers 0
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from actionlib.data.datasets import ClipDataset, VideoRecord, collate_clips
from actionlib.data.sampling import FrameSampler
from actionlib.data.transforms import ClipTransform
from actionlib.data.video import decode_all, open_reader

REPO = Path(__file__).resolve().parents[1]


class NaiveReader:
    """Decode the whole video, then index it: what a loader without seeking does for every clip."""

    def __init__(self, path: Path):
        self.frames = decode_all(path)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def read(self, indices):
        return self.frames[list(indices)]


def open_naive(path: Path, modality: str):
    return NaiveReader(path)


def write_test_video(path: Path, seconds: float, fps: int, width: int, height: int, gop: int, seed: int) -> None:
    """A textured scene panning sideways with a moving block: real motion and detail for the encoder."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (height, width * 2, 3), dtype=np.uint8)
    texture = ((texture.astype(np.uint16) + np.roll(texture, 1, 1) + np.roll(texture, 1, 0)) // 3).astype(np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.bit_rate = 1_000_000
        for i in range(int(seconds * fps)):
            image = np.ascontiguousarray(texture[:, i % width : i % width + width])
            x = (5 * i) % (width - 40)
            image[100:140, x : x + 40] = (255, 64, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _one_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)


def measure(dataset: ClipDataset, workers: int, samples: int, batch_size: int) -> float:
    """Clips per second in steady state (the first batch, which pays for worker start-up, is not timed)."""
    sampler = RandomSampler(dataset, replacement=True, num_samples=samples + batch_size)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_clips,
        worker_init_fn=_one_thread if workers else None,
    )
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    clips = 0
    for batch in iterator:
        clips += len(batch["label"])
    return clips / (time.perf_counter() - start)


def training_step_rate(steps: int, batch_size: int) -> float:
    """Clips per second of a ResNeXt101-3D training step (forward, backward, SGD) on this machine, all cores."""
    from actionlib.models import create

    torch.set_num_threads(os.cpu_count() or 1)
    model = create("resnext3d_101", num_classes=51, frames=16).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clips, labels = torch.randn(batch_size, 3, 16, 112, 112), torch.randint(0, 51, (batch_size,))
    times = []
    for _ in range(steps + 1):  # the first step warms up
        start = time.perf_counter()
        torch.nn.functional.cross_entropy(model(clips), labels).backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return batch_size / float(np.median(times[1:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=6, help="number of test videos (default 6)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each test video (default 10 s)")
    parser.add_argument("--fps", type=int, default=25, help="frame rate (default 25)")
    parser.add_argument("--gop", type=int, default=12, help="keyframe interval in frames (default 12)")
    parser.add_argument("--samples", type=int, default=96, help="clips timed per configuration (default 96)")
    parser.add_argument("--batch-size", type=int, default=8, help="DataLoader batch size (default 8)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="worker counts (default 0 1 2)")
    parser.add_argument(
        "--model-steps", type=int, default=3, help="ResNeXt101-3D training steps to time against the loader (0: skip)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "results" / "benchmarks" / "data.csv", help="CSV to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    sampler = FrameSampler.clip(16, mode="train")
    transform = ClipTransform(112, mode="train", resize=(128, 170), normalization="resnext3d")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        records = []
        for i in range(args.videos):
            path = Path(tmp) / f"video {i:02d} (bench).avi"
            write_test_video(path, args.seconds, args.fps, 320, 240, args.gop, seed=i)
            records.append(VideoRecord(path.name, "bench", 0, path))
        frames = int(args.seconds * args.fps)
        print(
            f"{args.videos} videos of {frames} frames (320x240, MPEG-4 in AVI, keyframe every {args.gop}); "
            f"training clips 16x112x112; {args.samples} clips per run; batch {args.batch_size}; "
            f"{platform.processor() or platform.machine()}, torch {torch.__version__}, PyAV {av.__version__}\n"
        )
        for workers in args.workers:
            rates = {}
            for name, opener in (("naive", open_naive), ("seek", open_reader)):
                dataset = ClipDataset(records, sampler, transform, open_reader=opener)
                rates[name] = measure(dataset, workers, args.samples, args.batch_size)
            for name in ("naive", "seek"):
                rows.append(
                    {
                        "reader": name,
                        "workers": workers,
                        "clips_per_s": round(rates[name], 2),
                        "ms_per_clip": round(1000 / rates[name], 2),
                        "speedup_vs_naive": round(rates[name] / rates["naive"], 2),
                        "video_frames": frames,
                        "gop": args.gop,
                        "clip": "16x112x112",
                    }
                )

    print("| reader | workers | clips/s | ms/clip | speed-up vs naive |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['reader']} | {row['workers']} | {row['clips_per_s']:.1f} | {row['ms_per_clip']:.1f} | "
            f"{row['speedup_vs_naive']:.2f}x |"
        )
    if args.model_steps:
        model_rate = training_step_rate(args.model_steps, args.batch_size)
        loader_rate = max(r["clips_per_s"] for r in rows if r["reader"] == "seek" and r["workers"] == max(args.workers))
        verdict = "keeps up" if loader_rate >= model_rate else "is the bottleneck"
        print(
            f"\nResNeXt101-3D training step (16x112x112, batch {args.batch_size}, {torch.get_num_threads()} threads): "
            f"{model_rate:.2f} clips/s; the loader with {max(args.workers)} workers gives {loader_rate:.1f} clips/s: "
            f"it {verdict} ({loader_rate / model_rate:.0f}x the model's rate)"
        )
        rows.append(
            {
                "reader": "resnext3d_101 train step",
                "workers": "",
                "clips_per_s": round(model_rate, 2),
                "ms_per_clip": round(1000 / model_rate, 2),
                "speedup_vs_naive": "",
                "video_frames": "",
                "gop": "",
                "clip": "16x112x112",
            }
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
