"""Heads on frozen backbones: the CPU profiles' executor of a stream in memory.

The CPU profiles cannot fine-tune full-size backbones and have no pretrained weights. They keep the thesis's
question (which late temporal head turns a backbone's features into the best video prediction) as the thesis asks
it, on a fixed pretrained backbone: `pretrain` trains a narrow backbone (`Profile.width`; `plan.small_3d`) once,
end to end, on a synthetic split decoded into memory (`data.memory`), and `run_heads` trains each head of a table
on that backbone's cached, frozen features (`frozen_features`), all through the one training loop (`engine.fit`)
the full profile uses. Every run keeps the epoch that is best on training videos held out for validation and is
then tested once. What we measured while choosing this: full-width ResNet18 on the cluttered RGB frames memorises
the 336 training videos (train 54 %, test 11 % after 6 epochs); the rendered pose frames generalise (narrow
ResNet18: ~50 % test Top-1 in a minute); heads on frozen features take seconds, where training every row end to
end took a minute each.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import paths
from ..choices import PROTOCOLS
from ..data.memory import SyntheticSplit, ensure_synthetic, frame_geometry, load_synthetic, save_cache
from ..engine.checkpointing import load_checkpoint
from ..engine.fusion import load_scores
from ..engine.repro import seed_everything
from ..engine.train import TrainConfig, to_channels_last
from ..models import create
from ..paths import cache_key, repo_root
from .planner import is_2d
from .training import TEST_SCORES, fit_and_report, predict_in_memory, read_result, write_result


def synthetic_root(cfg, pretraining: bool = False) -> Path:
    """The synthetic dataset of `cfg.synthetic` (generated on first use under <repo>/data/; an existing one under
    `cfg.data_root`), or with `pretraining` its pretraining set beside it (`<root>_pretraining`, generated on first
    use)."""
    spec = cfg.synthetic
    if spec is None:
        raise ValueError(f"profile {cfg.name!r} runs on the dataset's files, not on a generated synthetic set")
    classes = list(spec.classes) if spec.classes is not None else None
    if cfg.data_root is not None:
        root = Path(cfg.data_root) / "synthetic"
        if not pretraining:
            return root
    else:
        root = repo_root() / "data" / spec.folder
    if not pretraining:
        return ensure_synthetic(root, classes, spec.videos_per_class, spec.frames, jobs=2)
    return ensure_synthetic(
        root.with_name(root.name + "_pretraining"),
        classes,
        spec.pretraining_videos,
        spec.pretraining_frames,
        seed=spec.pretraining_seed,
        jobs=2,
    )


def cpu_data(cfg, modality: str | None = None, split: int = 1, pretraining: bool = False) -> SyntheticSplit:
    """The profile's synthetic split in memory, frames resized to `cfg.size` wide (4:3); with `pretraining`, the
    backbones' pretraining set (`synthetic_root`), its test videos trained on too and its validation videos in
    place of a test split (what `pretrain` reports)."""
    size = (cfg.size, cfg.size * 3 // 4)
    data = load_synthetic(synthetic_root(cfg, pretraining), modality or cfg.modality, split, size)
    if not pretraining:
        return data
    return dataclasses.replace(
        data,
        train=torch.cat([data.train, data.test]),
        train_labels=torch.cat([data.train_labels, data.test_labels]),
        test=data.val,
        test_labels=data.val_labels,
    )


def train_and_test(
    model_name: str,
    data: SyntheticSplit,
    *,
    frames: int,
    epochs: int,
    out: str | Path,
    seed: int = 0,
    batch_size: int = 16,
    optimizer: str = "adamw",
    lr: float = 2e-3,
    init: str | Path | None = None,
    **options,
) -> dict:
    """Train `model_name` (registry options in `options`) end to end on `data` and return one result row.

    A killed run continues from its last checkpoint in `out`. The reported epoch is the one with the best Top-1
    on the held-out validation videos; the test split is read once, after training. The row holds its test
    Top-1/Top-3 (%), the mean pairwise
    accuracy (%) over the time-reversed pairs and each pair's value, the walk/run pair, the best epoch and the
    training time. `init`: a checkpoint whose weights start the run (the thesis's "16f pre-trained" rows).
    """

    seed_everything(seed)
    model = create(model_name, num_classes=len(data.class_names), modality=data.modality, frames=frames, **options)
    if init is not None:
        state = load_checkpoint(init)["model"]
        model.load_state_dict(state)  # 3D kernels do not depend on the clip length: a 16f checkpoint fits 32f
    train_set, test_set = data.datasets(model)
    val_set = data.validation(model)
    return fit_and_report(
        model_name,
        model,
        dict(options, frames=frames),
        train_set,
        val_set,
        test_set,
        data.class_names,
        data.modality,
        epochs=epochs,
        out=out,
        seed=seed,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
    )


class FeatureDataset(Dataset):
    """Cached feature maps served like clips, so `engine.fit` trains a head on them unchanged.

    `maps`: (N, C, T, H, W), or (N, V, C, T, H, W) for several test views per video; `teacher`: the same
    samples' maps from another stream, served as `teacher_clip` (distillation).
    """

    random_augmentation = False  # the views were drawn when the maps were cached

    def __init__(self, maps: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None):
        if teacher is not None and len(teacher) != len(maps):
            raise ValueError(f"{len(teacher)} teacher maps for {len(maps)} student maps")
        self.maps, self.labels, self.teacher = maps, labels, teacher

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        item = {"clip": self.maps[index].float(), "label": int(self.labels[index]), "index": index}
        if self.teacher is not None:
            item["teacher_clip"] = self.teacher[index].float()
        return item

    def __getitems__(self, indices: list[int]) -> dict:
        """A whole batch, already stacked (`engine.inputs.collate` passes it on): the DataLoader calls this
        instead of `__getitem__` per sample (indexing and stacking sample by sample took 0.4 of the heads' 8.5
        minutes in the default profile)."""
        rows = torch.as_tensor(indices, dtype=torch.long)
        batch = {"clip": self.maps[rows].float(), "label": self.labels[rows].long(), "index": rows}
        if self.teacher is not None:
            batch["teacher_clip"] = self.teacher[rows].float()
        return batch


class CachedTeacher(nn.Module):
    """A frozen teacher head's distillation targets, computed once over the cached training maps (`of`) and served
    as the samples' `teacher_clip`; `forward_features` hands them to `engine.distill.Distiller` as they are. The
    teacher is in eval mode, so its targets are the same every epoch: recomputing them each batch cost a distilled
    head about as much time again as an undistilled one (22 s against 12 s on the CPU 3D network, measured)."""

    def __init__(self, targets: torch.Tensor, key: str, modality: str):
        super().__init__()
        self.targets, self.key, self.modality = targets, key, modality

    @classmethod
    @torch.inference_mode()
    def of(cls, teacher: nn.Module, maps: torch.Tensor, kind: str, batch_size: int = 256) -> CachedTeacher:
        # what `Distiller` matches: the pooled features (MARS), else the pre-BERT tokens of Eq. 5.1
        key = "pooled" if kind == "mars" else TrainConfig.teacher_features
        teacher.eval()
        targets = torch.cat([teacher.forward_features(part.float())[key] for part in maps.split(batch_size)])
        return cls(targets.clone(), key, getattr(teacher, "modality", "rgb"))

    def forward_features(self, targets: torch.Tensor) -> dict:
        return {self.key: targets}


def head_model(model: nn.Module) -> nn.Module:
    """`model` with the identity as backbone: it classifies cached feature maps (the backbone is dropped)."""
    model.backbone = nn.Identity()
    return model


FORWARD_CLIPS = 16  # clips a forward of `extract_features`


@torch.inference_mode()
def extract_features(
    backbone: nn.Module, dataset: Dataset, seed: int = 0, batch_size: int = 32, desc: str = "features"
) -> tuple[torch.Tensor, torch.Tensor]:
    """`backbone` over every item of `dataset` (float16 maps, labels). Item i's random draws (segment offsets,
    flip) are seeded by (seed, i), so two streams extracted with the same seed see the same frames and flips."""
    backbone.eval()
    to_channels_last(backbone)  # channels-last, as in training: faster on CPU too
    maps, labels = [], []
    for first in tqdm(range(0, len(dataset), batch_size), desc=desc, leave=False):
        items = []
        for i in range(first, min(first + batch_size, len(dataset))):
            random.seed(seed * 1_000_003 + i)
            items.append(dataset[i])
        clips = torch.stack([item["clip"] for item in items])
        views = clips.dim() == 6
        flat = (clips.flatten(0, 1) if views else clips).contiguous(memory_format=torch.channels_last_3d)
        # 16 clips a forward, so that the activations stay in cache: on 2 cores the CPU 3D network took 3.5-4.2 ms
        # a clip 16 at a time against 4.8-5.6 ms 32 at a time, the same features bit for bit (measured on the
        # default profile's 3D flow and pose networks); a whole ten-crop batch (320 clips) in one forward took
        # 2.3 times as long as 32 at a time
        out = torch.cat([backbone(part).to(torch.float16) for part in flat.split(FORWARD_CLIPS)]).contiguous()
        maps.append(out.unflatten(0, clips.shape[:2]) if views else out)
        labels += [item["label"] for item in items]
    return torch.cat(maps), torch.tensor(labels)


def pretrain(
    cfg,
    data: SyntheticSplit,
    model: str = "resnet18",
    *,
    frames: int | None = None,
    epochs: int | None = None,
    lr: float = 2e-3,
    seed: int = 0,
    init: str | Path | None = None,
    runs_dir: str | Path | None = None,
    **options,
) -> dict:
    """Train `model` end to end once on `data`'s training split; later rows freeze its backbone (the CPU profiles
    pretrain those on their pretraining set, `cpu_data(..., pretraining=True)`).

    The CPU stand-in for the thesis's ImageNet/Kinetics-pretrained backbones: the heads of a table are then
    compared on the same frozen features (`frozen_features`, `run_heads`), which takes seconds per head. The run
    is cached in `runs_dir` (default: backbones/ in paths.runs_dir(), <repo>/runs or $ACTIONLIB_RUNS) under a hash
    of its settings; returns its result row plus `checkpoint`, `model`, `options`, `frames` and `sampling`.
    """
    frames = frames or cfg.frames
    epochs = epochs or cfg.epochs
    if is_2d(model):
        options.setdefault("width", cfg.width)
        options.setdefault("frozen_stages", 0)
    options.setdefault("head", "avg")
    sampling = "tsn" if is_2d(model) else "clip"  # the family's sampling (`engine.inputs.make_sampler`)
    # "data": the clips' source and geometry (runs made by earlier clip code are not reused)
    settings = {
        "model": model,
        "frames": frames,
        "data": ("ClipDataset", frame_geometry(data.frame_size)),
        "epochs": epochs,
        "lr": lr,
        "seed": seed,
        "batch_size": cfg.batch_size,
        "size": int(data.train.shape[3]),
        "modality": data.modality,
        "split": data.split,
        "init": str(init) if init else None,
        "source": data.source,
        **options,
    }
    out = Path(runs_dir or paths.runs_dir() / "backbones") / cache_key(**settings)
    result = read_result(out)
    if result is None:
        result = train_and_test(
            model,
            data,
            frames=frames,
            epochs=epochs,
            out=out,
            seed=seed,
            batch_size=cfg.batch_size,
            lr=lr,
            init=init,
            **options,
        )
        write_result(out, result)
    return {
        **result,
        "checkpoint": str(out / "best.pt"),
        "model": model,
        "options": options,
        "frames": frames,
        "sampling": sampling,
        "modality": data.modality,
    }


def _rebuild(backbone: dict, num_classes: int, **changes) -> nn.Module:
    """The pretrained model of `backbone` (a `pretrain` row), with `changes` to its options (head, fusion...)."""
    pretrained = load_checkpoint(backbone["checkpoint"])["model"]
    model = create(
        backbone["model"],
        num_classes=num_classes,
        modality=backbone["modality"],
        frames=backbone["frames"],
        **{**backbone["options"], **changes},
    )
    trunk = {k[len("backbone.") :]: v for k, v in pretrained.items() if k.startswith("backbone.")}
    model.backbone.load_state_dict(trunk)
    return model


def default_views(backbone: dict, train_views: int | None = None) -> int:
    """Random views of each training video cached for the heads: 4 for 2D (TSN) backbones, 1 for 3D clip backbones,
    whose heads are wider and many (the default trains 23 BERT heads on the CPU 3D network's 512 channels and 4
    positions: 17 s a run with 2 views, 14 s with 1, measured on a machine that was slower for the second; 4 views
    took ~30 s at 2 positions)."""
    return train_views or (1 if backbone["sampling"] == "clip" else 4)


def frozen_features(
    backbone: dict,
    data: SyntheticSplit,
    train_views: int | None = None,
    protocol: str = "single-center",
    fusion: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Feature maps of the pretrained `backbone` (a `pretrain` row): `train_views` randomly sampled and flipped
    views of every training video, and the test videos under `protocol`. Cached beside the checkpoint.

    Returns (train maps, train labels, test maps, test labels). `fusion` taps several stages of a 2D ResNet
    (Table 3.4); the stage weights are the pretrained ones. A class subset (`SyntheticSplit.only`) gets its videos'
    rows of the whole split's features (the same views).
    """
    if data.subset_of is not None:
        whole, picks, relabel = data.subset_of
        train_maps, train_labels, test_maps, test_labels = frozen_features(
            backbone, whole, train_views, protocol, fusion
        )
        videos = len(whole.train_labels)
        rows = torch.cat([picks["train"] + v * videos for v in range(len(train_labels) // videos)])
        return (
            train_maps[rows],
            relabel[train_labels[rows]],
            test_maps[picks["test"]],
            relabel[test_labels[picks["test"]]],
        )
    folder = Path(backbone["checkpoint"]).parent / "features"
    train_views = default_views(backbone, train_views)
    model, train, test = None, None, None
    parts = {}
    source = {"fusion": fusion, "split": data.split, "source": data.source}
    for subset, key in (
        ("train", cache_key(views=train_views, **source)),
        ("test", cache_key(protocol=protocol, **source)),
    ):
        cache = folder / f"{subset}_{key}.pt"
        if cache.is_file():
            parts[subset] = torch.load(cache, weights_only=True)
            continue
        centre = _centre_of_ten(backbone, protocol, source) if subset == "test" else None
        if model is None and centre is None:
            model = _rebuild(backbone, len(data.class_names), **({"fusion": fusion} if fusion else {}))
            train, test = data.datasets(model, protocol)
        if centre is not None:
            parts[subset] = centre
        elif subset == "train":
            views = [
                extract_features(model.backbone, train, seed=v, desc=f"features (view {v})") for v in range(train_views)
            ]
            parts[subset] = (torch.cat([m for m, _ in views]), torch.cat([y for _, y in views]))
        else:
            parts[subset] = extract_features(model.backbone, test, desc=f"features (test, {protocol})")
        save_cache(parts[subset], cache)
    return (*parts["train"], *parts["test"])


TEN_CROPS = 10  # views of a clip in a ten-crop test, its centre crop first (`data.transforms.ten_crop_views`)


def _centre_of_ten(backbone: dict, protocol: str, source: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The test maps of a centre-crop `protocol` of a clip-sampling (3D) `backbone`, taken from its cached ten-crop
    maps of the same clips, or None when those are not cached. A view's features do not depend on the views
    extracted beside it (equal bit for bit on the CPU 3D networks, measured), and the default profile asks for
    multi-clip ten-crop before multi-clip centre-crop on every 3D backbone: extracting those again cost about 20 s.
    A segment-sampling (2D) backbone gets None: its multi-clip test has no view axis (`engine.inputs.make_sampler`).
    """
    clips, crops = PROTOCOLS[protocol]
    ten = Path(backbone["checkpoint"]).parent / "features" / f"test_{cache_key(protocol=f'{clips}-ten', **source)}.pt"
    if backbone["sampling"] != "clip" or crops != "center" or not ten.is_file():
        return None
    maps, labels = torch.load(ten, weights_only=True)
    centre = maps[:, ::TEN_CROPS]  # views are clip-major: the first crop of each clip
    centre = centre if clips == "multi" else centre[:, 0]  # single-clip centre crop has no view axis
    return centre.clone(memory_format=torch.contiguous_format), labels


def validation_features(backbone: dict, data: SyntheticSplit, fusion: str | None = None):
    """(maps, labels) of the held-out validation videos (one centred view) under the frozen `backbone`; cached."""
    if data.subset_of is not None:
        whole, picks, relabel = data.subset_of
        maps, labels = validation_features(backbone, whole, fusion)
        return maps[picks["val"]], relabel[labels[picks["val"]]]
    key = cache_key(fusion=fusion, split=data.split, source=data.source)
    cache = Path(backbone["checkpoint"]).parent / "features" / f"val_{key}.pt"
    if cache.is_file():
        return torch.load(cache, weights_only=True)
    model = _rebuild(backbone, len(data.class_names), **({"fusion": fusion} if fusion else {}))
    out = extract_features(model.backbone, data.validation(model), desc="features (validation)")
    save_cache(out, cache)
    return out


PROBE_L2 = (1e-4, 1e-3, 1e-2)  # weight decays of the probe, the one kept chosen on the validation videos


def _pooled(maps: torch.Tensor) -> torch.Tensor:
    """Feature maps averaged over time and space: (N, C), or (N, V, C) with test views."""
    return maps.float().mean(dim=(-3, -2, -1))


def _fit_probe(train: torch.Tensor, labels: torch.Tensor, classes: int, l2: float) -> nn.Linear:
    """Multinomial logistic regression on standardised pooled features, fitted to convergence with L-BFGS."""
    torch.manual_seed(0)
    probe = nn.Linear(train.shape[1], classes)
    optimizer = torch.optim.LBFGS(probe.parameters(), lr=1, max_iter=500, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = nn.functional.cross_entropy(probe(train), labels) + l2 * probe.weight.pow(2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return probe


def probe(
    backbone: dict, data: SyntheticSplit, train_views: int | None = None, protocol: str = "single-center"
) -> dict:
    """The ceiling an average-pooling head should reach on `backbone`'s frozen features: a logistic regression on
    the time-and-space-pooled features of the same training views (`frozen_features`), its weight decay chosen on
    the validation videos (`PROBE_L2`), tested under `protocol` (views averaged). Returns its train, validation and
    test Top-1 (%) and the weight decay; cached beside the features. The fit does not depend on the protocol: it is
    made once per backbone and tested under each protocol asked (three fits for three protocols took 40 s of the
    default profile)."""
    source = {"split": data.split, "source": data.source, "views": default_views(backbone, train_views)}
    folder = Path(backbone["checkpoint"]).parent / "features"
    cache = folder / f"probe_{cache_key(protocol=protocol, **source)}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    train_maps, train_labels, test_maps, test_labels = frozen_features(backbone, data, train_views, protocol)
    fit_file = folder / f"probe_fit_{cache_key(**source)}.pt"
    if fit_file.is_file():
        fitted = torch.load(fit_file, weights_only=True)
    else:
        fitted = _probe_fit(backbone, data, train_maps, train_labels)
        save_cache(fitted, fit_file)
    chosen = nn.Linear(*fitted["weight"].T.shape)
    chosen.load_state_dict({"weight": fitted["weight"], "bias": fitted["bias"]})
    test = (_pooled(test_maps) - fitted["mean"]) / fitted["std"]
    result = {
        "probe_train_top1": float(fitted["train_top1"]),
        "probe_val_top1": float(fitted["val_top1"]),
        "probe_top1": _probe_top1(chosen, test, test_labels),
        "probe_l2": float(fitted["l2"]),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.with_suffix(".tmp").write_text(json.dumps(result))
    cache.with_suffix(".tmp").replace(cache)  # whole or not at all
    return result


def _probe_top1(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 (%) of a probe on standardised pooled features, (N, C) or (N, V, C) with the views' logits averaged."""
    with torch.no_grad():
        logits = model(x).mean(1) if x.dim() == 3 else model(x)
    return 100 * float((logits.argmax(1) == y).float().mean())


def _probe_fit(backbone: dict, data: SyntheticSplit, train_maps, train_labels) -> dict:
    """`probe`'s fit: one L-BFGS fit per weight decay of `PROBE_L2`, the one best on the validation videos kept,
    with the standardisation it was fitted on and its train and validation Top-1."""
    val_maps, val_labels = validation_features(backbone, data)
    train, val = _pooled(train_maps), _pooled(val_maps)
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    train, val = (train - mean) / std, (val - mean) / std
    fitted = {l2: _fit_probe(train, train_labels, len(data.class_names), l2) for l2 in PROBE_L2}
    l2 = max(PROBE_L2, key=lambda w: (_probe_top1(fitted[w], val, val_labels), -PROBE_L2.index(w)))
    chosen = fitted[l2]
    return {
        "weight": chosen.weight.detach().clone(),
        "bias": chosen.bias.detach().clone(),
        "mean": mean,
        "std": std,
        "l2": l2,
        "train_top1": _probe_top1(chosen, train, train_labels),
        "val_top1": _probe_top1(chosen, val, val_labels),
    }


HEAD_RUN_KEYS = ("row", "optimizer", "lr", "fusion", "distill", "distill_weight", "frames")


def _select_frames(maps: torch.Tensor, row: dict) -> torch.Tensor:
    """`frames: 1` in a row (the thesis's single-frame "no pooling" model): keep the middle position only."""
    if row.get("frames", None) in (None, maps.shape[-3]):
        return maps
    if row["frames"] != 1:
        raise ValueError(f"a head row may only narrow its features to frames=1, got {row['frames']}")
    middle = maps.shape[-3] // 2
    return maps[..., middle : middle + 1, :, :]


def _head_for(backbone: dict, row: dict, num_classes: int) -> nn.Module:
    """A fresh head (and classifier) for `backbone`'s features; row keys not in HEAD_RUN_KEYS are head options."""
    options = {**backbone["options"], **{k: v for k, v in row.items() if k not in HEAD_RUN_KEYS}}
    if row.get("fusion"):
        options["fusion"] = row["fusion"]
    model = create(
        backbone["model"],
        num_classes=num_classes,
        modality=backbone["modality"],
        frames=row.get("frames", backbone["frames"]),
        **options,
    )
    return head_model(model)


def load_head(run_dir: str | Path, backbone: dict, row: dict, num_classes: int) -> nn.Module:
    """The trained head of a `run_heads` run (its best epoch), in eval mode: a teacher for distillation."""
    model = _head_for(backbone, row, num_classes)

    state = load_checkpoint(Path(run_dir) / "best.pt")["model"]
    # a `pretrain` run's checkpoint holds its backbone too: the head alone is wanted here
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("backbone.")})
    model.modality = backbone["modality"]
    return model.eval()


def head_scores(
    run_dir: str | Path,
    backbone: dict,
    row: dict,
    data: SyntheticSplit,
    protocol: str = "single-center",
    train_views: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Test-split logits (N, K) of a trained head (views averaged) and the labels: one stream for late fusion. A run
    tested on the positions `row` names kept them (`training.TEST_SCORES`): read, not computed again (about a
    minute of the default profile went to scoring every head twice)."""
    saved = Path(run_dir) / TEST_SCORES
    if saved.is_file() and _trained_frames(run_dir) == row.get("frames"):
        try:
            scores = load_scores(saved)
            return scores["scores"], scores["labels"]
        except ValueError:  # e.g. non-finite scores, which `load_scores` refuses: computed again below
            pass
    model = load_head(run_dir, backbone, row, len(data.class_names))
    *_, maps, labels = frozen_features(backbone, data, train_views, protocol, row.get("fusion"))
    return predict_in_memory(model, FeatureDataset(_select_frames(maps, row), labels))["scores"], labels


def _trained_frames(run_dir: str | Path):
    """The `frames` option a head run was trained and tested with (None: every position)."""
    return json.loads((Path(run_dir) / "config.json").read_text())["options"].get("frames")


def head_grid(cfg, optimizer: str) -> tuple[float, ...] | None:
    """The learning rates a head with `optimizer` tries: the profile's `head_lrs`, times `sgd_lr_scale` for SGD,
    whose step is the raw gradient times the rate (momentum 0.9 with dampening 0.9) where AdamW's is normalised
    (measured on the CPU 3D network's TGAP head, 60 epochs: SGD's validation Top-1 peaks at 0.1, AdamW's at
    1e-2); every head tries as many rates."""
    if not cfg.head_lrs:
        return None
    scale = cfg.sgd_lr_scale if optimizer == "sgd" else 1.0
    return tuple(float(f"{rate * scale:.6g}") for rate in cfg.head_lrs)


def run_heads(
    rows: list[dict],
    backbone: dict,
    data: SyntheticSplit,
    cfg,
    runs_dir: str | Path,
    seeds=None,
    lr: float = 1e-3,
    epochs: int | None = None,
    protocol: str = "single-center",
    train_views: int | None = None,
    teacher: dict | None = None,
    batch_size: int | None = None,
    reuse: bool = True,
    lrs: tuple[float, ...] | None = None,
) -> pd.DataFrame:
    """Train a head per row on the frozen features of `backbone` (a `pretrain` row), for each seed.

    A row is `{"row": thesis row name, "head": ..., **head options}` and may set `optimizer`, `lr`, `fusion`
    (2D stage fusion), `distill` ("bert"/"mars") and `distill_weight`; distillation needs `teacher`:
    `{"backbone": pretrain row of the teacher's stream, "row": the teacher's head row, "lrs": its rates (None:
    the grid)}` (its head is trained here first, on the same views). Runs are cached in `runs_dir` by their
    settings (the row name excluded, so two tables sharing a configuration train it once); returns one line per
    row and seed, with `run_dir` and, for distilled rows, `teacher_top1` (the teacher's own test Top-1). Each row
    trains at every rate of `lrs` (default: `head_grid`, else its own `lr`), for up to the profile's `head_epochs`,
    stopped `head_stop` epochs after its validation Top-1 last rose, and keeps the run best on the validation
    videos; the line gives the rate kept (`lr`) and each rate's validation Top-1 (`val_by_lr`).
    """
    seeds = cfg.seeds if seeds is None else seeds
    epochs = epochs or cfg.head_epochs or cfg.epochs
    batch_size = batch_size or cfg.head_batch or cfg.batch_size
    num_classes = len(data.class_names)
    teacher_model, teacher_data, teacher_top1 = None, None, np.nan
    if any(row.get("distill") for row in rows):
        if teacher is None:
            raise ValueError("rows with `distill` need `teacher` (its stream's pretrain row and head row)")
        teacher_run = run_heads(
            [teacher["row"]],
            teacher["backbone"],
            teacher["data"],
            cfg,
            runs_dir,
            seeds[:1],
            lr,
            epochs,
            protocol,
            train_views,
            batch_size=batch_size,
            reuse=reuse,
            lrs=teacher.get("lrs"),
        )
        teacher_model = load_head(teacher_run["run_dir"][0], teacher["backbone"], teacher["row"], num_classes)
        teacher_top1 = teacher_run["top1"][0]
        teacher_data = frozen_features(teacher["backbone"], teacher["data"], train_views, protocol)
        teacher_outputs = {}  # per distillation kind: the frozen teacher's targets, computed once
    out, features = [], {}

    def train_one(row: dict, seed: int, settings: dict) -> tuple[Path, dict]:
        key = cache_key(
            settings=settings,
            seed=seed,
            backbone=backbone["checkpoint"],
            data=data.source,
            epochs=epochs,
            stop_after=cfg.head_stop,
            selection="val",
            protocol=protocol,
            views=default_views(backbone, train_views),
            batch=batch_size,
            teacher=teacher and (teacher["backbone"]["checkpoint"], teacher["row"]),
        )
        run_dir = Path(runs_dir) / key
        result = read_result(run_dir) if reuse else None
        if result is not None:
            return run_dir, result
        if row.get("fusion") not in features:  # read from the cache once per call, not once per row
            features[row.get("fusion")] = frozen_features(backbone, data, train_views, protocol, row.get("fusion"))
        train_maps, train_labels, test_maps, test_labels = features[row.get("fusion")]
        seed_everything(seed)
        model = _head_for(backbone, row, num_classes)
        distilled = teacher_data is not None and row.get("distill")
        if distilled and row["distill"] not in teacher_outputs:
            teacher_outputs[row["distill"]] = CachedTeacher.of(teacher_model, teacher_data[0], row["distill"])
        taught = teacher_outputs[row["distill"]] if distilled else None
        train_set = FeatureDataset(_select_frames(train_maps, row), train_labels, taught.targets if distilled else None)
        test_set = FeatureDataset(_select_frames(test_maps, row), test_labels)
        val_maps, val_labels = validation_features(backbone, data, row.get("fusion"))
        val_set = FeatureDataset(_select_frames(val_maps, row), val_labels)
        result = fit_and_report(
            backbone["model"],
            model,
            settings,
            train_set,
            val_set,
            test_set,
            data.class_names,
            data.modality,
            epochs=epochs,
            out=run_dir,
            seed=seed,
            batch_size=batch_size,
            optimizer=settings["optimizer"],
            lr=settings["lr"],
            teacher=taught,
            distill=row.get("distill"),
            distill_weight=row.get("distill_weight"),
            stop_after=cfg.head_stop,
        )
        write_result(run_dir, result)
        return run_dir, result

    bar = tqdm([(row, seed) for row in rows for seed in seeds], desc="heads", leave=False)
    for row, seed in bar:
        bar.set_postfix_str(row["row"][:40])
        # defaults spelled out, so that a row naming them (e.g. optimizer="adamw") shares the run of one that does not
        settings = {"optimizer": "adamw", "lr": lr, **{k: v for k, v in row.items() if k != "row"}}
        # every head gets the same learning rates (`lrs`, else the profile's) and keeps the one best on the
        # validation videos (the first of a tie), as it keeps its epoch: the same tuning budget for every arm
        grid = lrs or head_grid(cfg, settings["optimizer"]) or (settings["lr"],)
        tried = [(r, *train_one(row, seed, {**settings, "lr": r})) for r in grid]
        rate, run_dir, result = max(tried, key=lambda t: (t[2]["val_top1"], -tried.index(t)))
        out.append(
            {
                "row": row["row"],
                "seed": seed,
                "modality": data.modality,
                **result,
                "lr": rate,
                "val_by_lr": " ".join(f"{r:g}:{res['val_top1']:.1f}" for r, _, res in tried),
                "run_dir": str(run_dir),
                "teacher_top1": teacher_top1 if row.get("distill") else np.nan,
            }
        )
    return pd.DataFrame(out)
