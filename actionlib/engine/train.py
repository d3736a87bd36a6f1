"""The one training loop every experiment uses (Sections 3.2.3-3.2.5, 4.2.2 and Chapter 5).

- cross-entropy (plus a distillation term when a teacher is given), gradient accumulation to an
  effective batch of 128 = batch x accumulation x processes;
- `ReduceLROnPlateau(patience 5, factor 0.1)` on the validation loss, checked once per epoch;
- the best epoch is the one with the best validation Top-1 (ties go to the later epoch, as in
  the authors' BERT script);
- AMP and channels-last only on CUDA; on CPU, a seed fixes every number, also across a
  kill + `--resume` in the middle of an epoch.

`fit(config, model, train_set, val_set)` works on any datasets returning
`{"clip", "label", "index"}` dicts (None for an unreadable video); `run(config)` builds the
model, the datasets and the teacher from the config, which is what `actionlib train` calls.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import math
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from torch.utils.data import DataLoader

from . import distributed
from .checkpointing import copy_checkpoint, load_checkpoint, load_model, plain, save_checkpoint, unwrap
from .config import TrainConfig
from .distill import Distiller, adapt_teacher
from .evaluate import predict_scores, summarize, to_channels_last, topk_correct
from .inputs import build_dataset, collate, dataset_root, default_stride
from .optim import LR_MULTIPLIERS, build_optimizer, default_lr, default_optimizer, parameter_groups
from .records import (
    RUN_FILES,
    RunFolderError,
    RunLock,
    RunRecorder,
    clear_run,
    holds_run,
    manifest_hash,
    remove_stale_temporaries,
)
from .repro import SeededDataset, loader_generator, rng_state, seed_everything, seed_worker, set_rng_state

EFFECTIVE_BATCH = 128
# Section 3.2.4: 128 for every model, except Rep-Flow, which the authors trained with 24 (notes section 6).
EFFECTIVE_BATCH_BY_MODEL = {"repflow_50": 24}
# Settings that do not change what a run computes: left out of the hash in its default folder name.
NOT_IN_RUN_NAME = frozenset(
    {"out", "name", "resume", "overwrite", "workers", "device", "progress", "tensorboard", "checkpoint_every"}
    | {"write_each_epoch"}
    | {"num_classes", "class_names", "world_size"}
)


# What a resume may change besides those: the epoch budget, where the data lives (it may move) and how the run
# is executed; the accumulation follows the number of processes (the effective batch stays the same).
RESUMABLE = (
    NOT_IN_RUN_NAME
    | {"epochs", "root", "split_dir", "frame_roots", "teacher_root", "activation_checkpointing"}
    | {"accumulation"}
)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def resolve(config: TrainConfig, world_size: int = 1) -> TrainConfig:
    """Fill in the thesis defaults: optimizer and lr per model family, accumulation for 128."""
    config = dataclasses.replace(config, options=dict(config.options), world_size=world_size)
    check_counts(config)
    head = config.options.get("head")
    if config.stride is None:
        config.stride = default_stride(config.model)
    if config.optimizer is None:
        config.optimizer = default_optimizer(config.model, head)
    config.optimizer = config.optimizer.lower()
    if config.lr is None:
        config.lr = default_lr(config.model, head, config.optimizer)
    if config.effective_batch is None:
        config.effective_batch = EFFECTIVE_BATCH_BY_MODEL.get(config.model, EFFECTIVE_BATCH)
    if config.name is None:
        # Before the accumulation is derived from the number of processes: the same command under torchrun and in
        # one process names the same run (batch x accumulation x processes is the same effective batch).
        head_part = f"_{head}" if head else ""
        readable = f"{config.model}{head_part}_{config.modality}_{config.dataset}_s{config.split}_seed{config.seed}"
        config.name = f"{readable}_{settings_hash(config)}"
    if config.accumulation is None:
        per_step = config.batch_size * world_size
        if config.effective_batch % per_step:
            raise ValueError(
                f"effective batch {config.effective_batch} is not a multiple of batch size {config.batch_size} "
                f"x {world_size} process(es); choose --batch-size so it divides, or set --accumulation"
            )
        config.accumulation = config.effective_batch // per_step
    if config.accumulation < 1 or config.batch_size < 1:
        raise ValueError("--batch-size and --accumulation must be at least 1")
    if config.out is None:
        config.out = str(Path("runs") / config.name)
    return config


def check_counts(config: TrainConfig) -> None:
    """No epochs or empty batches would "succeed" with a best top-1 of -inf at epoch -1: refuse them up front."""
    for option, value in (("--epochs", config.epochs), ("--batch-size", config.batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{option} must be at least 1 (got {value})")


def settings_hash(config: TrainConfig) -> str:
    """8 hex digits of every setting that changes what a run computes (lr, epochs, options, data, ...), so
    default folder names of different runs differ and repeating a command with another --lr never reuses one."""
    settings = {k: v for k, v in config.to_dict().items() if k not in NOT_IN_RUN_NAME}
    text = json.dumps(plain(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def run_differences(ours: dict, theirs: dict) -> list[str]:
    """The settings that make two configs (dicts) different runs, as "name ours (theirs)" (see RESUMABLE)."""

    def settings(values: dict) -> dict:
        values = TrainConfig.from_dict(values).to_dict()  # an older config: its missing settings at their defaults
        kept = {k: v for k, v in values.items() if k not in RESUMABLE}
        return json.loads(json.dumps(plain(kept), sort_keys=True, default=str))  # tuples and lists alike

    a, b = settings(ours), settings(theirs)
    return [f"{key} {a[key]!r} ({b[key]!r})" for key in sorted(a) if a[key] != b[key]]


def _check_resumed_run(config: TrainConfig, state: dict, last_path: Path, main: bool) -> None:
    """A resume continues the run that wrote last.pt, in that run's folder, with its settings: else its metrics
    lines would join another run's in metrics.jsonl. Refused unless `overwrite` is also set (then the folder's
    other run is removed, keeping last.pt)."""
    theirs = state.get("config")
    if not isinstance(theirs, dict):
        raise RunFolderError(f"{last_path} is not an actionlib training checkpoint (it has no config)")
    changed = run_differences(config.to_dict(), theirs)
    if changed:
        raise RunFolderError(
            f"--resume: {last_path} is of a run with other settings ({'; '.join(changed[:5])}, the checkpoint's in "
            "parentheses): resume with the run's settings, or train a new run (another --out)"
        )
    folder_config = last_path.parent / "config.json"
    try:
        folder = json.loads(folder_config.read_text()) if folder_config.is_file() else None
    except (OSError, ValueError):
        folder = None
    other = run_differences(theirs, folder) if isinstance(folder, dict) else []
    if other and not config.overwrite:
        raise RunFolderError(
            f"--resume: {last_path} was written by another run than the one in {last_path.parent} "
            f"({'; '.join(other[:5])}, that run's config.json in parentheses): its metrics would join that run's; "
            f"move it into a folder of its own and resume there"
        )
    if other and main:
        print(f"{last_path}: from another run than {folder_config}: removing that run's files (overwrite)")
        for name in RUN_FILES:
            if name != "last.pt":
                (last_path.parent / name).unlink(missing_ok=True)


def enable_activation_checkpointing(model: nn.Module) -> list[str]:
    """Keep only the inputs of the backbone's blocks during training and recompute each block in the backward pass.

    Why: activation memory, not weights, limits 64-frame clips at batch 8 on a 24 GB GPU. Generic over the model
    families: the units are the direct children of `model.backbone` that are built of layers with parameters
    (ResNet `layer1..4`, R(2+1)D `stem`/`layer*`, I3D units and Inception modules, SlowFast `s1..s5` and
    fusions), split into their blocks when they are made of blocks (ResNeXt101's `layer3` holds 23 of them, so
    recomputing it whole would bring back most of the memory). Leaves such as a lone stem conv or pool stay as
    they are. Returns the names of the checkpointed units.
    """
    root = getattr(model, "backbone", model)
    names = []
    for name, stage in root.named_children():
        if not _has_layers(stage):
            continue
        blocks = list(stage.named_children())
        units = [(name, stage)]
        if blocks and all(_has_layers(block) for _, block in blocks):
            units = [(f"{name}.{block_name}", block) for block_name, block in blocks]
        for unit_name, unit in units:
            if not isinstance(unit.__dict__.get("forward"), functools.partial):
                unit.forward = functools.partial(_checkpointed, unit, unit.forward)
                names.append(unit_name)
    return names


def _has_layers(module: nn.Module) -> bool:
    return any(any(True for _ in child.parameters()) for child in module.children())


def _checkpointed(stage: nn.Module, forward, *args):
    if not (stage.training and torch.is_grad_enabled()):
        return forward(*args)
    recompute = functools.partial(_restore_buffers, stage)
    return checkpoint(forward, *args, use_reentrant=False, context_fn=lambda: (nullcontext(), recompute()))


@contextmanager
def _restore_buffers(stage: nn.Module):
    """The recomputation must not update BatchNorm's running statistics a second time."""
    saved = [b.detach().clone() for b in stage.buffers()]
    try:
        yield
    finally:  # also when the recomputation stops early (it does, once it has every tensor backward needs)
        with torch.no_grad():
            for buffer, value in zip(stage.buffers(), saved, strict=True):
                buffer.copy_(value)


class _Features(nn.Module):
    """Route `forward_features` through `forward`, so DDP sees (and synchronises) the call."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, clip):
        return self.model.forward_features(clip)


def _loader(dataset, sampler, config, shuffle_seed: int) -> DataLoader:
    workers = config.workers
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=torch.cuda.is_available(),
        worker_init_fn=seed_worker,
        generator=loader_generator(shuffle_seed),
        persistent_workers=False,
        prefetch_factor=2 if workers else None,
    )


def _teacher_clip(batch: dict, teacher: nn.Module) -> torch.Tensor:
    """The teacher's stream of the sample: `clip_<modality>` from a multi-stream ClipDataset
    (same frames, same crop), else the student's own clip (a teacher of the same modality)."""
    key = f"clip_{getattr(teacher, 'modality', 'flow')}"
    return batch.get("teacher_clip", batch.get(key, batch["clip"]))


def _average_gradients(model: nn.Module) -> None:
    for p in model.parameters():
        if p.grad is not None:
            p.grad.copy_(distributed.all_reduce_sum(p.grad) / distributed.world_size())


def _new_stats() -> dict:
    return {"loss": 0.0, "ce": 0.0, "mse": 0.0, "top1": 0, "top3": 0, "clips": 0, "skipped": 0, "batches": 0}


def _reduce_stats(stats: dict) -> dict:
    keys = sorted(stats)
    total = distributed.all_reduce_sum(torch.tensor([float(stats[k]) for k in keys], dtype=torch.float64))
    return dict(zip(keys, total.tolist(), strict=True))


def fit(
    config: TrainConfig,
    model: nn.Module,
    train_set,
    val_set,
    teacher: nn.Module | None = None,
    pairs=None,
) -> dict:
    """Train `model`, validating every epoch; return {"best_top1", "best_epoch", "last": metrics}.

    Writes `config.out`: config.json/yaml, environment.json, metrics.jsonl, last.pt, best.pt, holding its
    run.lock meanwhile. A folder that holds a run already is refused unless `config.resume` (continue it) or
    `config.overwrite` (replace it) is set; a resume continues only the run that wrote its last.pt, with that
    run's settings (`_check_resumed_run`).
    """
    world = distributed.world_size()
    config = resolve(config, world) if config.accumulation is None or config.lr is None else config
    check_counts(config)
    config.world_size = world
    with _claim_run_folder(config):
        return _fit(config, model, train_set, val_set, teacher, pairs)


@contextmanager
def _claim_run_folder(config: TrainConfig):
    """Rank 0 locks the run folder for the whole run and checks that it may write there; every rank then raises
    the same error (a decision of rank 0, so the ranks never disagree on a folder rank 0 is writing)."""
    out_dir, lock, problem = Path(config.out), None, None
    if distributed.rank() == 0:
        try:
            lock = RunLock(out_dir).acquire()
            if holds_run(out_dir) and not (config.resume or config.overwrite):
                problem = f"{out_dir} holds a run already: pass --resume to continue it or --overwrite to replace it"
        except RunFolderError as err:
            problem = str(err)
    problem = distributed.broadcast_object(problem)
    if problem:
        if lock is not None:
            lock.release()
        raise RunFolderError(problem)
    try:
        if lock is not None:
            remove_stale_temporaries(out_dir)  # a killed writer's; no other writer exists while we hold the lock
            if config.overwrite and not config.resume:
                clear_run(out_dir)
        distributed.barrier()
        yield
    finally:
        if lock is not None:
            lock.release()


def _finish_epoch(last_path: Path, best_path: Path, recorder: RunRecorder, record: dict) -> None:
    """The writes that follow an epoch's last.pt: best.pt when the epoch improved, then its metrics line.

    last.pt comes first and holds `record`, so a resume can redo whichever of these a kill prevented, and a
    metrics line exists only once its epoch's last.pt is durable (what `study.training.finished` relies on).
    """
    if record["best_epoch"] == record["epoch"]:
        copy_checkpoint(last_path, best_path)
    recorder.log_epoch(record)


def stopped(epoch: int, improved_epoch: int, stop_after: int | None) -> bool:
    """Whether a run stops before `epoch`: `stop_after` epochs have passed since the validation Top-1 last rose
    (at `improved_epoch`). A tie does not count as a rise: once the plateau scheduler has decayed the rate, the
    Top-1 repeats itself epoch after epoch (measured: 40 epochs of equal Top-1 at rates down to 1e-9)."""
    return stop_after is not None and improved_epoch >= 0 and epoch - improved_epoch > stop_after


def _fit(config: TrainConfig, model: nn.Module, train_set, val_set, teacher, pairs) -> dict:
    rank, world = distributed.rank(), distributed.world_size()
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    on_cuda = device.type == "cuda"
    amp = config.amp and on_cuda
    # channels-last helps on CPU as well: a training step 1.3x faster for the narrow ResNet18, 1.85x for the CPU
    # 3D ResNeXt (measured on 2 cores; the 7x7x7 stem's weight gradient is the slow part in the default layout)
    channels_last = config.channels_last
    main = rank == 0
    out_dir = Path(config.out)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"

    seed_everything(config.seed + rank)
    model = model.to(device)
    if channels_last:
        to_channels_last(model)
    if config.activation_checkpointing:
        enable_activation_checkpointing(model)
    groups = parameter_groups(model, config.lr, LR_MULTIPLIERS.get(config.model))
    optimizer = build_optimizer(
        config.optimizer, groups, config.lr, config.weight_decay, config.momentum, config.dampening
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", patience=config.patience, factor=config.lr_factor
    )
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    distiller = None
    if config.distill:
        if teacher is None:
            raise ValueError("distillation needs a teacher model (--teacher CHECKPOINT)")
        distiller = Distiller(teacher.to(device), config.distill, config.distill_weight, config.teacher_features)

    start_epoch, start_batch, best, best_epoch, stats = 0, 0, -math.inf, -1, _new_stats()
    improved_epoch = -1  # the last epoch whose validation Top-1 beat every earlier one (`stopped`)
    state = load_checkpoint(last_path) if config.resume and last_path.exists() else None
    if state is not None:  # before anything is written into the folder
        _check_resumed_run(config, state, last_path, main)
    recorder = RunRecorder(out_dir, enabled=main, tensorboard=config.tensorboard)
    if state is not None:
        unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, start_batch = state["epoch"], state["step"]
        best, best_epoch = state["best_top1"], state["best_epoch"]
        improved_epoch = state.get("improved_epoch", best_epoch)
        if start_batch and rank == 0:
            stats = state["stats"]
        rngs = state["rng"]
        set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])
        if main:
            print(f"resuming {last_path} at epoch {start_epoch} batch {start_batch}")
        recorder.drop_epochs_from(start_epoch)
        record = state.get("record")
        if main and record is not None and record["epoch"] not in recorder.logged_epochs():
            # killed between last.pt and the epoch's metrics line: finish that epoch's end from last.pt
            print(f"completing the end of epoch {record['epoch']} (best.pt, metrics line) from {last_path}")
            _finish_epoch(last_path, best_path, recorder, record)
        distributed.barrier()
    elif config.resume and main:
        print(f"--resume: no checkpoint at {last_path}; starting a new run")
        recorder.drop_epochs_from(0)
    recorder.write_config(config.to_dict())
    recorder.write_environment(device, config.seed, manifest_hash(train_set), {"world_size": world})

    net = _Features(model)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if on_cuda else None)
    autocast = torch.autocast("cuda", dtype=torch.float16) if amp else nullcontext()

    train_data = SeededDataset(train_set, config.seed)
    val_data = SeededDataset(val_set, config.seed)
    sampler = distributed.EpochSampler(len(train_set), config.seed, shuffle=True, rank=rank, world_size=world)
    val_sampler = distributed.EpochSampler(
        len(val_set), config.seed, shuffle=False, rank=rank, world_size=world, pad=False
    )

    def snapshot(epoch, step, stats_now, record=None) -> dict | None:
        """The run's state as last.pt holds it (rank 0 gets it; every rank's RNG state and partial statistics are
        gathered). Weights made non-finite by a bad step (finite loss, NaN gradient) are refused, so last.pt always
        holds a good state. Its tensors are the live ones: copy it to keep it."""
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise NonFiniteLossError(
                f"the weights became NaN/inf at epoch {epoch} (batch {step}); stopping. The last good checkpoint "
                f"is {last_path if last_path.exists() else '(none yet)'}; lower --lr and continue with --resume."
            )
        rngs = distributed.all_gather_objects(rng_state())
        merged = _reduce_stats(stats_now)
        if not main:
            return None
        return {
            "model": unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rngs,
            "epoch": epoch,
            "step": step,
            "stats": merged,
            "best_top1": best,
            "best_epoch": best_epoch,
            "improved_epoch": improved_epoch,
            "config": plain(config.to_dict()),
            "record": plain(record),
        }

    def checkpoint(epoch, step, stats_now, record=None):
        state = snapshot(epoch, step, stats_now, record)
        if main:
            save_checkpoint(state, last_path)
        distributed.barrier()

    kept = {"last": None, "best": None, "records": []}  # write_each_epoch=False: what the run writes when it ends

    metrics = {}
    for epoch in range(start_epoch, config.epochs):
        if stopped(epoch, improved_epoch, config.stop_after):  # also a resumed run that had stopped
            break
        sampler.set_epoch(epoch, start=start_batch * config.batch_size)
        loader = _loader(train_data, sampler, config, config.seed + epoch)
        total_batches = start_batch + len(loader)
        if config.max_batches is not None:
            total_batches = min(total_batches, config.max_batches)
        net.train()
        if distiller is not None:
            distiller.train()
        optimizer.zero_grad(set_to_none=True)
        bar = None
        if main and config.progress:
            from tqdm import tqdm

            bar = tqdm(total=total_batches, initial=start_batch, desc=f"epoch {epoch}", dynamic_ncols=True, leave=False)
        started, clips_timed = time.perf_counter(), 0
        for i, batch in enumerate(loader, start=start_batch):
            if i >= total_batches:
                break
            stats["skipped"] += batch["skipped"]
            stats["batches"] += 1
            labels = batch["label"].to(device, non_blocking=True)
            boundary = (i + 1) % config.accumulation == 0 or i + 1 == total_batches
            n = len(labels)
            if world > 1 and distributed.all_reduce_sum(torch.tensor([float(n > 0)])).item() < world:
                # A rank whose whole batch was unreadable cannot run the DDP forward, so no rank does;
                # the other ranks' clips of this batch are counted as skipped.
                stats["skipped"] += n
                n = 0
            if n:
                clip = batch["clip"].to(device, non_blocking=True)
                if channels_last:
                    clip = clip.contiguous(memory_format=torch.channels_last_3d)
                sync = nullcontext() if boundary or world == 1 else net.no_sync()
                with sync:
                    with autocast:
                        out = net(clip)
                        if distiller is not None:
                            teacher_clip = _teacher_clip(batch, distiller.teacher)
                            loss, parts = distiller(out, teacher_clip.to(device, non_blocking=True), labels)
                        else:
                            loss = F.cross_entropy(out["logits"].float(), labels)
                            parts = {}
                    finite = distributed.all_reduce_sum(torch.tensor([float(torch.isfinite(loss))]))
                    if finite.item() < world:
                        raise NonFiniteLossError(
                            f"the training loss became {loss.item()} at epoch {epoch}, batch {i}; stopping. "
                            f"The last good checkpoint is {last_path if last_path.exists() else '(none yet)'}; "
                            "lower --lr (or turn off AMP) and continue with --resume."
                        )
                    scaler.scale(loss / config.accumulation).backward()
                logits = out["logits"].detach().float()
                correct = topk_correct(logits, labels)
                stats["loss"] += loss.item() * n
                stats["ce"] += float(parts.get("ce", loss.detach())) * n
                stats["mse"] += float(parts.get("mse", 0.0)) * n
                stats["top1"] += correct[1]
                stats["top3"] += correct[3]
                stats["clips"] += n
                clips_timed += n
            elif boundary and world > 1:
                _average_gradients(model)  # the no_sync micro-batches' gradients never left their rank
            if boundary:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                steps_done = (i + 1 + config.accumulation - 1) // config.accumulation
                if config.checkpoint_every and steps_done % config.checkpoint_every == 0 and i + 1 < total_batches:
                    checkpoint(epoch, i + 1, stats)
            if bar is not None:
                elapsed = max(time.perf_counter() - started, 1e-9)
                seen = max(stats["clips"], 1)
                bar.set_postfix(
                    loss=f"{stats['loss'] / seen:.3f}",
                    acc=f"{100 * stats['top1'] / seen:.1f}",
                    clips_s=f"{clips_timed * world / elapsed:.1f}",
                )
                bar.update(1)
        if bar is not None:
            bar.close()
        train_time = time.perf_counter() - started
        train = _reduce_stats(stats)

        val = predict_scores(
            model, _val_loader(val_data, val_sampler, config), device, amp=amp, channels_last=channels_last
        )
        if len(val["labels"]) == 0:  # a Top-1 of 0.00 measured on nothing is no result
            raise ValueError(
                f"{config.root or 'validation set'}: no readable test videos ({val['skipped']} skipped as unreadable)"
            )
        report = summarize(val["scores"], val["labels"], unwrap(model).num_classes, config.class_names, pairs)
        scheduler.step(val["loss"])
        seen = max(train["clips"], 1)
        metrics = {
            "epoch": epoch,
            "train_loss": train["loss"] / seen,
            "train_top1": 100 * train["top1"] / seen,
            "train_top3": 100 * train["top3"] / seen,
            "val_loss": val["loss"],
            "val_top1": report["top1"],
            "val_top3": report["top3"],
            "lr": optimizer.param_groups[0]["lr"],
            "clips_per_s": clips_timed * world / max(train_time, 1e-9),
            "train_clips": int(train["clips"]),
            "skipped_train": int(train["skipped"]),
            "skipped_val": int(val["skipped"]),
            "epoch_time_s": train_time,
        }
        if distiller is not None:
            metrics.update(train_ce=train["ce"] / seen, train_mse=train["mse"] / seen)
        if "pairwise_accuracy" in report:
            metrics["val_pairwise"] = report["pairwise_accuracy"]
        if report["top1"] > best:
            improved_epoch = epoch
        if report["top1"] >= best:  # a tie keeps the later epoch
            best, best_epoch = report["top1"], epoch
        metrics.update(best_top1=best, best_epoch=best_epoch, improved_epoch=improved_epoch)
        stats, start_batch = _new_stats(), 0
        if config.write_each_epoch:
            checkpoint(epoch + 1, 0, stats, record=metrics)
            if main:
                _finish_epoch(last_path, best_path, recorder, metrics)
        else:
            kept["last"] = snapshot(epoch + 1, 0, stats, record=metrics)
            if main:
                kept["records"].append(metrics)
                if best_epoch == epoch:
                    kept["best"] = copy.deepcopy(kept["last"])
        if main:
            print(
                f"epoch {epoch}: train loss {metrics['train_loss']:.4f} top1 {metrics['train_top1']:.2f} | "
                f"val loss {metrics['val_loss']:.4f} top1 {metrics['val_top1']:.2f} top3 {metrics['val_top3']:.2f} | "
                f"lr {metrics['lr']:.2e} | {metrics['clips_per_s']:.1f} clips/s | best {best:.2f} (epoch {best_epoch})"
            )
        distributed.barrier()
    if main and kept["records"]:
        # best.pt and the metrics lines before last.pt: a kill before last.pt leaves a run that starts again
        if kept["best"] is not None:
            save_checkpoint(kept["best"], best_path)
        for record in kept["records"]:
            recorder.log_epoch(record)
        save_checkpoint(kept["last"], last_path)
    recorder.close()
    return {"best_top1": best, "best_epoch": best_epoch, "last": metrics, "out": str(out_dir)}


def _val_loader(dataset, sampler, config) -> DataLoader:
    sampler.set_epoch(0)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        collate_fn=collate,
        worker_init_fn=seed_worker,
        generator=loader_generator(config.seed),
    )


def run(config: TrainConfig) -> dict:
    """Build everything a config names and train: what `actionlib train` and the notebooks call.

    Works under torchrun (one process per GPU, or gloo processes on CPU); the accumulation is
    chosen so that batch x accumulation x processes = the effective batch (128).
    """
    from actionlib.data.datasets import check_no_leak, class_names
    from actionlib.models import available, create

    rank, world, device = distributed.init_distributed(config.device)
    config = resolve(config, world)
    config.device = str(device)
    if config.model not in available():  # fail before touching the data
        raise ValueError(f"unknown model {config.model!r}; available: {', '.join(available())}")
    dataset_root(config)
    names = class_names(config.root, config.dataset, config.split_dir)
    config.class_names, config.num_classes = names, len(names)
    check_no_leak(config.root, config.dataset, config.split, config.split_dir)
    seed_everything(config.seed)  # the same initial weights (classifier, BERT, ...) for the same seed
    model = create(
        config.model, num_classes=len(names), modality=config.modality, pretrained=config.pretrained, **config.options
    )
    teacher, modalities = None, [config.modality]
    if config.distill:
        if not config.teacher:
            raise ValueError("--distill needs --teacher CHECKPOINT (a trained run's best.pt)")
        teacher, teacher_config = load_model(config.teacher)
        teacher = adapt_teacher(teacher, model)
        if teacher_config["num_classes"] != len(names):
            raise ValueError(f"teacher {config.teacher} has {teacher_config['num_classes']} classes, not {len(names)}")
        if teacher.modality not in modalities:
            modalities.append(teacher.modality)
    train_set = build_dataset(config, "train", model, "train", modalities)
    val_set = build_dataset(config, "test", model, "single-center", modalities[:1])
    for subset, dataset in (("training", train_set), ("test", val_set)):
        if len(dataset) == 0:
            raise ValueError(f"{config.root}: split {config.split} has no {subset} videos: check the split files")
    pairs = None
    if config.dataset == "synthetic":
        from actionlib.data.synthetic import reversed_pairs

        pairs = reversed_pairs([n for n in names if _is_synthetic_class(n)]) or None
    try:
        return {**fit(config, model, train_set, val_set, teacher=teacher, pairs=pairs), "rank": rank}
    finally:
        distributed.cleanup()


def _is_synthetic_class(name: str) -> bool:
    from actionlib.data.synthetic import CLASS_NAMES

    return name in CLASS_NAMES
