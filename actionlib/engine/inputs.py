"""From a run's config and model to `actionlib.data` datasets: which frames, which crops, which constants.

The model decides the clip: its `frames` (clip length, or TSN segments for the 2D ResNets), its
family's crop size, frame size and normalisation (`data.transforms.default_geometry`,
`normalization_for`). The config decides the data: dataset, root, split, frame folders.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
from torch import nn
from torch.utils.data._utils.collate import default_collate

from ..choices import PROTOCOLS  # name -> (clips, crops) in the data pipeline's vocabulary


def collate(batch: list) -> dict:
    """Stack dict samples, dropping None (unreadable videos) and counting them in `skipped`.

    Tensors whose shapes differ between samples (multi-clip testing: one view per clip) stay a list. A dict is a
    batch a dataset fetched at once (`__getitems__`), already stacked: it is passed on.
    """
    if isinstance(batch, dict):
        return {**batch, "skipped": int(batch.get("skipped", 0))}
    kept = [b for b in batch if b is not None]
    skipped = len(batch) - len(kept) + sum(int(b.get("skipped", 0)) for b in kept)
    if not kept:
        return {"clip": torch.zeros(0), "label": torch.zeros(0, dtype=torch.long), "index": [], "skipped": skipped}
    out = {}
    for key in kept[0]:
        if key == "skipped":
            continue
        values = [b[key] for b in kept]
        if isinstance(values[0], torch.Tensor) and len({v.shape for v in values}) > 1:
            out[key] = values
        else:
            out[key] = default_collate(values)
    out["skipped"] = skipped
    return out


def clip_frames(model: nn.Module) -> int:
    return int(getattr(model, "frames", None) or model.default_clip[1])


def default_stride(model_name: str) -> int:
    """TSM samples 8 frames 8 apart (its dense 8x8 sampling, the authors' main variant); the others consecutive."""
    return 8 if model_name.startswith("tsm") else 1


def make_sampler(model: nn.Module, mode: str, stride: int | None = None):
    """TSN segments for 2D ResNets, clips of `stride`-apart frames otherwise: TSM's dense sampling (8 frames 8 apart,
    its default) takes the middle frame of each stride, as its authors do."""
    from actionlib.data.sampling import FrameSampler

    frames, family = clip_frames(model), getattr(model, "family", "")
    if family == "resnet2d":
        return FrameSampler.tsn(frames, mode="center" if mode == "multi" else mode)
    stride = stride or default_stride(family)
    if family == "tsm" and stride > 1:
        return FrameSampler.tsm_dense(frames, stride, mode=mode)
    return FrameSampler.clip(frames, stride, mode=mode)


def make_transform(model: nn.Module, crops: str, data_options: dict | None = None):
    """crops: "train" (multi-scale crop + flip), "center" or "ten" (ten-crop)."""
    from actionlib.data.transforms import ClipTransform, default_geometry

    family = getattr(model, "family", "") or getattr(model, "name", "")
    crop, frame_size = default_geometry(family)
    options = dict(data_options or {})
    size = options.pop("size", None)
    size = (_model_size(model) or crop) if size is None else size
    resize = options.pop("resize", None) or frame_size
    if isinstance(resize, str):  # "HxW" from the command line
        try:
            resize = tuple(int(v) for v in resize.lower().split("x"))
        except ValueError:
            raise ValueError(f"data option resize: wants HEIGHTxWIDTH, e.g. 128x171, got {resize!r}") from None
    for name, value in (("size", size), ("resize", resize)):
        if not all(_is_size(v) for v in (value if isinstance(value, (tuple, list)) else [value])):
            raise ValueError(f"data option {name}: sizes must be whole numbers of at least 1, got {value!r}")
    accepted = [k for k in inspect.signature(ClipTransform).parameters if k not in ("mode", "normalization")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"data option {unknown[0]!r}: not a data option; the data options: {', '.join(accepted)}")
    mode = {"train": "train", "center": "center", "ten": "ten_crop"}[crops]
    return ClipTransform(size, mode=mode, resize=tuple(resize), normalization=family, **options)


def _is_size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _model_size(model: nn.Module) -> int | None:
    clip = getattr(model, "default_clip", None)
    return int(clip[2]) if clip is not None else None


def dataset_root(config) -> Path:
    """The run's dataset folder, or an error that says how to get it (the synthetic one: `actionlib synth`)."""
    if config.root is None:
        raise ValueError("no dataset root given (--root DIR)")
    root = Path(config.root)
    if not root.is_dir():
        hint = f" (generate it with `actionlib synth {root}`)" if config.dataset == "synthetic" else ""
        raise FileNotFoundError(f"dataset root {root} does not exist{hint}")
    return root


def build_dataset(config, subset: str, model: nn.Module, protocol: str = "train", modalities=None):
    """A ClipDataset of `subset` ("train" / "test") for `model`.

    protocol: "train" (random clip, multi-scale crop, flip) or one of `evaluate.PROTOCOLS`
    (single/multi clips x center/ten crops).
    """
    from actionlib.data.datasets import ClipDataset, read_split

    root = dataset_root(config)
    if protocol == "train":
        sampling, crops = "train", "train"
    elif protocol in PROTOCOLS:
        clips, crops = PROTOCOLS[protocol]
        sampling = "center" if clips == "single" else "multi"
    else:
        raise ValueError(f"unknown protocol {protocol!r}; choose train or one of {', '.join(PROTOCOLS)}")
    modalities = tuple(modalities or (config.modality,))
    frame_roots = {m: p for m, p in (config.frame_roots or {}).items() if p}
    for modality in modalities:
        if modality != "rgb" and modality not in frame_roots:
            raise ValueError(f"modality {modality!r} needs its frame folders: pass --{modality}-frames DIR")
    for modality, path in frame_roots.items():
        if not Path(path).is_dir():
            raise FileNotFoundError(f"{modality} frame root {path} does not exist")
    records = read_split(root, config.dataset, config.split, subset, config.split_dir, frame_roots)
    return ClipDataset(
        records,
        make_sampler(model, sampling, config.stride),
        make_transform(model, crops, config.data_options),
        modalities=modalities,
    )


def video_dataset(paths, model: nn.Module, protocol: str = "multi-center", data_options=None, stride=None):
    """A dataset over arbitrary video files (label -1), for `predict`."""
    from actionlib.data.datasets import ClipDataset, VideoRecord

    records = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"video not found: {path}")
        records.append(VideoRecord(path.name, "", -1, path, "test"))
    clips, crops = PROTOCOLS[protocol]
    sampler = make_sampler(model, "center" if clips == "single" else "multi", stride)
    return ClipDataset(records, sampler, make_transform(model, crops, data_options), modalities=model.modality)
