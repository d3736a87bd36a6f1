"""Experiment helpers the notebooks share: the synthetic data, the CPU protocol, thesis tables.

The CPU ("smoke"/"test") profile cannot fine-tune full-size backbones and has no pretrained weights. It keeps
the thesis's question (which late temporal head turns per-frame features into the best video prediction) with
narrow backbones trained from scratch (`Profile.width`) on the synthetic dataset decoded once into memory
(`MemoryClips`), through the same training loop (`engine.fit`) the full profile uses. What we measured while
choosing this: full-width ResNet18 on the cluttered RGB frames memorises the 336 training videos (train 54 %,
test 11 % after 6 epochs); the rendered pose frames generalise (narrow ResNet18: ~60 % test Top-1 in a minute).
`backbone_features` / `FeatureDataset` train heads on cached feature maps of a frozen backbone instead.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .paths import repo_root

THESIS_ACCURACY = repo_root().parent / "shared" / "spec" / "accuracy_reference.csv"


def ensure_synthetic(root: str | Path, classes=None, videos_per_class: int = 30, frames: int = 40, size=(128, 96),
                     seed: int = 0, jobs: int = 2) -> Path:  # fmt: skip
    """The synthetic dataset at `root`, generated once; an existing one must have been made with these settings."""
    from .data import synthetic

    root = Path(root)
    wanted = {"videos_per_class": videos_per_class, "frames": frames, "seed": seed}
    manifest = root / "synthetic.json"
    if manifest.is_file():
        found = json.loads(manifest.read_text())
        differs = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        if differs:
            raise ValueError(f"{root} holds a synthetic dataset made with other settings {differs}; use another root")
        return root
    synthetic.generate(root, classes=classes, videos_per_class=videos_per_class, frames=frames, size=size,
                       seed=seed, jobs=jobs, progress=True)  # fmt: skip
    return root


@dataclass
class Features:
    """Backbone feature maps of one split, with labels, and the class names."""

    maps: torch.Tensor  # (N, C, T, H, W)
    labels: torch.Tensor  # (N,)
    class_names: list[str]


class FeatureDataset(Dataset):
    """Cached feature maps served like clips, so `engine.fit` trains a head on them unchanged."""

    def __init__(self, features: Features):
        self.features = features

    def __len__(self):
        return len(self.features.labels)

    def __getitem__(self, index):
        return {"clip": self.features.maps[index].float(), "label": int(self.features.labels[index]), "index": index}


def backbone_features(model: nn.Module, dataset, class_names, batch_size: int = 16, desc: str = "features") -> Features:
    """Run the (frozen) backbone of `model` over `dataset` once; unreadable videos are skipped."""
    from .engine.train import collate

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=0)
    maps, labels = [], []
    model.eval()
    with torch.inference_mode():
        for batch in tqdm(loader, desc=desc, leave=False):
            if "clip" not in batch:
                continue
            maps.append(model.backbone(batch["clip"]).to(torch.float16))
            labels.append(batch["label"])
    return Features(torch.cat(maps), torch.cat(labels), list(class_names))


def head_model(model: nn.Module) -> nn.Module:
    """A copy of `model` whose backbone is the identity: it classifies cached feature maps."""
    head_only = copy.deepcopy(model)
    head_only.backbone = nn.Identity()
    return head_only


def cache_key(**parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def thesis_accuracy(table: str) -> pd.DataFrame:
    """The thesis's reported Top-1/Top-3 for one table (empty if the reference file is not beside the repo)."""
    if not THESIS_ACCURACY.is_file():
        return pd.DataFrame(columns=["table", "row", "dataset", "split", "top1", "top3"])
    df = pd.read_csv(THESIS_ACCURACY, dtype={"table": str})
    return df[df["table"] == table].reset_index(drop=True)


# ------------------------------------------------------------------ synthetic videos decoded into memory
def decode_videos(records, modality: str = "rgb", size=(64, 48), pose_root: str | Path | None = None,
                  cache: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """All frames of `records` as uint8 (N, F, H, W, 3) at `size` (width, height), and their labels.

    RGB comes from the video files (PyAV), pose from the rendered pose frames (`<pose_root>/<class>/<stem>/`).
    Every video must have the same number of frames (true of the synthetic dataset). An unreadable video is
    skipped with a warning naming it (and left out of the labels). The result is cached in `cache` if given.
    """
    import warnings

    import av
    from PIL import Image

    from .data.datasets import SkippedVideoWarning

    if cache is not None and Path(cache).is_file():
        cached = torch.load(cache, weights_only=True)
        if isinstance(cached, dict):
            return cached["videos"], cached["labels"]
        # an older cache (frames only, no labels): decode again and replace it
    if modality not in ("rgb", "pose"):
        raise ValueError(f"modality must be 'rgb' or 'pose' here, got {modality!r}")
    if modality == "pose" and pose_root is None:
        raise ValueError("modality 'pose' needs pose_root (the synthetic dataset's <root>_pose folder)")
    width, height = size
    videos, labels = [], []
    for record in tqdm(records, desc=f"decode {modality}", leave=False):
        where = record.path if modality == "rgb" else Path(pose_root) / record.class_name / record.stem
        try:
            if modality == "rgb":
                with av.open(str(where)) as container:
                    frames = [
                        f.to_ndarray(format="rgb24", width=width, height=height) for f in container.decode(video=0)
                    ]
            else:
                files = sorted(where.glob("img_*.jpg"))
                frames = [
                    np.asarray(Image.open(f).convert("RGB").resize((width, height), Image.BILINEAR)) for f in files
                ]
            if not frames:
                raise ValueError("no frames")
        except (av.error.FFmpegError, OSError, ValueError) as err:
            warnings.warn(f"skipped unreadable video {where}: {err}", SkippedVideoWarning, stacklevel=2)
            continue
        videos.append(np.stack(frames))
        labels.append(record.label)
    lengths = {len(v) for v in videos}
    if len(lengths) > 1:
        raise ValueError(f"videos have different frame counts {sorted(lengths)}; decode_videos needs equal lengths")
    if not videos:
        raise ValueError(f"none of the {len(records)} videos could be read")
    tensor, labels = torch.from_numpy(np.stack(videos)), torch.tensor(labels)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(cache).with_suffix(".tmp")
        torch.save({"videos": tensor, "labels": labels}, tmp)
        tmp.replace(cache)
    return tensor, labels


_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1, 1) * 255
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1, 1) * 255


class MemoryClips(Dataset):
    """Clips cut from videos held in memory, returned as `engine.fit` expects ({"clip", "label", "index"}).

    `sampling="tsn"`: one frame per segment (2D models; random within the segment in training, the centre in
    testing); `"clip"`: consecutive frames (3D models; random start in training, centred in testing). Training
    also flips horizontally at random. Normalisation is ImageNet's mean and std.
    """

    def __init__(self, videos: torch.Tensor, labels, frames: int, train: bool, sampling: str = "tsn"):
        if sampling not in ("tsn", "clip"):
            raise ValueError(f"sampling must be 'tsn' or 'clip', got {sampling!r}")
        if videos.shape[1] < frames:
            raise ValueError(f"videos have {videos.shape[1]} frames, fewer than the {frames} a clip needs")
        self.videos, self.labels = videos, torch.as_tensor(labels)
        self.frames, self.train, self.sampling = frames, train, sampling

    def __len__(self):
        return len(self.labels)

    def _indices(self) -> torch.Tensor:
        total = self.videos.shape[1]
        if self.sampling == "tsn":
            segment = total // self.frames
            offset = (
                torch.randint(0, segment, (self.frames,)) if self.train else torch.full((self.frames,), segment // 2)
            )
            return torch.arange(self.frames) * segment + offset
        start = int(torch.randint(0, total - self.frames + 1, ())) if self.train else (total - self.frames) // 2
        return torch.arange(start, start + self.frames)

    def __getitem__(self, index):
        clip = self.videos[index, self._indices()].permute(3, 0, 1, 2).float()  # (3, T, H, W)
        if self.train and torch.rand(()) < 0.5:
            clip = clip.flip(-1)
        return {"clip": (clip - _MEAN) / _STD, "label": int(self.labels[index]), "index": index}


@dataclass
class SyntheticSplit:
    """One split of the synthetic dataset in memory: train and test videos of one modality."""

    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    class_names: list[str]
    modality: str

    def datasets(self, frames: int, sampling: str = "tsn"):
        return (MemoryClips(self.train, self.train_labels, frames, True, sampling),
                MemoryClips(self.test, self.test_labels, frames, False, sampling))  # fmt: skip


def load_synthetic(root: str | Path, modality: str = "rgb", split: int = 1, size=(64, 48)) -> SyntheticSplit:
    """The synthetic dataset at `root` (see `ensure_synthetic`) decoded once; later calls read the cache."""
    from .data.datasets import class_names, read_split
    from .data.synthetic import pose_root_for

    root = Path(root)
    cache_dir = root.with_name(root.name + "_cache")
    parts = {}
    for subset in ("train", "test"):
        records = read_split(root, "synthetic", split, subset)
        cache = cache_dir / f"{modality}_split{split}_{subset}_{size[0]}x{size[1]}.pt"
        parts[subset] = decode_videos(records, modality, size, pose_root_for(root), cache)
    return SyntheticSplit(*parts["train"], *parts["test"], class_names(root, "synthetic"), modality)


def train_and_test(model_name: str, data: SyntheticSplit, *, frames: int, epochs: int, out: str | Path,
                   seed: int = 0, batch_size: int = 16, optimizer: str = "adamw", lr: float = 2e-3,
                   sampling: str = "tsn", progress: bool = False, **options) -> dict:  # fmt: skip
    """Train `model_name` (registry options in `options`) on `data` with `engine.fit` and return one result row.

    A killed run continues from its last checkpoint in `out`. The thesis's protocol on the test split: the
    reported epoch is the one with the best test Top-1. The row
    holds Top-1/Top-3 (%), the mean pairwise accuracy (%) over the time-reversed pairs and each pair's value,
    the walk/run pair, the best epoch and the training time.
    """
    import time

    from .data.synthetic import reversed_pairs, speed_pairs
    from .engine.repro import seed_everything
    from .engine.train import TrainConfig, fit
    from .models import create

    seed_everything(seed)
    model = create(model_name, num_classes=len(data.class_names), modality=data.modality, frames=frames, **options)
    train_set, test_set = data.datasets(frames, sampling)
    config = TrainConfig(model=model_name, options=dict(options, frames=frames), modality=data.modality,
                         dataset="synthetic", epochs=epochs, batch_size=batch_size, effective_batch=batch_size,
                         accumulation=1, optimizer=optimizer, lr=lr, seed=seed, workers=0, device="cpu",
                         out=str(out), progress=progress, tensorboard=False, resume=True,
                         num_classes=len(data.class_names), class_names=list(data.class_names))  # fmt: skip
    pairs = reversed_pairs(data.class_names) + speed_pairs(data.class_names)
    started = time.perf_counter()
    result = fit(config, model, train_set, test_set, pairs=pairs)
    seconds = time.perf_counter() - started
    epochs_log = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines() if line]
    best = next(m for m in epochs_log if m["epoch"] == result["best_epoch"])
    pairwise = {f"{a}/{b}": float(best.get("val_pairwise", {}).get(f"{a}|{b}", float("nan")))
                for a, b in pairs}  # fmt: skip
    reversed_names = [f"{a}/{b}" for a, b in reversed_pairs(data.class_names)]
    return {
        "top1": best["val_top1"],
        "top3": best["val_top3"],
        "reversed_pairs": float(np.nanmean([pairwise[k] for k in reversed_names])) if reversed_names else np.nan,
        **pairwise,
        "best_epoch": best["epoch"],
        "train_top1": best["train_top1"],
        "seconds": seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def compare_with_thesis(table: str, ours: pd.DataFrame, metric: str = "top1") -> pd.DataFrame:
    """Our rows beside the thesis's (`ours` has a `row` column with the reference file's row names).

    Adds `thesis_<metric>`, `difference` (ours - thesis, percentage points) and both ranks (1 = best) so that a
    reader can compare orderings when the datasets differ (the CPU profile runs the synthetic dataset, not HMDB51).
    """
    reference = thesis_accuracy(table)[["row", metric]].rename(columns={metric: f"thesis_{metric}"})
    merged = ours.merge(reference, on="row", how="left")
    merged["difference"] = merged[metric] - merged[f"thesis_{metric}"]
    merged["thesis_rank"] = merged[f"thesis_{metric}"].rank(ascending=False, method="min")
    merged["our_rank"] = merged[metric].rank(ascending=False, method="min")
    return merged


def save_table(df: pd.DataFrame, results: str | Path, name: str, floatfmt: str = ".2f") -> Path:
    """Write `results/tables/<name>.csv` and its Markdown twin; returns the CSV path."""
    folder = Path(results) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    df.to_csv(csv, index=False)
    csv.with_suffix(".md").write_text(df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    return csv


# What the CPU profiles generate: `test` is tiny (one reversed pair, one speed pair), `smoke` the default set.
SYNTHETIC_SETS = {
    "test": {"classes": ["sit_down", "stand_up", "walk", "run"], "videos_per_class": 4, "frames": 16},
    "smoke": {"classes": None, "videos_per_class": 30, "frames": 40},
}


def synthetic_root(cfg) -> Path:
    """The synthetic dataset a CPU profile uses (generated on first use under <repo>/data/)."""
    if cfg.data_root is not None:
        return Path(cfg.data_root) / "synthetic"
    spec = SYNTHETIC_SETS.get(cfg.name, SYNTHETIC_SETS["smoke"])
    root = repo_root() / "data" / ("synthetic" if cfg.name != "test" else "synthetic_test")
    return ensure_synthetic(root, spec["classes"], spec["videos_per_class"], spec["frames"], jobs=2)


def cpu_data(cfg, modality: str | None = None, split: int = 1) -> SyntheticSplit:
    """The profile's synthetic split in memory, frames resized to `cfg.size` wide (4:3)."""
    size = (cfg.size, cfg.size * 3 // 4)
    return load_synthetic(synthetic_root(cfg), modality or cfg.modality, split, size)


def run_rows(rows: list[dict], data: SyntheticSplit, cfg, runs_dir: str | Path, seeds=None, lr: float = 2e-3,
             progress=None, reuse: bool = True) -> pd.DataFrame:  # fmt: skip
    """Train and test each row (`{"row": thesis row name, "model": ..., **registry options}`) for each seed.

    2D models get the profile's narrow width and train every stage (nothing is pretrained on CPU). A row may
    set `optimizer`, `lr`, `frames` or `sampling`. Returns one line per row and seed. Each run's folder under
    `runs_dir` is named by a hash of its settings and keeps `result.json`: with `reuse`, a finished run is
    reported again instead of retrained (delete the folder, or pass reuse=False, to retrain).
    """
    seeds = cfg.seeds if seeds is None else seeds
    out = []
    bar = tqdm([(row, seed) for row in rows for seed in seeds], desc="runs", disable=progress is False)
    for row, seed in bar:
        options = {k: v for k, v in row.items() if k not in ("row", "model", "optimizer", "lr", "frames", "sampling")}
        if row["model"].startswith("resnet") and "3d" not in row["model"]:
            options.setdefault("width", cfg.width)
            options.setdefault("frozen_stages", 0)
        bar.set_postfix_str(row["row"][:40])
        settings = {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "frames": cfg.frames, "size": cfg.size,
                    "width": cfg.width, "lr": lr}  # fmt: skip
        run_dir = Path(runs_dir) / cache_key(row=row, seed=seed, profile=cfg.name, modality=data.modality, **settings)
        done = run_dir / "result.json"
        if reuse and done.is_file():  # a finished run with the same settings: report it again, do not retrain
            result = json.loads(done.read_text())
        else:
            result = train_and_test(
                row["model"], data, frames=row.get("frames", cfg.frames), epochs=cfg.epochs, out=run_dir, seed=seed,
                batch_size=cfg.batch_size, optimizer=row.get("optimizer", "adamw"), lr=row.get("lr", lr),
                sampling=row.get("sampling", "tsn"), **options,
            )  # fmt: skip
            partial = done.with_suffix(".tmp")  # written whole, then renamed: a kill never leaves half a file
            partial.write_text(json.dumps(result, indent=1))
            partial.replace(done)
        out.append({"row": row["row"], "seed": seed, "modality": data.modality, **result})
    return pd.DataFrame(out)


def mean_over_seeds(df: pd.DataFrame) -> pd.DataFrame:
    """Mean of each row over seeds, with the spread (standard deviation; 0 for one seed) of Top-1."""
    numeric = df.drop(columns=["seed"]).groupby(["row", "modality"], sort=False).mean(numeric_only=True)
    numeric["top1_std"] = df.groupby(["row", "modality"], sort=False)["top1"].std(ddof=0)
    numeric["seeds"] = df.groupby(["row", "modality"], sort=False)["seed"].count()
    return numeric.reset_index()


def parse_choices(name: str, text: str, allowed) -> list[str]:
    """A comma-separated notebook parameter as a list, each item checked against `allowed` (error names both)."""
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        raise ValueError(f"parameter {name}: unknown value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return chosen


def complexity_rows(ids, results: str | Path | None = None) -> pd.DataFrame:
    """Our parameter and operation counts for spec ids, read from `results/tables/complexity.csv`.

    That table is regenerated by `actionlib complexity --out results/tables/complexity.csv` (`make reproduce`
    runs it first); ids missing from it are counted now, at full size (slow for the large 3D models).
    """
    from . import thesis

    table = Path(results or repo_root() / "results") / "tables" / "complexity.csv"
    known = pd.read_csv(table) if table.is_file() else pd.DataFrame(columns=["id"])
    missing = [i for i in ids if i not in set(known["id"])]
    if missing:
        spec = repo_root().parent / "shared" / "spec" / "complexity_targets.csv"
        known = pd.concat([known, thesis.complexity_table(spec, missing)], ignore_index=True)
    return known.set_index("id").loc[list(ids)].reset_index()
