"""How the study trains and tests a run, wherever its data lives.

- One `TrainConfig` builder, `train_config`: the profile's values, then the run's own over them.
- One training loop, `engine.train`: `run` builds the datasets a config names from the dataset's files (a stream
  of the full or tiny profile, `train_stream`); `fit` takes datasets already built (a synthetic split decoded in
  memory, or cached features: `fit_and_report`).
- One completion rule, `finished`: a run is done when its last epoch is logged and its best.pt exists. Every run
  folder also holds what testing it gave (scores files beside a stream's checkpoint, `result.json` for a run in
  memory), written whole once the run is tested.
- One tester, `engine.evaluate.predict_scores` (views averaged per video): through `evaluate_checkpoint` for a
  checkpoint on files (`stream_scores`), through `predict_in_memory` for a model and a dataset in memory.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data.synthetic import reversed_pairs, speed_pairs
from ..data.transforms import default_geometry
from ..engine.checkpointing import load_checkpoint
from ..engine.config import TrainConfig
from ..engine.evaluate import PROTOCOLS, evaluate_checkpoint, predict_scores, summarize
from ..engine.fusion import load_scores, save_scores
from ..engine.inputs import collate
from ..engine.records import read_metrics
from ..engine.train import fit, resolve, stopped
from ..engine.train import run as train_run
from ..models.classifier import MODALITY_DROPOUT
from ..models.resnet2d import default_frozen_stages
from ..paths import DATASET_DIRS
from ..recipes import RECIPES, STREAMS, Recipe, Stream, complexity_id, frame_root, run_name, thesis_line
from .planner import is_2d, profile_stream


def train_config(cfg=None, **fields) -> TrainConfig:
    """A run's `TrainConfig`: the profile `cfg`'s epochs, batch sizes, loader workers and device, then `fields`
    over them. A run the study starts resumes its folder (a killed notebook continues where it stopped)."""
    base = {}
    if cfg is not None:
        base = {
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "effective_batch": cfg.effective_batch,
            "workers": cfg.workers,
            "device": cfg.device,
        }
    return TrainConfig(**{"resume": True, **base, **fields})


def finished(run_dir: str | Path, epochs: int, stop_after: int | None = None) -> bool:
    """Whether the run in `run_dir` trained all `epochs`, or stopped early under `stop_after`: an epoch's metrics
    line is written only after its last.pt is durable, so reading metrics.jsonl tells it without loading a
    checkpoint of hundreds of MB."""
    run_dir = Path(run_dir)
    if not (run_dir / "best.pt").is_file() or not (run_dir / "metrics.jsonl").is_file():
        return False
    last = max(read_metrics(run_dir), key=lambda m: m["epoch"], default=None)
    if last is None:
        return False
    improved = last.get("improved_epoch", last["best_epoch"])
    return last["epoch"] + 1 >= epochs or stopped(last["epoch"] + 1, improved, stop_after)


@torch.inference_mode()
def predict_in_memory(model: nn.Module, dataset, batch_size: int = 32) -> dict:
    """`predict_scores` of `model` (in eval mode, on the CPU) over a dataset in memory: scores (N, K) with each
    video's views averaged, labels and dataset indices."""
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate)
    return predict_scores(model.eval(), loader, torch.device("cpu"))


# ------------------------------------------------------------------------------------------------ on files
def files_config(cfg, key: str, stream: Stream, dataset: str, split: int, seed: int, runs_dir: Path, teacher):
    """The `TrainConfig` of stream `key` on the dataset's files, in its run folder under `runs_dir`."""
    root = Path(cfg.data_root) / DATASET_DIRS[dataset]
    frame_roots = {m: str(frame_root(cfg.data_root, dataset, m)) for m in ("flow", "pose")}
    frame_roots = {m: p for m, p in frame_roots.items() if m == stream.modality or (teacher and m == "flow")}
    name = run_name(key, dataset, split, seed)
    return train_config(
        cfg,
        model=stream.model,
        options=dict(stream.options),
        modality=stream.modality,
        pretrained=str(Path(cfg.weights_dir) / stream.weights) if stream.weights else None,
        dataset=dataset,
        root=str(root),
        split=split,
        frame_roots=frame_roots,
        data_options={"resize": list(stream.frame_size)} if stream.frame_size else {},
        seed=seed,
        out=str(runs_dir / name),
        name=name,
        teacher=teacher,
        **stream.train,
    )


def train_stream(cfg, key: str, dataset: str, split: int, seed: int, runs_dir: str | Path) -> Path:
    """The stream's best.pt on the profile's backbone, training it first if its run has not `finished` (resuming
    from last.pt); a distilled stream's teacher is trained first."""
    stream = profile_stream(cfg, key)
    runs_dir = Path(runs_dir)
    teacher = None
    if stream.teacher:
        teacher = str(train_stream(cfg, stream.teacher, dataset, split, seed, runs_dir))
    config = files_config(cfg, key, stream, dataset, split, seed, runs_dir, teacher)
    if not finished(config.out, cfg.epochs, config.stop_after):
        train_run(config)
    return Path(config.out) / "best.pt"


def train_command(cfg, key: str, dataset: str, split: int, seed: int, runs_dir: str | Path, gpus: int = 1) -> str:
    """The `actionlib train` command line of one stream's run (torchrun with `gpus` > 1). A run finished this way
    in `runs_dir` is picked up by the notebooks instead of being trained again."""
    stream = profile_stream(cfg, key)
    runs_dir = Path(runs_dir)
    teacher = None
    if stream.teacher:
        teacher = str(runs_dir / run_name(stream.teacher, dataset, split, seed) / "best.pt")
    config = files_config(cfg, key, stream, dataset, split, seed, runs_dir, teacher)
    launcher = ["torchrun", f"--nproc_per_node={gpus}", "-m", "actionlib"] if gpus > 1 else ["actionlib"]
    args = ["train", "--model", config.model, "--modality", config.modality, "--dataset", dataset, "--root",
            config.root, "--split", split, "--seed", seed, "--epochs", config.epochs, "--batch-size",
            config.batch_size, "--workers", config.workers, "--run", config.out, "--resume"]  # fmt: skip
    for option, value in config.options.items():
        args += ["--option", f"{option}={value}"]
    for modality, root in config.frame_roots.items():
        args += [f"--{modality}-frames", root]
    if stream.frame_size:
        args += ["--data-option", "resize={}x{}".format(*stream.frame_size)]
    named = {"pretrained": config.pretrained, "optimizer": config.optimizer, "lr": config.lr,
             "stride": config.stride, "distill": config.distill,
             "distill_weight": config.distill_weight, "teacher": config.teacher,
             "effective_batch": config.effective_batch}  # fmt: skip
    for name, value in named.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", value]
    return shlex.join(launcher + [str(a) for a in args])


def stream_scores(checkpoint: Path, protocol: str, cfg, progress: bool = False, frames: int | None = None) -> dict:
    """Test scores of a trained stream under `protocol` (on `frames` frames if given), computed once and kept
    beside its checkpoint."""
    path = checkpoint.parent / f"scores_{checkpoint.stem}_{protocol}{f'_{frames}f' if frames else ''}.pt"
    if path.is_file() and path.stat().st_mtime >= checkpoint.stat().st_mtime:
        scores = load_scores(path)
        if scores.get("videos") is not None:  # files written before scores named their videos are made again
            return scores
    _, out, config = evaluate_checkpoint(
        checkpoint, protocol, batch_size=cfg.batch_size, workers=cfg.workers, device=cfg.device, progress=progress,
        frames=frames,
    )  # fmt: skip
    save_scores(path, out, config["class_names"], {"checkpoint": str(checkpoint), "protocol": protocol})
    return {**out, "class_names": list(config["class_names"])}


def describe(recipe: Recipe, cfg=None, thesis=None) -> dict:
    """One thesis row as the full profile runs it: its test protocol, fusion, thesis value, complexity row and
    every stream's model, clip, crop, initialisation, optimizer, learning rate, effective batch and teacher
    (the engine's resolved values, not the recipe's shorthand). `actionlib recipes --json` prints these.
    `thesis`: `reference.accuracy()`, read once by a caller that describes many rows."""
    from .. import profiles, reference

    cfg = cfg or profiles.resolve("full")
    clips, crops = PROTOCOLS[recipe.protocol]
    thesis = reference.accuracy() if thesis is None else thesis
    line = thesis_line(recipe, thesis)
    streams = []
    for key in recipe.streams:
        stream = STREAMS[key]
        config = resolve(files_config(cfg, key, stream, recipe.dataset, 1, 0, Path("runs"), None))
        crop, frame_size = default_geometry(stream.model)
        streams.append({
            "key": key,
            "model": stream.model,
            "options": {k: v for k, v in stream.options.items() if k not in ("frames", "size")},
            "modality": stream.modality,
            "frames": stream.options["frames"],
            "stride": config.stride,
            "size": stream.options.get("size", crop),
            "frame_size": list(stream.frame_size or frame_size),
            "init": stream.weights,
            "training_crop": f"multi-scale crop of {stream.options.get('size', crop)} px from the frame, random flip",
            "optimizer": config.optimizer,
            "lr": config.lr,
            "weight_decay": config.weight_decay,
            "scheduler": f"x{config.lr_factor:g} after {config.patience} epochs without a better validation loss",
            "dropout": stream.options.get("dropout", MODALITY_DROPOUT[stream.modality]),
            "frozen_stages": _frozen_stages(stream),
            "batch": config.effective_batch,
            "epochs": config.epochs,
            "selection": "best Top-1 over epochs on the test list (the authors' validation; Section 3.2.5)",
            "teacher": stream.teacher,
            "distill": stream.train.get("distill"),
            "distill_weight": stream.train.get("distill_weight"),
        })  # fmt: skip
    return {
        "table": recipe.table,
        "row": recipe.row,
        "dataset": recipe.dataset,
        "splits": "1, 2, 3 (mean)" if recipe.three_splits else "1",
        "test": {
            "protocol": recipe.protocol,
            "clips": clips,
            "crops": crops,
            "frames": recipe.test_frames or (streams[0]["frames"] if streams else None),
        },  # fmt: skip
        "fusion": "sum of L2-normalised logits" if len(streams) > 1 else None,
        "thesis_top1": float(line["top1"].iloc[0]) if len(line) else None,  # None: a row of ours
        "thesis_also_printed": (line["also_printed"].iloc[0] or None) if len(line) else None,
        "complexity": complexity_id(recipe),
        # rows that train the same streams: one run stands for each, and each expects its own thesis value
        "same_streams_as": [
            {
                "table": other.table,
                "row": other.row,
                "protocol": other.protocol,
                "thesis_top1": _thesis_top1(other, thesis),
            }
            for other in RECIPES
            if other.streams == recipe.streams and other.dataset == recipe.dataset and other is not recipe
        ],
        "status": f"not run: {recipe.unsupported}" if recipe.unsupported else "run",
        "streams": streams,
    }


def _thesis_top1(recipe: Recipe, thesis) -> float | None:
    line = thesis_line(recipe, thesis)
    return float(line["top1"].iloc[0]) if len(line) else None


def _frozen_stages(stream: Stream) -> int | None:
    """Stages of the backbone kept frozen: the thesis's choice for the 2D ResNets (`default_frozen_stages`), the
    stream's option where it names one; None where nothing is frozen (the 3D networks fine-tune end to end)."""
    if "frozen_stages" in stream.options:
        return stream.options["frozen_stages"]
    if is_2d(stream.model):
        options = stream.options
        depth = int(stream.model[len("resnet") :])
        return default_frozen_stages(
            depth, options.get("head", "avg"), options.get("fusion"), options.get("frames", 16)
        )
    return None


# ------------------------------------------------------------------------------------------------ in memory
TEST_SCORES = "test_scores.pt"
"""A run in memory's test scores (`engine.fusion.save_scores`), beside its result.json."""


def fit_and_report(
    model_name: str,
    model: nn.Module,
    options: dict,
    train_set,
    val_set,
    test_set,
    class_names,
    modality,
    *,
    epochs: int,
    out: str | Path,
    seed: int,
    batch_size: int,
    optimizer: str,
    lr: float,
    teacher: nn.Module | None = None,
    distill: str | None = None,
    distill_weight: float | None = None,
    stop_after: int | None = None,
) -> dict:
    """Train with `engine.fit` on datasets in memory (resuming from `out`), keeping the epoch with the best Top-1 on
    `val_set`, and return its result row: that epoch's training and validation Top-1 and its test Top-1/Top-3 and
    pair accuracies (`test_set` is read once, after training; its scores are kept in `out` as `TEST_SCORES`). The
    batch is the effective batch (no accumulation), and the data is in this process already (no loader workers)."""
    config = train_config(
        model=model_name,
        options=options,
        modality=modality,
        dataset="synthetic",
        epochs=epochs,
        batch_size=batch_size,
        effective_batch=batch_size,
        accumulation=1,
        optimizer=optimizer,
        lr=lr,
        seed=seed,
        workers=0,
        device="cpu",
        out=str(out),
        progress=False,
        tensorboard=False,
        num_classes=len(class_names),
        class_names=list(class_names),
        distill=distill,
        distill_weight=distill_weight,
        stop_after=stop_after,
        write_each_epoch=False,  # seconds to a few minutes a run: a killed one starts again
    )
    pairs = reversed_pairs(class_names) + speed_pairs(class_names)
    started = time.perf_counter()
    result = fit(config, model, train_set, val_set, teacher=teacher, pairs=pairs)
    seconds = time.perf_counter() - started
    best = next(m for m in read_metrics(out) if m["epoch"] == result["best_epoch"])
    model.load_state_dict(load_checkpoint(Path(out) / "best.pt")["model"])
    scores = predict_in_memory(model, test_set)
    save_scores(Path(out) / TEST_SCORES, scores, class_names)  # what fusing this run's stream reads (`head_scores`)
    test = summarize(scores["scores"], scores["labels"], len(class_names), list(class_names), pairs)
    pairwise = {f"{a}/{b}": float(test.get("pairwise_accuracy", {}).get(f"{a}|{b}", float("nan"))) for a, b in pairs}
    reversed_names = [f"{a}/{b}" for a, b in reversed_pairs(class_names)]
    return {
        "top1": test["top1"],
        "top3": test["top3"],
        "val_top1": best["val_top1"],
        "reversed_pairs": float(np.nanmean([pairwise[k] for k in reversed_names])) if reversed_names else np.nan,
        **pairwise,
        "best_epoch": best["epoch"],
        "train_top1": best["train_top1"],
        "seconds": seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def write_result(run_dir: str | Path, result: dict) -> None:
    """A run's `result.json`, written whole and then renamed: a kill never leaves half a file."""
    path = Path(run_dir) / "result.json"
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(result, indent=1))
    partial.replace(path)


def read_result(run_dir: str | Path) -> dict | None:
    """The result row of a tested run in memory, or None if it has not been tested."""
    path = Path(run_dir) / "result.json"
    return json.loads(path.read_text()) if path.is_file() else None
