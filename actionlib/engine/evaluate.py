"""Testing: the four protocols of Appendix C.2 and the metrics the thesis reports.

A protocol is clips x crops: a single centred clip or all non-overlapping clips of the video
(floor(frames / clip length) of them, centred), times a centre crop or ten crops (centre, four
corners and their flips). As in the authors' test scripts, a video's score vector is the **raw
logits averaged** over all its clips x crops; its prediction is the argmax.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .checkpointing import load_model
from .config import TrainConfig
from .fusion import scored_videos
from .inputs import PROTOCOLS, build_dataset, collate
from .repro import seed_worker


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, ks=(1, 3)) -> dict[int, int]:
    """Number of samples whose label is among the k best scores, for each k."""
    if len(labels) == 0:
        return {k: 0 for k in ks}
    k_max = min(max(ks), scores.shape[1])
    top = scores.topk(k_max, dim=1).indices
    hit = top.eq(labels[:, None])
    return {k: int(hit[:, : min(k, k_max)].any(dim=1).sum()) for k in ks}


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def pairwise_accuracy(scores: np.ndarray, labels: np.ndarray, pairs, class_names=None) -> dict:
    """Accuracy on each pair of classes (e.g. the synthetic dataset's time-reversed pairs).

    Only samples of the pair's two classes count, and only the choice between those two
    classes: a sample is right when its own class scores higher than its partner. This isolates
    whether a model sees the direction of time, whatever it thinks of the other classes.
    """
    names = list(class_names) if class_names is not None else None
    result = {}
    for a, b in pairs:
        ia = names.index(a) if isinstance(a, str) else int(a)
        ib = names.index(b) if isinstance(b, str) else int(b)
        mask = (labels == ia) | (labels == ib)
        if not mask.any():
            continue
        chose_a = scores[mask, ia] > scores[mask, ib]
        correct = np.where(labels[mask] == ia, chose_a, ~chose_a)
        key = f"{names[ia] if names else ia}|{names[ib] if names else ib}"
        result[key] = float(correct.mean() * 100)
    if result:
        result["mean"] = float(np.mean(list(result.values())))
    return result


def summarize(scores, labels, num_classes: int, class_names=None, pairs=None) -> dict:
    """Top-1/Top-3 (%), per-class accuracy (%), confusion matrix and optional pairwise accuracy."""
    scores = torch.as_tensor(scores, dtype=torch.float32)
    labels = torch.as_tensor(labels, dtype=torch.long)
    n = len(labels)
    correct = topk_correct(scores, labels)
    predictions = scores.argmax(1).numpy() if n else np.zeros(0, dtype=np.int64)
    matrix = confusion_matrix(predictions, labels.numpy(), num_classes)
    support = matrix.sum(1)
    per_class = np.where(support > 0, np.diag(matrix) / np.maximum(support, 1) * 100, np.nan)
    report = {
        "videos": n,
        "top1": 100.0 * correct[1] / max(n, 1),
        "top3": 100.0 * correct[3] / max(n, 1),
        "per_class_accuracy": {
            (class_names[i] if class_names is not None else str(i)): (None if np.isnan(v) else float(v))
            for i, v in enumerate(per_class)
        },
        "confusion_matrix": matrix.tolist(),
    }
    if pairs:
        report["pairwise_accuracy"] = pairwise_accuracy(scores.numpy(), labels.numpy(), pairs, class_names)
    return report


def check_class_names(trained: list, data: list, checkpoint, root) -> None:
    """A model scores the classes it was trained on, in their order: on a dataset with other classes every
    prediction is a wrong index (a silent 0 %, or an index past the end). Refuse, naming both counts and the
    first names that differ."""
    if list(trained) == list(data):
        return
    first = next(
        (i for i, (a, b) in enumerate(zip(trained, data, strict=False)) if a != b), min(len(trained), len(data))
    )
    ours = repr(trained[first]) if first < len(trained) else "(none)"
    theirs = repr(data[first]) if first < len(data) else "(none)"
    raise ValueError(
        f"{checkpoint}: its {len(trained)} classes are not the {len(data)} classes of the dataset at {root} "
        f"(class {first}: {ours} in the checkpoint, {theirs} in the dataset): use the dataset it was trained "
        "on (--root, --dataset, --split-dir)"
    )


def _views(clip) -> list[torch.Tensor]:
    """Split a batch into one (V, C, T, H, W) tensor of views per video.

    Accepts (B, C, T, H, W) (one view), (B, V, C, T, H, W) (V = clips x crops) or a list of
    per-video (V_i, C, T, H, W) tensors (multi-clip testing, where V differs between videos).
    """
    if isinstance(clip, (list, tuple)):
        return [c if c.dim() == 5 else c[None] for c in clip]
    if clip.dim() == 5:
        return list(clip[:, None])
    if clip.dim() == 6:
        return list(clip)
    raise ValueError(f"expected clips of shape (B, C, T, H, W) or (B, V, C, T, H, W), got {tuple(clip.shape)}")


def _forward(model: nn.Module, chunk: torch.Tensor, device, channels_last: bool, autocast) -> torch.Tensor:
    chunk = chunk.to(device, non_blocking=True)
    if channels_last:
        chunk = chunk.contiguous(memory_format=torch.channels_last_3d)
    with autocast:
        return model(chunk).float()


@torch.inference_mode()  # no autograd bookkeeping at all (no version counters): faster than no_grad
def predict_scores(
    model: nn.Module,
    loader,
    device,
    amp: bool = False,
    max_views: int = 32,
    progress: bool = False,
    channels_last: bool = False,
) -> dict:
    """Video-level scores: logits averaged over each video's views; gathered over ranks.

    Returns `scores` (N, K) float32, `labels` (N,), `indices` (N,) (dataset indices, sorted),
    `loss` (mean cross-entropy of the averaged logits) and `skipped` (unreadable videos).
    """
    model.eval()
    device = torch.device(device)
    autocast = torch.autocast("cuda", dtype=torch.float16) if amp and device.type == "cuda" else nullcontext()
    scores, labels, indices, skipped = [], [], [], 0
    iterator = loader
    if progress and distributed.is_main():
        from tqdm import tqdm

        iterator = tqdm(loader, desc="test", leave=False, dynamic_ncols=True)
    for batch in iterator:
        skipped += int(batch.get("skipped", 0))
        if len(batch["label"]) == 0:
            continue
        clip = batch["clip"]
        if isinstance(clip, torch.Tensor) and clip.dim() in (5, 6):
            # every video has the same number of views: forward them together, `max_views` at a time (one
            # forward per video cost the heads' validation ~1 ms a video, a fifth of a BERT head's training)
            per_video = 1 if clip.dim() == 5 else clip.shape[1]
            flat = clip if clip.dim() == 5 else clip.flatten(0, 1)
            logits = torch.cat([_forward(model, c, device, channels_last, autocast) for c in flat.split(max_views)])
            batch_scores = logits.unflatten(0, (len(batch["label"]), per_video)).mean(1).cpu()
        else:
            batch_scores = [
                torch.cat([_forward(model, c, device, channels_last, autocast) for c in views.split(max_views)]).mean(0).cpu()
                for views in _views(clip)
            ]  # fmt: skip
        for score, label, index in zip(batch_scores, batch["label"], batch["index"], strict=True):
            scores.append(score)
            labels.append(int(label))
            indices.append(int(index))
    parts = distributed.all_gather_objects((scores, labels, indices, skipped))
    scores = [s for p in parts for s in p[0]]
    labels = [x for p in parts for x in p[1]]
    indices = [x for p in parts for x in p[2]]
    skipped = sum(p[3] for p in parts)
    order = np.argsort(indices, kind="stable")
    score_tensor = torch.stack([scores[i] for i in order]) if scores else torch.zeros(0, 0)
    label_tensor = torch.tensor([labels[i] for i in order], dtype=torch.long)
    labelled = len(label_tensor) and bool((label_tensor >= 0).all())  # predict() uses label -1
    loss = float(F.cross_entropy(score_tensor, label_tensor)) if labelled else float("nan")
    return {
        "scores": score_tensor,
        "labels": label_tensor,
        "indices": torch.tensor([indices[i] for i in order], dtype=torch.long),
        "loss": loss,
        "skipped": skipped,
    }


def evaluate(model, loader, device, num_classes: int, class_names=None, pairs=None, amp: bool = False, **kwargs):
    """`predict_scores` + `summarize`: the full test report of one model on one protocol's loader."""
    out = predict_scores(model, loader, device, amp=amp, **kwargs)
    report = summarize(out["scores"], out["labels"], num_classes, class_names, pairs)
    report.update(loss=out["loss"], skipped=out["skipped"])
    return report, out


def evaluate_checkpoint(
    checkpoint,
    protocol: str = "single-center",
    overrides: dict | None = None,
    batch_size: int = 4,
    workers: int = 4,
    device=None,
    progress: bool = False,
    compile: bool = False,
    frames: int | None = None,
    fold_bn: bool = True,
) -> tuple[dict, dict, dict]:
    """Test a trained run on its dataset's test split with one protocol (on `frames` frames if given, see
    `load_model`).

    `overrides` replaces data settings of the run's config (root, split, frame_roots, ...), e.g.
    when the data moved. `compile` runs the model through `torch.compile`: on 2 CPU cores 1.1-1.4x faster
    inference after 40-50 s of compiling per clip shape (results/benchmarks/trials.md), so only worth it for
    long test sets. `fold_bn` folds each BatchNorm into the convolution before it (`models.fold.fold_batchnorm`):
    the same scores up to float rounding, one operator fewer per convolution (I3D, SlowFast, R(2+1)D: 3-5 % less
    CPU time per clip in a small-clip measurement; results/benchmarks/models.md at the thesis's sizes). Returns
    (report, scores, config).
    """
    from torch.utils.data import DataLoader

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    model, values = load_model(checkpoint, frames=frames)
    config = TrainConfig.from_dict({**values, **{k: v for k, v in (overrides or {}).items() if v is not None}})
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    # channels-last, as in training: inference of R(2+1)D-34 on 2 CPU cores went from 61 % to 79 % of the matmul
    # rate (`python -m benchmarks.bench_models`, channels-last against `--memory-format default`)
    to_channels_last(model)
    if fold_bn:
        from actionlib.models.fold import fold_batchnorm

        model = fold_batchnorm(model)
    if config.root is not None and Path(config.root).is_dir():
        from actionlib.data.datasets import class_names

        check_class_names(
            config.class_names or [],
            class_names(config.root, config.dataset, config.split_dir),
            checkpoint,
            config.root,
        )
    dataset = build_dataset(config, "test", model, protocol)
    if len(dataset) == 0:
        raise ValueError(f"{config.root}: split {config.split} has no test videos: check the split files")
    loader = DataLoader(
        dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate, worker_init_fn=seed_worker
    )
    pairs = None
    if config.dataset == "synthetic":
        from actionlib.data.synthetic import CLASS_NAMES, reversed_pairs

        pairs = reversed_pairs([n for n in config.class_names if n in CLASS_NAMES]) or None
    report, out = evaluate(
        torch.compile(model) if compile else model,
        loader,
        device,
        config.num_classes,
        config.class_names,
        pairs,
        amp=device.type == "cuda",
        progress=progress,
        channels_last=True,
    )
    if report["videos"] == 0:
        raise ValueError(f"{config.root}: no readable test videos ({report['skipped']} skipped as unreadable)")
    out.update(split=config.split, videos=scored_videos(dataset, out["indices"]))  # what fusion checks
    report.update(protocol=protocol, checkpoint=str(checkpoint), model=config.model, modality=config.modality)
    return report, out, config.to_dict()


def to_channels_last(model: nn.Module) -> None:
    """channels-last for every 4D / 5D weight (2D and 3D convolutions in one model)."""
    for p in model.parameters():
        if p.dim() == 4:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
        elif p.dim() == 5:
            p.data = p.data.contiguous(memory_format=torch.channels_last_3d)
