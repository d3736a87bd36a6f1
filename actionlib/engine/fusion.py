"""Late fusion of streams (RGB + flow (+ pose)) and ensembles of trained runs.

Two ways to combine each stream's video score vectors (the per-video mean logits):

- "softmax": the thesis's description (Section 3.3.3): each stream's scores are normalised to
  class probabilities, and the probabilities are averaged;
- "l2": what the authors' `combined_demo.py` does: each stream's mean logit vector is
  L2-normalised, and the normalised vectors are summed.

Optional weights scale each stream. Any number of streams or runs can be combined, as long as
they scored the same videos (same dataset indices).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpointing import plain, safe_load, save_checkpoint

FUSION_METHODS = ("softmax", "l2")


def fuse_scores(streams, method: str = "l2", weights=None) -> torch.Tensor:
    """Combine a list of (N, K) score tensors into one (N, K) tensor."""
    if method not in FUSION_METHODS:
        raise ValueError(f"unknown fusion method {method!r}; choose one of {', '.join(FUSION_METHODS)}")
    streams = [torch.as_tensor(s, dtype=torch.float32) for s in streams]
    if not streams:
        raise ValueError("fusion needs at least one stream")
    shapes = {tuple(s.shape) for s in streams}
    if len(shapes) != 1:
        raise ValueError(f"streams must score the same videos and classes; got shapes {sorted(shapes)}")
    weights = [1.0] * len(streams) if weights is None else list(weights)
    if len(weights) != len(streams):
        raise ValueError(f"{len(weights)} weights for {len(streams)} streams")
    if method == "softmax":
        return sum(w * s.softmax(dim=1) for w, s in zip(weights, streams, strict=True)) / sum(weights)
    return sum(w * F.normalize(s, dim=1) for w, s in zip(weights, streams, strict=True))


def save_scores(path: str | Path, out: dict, class_names=None, meta: dict | None = None) -> Path:
    """Store a run's test scores (`evaluate.predict_scores` output) for later fusion (atomically)."""
    return save_checkpoint(
        {
            "scores": out["scores"],
            "labels": out["labels"],
            "indices": out["indices"],
            "class_names": list(class_names) if class_names is not None else None,
            "meta": plain(meta or {}),  # plain values only, so the file loads with weights_only=True
        },
        path,
    )


def load_scores(path: str | Path) -> dict:
    """Read a `save_scores` file with `weights_only=True`: a scores file that would run code is refused, and so is
    one whose entries are not what `save_scores` writes (they would fail deep in the metrics, or, holding NaN,
    quietly rank classes by noise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"scores file not found: {path}")
    scores = safe_load(path, "scores file")
    if not isinstance(scores, dict) or not {"scores", "labels", "indices"} <= set(scores):
        raise ValueError(f"{path} is not a scores file (no 'scores'/'labels'/'indices' entries)")
    problem = scores_problem(scores)
    if problem:
        raise ValueError(f"{path}: not a scores file as `actionlib evaluate --out` writes it: {problem}")
    values = scores["scores"]
    if len(values) == 0:
        raise ValueError(f"{path}: the scores file holds no videos")
    finite = torch.isfinite(values).all(dim=1)
    if not bool(finite.all()):
        raise ValueError(
            f"{path}: the scores of {int((~finite).sum())} of {len(values)} videos hold NaN or infinite values, which "
            "rank classes by noise: evaluate a checkpoint whose scores are finite (one from before training diverged)"
        )
    return scores


def _integers(value) -> bool:
    return (
        isinstance(value, torch.Tensor)
        and value.dim() == 1
        and not (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool)
    )


def scores_problem(scores: dict) -> str | None:
    """What is wrong with the entries of a score set, or None: (N, K) float scores, N labels in 0..K-1, N distinct
    video indices, K class names if any."""
    values, labels, indices = scores["scores"], scores["labels"], scores["indices"]
    if not isinstance(values, torch.Tensor) or values.dim() != 2 or not values.is_floating_point():
        shape = (
            f"a {values.dim()}-D {values.dtype} tensor" if isinstance(values, torch.Tensor) else type(values).__name__
        )
        return f"'scores' must be a 2-D float tensor (videos x classes), got {shape}"
    n, k = values.shape
    if n == 0:
        return None  # the caller says that it holds no videos
    if k == 0:
        return "'scores' has no classes"
    for name, value in (("labels", labels), ("indices", indices)):
        if not _integers(value) or len(value) != n:
            got = (
                f"shape {tuple(value.shape)} {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__
            )
            return f"'{name}' must be a 1-D integer tensor of one entry per video ({n}), got {got}"
    if bool(((labels < 0) | (labels >= k)).any()):
        return f"'labels' must be class numbers 0..{k - 1}, got {int(labels.min())}..{int(labels.max())}"
    if len(set(indices.tolist())) != n:
        return "'indices' name a video more than once"
    names = scores.get("class_names")
    if names is not None and (not isinstance(names, (list, tuple)) or not all(isinstance(x, str) for x in names)):
        return f"'class_names' must be a list of strings, got {type(names).__name__}"
    if names is not None and len(names) != k:
        return f"'class_names' names {len(names)} classes, the scores have {k}"
    meta = scores.get("meta")
    if meta is not None and not isinstance(meta, dict):
        return f"'meta' must be a dict, got {type(meta).__name__}"
    return None


def align(score_sets: list[dict]) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Restrict score sets to the videos all of them scored (a video one stream could not read
    is dropped from the fusion), in a common order; check that labels agree."""
    common = set(score_sets[0]["indices"].tolist())
    for s in score_sets[1:]:
        common &= set(s["indices"].tolist())
    if not common:  # a fusion of nothing would report a Top-1 of 0.00 as if measured
        raise ValueError("the score sets share no video: they were not computed on the same split")
    indices = torch.tensor(sorted(common), dtype=torch.long)
    streams, labels = [], None
    for s in score_sets:
        position = {int(i): n for n, i in enumerate(s["indices"].tolist())}
        rows = torch.tensor([position[int(i)] for i in indices], dtype=torch.long)
        streams.append(s["scores"][rows])
        these = s["labels"][rows]
        if labels is not None and not torch.equal(labels, these):
            raise ValueError("score files disagree on the labels: they were not computed on the same split")
        labels = these
    return streams, labels, indices


def fuse_files(paths, method: str = "l2", weights=None) -> dict:
    """Fuse saved score files (streams or ensemble members) into one score set."""
    return fuse_sets([load_scores(p) for p in paths], method, weights)


def fuse_sets(sets: list[dict], method: str = "l2", weights=None) -> dict:
    """Fuse score sets (dicts with scores, labels, indices, as `evaluate.predict_scores` returns)."""
    names = [list(s["class_names"]) for s in sets if s.get("class_names")]
    if any(n != names[0] for n in names):
        other = next(n for n in names if n != names[0])
        raise ValueError(
            f"the score sets score different classes ({len(names[0])} and {len(other)}, e.g. {names[0][:3]} and "
            f"{other[:3]}): fuse only runs trained on the same classes"
        )
    streams, labels, indices = align(sets)
    return {
        "scores": fuse_scores(streams, method, weights),
        "labels": labels,
        "indices": indices,
        "class_names": next((s["class_names"] for s in sets if s.get("class_names")), None),
    }
