"""`actionlib train | evaluate | predict`: thin argument parsing over `train.run`, `evaluate` and `fusion`.

The lead wires `add_parsers(subparsers)` into `actionlib/cli.py`.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from ..cli import parse_pairs
from .evaluate import PROTOCOLS
from .fusion import FUSION_METHODS
from .optim import OPTIMIZERS

MODEL_OPTIONS = ("head", "reduction", "fusion", "frames", "size")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only when there is one (not for None / empty lists / switches)."""

    def _get_help_string(self, action):
        if action.default in (None, [], False) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def _friendly(command):
    """Turn the failures a user can fix into one clear line and exit code 1."""

    @functools.wraps(command)
    def wrapper(args):
        import torch

        from .records import RunFolderError
        from .train import NonFiniteLossError

        try:
            return command(args)
        except torch.OutOfMemoryError as err:
            batch = getattr(args, "batch_size", None)
            print(
                f"error: out of GPU memory ({str(err).splitlines()[0]}). Lower --batch-size"
                f"{f' (now {batch})' if batch else ''} and raise --accumulation so batch x accumulation stays 128, "
                "or use fewer/smaller clips.",
                file=sys.stderr,
            )
            return 1
        except (NonFiniteLossError, RunFolderError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1

    return wrapper


def _add_data_arguments(p: argparse.ArgumentParser, for_training: bool):
    g = p.add_argument_group("data" if for_training else "data (default: the run's own settings)")
    g.add_argument(
        "--dataset",
        choices=["hmdb51", "ucf101", "synthetic"],
        default="hmdb51" if for_training else None,
        help="dataset layout and split format",
    )
    g.add_argument("--root", help="dataset root (class folders of videos; split folder inside or beside it)")
    g.add_argument(
        "--split", type=int, choices=[1, 2, 3], default=1 if for_training else None, help="official split number"
    )
    g.add_argument("--split-dir", help="folder with the split files, if not in or next to the root")
    g.add_argument("--rgb-frames", help="root of pre-extracted RGB frame folders (default: decode the videos)")
    g.add_argument("--flow-frames", help="root of TV-L1 flow frame folders (flow_x_00001.jpg ...); needed for flow")
    g.add_argument("--pose-frames", help="root of rendered pose frame folders; needed for pose")
    g.add_argument("--workers", type=int, default=4, help="DataLoader worker processes (0: load in the main process)")
    return g


def _frame_roots(args) -> dict | None:
    roots = {m: getattr(args, f"{m}_frames") for m in ("rgb", "flow", "pose")}
    roots = {m: p for m, p in roots.items() if p}
    return roots or None


def add_parsers(subparsers) -> None:
    """Add the `train`, `evaluate` and `predict` subcommands."""
    p = subparsers.add_parser(
        "train",
        help="train a model (the thesis's recipe; torchrun for several GPUs/processes)",
        description="Train a registered model on HMDB51 / UCF101 / the synthetic dataset with the thesis's "
        "recipe: effective batch 128 by gradient accumulation, ReduceLROnPlateau(patience 5, factor 0.1) on the "
        "validation loss, best epoch by validation Top-1. Writes runs/<name>/ (config, metrics.jsonl, "
        "environment.json, last.pt, best.pt). Several processes: torchrun --nproc_per_node N -m actionlib train ...",
        formatter_class=_Help,
    )
    g = p.add_argument_group("model")
    g.add_argument("--model", help="registered model name (see `actionlib models`), e.g. resnext3d_101, resnet18")
    g.add_argument("--head", help="late temporal head: avg (tgap), concat, lstm, convgru, bert, ...")
    g.add_argument("--reduction", help="feature reduction: frmb or frab (where the family supports it)")
    g.add_argument("--fusion", help="2D feature fusion (dual/triple/quadruplet) or SlowFast BERT fusion (early/late)")
    g.add_argument("--frames", type=int, help="clip length (2D models: number of TSN segments)")
    g.add_argument("--size", type=int, help="crop size the model is built for (default: the family's: 112 or 224)")
    g.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other builder option, e.g. --option dropout=0.5 (repeatable)",
    )
    g.add_argument("--modality", default="rgb", choices=["rgb", "flow", "pose"], help="input stream")
    g.add_argument("--pretrained", help="local checkpoint in the public layout to initialise the backbone")
    g = _add_data_arguments(p, True)
    g.add_argument(
        "--stride",
        type=int,
        help="frames between the frames of a clip (R(2+1)D 32x2: 2; default: "
        "TSM 8, its dense 8x8 sampling; other models 1)",
    )
    g.add_argument(
        "--data-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra ClipTransform option, e.g. authors_offsets=true (repeatable)",
    )
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, help="epochs (default: 200, the authors'; with --resume: the run's)")
    g.add_argument("--batch-size", type=int, default=8, help="clips per process per forward pass")
    g.add_argument("--effective-batch", type=int, help="batch x accumulation x processes (default: 128; Rep-Flow 24)")
    g.add_argument(
        "--accumulation",
        type=int,
        help="forward passes per optimizer step (default: effective batch / (batch x processes))",
    )
    g.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="default: adamw for BERT heads and 2D models, sgd otherwise (thesis 3.2.3, 4.2.2)",
    )
    g.add_argument(
        "--lr", type=float, help="default: the thesis's (SGD 1e-2, I3D 1e-1; AdamW+BERT 1e-5, I3D-BERT 1e-4; 2D 1e-4)"
    )
    g.add_argument("--weight-decay", type=float, default=1e-3, help="weight decay (decoupled for AdamW)")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    g.add_argument("--dampening", type=float, default=0.9, help="SGD dampening (the authors' 0.9)")
    g.add_argument("--patience", type=int, default=5, help="ReduceLROnPlateau patience in epochs")
    g.add_argument("--lr-factor", type=float, default=0.1, help="ReduceLROnPlateau factor")
    g = p.add_argument_group("distillation (Chapter 5)")
    g.add_argument(
        "--distill",
        choices=["bert", "mars"],
        help="bert: Eq. 5.1 on the BERT outputs; mars: MSE on the pooled features",
    )
    g.add_argument(
        "--teacher",
        help="the frozen teacher: a trained run's checkpoint (best.pt); its stream "
        "(usually flow, --flow-frames) is loaded with the same frames and crop",
    )
    g.add_argument(
        "--distill-weight", type=float, help="lambda of the feature term (default: bert 1e5, Table 5.1's best; mars 50)"
    )
    g.add_argument(
        "--teacher-features",
        choices=["tokens", "token_outputs"],
        default="tokens",
        help="BERT distillation target: the teacher's pre-BERT features (Eq. 5.1) or its BERT outputs",
    )
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, order and augmentation")
    g.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available; torchrun: the local rank)")
    g.add_argument("--no-amp", action="store_true", help="turn off mixed precision (only used on CUDA anyway)")
    g.add_argument(
        "--no-channels-last",
        action="store_true",
        help="turn off channels-last weights and clips (used on CPU and CUDA)",
    )
    g.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="recompute each backbone block in the backward pass instead of keeping its activations: less memory "
        "(64-frame clips at batch 8 on a 24 GB GPU), about one more forward pass of time",
    )
    g.add_argument(
        "--checkpoint-every",
        type=int,
        default=50,
        help="also write last.pt every N optimizer steps within an epoch (0: only at epoch ends)",
    )
    g.add_argument("--max-batches", type=int, help="stop each training epoch after N batches (smoke tests)")
    g.add_argument("--out", help="run directory (default: runs/<name>)")
    g.add_argument(
        "--name",
        help="run name (default: model_head_modality_dataset_split_seed_HASH, HASH: 8 hex digits of every setting "
        "that changes the result, so runs with another --lr, --epochs, ... get their own folders)",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (or runs/<name>) from its last.pt, with its saved settings",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (its checkpoints, metrics and config); without it (or --resume) "
        "training into a folder that holds a run is refused",
    )
    g.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    g.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard scalars even if installed")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser(
        "evaluate",
        help="test trained runs (Appendix C.2 protocols), fuse streams, ensemble runs",
        description="Test one or more trained runs on the test split with the protocols of Appendix C.2 "
        "(single/multi non-overlapping clips x center/ten crops): Top-1, Top-3, per-class accuracy, confusion "
        "matrix (and the time-reversed pair accuracy on the synthetic dataset). With several checkpoints or "
        "--scores files the streams/runs are also fused.",
        formatter_class=_Help,
    )
    p.add_argument("--checkpoint", action="append", default=[], help="a run's best.pt / last.pt (repeatable)")
    p.add_argument(
        "--scores",
        action="append",
        default=[],
        help="saved scores file of an earlier evaluate --out (repeatable; fused with the others)",
    )
    p.add_argument(
        "--protocol",
        action="append",
        choices=[*PROTOCOLS, "all"],
        help="test protocol (repeatable; default single-center; all: the four)",
    )
    p.add_argument(
        "--fusion",
        choices=FUSION_METHODS,
        default="l2",
        help="l2: sum of L2-normalised mean logits (authors' code); softmax: mean of class "
        "probabilities (thesis 3.3.3)",
    )
    p.add_argument("--weights", type=float, nargs="+", help="one weight per fused stream (default: equal)")
    _add_data_arguments(p, False)
    p.add_argument("--batch-size", type=int, default=4, help="videos per forward pass")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--out", help="folder for report JSON and scores files (for later fusion)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser(
        "predict",
        help="classify video files with a trained run",
        description="Classify any video files PyAV can read with a trained run's checkpoint; the class names "
        "come from the checkpoint.",
        formatter_class=_Help,
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    p.add_argument("--checkpoint", required=True, help="a run's best.pt or last.pt")
    p.add_argument("--topk", type=int, default=5, help="how many classes to list per video")
    p.add_argument("--protocol", choices=list(PROTOCOLS), default="multi-center", help="clips x crops per video")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_predict)


def config_from_args(args):
    """The TrainConfig a `train` command line describes (before defaults are resolved)."""
    from .train import TrainConfig

    options = parse_pairs(args.option, "--option")
    for key in MODEL_OPTIONS:
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return TrainConfig(
        model=args.model,
        options=options,
        modality=args.modality,
        pretrained=args.pretrained,
        dataset=args.dataset,
        root=args.root,
        split=args.split,
        split_dir=args.split_dir,
        frame_roots=_frame_roots(args) or {},
        stride=args.stride,
        data_options=parse_pairs(args.data_option, "--data-option"),
        epochs=args.epochs if args.epochs is not None else TrainConfig.epochs,
        batch_size=args.batch_size,
        effective_batch=args.effective_batch,
        accumulation=args.accumulation,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=args.weight_decay,
        momentum=args.momentum,
        dampening=args.dampening,
        patience=args.patience,
        lr_factor=args.lr_factor,
        seed=args.seed,
        workers=args.workers,
        device=args.device,
        amp=not args.no_amp,
        channels_last=not args.no_channels_last,
        activation_checkpointing=args.activation_checkpointing,
        checkpoint_every=args.checkpoint_every,
        max_batches=args.max_batches,
        out=args.out,
        name=args.name,
        resume=args.resume,
        overwrite=args.overwrite,
        distill=args.distill,
        teacher=args.teacher,
        distill_weight=args.distill_weight,
        teacher_features=args.teacher_features,
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
    )


@_friendly
def cmd_train(args) -> int:
    from .checkpointing import load_checkpoint
    from .train import TrainConfig, resolve, run

    # checked before any work (also before reading a checkpoint or the data)
    for option, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            raise ValueError(f"{option} must be at least 1 (got {value})")
    if args.resume and args.overwrite:
        raise ValueError("--resume continues the run in the folder and --overwrite replaces it: pass one of them")
    config = config_from_args(args)
    if args.resume:
        out = Path(args.out) if args.out else (Path("runs") / args.name if args.name else None)
        if out is None and args.model:
            out = Path(resolve(config).out)
        if out is None or not (out / "last.pt").is_file():
            raise FileNotFoundError(f"--resume: no checkpoint {out / 'last.pt' if out else 'runs/<name>/last.pt'}")
        saved = TrainConfig.from_dict(load_checkpoint(out / "last.pt")["config"])
        # Continue with the saved settings; only where/how to run may change (and the epoch budget).
        saved.resume, saved.out = True, str(out)
        saved.workers, saved.progress = args.workers, not args.no_progress
        saved.epochs = args.epochs or saved.epochs
        saved.device = args.device
        config = saved
    elif not args.model:
        raise ValueError("--model is required (see `actionlib models` for the names)")
    result = run(config)
    if result["rank"] == 0:
        print(f"best top-1 {result['best_top1']:.2f} at epoch {result['best_epoch']}; run in {result['out']}")
    return 0


def _print_report(report: dict) -> None:
    print(
        f"{report.get('name', report.get('checkpoint'))} [{report.get('protocol')}]: "
        f"top-1 {report['top1']:.2f}  top-3 {report['top3']:.2f}  ({report['videos']} videos, "
        f"{report.get('skipped', 0)} skipped)"
    )
    pairs = report.get("pairwise_accuracy")
    if pairs:
        print("  time-reversed pairs: " + ", ".join(f"{k} {v:.1f}" for k, v in pairs.items()))


@_friendly
def cmd_evaluate(args) -> int:
    from .evaluate import evaluate_checkpoint, summarize
    from .fusion import fuse_sets, load_scores, save_scores

    if not args.checkpoint and not args.scores:
        raise ValueError("give at least one --checkpoint or --scores file")
    protocols = args.protocol or ["single-center"]
    if "all" in protocols:
        protocols = list(PROTOCOLS)
    overrides = {"dataset": args.dataset, "root": args.root, "split": args.split, "split_dir": args.split_dir}
    if _frame_roots(args):
        overrides["frame_roots"] = _frame_roots(args)
    out = Path(args.out) if args.out else None
    saved = [load_scores(path) for path in args.scores]
    reports = []
    for protocol in protocols:
        members = list(saved)
        for n, checkpoint in enumerate(args.checkpoint):
            report, scores, config = evaluate_checkpoint(
                checkpoint, protocol, overrides, args.batch_size, args.workers, args.device, progress=True
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
            fused = fuse_sets(members, args.fusion, args.weights)
            report = summarize(fused["scores"], fused["labels"], fused["scores"].shape[1], fused["class_names"])
            report.update(name=f"fusion ({args.fusion}) of {len(members)}", protocol=protocol)
            reports.append(report)
            if not args.json:
                _print_report(report)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(reports, indent=2) + "\n")
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


@_friendly
def cmd_predict(args) -> int:
    import torch
    from torch.utils.data import DataLoader

    from .checkpointing import load_model
    from .evaluate import predict_scores
    from .inputs import video_dataset
    from .train import collate, to_channels_last

    model, config = load_model(args.checkpoint)
    if model.modality != "rgb":
        raise ValueError(f"predict reads RGB video files; {args.checkpoint} is a {model.modality} model")
    names = config.get("class_names") or [str(i) for i in range(config["num_classes"])]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    # channels-last as in `evaluate` (predict_scores runs under inference_mode): faster on CPU too, see
    # results/benchmarks/models.md
    to_channels_last(model)
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
        results.append({"video": video, "predictions": predictions})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['video']}: {r['error']}")
                continue
            print(r["video"])
            for pred in r["predictions"]:
                print(f"  {pred['probability']:7.2%}  {pred['class']}")
    return 0 if all("error" not in r for r in results) else 1
