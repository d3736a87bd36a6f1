"""Decoded videos in memory: the generated synthetic dataset decoded once and cut into clips by `ClipDataset`.

`MemoryVideos.open_reader` stands in for the video-file reader, so the CPU profiles run the same `ClipDataset`,
`FrameSampler` and `ClipTransform` as the full profile on files; only the source of the frames differs. Here too:
generating the dataset once (`ensure_synthetic`), its TV-L1 flow (`ensure_flow`), a split decoded and cached
(`load_synthetic`) with validation videos held out of training (`hold_out_validation`).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from .. import paths
from ..engine.inputs import PROTOCOLS, make_sampler, make_transform
from ..paths import cache_key
from . import synthetic
from .datasets import ClipDataset, SkippedVideoWarning, VideoRecord, class_names, read_split
from .flow import FAST_TVL1, extract_dataset_flow
from .synthetic import pose_root_for


def ensure_synthetic(
    root: str | Path,
    classes=None,
    videos_per_class: int = 30,
    frames: int = 40,
    size=(128, 96),
    seed: int = 0,
    jobs: int = 2,
) -> Path:
    """The synthetic dataset at `root`, generated once; an existing one must have been made with these settings."""
    root = Path(root)
    wanted = {"videos_per_class": videos_per_class, "frames": frames, "seed": seed}
    manifest = root / "synthetic.json"
    if manifest.is_file():
        found = json.loads(manifest.read_text())
        differs = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        if differs:
            raise ValueError(f"{root} holds a synthetic dataset made with other settings {differs}; use another root")
        return root
    synthetic.generate(
        root,
        classes=classes,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        seed=seed,
        jobs=jobs,
        progress=True,
    )
    return root


def decode_videos(
    records,
    modality: str = "rgb",
    size=(64, 48),
    pose_root: str | Path | None = None,
    cache: str | Path | None = None,
    flow_root: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All frames of `records` as uint8 (N, F, H, W, C) at `size` (width, height), and their labels.

    RGB comes from the video files (PyAV, C=3), pose from the rendered pose frames (`<pose_root>/<class>/<stem>/`,
    C=3), flow from the TV-L1 JPEGs (`<flow_root>/<class>/<stem>/flow_x_*.jpg`, `flow_y_*`; C=2, one frame fewer).
    Every video must have the same number of frames (true of the synthetic dataset). An unreadable video is
    skipped with a warning naming it (and left out of the labels). The result is cached in `cache` if given.
    """
    import av

    if cache is not None and Path(cache).is_file():
        cached = torch.load(cache, weights_only=True)
        if isinstance(cached, dict):
            return cached["videos"], cached["labels"]
        # an older cache (frames only, no labels): decode again and replace it
    if modality not in ("rgb", "pose", "flow"):
        raise ValueError(f"modality must be 'rgb', 'pose' or 'flow' here, got {modality!r}")
    if modality == "pose" and pose_root is None:
        raise ValueError("modality 'pose' needs pose_root (the synthetic dataset's <root>_pose folder)")
    if modality == "flow" and flow_root is None:
        raise ValueError("modality 'flow' needs flow_root (the synthetic dataset's <root>_flow folder)")
    width, height = size
    videos, labels = [], []
    for record in tqdm(records, desc=f"decode {modality}", leave=False):
        folder = {"rgb": None, "pose": pose_root, "flow": flow_root}[modality]
        where = record.path if folder is None else Path(folder) / record.class_name / record.stem
        try:
            if modality == "rgb":
                with av.open(str(where)) as container:
                    frames = [
                        f.to_ndarray(format="rgb24", width=width, height=height) for f in container.decode(video=0)
                    ]
            elif modality == "flow":
                frames = [
                    np.stack(
                        [
                            np.asarray(Image.open(x).convert("L").resize((width, height), Image.BILINEAR)),
                            np.asarray(Image.open(y).convert("L").resize((width, height), Image.BILINEAR)),
                        ],
                        -1,
                    )
                    for x, y in zip(sorted(where.glob("flow_x_*.jpg")), sorted(where.glob("flow_y_*.jpg")), strict=True)
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
        save_cache({"videos": tensor, "labels": labels}, cache)
    return tensor, labels


def save_cache(value, path: str | Path) -> None:
    """`torch.save` to a temporary file renamed into place: a killed run never leaves half a cache file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(value, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


class MemoryVideos:
    """Decoded videos held in memory, read through `ClipDataset`'s reader interface.

    The CPU profiles decode the synthetic dataset once (`decode_videos`) and then cut clips from memory with the
    same `ClipDataset`, `FrameSampler` and `ClipTransform` the full profile uses on video files: one sampling,
    cropping and normalisation code for every profile, only the source of the frames differs. A record's path is
    `memory:<index>`; `open_reader(path, modality)` returns a reader over that video's frames.
    """

    def __init__(self, videos: torch.Tensor, labels, class_names, subset: str, modality: str):
        self.videos, self.modality = videos, modality
        self.records = [
            VideoRecord(
                f"{subset}_{i:05d}",
                class_names[int(y)],
                int(y),
                Path(f"memory:{i}"),
                subset,
                {modality: Path(f"memory:{i}")},
            )
            for i, y in enumerate(torch.as_tensor(labels).tolist())
        ]

    def open_reader(self, path: Path, modality: str) -> _MemoryReader:
        if modality != self.modality:
            raise ValueError(f"these videos hold {self.modality} frames, not {modality}")
        return _MemoryReader(self.videos[int(str(path).split(":", 1)[1])])


class _MemoryReader:
    """A FrameReader over one video's uint8 frames (F, H, W, C)."""

    def __init__(self, frames: torch.Tensor):
        self.frames = frames

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    def read(self, indices) -> np.ndarray:
        return self.frames[list(indices)].numpy()


def frame_geometry(frame_size: tuple[int, int]) -> dict:
    """The data options of a CPU profile's clips: frames of (H, W) are the reference frame and crops are 7/8 of it
    (the thesis's 224 from 256x340 and 112 from 128x170 are 7/8 of the frame height), the centre crop with a random
    flip in training instead of multi-scale crops (see `ClipTransform`'s `multi_scale`)."""
    height, width = frame_size
    return {"resize": (height, width), "size": (height * 7 // 8, width * 7 // 8), "multi_scale": False}


@dataclass
class SyntheticSplit:
    """One split of the synthetic dataset in memory: train and test videos of one modality."""

    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    class_names: list[str]
    modality: str
    split: int = 1
    val: torch.Tensor | None = None  # held out of the training videos: every choice is made on it, never on test
    val_labels: torch.Tensor | None = None
    source: str = "synthetic"  # the dataset folder's name: networks trained on different sets never share a run
    # of a class subset (`only`): (the whole split, {"train"/"test"/"val": its videos' indices there}, new label of
    # each old one): its cached features are the whole split's, picked (`frozen_features`), not extracted again
    subset_of: tuple | None = None

    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self.train.shape[2]), int(self.train.shape[3])

    def only(self, classes, name: str) -> SyntheticSplit:
        """The videos of `classes` alone, labelled 0..len(classes)-1 in that order, as `source` `<source>[name]`.

        A synthetic video depends on its class and index only, and a class's split lines on the class only
        (`data.synthetic.video_spec`), so this is the dataset `actionlib synth --classes ...` makes with the same seed.
        """
        unknown = sorted(set(classes) - set(self.class_names))
        if unknown:
            raise ValueError(f"classes {unknown} are not in this dataset ({', '.join(self.class_names)})")
        relabel = torch.full((len(self.class_names),), -1, dtype=torch.long)
        for i, c in enumerate(classes):
            relabel[self.class_names.index(c)] = i
        picks = {}

        def pick(subset, videos, labels):
            picks[subset] = torch.nonzero(relabel[labels] >= 0).flatten()
            return videos[picks[subset]], relabel[labels[picks[subset]]]

        val = pick("val", self.val, self.val_labels) if self.val is not None else (None, None)
        return SyntheticSplit(
            *pick("train", self.train, self.train_labels),
            *pick("test", self.test, self.test_labels),
            list(classes),
            self.modality,
            self.split,
            *val,
            f"{self.source}[{name}]",
            (self, picks, relabel),
        )

    def datasets(self, model: nn.Module, protocol: str = "single-center", stride: int | None = None):
        """(train, test) `ClipDataset`s for `model`: its family's sampling (TSN segments for 2D ResNets, clips for
        3D networks) and normalisation, multi-scale crops and flips in training, `protocol` at test."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        clips, crops = PROTOCOLS[protocol]
        options = frame_geometry(self.frame_size)
        out = []
        for subset, videos, labels, sampling, crop in (
            ("train", self.train, self.train_labels, "train", "train"),
            ("test", self.test, self.test_labels, "center" if clips == "single" else "multi", crops),
        ):
            memory = MemoryVideos(videos, labels, self.class_names, subset, self.modality)
            out.append(
                ClipDataset(
                    memory.records,
                    make_sampler(model, sampling, stride),
                    make_transform(model, crop, options),
                    self.modality,
                    memory.open_reader,
                )
            )
        return tuple(out)

    def validation(self, model: nn.Module, stride: int | None = None):
        """The held-out training videos as a `ClipDataset` (one centred clip and crop): what selection reads."""
        if self.val is None:
            raise ValueError("this split has no validation videos (load it with `load_synthetic`)")
        memory = MemoryVideos(self.val, self.val_labels, self.class_names, "val", self.modality)
        return ClipDataset(
            memory.records,
            make_sampler(model, "center", stride),
            make_transform(model, "center", frame_geometry(self.frame_size)),
            self.modality,
            memory.open_reader,
        )


# One in VALIDATION_EVERY training videos of a class (in split-file order: the 2nd, 6th, 10th, ...) is held out
# for validation: the synthetic splits have 21 training videos a class, so 16 train and 5 validate (80 of the 336).
VALIDATION_EVERY = 4


def hold_out_validation(videos: torch.Tensor, labels: torch.Tensor):
    """(train videos, train labels, validation videos, validation labels) of a training split."""
    seen: dict[int, int] = {}
    train, val = [], []
    for i, label in enumerate(labels.tolist()):
        seen[label] = seen.get(label, 0) + 1
        (val if seen[label] % VALIDATION_EVERY == 2 else train).append(i)  # the 2nd, 6th, ...: one of 2-5 videos
    return videos[train], labels[train], videos[val], labels[val]


# TV-L1 on the 64x48 synthetic frames, with the thesis's 20-pixel bound at 340x256 scaled to the frame width
# (20 * 64 / 340 ~ 4 pixels) and the cheaper preset (`FAST_TVL1`) with two pyramid levels instead of three and one
# warp instead of two. At this size, and for motion of a pixel or less, both buy little: against OpenCV's default
# solver (5 levels, 5 warps, 30 inner iterations) the median-subtracted flow of 120 frame pairs of 12 videos is
# 0.089 px off on average (end-point error) with one warp, 0.085 with two, at 4.2 ms a pair instead of 8.1
# (measured on one core; the third level had bought nothing either).
# Each pair's median displacement is subtracted (`flow.subtract_median_motion`): the synthetic camera jitters by whole
# pixels, which moves the textured background, and that global motion is 80 % of the raw flow's energy (mean squared
# displacement 0.16 px^2, 0.13 of it the per-pair median; 37 % of pairs shifted by over 0.1 px), noise that carries
# no class and buries the actors' motion. On raw flow the CPU 3D flow network learnt little in its 6 epochs
# (16 % training Top-1, 22 % validation) and a temporal-average head on it (smoke profile, seed 0, multi-clip
# ten-crop test) scored 25.0 % Top-1 and 54.2 % on the reversed pairs, chance; with the median subtracted the same
# network reaches 41 % validation Top-1 and the head 52.8 % Top-1 and 76.4 % on the reversed pairs. Subtracting it
# costs about 0.2 ms a pair against the solver's 6 ms.
SYNTHETIC_FLOW = {"size": (64, 48), "bound": 4.0, "tvl1": {"nscales": 2, "warps": 1}, "subtract_median": True}


def ensure_flow(root: str | Path, jobs: int = 2) -> Path:
    """TV-L1 flow of the synthetic dataset at `root`, in `<root>_flow`, computed once (under 2 minutes for the
    default set's 480 videos on 2 cores).

    An interrupted extraction resumes (finished videos are kept); unreadable videos are reported and skipped.
    """
    root = Path(root)
    out = root.with_name(root.name + "_flow")
    manifest = out / "flow.json"
    options = dataclasses.replace(FAST_TVL1, **SYNTHETIC_FLOW["tvl1"])
    wanted = {
        "size": list(SYNTHETIC_FLOW["size"]),
        "bound": SYNTHETIC_FLOW["bound"],
        "tvl1": dataclasses.asdict(options),
        "subtract_median": SYNTHETIC_FLOW["subtract_median"],
    }
    if manifest.is_file():
        found = json.loads(manifest.read_text())
        if found != wanted:
            raise ValueError(
                f"{out} holds flow made with {found}, not {wanted}; delete it to recompute, and delete "
                f"the flow runs in {paths.runs_dir()} (or all of it): they were trained on the old flow "
                "and would be reused"
            )
        return out
    report = extract_dataset_flow(
        root,
        out,
        dataset="synthetic",
        jobs=jobs,
        options=options,
        size=SYNTHETIC_FLOW["size"],
        bound=SYNTHETIC_FLOW["bound"],
        subtract_median=SYNTHETIC_FLOW["subtract_median"],
    )
    if report.failed:
        warnings.warn(f"flow: {report.summary()}", SkippedVideoWarning, stacklevel=2)
    manifest.write_text(json.dumps(wanted))
    return out


def load_synthetic(root: str | Path, modality: str = "rgb", split: int = 1, size=(64, 48)) -> SyntheticSplit:
    """The synthetic dataset at `root` (see `ensure_synthetic`) decoded once; later calls read the cache."""
    root = Path(root)
    cache_dir = root.with_name(root.name + "_cache")
    flow_root, tag = None, ""
    if modality == "flow":  # decoded from flow of these settings: recomputed flow is never read from an old file
        flow_root, tag = ensure_flow(root), f"_{cache_key(**SYNTHETIC_FLOW)}"
    parts = {}
    for subset in ("train", "test"):
        records = read_split(root, "synthetic", split, subset)
        cache = cache_dir / f"{modality}_split{split}_{subset}_{size[0]}x{size[1]}{tag}.pt"
        parts[subset] = decode_videos(records, modality, size, pose_root_for(root), cache, flow_root)
    train, train_labels, val, val_labels = hold_out_validation(*parts["train"])
    # the source names the flow's recipe too: networks and heads trained on flow of other settings are never reused
    source = root.name + tag
    return SyntheticSplit(
        train, train_labels, *parts["test"], class_names(root, "synthetic"), modality, split, val, val_labels, source
    )
