"""Late fusion of streams (RGB + flow (+ pose)) and ensembles of trained runs.

Two ways to combine each stream's video score vectors (the per-video mean logits):

- "softmax": the thesis's description (Section 3.3.3): each stream's scores are normalised to
  class probabilities, and the probabilities are averaged;
- "l2": what the authors' `combined_demo.py` does: each stream's mean logit vector is
  L2-normalised, and the normalised vectors are summed.

Optional weights scale each stream. Any number of streams or runs can be combined, as long as
they scored the same videos: a score file records its split, the name of each scored video (by dataset index)
and the class names, and fusion refuses sets that differ in any of them (see `check_same_videos`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..choices import FUSION_METHODS
from .checkpointing import plain, safe_load, save_checkpoint


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


def scored_videos(dataset, indices) -> list[str] | None:
    """The name of each scored video ("<class>/<file>", independent of where the data lies), from the test set and
    the scores' `indices`: what `save_scores(videos=...)` records. None for a dataset that does not list them."""
    records = getattr(dataset, "records", None)
    if records is not None:
        names = [f"{r.class_name}/{r.name}" for r in records]
    elif getattr(dataset, "samples", None) is not None:
        names = [str(s[0] if isinstance(s, (tuple, list)) else s) for s in dataset.samples]
    else:
        return None
    return [names[int(i)] for i in indices]


def save_scores(
    path: str | Path, out: dict, class_names=None, meta: dict | None = None, *, split=None, videos=None
) -> Path:
    """Store a run's test scores (`evaluate.predict_scores` output) for later fusion (atomically).

    `split` (the test split's number) and `videos` (the name of each scored video, `scored_videos`) say what was
    scored; each may also come in `out` (entries "split" and "videos"). A file without `videos` is reported on its
    own but never fused (see `check_same_videos`).
    """
    split = out.get("split") if split is None else split
    split = None if split is None else int(split)
    videos = out.get("videos") if videos is None else videos
    if videos is not None:
        videos = [str(v) for v in videos]
        if len(videos) != len(out["indices"]):
            raise ValueError(f"{path}: {len(videos)} video names for {len(out['indices'])} scored videos")
    return save_checkpoint(
        {
            "scores": out["scores"],
            "labels": out["labels"],
            "indices": out["indices"],
            "class_names": list(class_names) if class_names is not None else None,
            "split": split,
            "videos": videos,  # the name of each row's video
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
        raise ValueError(f"{path}: not a scores file as `actionlib evaluate --report` writes it: {problem}")
    scores["file"] = str(path)  # named by fusion's refusals
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
    videos = scores.get("videos")
    if videos is not None and (
        not isinstance(videos, list) or len(videos) != n or not all(isinstance(v, str) for v in videos)
    ):
        return f"'videos' must name each of the {n} scored videos, got {type(videos).__name__}"
    split = scores.get("split")
    if split is not None and (not isinstance(split, int) or isinstance(split, bool)):
        return f"'split' must be a split number, got {split!r}"
    return None


def _name(score_set: dict, number: int) -> str:
    return score_set.get("file") or f"score set {number + 1}"


def check_same_videos(sets: list[dict]) -> None:
    """Refuse to fuse score sets of different test videos, naming both.

    Sets that record what they scored (`split`, `videos`) must agree on it: the same split, the same video under
    each index. A *file* that records neither (written before score files did) is refused: its labels and classes
    could agree with another split's (HMDB51's splits test as many videos per class), so fusing it could mix videos
    silently; computing it again records them. A set made in memory without them (a stream scored by a caller
    that does not pass them) is checked on its labels and classes only.
    """
    if len(sets) < 2:
        return
    for s in sets:
        if s.get("file") and s.get("videos") is None:
            raise ValueError(
                f"{s['file']}: the scores file does not record which test videos it scored (written before score "
                "files did), so fusing it could mix videos of different splits: compute it again with `actionlib "
                "evaluate --checkpoint CHECKPOINT --report DIR`"
            )
    split, videos = None, {}  # (split, first set that records it); index -> (video, first set that scored it)
    for n, s in enumerate(sets):
        if s.get("split") is not None and split is None:
            split = (s["split"], n)
        elif s.get("split") is not None and s["split"] != split[0]:
            first = split[1]
            raise ValueError(
                f"{_name(sets[first], first)} scored test split {split[0]}, {_name(s, n)} split {s['split']}: fuse "
                "only scores of one split"
            )
        if s.get("videos") is None:
            continue
        for index, video in zip(s["indices"].tolist(), s["videos"], strict=True):
            seen, m = videos.setdefault(index, (video, n))
            if seen != video:
                raise ValueError(
                    f"{_name(sets[m], m)} and {_name(s, n)} scored different videos (video {index}: {seen!r} and "
                    f"{video!r}): they were computed on different test lists; fuse only scores of the same split "
                    "and split files"
                )


def align(score_sets: list[dict]) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Restrict score sets to the videos all of them scored (a video one stream could not read
    is dropped from the fusion), in a common order; check that labels agree."""
    common = set(torch.as_tensor(score_sets[0]["indices"]).tolist())
    for s in score_sets[1:]:
        common &= set(torch.as_tensor(s["indices"]).tolist())
    if not common:  # a fusion of nothing would report a Top-1 of 0.00 as if measured
        raise ValueError("the score sets share no video: they were not computed on the same split")
    indices = torch.tensor(sorted(common), dtype=torch.long)
    streams, labels = [], None
    for n, s in enumerate(score_sets):
        position = {int(i): row for row, i in enumerate(torch.as_tensor(s["indices"]).tolist())}
        rows = torch.tensor([position[int(i)] for i in indices], dtype=torch.long)
        streams.append(torch.as_tensor(s["scores"])[rows])
        these = torch.as_tensor(s["labels"])[rows]
        if labels is not None and not torch.equal(labels, these):
            raise ValueError(
                f"{_name(score_sets[0], 0)} and {_name(s, n)} disagree on the labels: they were not computed on "
                "the same split"
            )
        labels = these
    return streams, labels, indices


def fuse_files(paths, method: str = "l2", weights=None) -> dict:
    """Fuse saved score files (streams or ensemble members) into one score set."""
    return fuse_sets([load_scores(p) for p in paths], method, weights)


def fuse_sets(sets: list[dict], method: str = "l2", weights=None) -> dict:
    """Fuse score sets (dicts with scores, labels, indices, as `evaluate.predict_scores` returns)."""
    named = [(n, list(s["class_names"])) for n, s in enumerate(sets) if s.get("class_names")]
    for n, names in named[1:]:
        first, ours = named[0]
        if names != ours:
            raise ValueError(
                f"{_name(sets[first], first)} and {_name(sets[n], n)} score different classes ({len(ours)} and "
                f"{len(names)}, e.g. {ours[:3]} and {names[:3]}): fuse only runs trained on the same classes"
            )
    check_same_videos(sets)
    streams, labels, indices = align(sets)
    return {
        "scores": fuse_scores(streams, method, weights),
        "labels": labels,
        "indices": indices,
        "class_names": next((s["class_names"] for s in sets if s.get("class_names")), None),
    }
