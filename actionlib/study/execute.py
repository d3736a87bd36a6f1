"""The runner: every planned stream trained (or found finished) and tested under its row's protocol, streams
fused, one line per row, split, seed and protocol with which test videos it got right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import paths, stats
from ..data.synthetic import CLASS_NAMES, get_class, reversed_pairs
from ..engine.evaluate import summarize
from ..engine.fusion import fuse_sets
from ..recipes import Recipe
from .controls import CLASS_GROUPS
from .features import cpu_data, head_scores, pretrain, probe, run_heads
from .planner import Plan, is_2d, plan, plans, runs_of, small_3d
from .training import stream_scores, train_stream


class _CpuStreams:
    """The CPU profiles' networks and heads, made once per call of `run` (run folders cache them across calls)."""

    def __init__(self, cfg, runs_dir: Path, classes: tuple[str, tuple[str, ...]] | None = None, tune_seed: int = 0):
        self.cfg, self.runs_dir, self.classes = cfg, runs_dir, classes  # classes: (name, class names) of a control
        # a head's learning rate is chosen from `Profile.head_lrs` on the validation videos of its first run
        # (`tune_seed`) and its other runs train at it: the grid's cost once per row rather than once per run (a
        # rate belongs to the head; a seed redraws the backbone, the head's initialisation and the data order). On
        # a control dataset every run trains at the rate the head chose on the whole dataset: a control changes
        # the classes, not the head
        self.tune_seed = tune_seed
        self._whole = _CpuStreams(cfg, runs_dir, None, tune_seed) if classes is not None else self
        self._data, self._networks, self._rates = {}, {}, {}

    def data(self, modality: str, split: int, pretraining: bool = False):
        """The profile's split in memory (`cpu_data`), loaded once: a control dataset's is the whole dataset's
        (`_whole`, which its learning rates read too), with the heads seeing the control's classes only."""
        key = (modality, split, pretraining)
        if key not in self._data:
            if self._whole is self:
                self._data[key] = cpu_data(self.cfg, *key)
            else:
                data = self._whole.data(*key)
                self._data[key] = data if pretraining else data.only(self.classes[1], self.classes[0])
        return self._data[key]

    def network(self, p: Plan, recipe: Recipe, split: int, seed: int) -> dict:
        """The `features.pretrain` run of a fine-tuned stream (on the split's training videos), or of a head
        stream's frozen backbone (on the pretraining set, whatever the split, as one Kinetics network serves the
        three HMDB51 splits): each seed trains its own (the spread between runs comes mostly from the backbone)."""
        if p.how == "fine-tune":
            settings = dict(p.options)
        elif is_2d(p.model):
            settings = {"model": p.model}
        else:
            settings = small_3d(self.cfg)
        if not is_2d(settings["model"]):
            settings["head"] = "tgap"
        init = self.network(plan(p.init, recipe, self.cfg), recipe, split, seed)["checkpoint"] if p.init else None
        source = (split, False) if p.how == "fine-tune" else (1, True)  # (split, pretraining set)
        key = (p.modality, *source, seed, init, *sorted(settings.items()))
        if key not in self._networks:
            data = self.data(p.modality, *source)
            self._networks[key] = pretrain(self.cfg, data, **settings, seed=seed, init=init)
        return self._networks[key]

    def teacher(self, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str) -> dict | None:
        """The teacher of a distilled stream: its stream's network and head row, at the rate its own row chose
        (a later run's teacher is the teacher stream's run of that seed, not a second search of the grid)."""
        if not p.teacher:
            return None
        t = plan(p.teacher, recipe, self.cfg)
        return {
            "backbone": self.network(t, recipe, split, seed),
            "data": self.data(t.modality, split),
            "row": {"row": t.key, **t.options},
            "lrs": self._tuned_lr(t, recipe, split, seed, protocol),
        }

    def _tuned_lr(self, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str) -> tuple[float] | None:
        """The rate the first run on the whole dataset chose, for any other run (None: this run tries the grid)."""
        if not self.cfg.head_lrs or (self._whole is self and seed == self.tune_seed):
            return None
        key = (p.key, recipe.table, recipe.row, split, protocol)
        if key not in self._rates:  # the first run's line once (read from its run folders), not once per later run
            self._rates[key] = float(self._whole.head_run(p, recipe, split, self.tune_seed, protocol)["lr"])
        return (self._rates[key],)

    def head_run(self, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str) -> pd.Series:
        """The `run_heads` line of head stream `p` (its head trained first unless cached)."""
        network, data = self.network(p, recipe, split, seed), self.data(p.modality, split)
        return run_heads(
            [{"row": p.key, **p.options}],
            network,
            data,
            self.cfg,
            self.runs_dir / f"split{split}",
            seeds=[seed],
            protocol=protocol,
            teacher=self.teacher(p, recipe, split, seed, protocol),
            lrs=self._tuned_lr(p, recipe, split, seed, protocol),
        ).iloc[0]

    def scores(self, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str) -> dict:
        """Test scores of stream `p` under `protocol` (its network or head trained first unless cached)."""
        network, data = self.network(p, recipe, split, seed), self.data(p.modality, split)
        ceiling = {}
        if p.how == "fine-tune":  # the network's own TGAP classifier
            run_dir, row = Path(network["checkpoint"]).parent, {"row": p.key, "head": "tgap"}
            run = network
        else:
            ceiling = probe(network, data, protocol=protocol)
            row = {"row": p.key, **p.options}
            run = self.head_run(p, recipe, split, seed, protocol)
            run_dir = run["run_dir"]
        if recipe.test_frames and row.get("frames") == 1:  # trained on one frame, tested on all (Section 3.3.1)
            row = {k: v for k, v in row.items() if k != "frames"}
        scores, labels = head_scores(run_dir, network, row, data, protocol)
        return {
            "scores": scores,
            "labels": labels,
            "indices": np.arange(len(labels)),
            "class_names": data.class_names,
            "run": str(run_dir),
            "train_top1": run["train_top1"],
            "val_top1": run["val_top1"],
            "parameters": run.get("parameters", np.nan),  # of the head (and classifier) where the backbone is frozen
            "lr": run.get("lr", np.nan),
            "probe_top1": ceiling.get("probe_top1", np.nan),
            "probe_train_top1": ceiling.get("probe_train_top1", np.nan),
            "seconds": run["seconds"],
            "teacher_top1": run.get("teacher_top1", np.nan),
        }


def _files_scores(cfg, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str, runs_dir: Path) -> dict:
    """Test scores of a stream run on the dataset's files (trained first unless its run has finished)."""
    checkpoint = train_stream(cfg, p.key, recipe.dataset, split, seed, runs_dir)
    scores = stream_scores(checkpoint, protocol, cfg, frames=p.test_frames)
    return {**scores, "run": str(checkpoint.parent)}


def run(
    cfg, rows, runs_dir: str | Path, seed: int = 0, classes: tuple[str, tuple[str, ...]] | None = None
) -> pd.DataFrame:
    """Train and test every row the profile can run, on its runs (`runs_of`): one line per row, split, seed and
    protocol with Top-1/Top-3 (%) and its Wilson interval, the test videos, which of them were right (`correct`:
    "+" right, "-" wrong, in test-video order, a string no CSV reader takes for a number; the intervals and paired
    claims are computed from it), the mean reversed-pair accuracy (synthetic data; NaN elsewhere) and the run
    folders. `classes` (name, class names): the CPU heads train and test on those classes only (a control dataset,
    `CONTROL_SETS`); their backbones stay the same."""

    runs_dir = Path(runs_dir)
    cpu = _CpuStreams(cfg, runs_dir, classes, tune_seed=seed)  # makes nothing until a stream in memory asks
    jobs = []
    for recipe in rows:
        planned = plans(recipe, cfg)
        if recipe.unsupported or any(p.reason for p in planned):
            continue
        jobs += [(recipe, planned, split, run_seed) for split, run_seed in runs_of(recipe, cfg, seed)]
    records, cache = [], {}
    for recipe, planned, split, run_seed in tqdm(jobs, desc="thesis rows"):
        protocol, sets = recipe.protocol, []
        for p in planned:
            job = (p.key, recipe.table, recipe.dataset, split, run_seed, protocol, recipe.test_frames)
            if job not in cache:
                if p.source == "files":
                    cache[job] = _files_scores(cfg, p, recipe, split, run_seed, protocol, runs_dir)
                else:
                    cache[job] = cpu.scores(p, recipe, split, run_seed, protocol)
            sets.append(cache[job])
        fused = fuse_sets(sets, "l2") if len(sets) > 1 else sets[0]
        names = list(fused["class_names"])
        report = summarize(fused["scores"], fused["labels"], len(names), names, reversed_pairs(names))
        pairs = report.get("pairwise_accuracy", {})
        correct = (_predictions(fused["scores"]) == np.asarray(fused["labels"])).astype(int)
        low, high = stats.wilson_interval(int(correct.sum()), len(correct))
        video_groups = _video_groups(np.asarray(fused["labels"]), names)
        groups = _group_accuracy(correct, video_groups)
        records.append(
            {
                "table": recipe.table,
                "row": recipe.row,
                "dataset": cfg.dataset if cfg.synthetic is not None else recipe.dataset,  # what the run read
                "thesis_dataset": recipe.dataset,
                "split": split,
                "seed": run_seed,
                "protocol": protocol,
                "top1": report["top1"],
                "top1_ci_low": low,
                "top1_ci_high": high,
                "n_runs": 1,
                "top3": report["top3"],
                "videos": report["videos"],
                "reversed_pairs": pairs.get("mean", np.nan),
                "modality": " + ".join(p.modality for p in planned),
                **{
                    k: sets[0].get(k, np.nan) if len(sets) == 1 else np.nan
                    for k in ("train_top1", "val_top1", "lr", "probe_train_top1", "probe_top1", "parameters")
                },
                "teacher_top1": sets[0].get("teacher_top1", np.nan) if len(sets) == 1 else np.nan,
                "streams": " + ".join(recipe.streams),
                "runs": ";".join(_where(s["run"], runs_dir) for s in sets),
                "correct": "".join("+" if c else "-" for c in correct),
                "video_groups": video_groups,
                **groups,
            }
        )
    return pd.DataFrame.from_records(records)


def _letters(text: str) -> np.ndarray:
    """A per-video string of `run` (`correct`, `video_groups`) as an array of one byte per test video."""
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _vector(correct: str) -> np.ndarray:
    """A `correct` string of `run` ("+" right, "-" wrong) as a 0/1 vector."""
    return (_letters(correct) == ord("+")).astype(int)


def _correct(runs: pd.DataFrame) -> dict:
    """{(split, seed): 0/1 vector} of a row's runs."""
    return {(r.split, r.seed): _vector(r.correct) for r in runs.itertuples()}


def _video_groups(labels: np.ndarray, names: list[str]) -> str:
    """The class group of each test video, one letter each ("a" appearance, "r" reversed, "s" speed), in the order
    of `correct`; "" where the classes have no groups."""

    if not set(names) <= set(CLASS_NAMES):
        return ""
    return "".join(get_class(names[label]).group[0] for label in labels)


def _group_accuracy(correct: np.ndarray, video_groups: str) -> dict:
    """Top-1 (%) on the test videos of each class group, as `top1_<group>` (NaN where the classes have none)."""
    out = {f"top1_{group}": np.nan for group in CLASS_GROUPS}
    for group in CLASS_GROUPS:
        mine = _letters(video_groups) == ord(group[0])
        if mine.any():
            out[f"top1_{group}"] = 100 * correct[mine].mean()
    return out


def _predictions(scores) -> np.ndarray:
    """Top-1 predictions of a (videos, classes) score array or tensor."""
    return np.asarray(scores).argmax(axis=1)


def _where(path, runs_dir: Path) -> str:
    """A run folder as the tables show it: relative to the repository or the runs folder, never a machine's path."""
    path = Path(path)
    for base in (paths.repo_root(), runs_dir):
        try:
            return str(path.resolve().relative_to(Path(base).resolve()))
        except ValueError:
            continue
    return path.name
