"""`actionlib train | evaluate | predict`: the commands over `train.run`, `evaluate` and `fusion`.

Their parsers are built in actionlib.parsers (`add_parsers` here adds them); torch is imported when a command runs.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

from ..choices import PROTOCOLS
from ..command_line import error_line, parse_pairs, printable, refuse_url

MODEL_OPTIONS = ("head", "reduction", "fusion", "frames", "size")
# `train` options that define what a run computes: `--resume` refuses a value that differs from the run's. Their
# parser defaults are None so that a given value can be told from a default; `config_from_args` fills in TrainConfig's.
RUN_SETTINGS = (
    "model", "modality", "pretrained", "dataset", "split", "stride", "batch_size", "effective_batch", "accumulation",
    "optimizer", "lr", "weight_decay", "momentum", "dampening", "patience", "lr_factor", "seed", "max_batches",
    "distill", "teacher", "distill_weight", "teacher_features",
)  # fmt: skip


def _friendly(interrupted: str):
    """Turn the failures a user can fix into one clear line and exit code 1, and Ctrl-C into the line
    `interrupted` (what was kept, how to go on) and exit code 130, as `actionlib reproduce` does."""

    def decorate(command):
        @functools.wraps(command)
        def wrapper(args):
            try:
                import torch

                from .records import RunFolderError
                from .train import NonFiniteLossError

                try:
                    return command(args)
                except torch.OutOfMemoryError as err:
                    batch = getattr(args, "batch_size", None)
                    print(
                        f"error: out of GPU memory ({str(err).splitlines()[0]}). Lower --batch-size"
                        f"{f' (now {batch})' if batch else ''} and raise --accumulation so batch x accumulation "
                        "stays 128, or use fewer/smaller clips.",
                        file=sys.stderr,
                    )
                    return 1
                except (NonFiniteLossError, RunFolderError) as err:
                    print(f"error: {error_line(err)}", file=sys.stderr)
                    return 1
            except KeyboardInterrupt:
                print(f"interrupted: {interrupted}", file=sys.stderr)
                return 130

        return wrapper

    return decorate


def _frame_roots(args) -> dict | None:
    roots = {m: getattr(args, f"{m}_frames") for m in ("rgb", "flow", "pose")}
    roots = {m: p for m, p in roots.items() if p}
    return roots or None


def add_parsers(subparsers) -> None:
    """Add the `train`, `evaluate` and `predict` subcommands (their parsers live in actionlib.parsers, which imports
    no torch, so that `actionlib train --help` answers in a moment)."""
    from ..parsers import add_engine_parsers

    add_engine_parsers(subparsers)


def _or_default(value, name: str):
    """A train option's value, or TrainConfig's default when it was not given."""
    from .train import TrainConfig

    return getattr(TrainConfig, name) if value is None else value


def model_options(args) -> dict:
    """The builder options a command line gives: --option KEY=VALUE and --head/--reduction/--fusion/--frames/--size."""
    options = parse_pairs(args.option, "--option")
    for key in MODEL_OPTIONS:
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return options


def config_from_args(args):
    """The TrainConfig a `train` command line describes (before defaults are resolved)."""
    from .train import TrainConfig

    return TrainConfig(
        model=args.model,
        options=model_options(args),
        modality=_or_default(args.modality, "modality"),
        pretrained=args.pretrained,
        dataset=_or_default(args.dataset, "dataset"),
        root=args.root,
        split=_or_default(args.split, "split"),
        split_dir=args.split_dir,
        frame_roots=_frame_roots(args) or {},
        stride=args.stride,
        data_options=parse_pairs(args.data_option, "--data-option"),
        epochs=_or_default(args.epochs, "epochs"),
        batch_size=_or_default(args.batch_size, "batch_size"),
        effective_batch=args.effective_batch,
        accumulation=args.accumulation,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=_or_default(args.weight_decay, "weight_decay"),
        momentum=_or_default(args.momentum, "momentum"),
        dampening=_or_default(args.dampening, "dampening"),
        patience=_or_default(args.patience, "patience"),
        lr_factor=_or_default(args.lr_factor, "lr_factor"),
        seed=_or_default(args.seed, "seed"),
        workers=args.workers,
        device=args.device,
        amp=not args.no_amp,
        channels_last=not args.no_channels_last,
        activation_checkpointing=args.activation_checkpointing,
        checkpoint_every=args.checkpoint_every,
        max_batches=args.max_batches,
        out=args.run,
        name=args.name,
        resume=args.resume,
        overwrite=args.overwrite,
        distill=args.distill,
        teacher=args.teacher,
        distill_weight=args.distill_weight,
        teacher_features=_or_default(args.teacher_features, "teacher_features"),
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
    )


def _check_paths(args, options: tuple[str, ...]) -> None:
    """Refuse URLs given where a local path belongs, naming the option."""
    for option in options:
        values = getattr(args, option.lstrip("-").replace("-", "_"), None)
        for value in values if isinstance(values, list) else [values]:
            refuse_url(value, option)


def _check_at_least_one(*pairs) -> None:
    for option, value in pairs:
        if value is not None and value < 1:
            raise ValueError(f"{option} must be at least 1 (got {value})")


def check_writable(folder: str | Path) -> None:
    """Create `folder` and write and remove a file in it, so that an output folder that cannot be written fails
    the command in its first second rather than after an epoch; folders created only for the test are removed."""
    from .checkpointing import temporary_path

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{printable(folder)}: is a file, not a folder: choose another output folder")
    created = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temporary_path(folder / "write-test")
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        probe.unlink()
    except OSError as err:
        if err.filename is None or Path(err.filename).name.startswith(".write-test"):
            raise OSError(err.errno, err.strerror, str(folder)) from err
        raise
    finally:
        for path in created:  # innermost first
            try:
                path.rmdir()
            except OSError:
                break


def _resume_config(args, out: Path):
    """The run's saved config, with what may change on a resume taken from the command line.

    A resumed run computes what the run started to compute: a run setting given on the command line must equal
    the run's (else the command is refused, naming each). The data may have moved: --root, --split-dir and the
    frame roots may change (a note says so), as long as the classes stay the same. Where and how to run (workers,
    device, progress bars, TensorBoard, activation checkpointing) and the epoch budget may change freely.
    """
    from .checkpointing import load_checkpoint
    from .train import TrainConfig

    saved = TrainConfig.from_dict(load_checkpoint(out / "last.pt")["config"])
    given = {f"--{name.replace('_', '-')}": (getattr(args, name), getattr(saved, name)) for name in RUN_SETTINGS}
    given["--no-amp"] = (True if args.no_amp else None, not saved.amp)
    given["--no-channels-last"] = (True if args.no_channels_last else None, not saved.channels_last)
    differs = [(option, value, was) for option, (value, was) in given.items() if value is not None and value != was]
    for kind, values, saved_values in (
        ("--option", model_options(args), saved.options),
        ("--data-option", parse_pairs(args.data_option, "--data-option"), saved.data_options),
    ):
        for key, value in values.items():
            if value != saved_values.get(key):
                option = f"--{key}" if kind == "--option" and key in MODEL_OPTIONS else f"{kind} {key}"
                differs.append((option, value, saved_values.get(key)))
    if differs:
        listed = "; ".join(f"{option} {value} (the run's: {was})" for option, value, was in differs)
        raise ValueError(
            f"--resume {printable(out)}: the command line changes settings of the run: {listed}. A resumed run keeps "
            "its settings: drop these options, or train a new run (another --run) with them"
        )

    moved = {"root": args.root, "split_dir": args.split_dir}
    moved.update({f"{m}_frames": path for m, path in (_frame_roots(args) or {}).items()})
    for name, value in moved.items():
        was = saved.frame_roots.get(name[: -len("_frames")]) if name.endswith("_frames") else getattr(saved, name)
        if value is None or value == was:
            continue
        print(
            f"note: --{name.replace('_', '-')}: the run read {printable(was)}; continuing with {printable(value)} "
            "(the data location may change on --resume)",
            file=sys.stderr,
        )
        if name.endswith("_frames"):
            saved.frame_roots = {**saved.frame_roots, name[: -len("_frames")]: value}
        else:
            setattr(saved, name, value)
    if args.root is not None or args.split_dir is not None:
        from actionlib.data.datasets import class_names

        from .evaluate import check_class_names

        check_class_names(
            saved.class_names or [], class_names(saved.root, saved.dataset, saved.split_dir), out, saved.root
        )

    saved.resume, saved.out = True, str(out)
    saved.workers, saved.progress = args.workers, not args.no_progress
    saved.epochs = args.epochs or saved.epochs
    saved.device = args.device
    saved.tensorboard = saved.tensorboard and not args.no_tensorboard
    saved.activation_checkpointing = saved.activation_checkpointing or args.activation_checkpointing
    return saved


def _check_ignored_train_options(args) -> None:
    """Refuse a new run's option that would have no effect, as the command has it (a run resumed with --resume
    keeps its settings: there the options are compared with the run's)."""
    from .optim import default_optimizer

    if not args.distill:
        for option in ("teacher", "distill_weight", "teacher_features"):
            if getattr(args, option) is not None:
                raise ValueError(
                    f"--{option.replace('_', '-')} needs --distill (bert or mars): without it nothing is distilled"
                )
    elif args.distill == "mars" and args.teacher_features is not None:
        raise ValueError(
            "--teacher-features has no effect with --distill mars (it matches the pooled features): "
            "drop it, or use --distill bert"
        )
    if args.effective_batch is not None and args.accumulation is not None:
        raise ValueError(
            "--effective-batch has no effect with --accumulation (the effective batch is then batch x "
            "accumulation x processes): pass one of them"
        )
    optimizer = args.optimizer or default_optimizer(args.model, model_options(args).get("head"))
    for option in ("momentum", "dampening"):
        if optimizer != "sgd" and getattr(args, option) is not None:
            default = "" if args.optimizer else f", {args.model}'s default"
            raise ValueError(
                f"--{option} has no effect with the {optimizer} optimizer{default} (it is an SGD "
                "setting): drop it, or pass --optimizer sgd"
            )


@_friendly(
    "the run folder keeps its last checkpoint (the last finished epoch, or a later --checkpoint-every step); "
    "the same command with --resume continues the run"
)
def cmd_train(args) -> int:
    from actionlib.models.registry import check_options

    from .train import resolve, run

    # checked before any work (also before reading a checkpoint or the data)
    _check_at_least_one(
        ("--epochs", args.epochs),
        ("--batch-size", args.batch_size),
        ("--frames", args.frames),
        ("--size", args.size),
        ("--effective-batch", args.effective_batch),
        ("--accumulation", args.accumulation),
        ("--stride", args.stride),
        ("--max-batches", args.max_batches),
    )
    if args.workers < 0:
        raise ValueError(f"--workers must be at least 0 (got {args.workers})")
    if args.resume and args.overwrite:
        raise ValueError("--resume continues the run in the folder and --overwrite replaces it: pass one of them")
    _check_paths(
        args,
        (
            "--root",
            "--split-dir",
            "--rgb-frames",
            "--flow-frames",
            "--pose-frames",
            "--pretrained",
            "--teacher",
            "--run",
        ),
    )
    config = config_from_args(args)
    out = None
    if args.resume:
        out = Path(args.run) if args.run else (Path("runs") / args.name if args.name else None)
        if out is None and args.model:
            out = Path(resolve(config).out)
    if out is not None and (out / "last.pt").is_file():
        config = _resume_config(args, out)
    elif args.resume and not args.model:
        raise FileNotFoundError(f"--resume: no checkpoint {out / 'last.pt' if out else 'runs/<name>/last.pt'}")
    elif not args.model:
        raise ValueError("--model is required (see `actionlib models` for the names)")
    else:
        _check_ignored_train_options(args)
        check_options(config.model, config.options)
        out = Path(args.run) if args.run else Path(resolve(config).out)
    check_writable(out)
    result = run(config)
    if result["rank"] == 0:
        print(f"best top-1 {result['best_top1']:.2f} at epoch {result['best_epoch']}; run in {result['out']}")
    return 0


def _print_report(report: dict) -> None:
    # names (of files, runs and classes) come from files and folders: escaped, so they cannot fake or hide a line
    print(
        f"{printable(report.get('name', report.get('checkpoint')))} [{report.get('protocol')}]: "
        f"top-1 {report['top1']:.2f}  top-3 {report['top3']:.2f}  ({report['videos']} videos, "
        f"{report.get('skipped', 0)} skipped)"
    )
    pairs = report.get("pairwise_accuracy")
    if pairs:
        print("  time-reversed pairs: " + ", ".join(f"{printable(k)} {v:.1f}" for k, v in pairs.items()))


def _scores_report(path: str, scores: dict) -> dict:
    """The report of one saved scores file: what `evaluate` printed when it wrote the file."""
    from .evaluate import summarize

    names = scores.get("class_names")
    report = summarize(scores["scores"], scores["labels"], scores["scores"].shape[1], names)
    meta = scores.get("meta") or {}
    report.update(name=str(path), protocol=meta.get("protocol"), checkpoint=meta.get("checkpoint"))
    return report


# evaluate's options that only mean something when a run is tested (--checkpoint)
TESTING_OPTIONS = (
    "protocol",
    "dataset",
    "root",
    "split",
    "split_dir",
    "rgb_frames",
    "flow_frames",
    "pose_frames",
    "batch_size",
    "workers",
    "device",
)


def _check_ignored_evaluate_options(args) -> None:
    """Refuse an option that would have no effect: testing options without a run to test, fusion options without
    two score sets to fuse."""
    if not args.checkpoint:
        for option in TESTING_OPTIONS:
            if getattr(args, option) is not None:
                raise ValueError(
                    f"--{option.replace('_', '-')} needs --checkpoint: it is about testing a run, and "
                    "--scores files hold scores already tested"
                )
    if len(args.checkpoint) + len(args.scores) < 2:
        for option, value in (("--score-fusion", args.score_fusion), ("--weights", args.weights)):
            if value is not None:
                raise ValueError(
                    f"{option} needs two or more --checkpoint / --scores to fuse: with one there is nothing to fuse"
                )


@_friendly("no report was written (scores files already written to --report are complete)")
def cmd_evaluate(args) -> int:
    from .evaluate import evaluate_checkpoint, summarize
    from .fusion import fuse_sets, load_scores, save_scores
    from .records import write_atomically

    if not args.checkpoint and not args.scores:
        raise ValueError("give at least one --checkpoint or --scores file")
    _check_ignored_evaluate_options(args)
    _check_at_least_one(("--batch-size", args.batch_size))
    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be at least 0 (got {args.workers})")
    batch_size, workers = args.batch_size or 4, 4 if args.workers is None else args.workers
    fusion = args.score_fusion or "l2"
    _check_paths(
        args,
        (
            "--checkpoint",
            "--scores",
            "--root",
            "--split-dir",
            "--rgb-frames",
            "--flow-frames",
            "--pose-frames",
            "--report",
        ),
    )
    protocols = args.protocol or ["single-center"]
    if "all" in protocols:
        protocols = list(PROTOCOLS)
    overrides = {"dataset": args.dataset, "root": args.root, "split": args.split, "split_dir": args.split_dir}
    if _frame_roots(args):
        overrides["frame_roots"] = _frame_roots(args)
    out = Path(args.report) if args.report else None
    if out is not None:
        check_writable(out)
    saved = [load_scores(path) for path in args.scores]
    reports = []
    if not args.checkpoint and len(saved) == 1:
        # Nothing to fuse: report the file's own scores (Top-1, Top-3, per class).
        reports.append(_scores_report(args.scores[0], saved[0]))
        if not args.json:
            _print_report(reports[0])
        protocols = []
    for protocol in protocols:
        members = list(saved)
        for n, checkpoint in enumerate(args.checkpoint):
            report, scores, config = evaluate_checkpoint(
                checkpoint, protocol, overrides, batch_size, workers, args.device, progress=not args.no_progress
            )
            report["name"] = config["name"]
            reports.append(report)
            members.append({**scores, "class_names": config["class_names"]})
            if out is not None:
                meta = {"checkpoint": str(checkpoint), "protocol": protocol}
                save_scores(out / f"scores_{n}_{config['name']}_{protocol}.pt", scores, config["class_names"], meta)
            if not args.json:
                _print_report(report)
        if len(members) > 1:
            fused = fuse_sets(members, fusion, args.weights)
            report = summarize(fused["scores"], fused["labels"], fused["scores"].shape[1], fused["class_names"])
            report.update(name=f"fusion ({fusion}) of {len(members)}", protocol=protocol)
            reports.append(report)
            if not args.json:
                _print_report(report)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_atomically(out / "report.json", json.dumps(reports, indent=2) + "\n")
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


def _short_video_note(frames: int, sampler) -> str:
    """Why a prediction on a video shorter than the clip deserves less trust: its frames were repeated."""
    video = f"the video has {frames} frame{'' if frames == 1 else 's'}"
    if sampler.segments:
        return f"{video}; the {sampler.length} segments repeat them"
    spacing = f" ({sampler.stride} frames apart, spanning {sampler.window})" if sampler.stride > 1 else ""
    return f"{video}; the {sampler.length}-frame clip{spacing} repeats them"


@_friendly("nothing was classified")
def cmd_predict(args) -> int:
    import torch
    from torch.utils.data import DataLoader

    from actionlib.data.video import not_a_video, stream_index

    from .checkpointing import load_model
    from .evaluate import predict_scores
    from .inputs import video_dataset
    from .train import collate, to_channels_last

    _check_at_least_one(("--topk", args.topk))
    _check_paths(args, ("--checkpoint",))
    for video in args.videos:
        refuse_url(video, "video")
    model, config = load_model(args.checkpoint)
    for video in args.videos:  # before any video is decoded
        if not Path(video).is_file():
            raise FileNotFoundError(f"video not found: {printable(video)}")
        reason = not_a_video(video)
        if reason:
            raise ValueError(f"{printable(video)}: not a video ({reason}): predict classifies video files")
    if model.modality != "rgb":
        raise ValueError(f"predict reads RGB video files; {printable(args.checkpoint)} is a {model.modality} model")
    names = config.get("class_names") or [str(i) for i in range(config["num_classes"])]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    # channels-last as in `evaluate` (predict_scores runs under inference_mode): faster on CPU too, see
    # results/benchmarks/models.md
    to_channels_last(model)
    if not getattr(args, "no_fold_bn", False):
        from actionlib.models.fold import fold_batchnorm

        model = fold_batchnorm(model)
    dataset = video_dataset(args.videos, model, args.protocol, config.get("data_options"), config.get("stride"))
    loader = DataLoader(dataset, batch_size=1, collate_fn=collate)
    out = predict_scores(model, loader, device, amp=device.type == "cuda", channels_last=True)
    scored = dict(zip(out["indices"].tolist(), out["scores"], strict=True))
    results = []
    for index, video in enumerate(args.videos):
        if index not in scored:
            results.append({"video": video, "error": "could not be decoded"})
            continue
        scores = scored[index]
        top = scores.softmax(0).topk(min(args.topk, len(names)))
        predictions = [
            {"class": names[i], "probability": float(p), "logit": float(scores[i])}
            for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]
        result = {"video": video, "predictions": predictions}
        frames = stream_index(video).num_frames
        if frames < dataset.sampler.window:  # the clip loops the video's frames: say so beside the confident top-k
            result["note"] = _short_video_note(frames, dataset.sampler)
        results.append(result)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{printable(r['video'])}: {r['error']}")
                continue
            print(printable(r["video"]))
            if "note" in r:
                print(f"  note: {r['note']}")
            for pred in r["predictions"]:
                print(f"  {pred['probability']:7.2%}  {printable(pred['class'])}")
    return 0 if all("error" not in r for r in results) else 1
