"""The parsers of the commands whose code lives in packages that import torch or pandas on import (`actionlib.engine`,
`actionlib.reproduce`, `actionlib.recipes`): built here, from light modules, so that `--help` and a mistyped option
answer in a moment; each command's function is imported when the command runs (`deferred`)."""

from __future__ import annotations

import argparse

from .choices import DATASETS, FUSION_METHODS, KERNEL_ENV, OPTIMIZERS, PROFILES, PROTOCOLS
from .command_line import add_renamed, deferred
from .paths import PUBLISHED_PROFILE


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only when there is one (not for None / empty lists / switches)."""

    def _get_help_string(self, action):
        if action.default in (None, [], False) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def _add_data_arguments(p: argparse.ArgumentParser, for_training: bool):
    """The data options of `train` and `evaluate`; evaluate's default to None (the run's own), so that one given
    where no run is tested (`evaluate --scores` alone) can be refused."""
    g = p.add_argument_group("data" if for_training else "data (default: the run's own settings)")
    g.add_argument(
        "--dataset",
        choices=DATASETS,
        help="dataset layout and split format" + (" (default: hmdb51)" if for_training else ""),
    )
    g.add_argument("--root", help="dataset root (class folders of videos; split folder inside or beside it)")
    g.add_argument(
        "--split", type=int, choices=[1, 2, 3], help="official split number" + (" (default: 1)" if for_training else "")
    )
    g.add_argument("--split-dir", help="folder with the split files, if not in or next to the root")
    g.add_argument("--rgb-frames", help="root of pre-extracted RGB frame folders (default: decode the videos)")
    g.add_argument("--flow-frames", help="root of TV-L1 flow frame folders (flow_x_00001.jpg ...); needed for flow")
    g.add_argument("--pose-frames", help="root of rendered pose frame folders; needed for pose")
    g.add_argument(
        "--workers",
        type=int,
        default=4 if for_training else None,
        help="DataLoader worker processes (0: load in the main process)" + ("" if for_training else " (default: 4)"),
    )
    return g


def add_engine_parsers(subparsers) -> None:
    """Add the `train`, `evaluate` and `predict` subcommands (their code: actionlib.engine.cli)."""
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
    g.add_argument("--modality", choices=["rgb", "flow", "pose"], help="input stream (default: rgb)")
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
    g.add_argument("--batch-size", type=int, help="clips per process per forward pass (default: 8)")
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
    g.add_argument("--weight-decay", type=float, help="weight decay (decoupled for AdamW; default: 0.001)")
    g.add_argument("--momentum", type=float, help="SGD momentum (default: 0.9)")
    g.add_argument("--dampening", type=float, help="SGD dampening (default: the authors' 0.9)")
    g.add_argument("--patience", type=int, help="ReduceLROnPlateau patience in epochs (default: 5)")
    g.add_argument("--lr-factor", type=float, help="ReduceLROnPlateau factor (default: 0.1)")
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
        help="BERT distillation target: the teacher's pre-BERT features (Eq. 5.1, the default: tokens) or its BERT "
        "outputs",
    )
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, help="seed of initialisation, order and augmentation (default: 0)")
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
    add_renamed(g, "--run", "--out", metavar="DIR", help="run folder (default: runs/<name>; old name: --out)")
    g.add_argument(
        "--name",
        help="run name (default: model_head_modality_dataset_split_seed_HASH, HASH: 8 hex digits of every setting "
        "that changes the result, so runs with another --lr, --epochs, ... get their own folders)",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run (or runs/<name>) from its last.pt, with its saved settings: an option "
        "that changes what the run computes (--lr, --seed, ...) is refused when it differs from the run's; the "
        "data location (--root, --split-dir, --*-frames) may change, with a note",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --run (its checkpoints, metrics and config); without it (or --resume) "
        "training into a folder that holds a run is refused",
    )
    g.add_argument("--quiet", "--no-progress", dest="no_progress", action="store_true", help="no progress bars")
    g.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard scalars even if installed")
    p.set_defaults(func=deferred("actionlib.engine.cli", "cmd_train"))

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
        help="scores file an earlier `evaluate --report` saved (repeatable; fused with the others)",
    )
    p.add_argument(
        "--protocol",
        action="append",
        choices=[*PROTOCOLS, "all"],
        help="test protocol (repeatable; default single-center; all: the four)",
    )
    add_renamed(
        p,
        "--score-fusion",
        "--fusion",
        choices=FUSION_METHODS,
        help="how the scores of several runs or streams are fused: l2 (the default): sum of L2-normalised mean "
        "logits (authors' code); softmax: mean of class probabilities (thesis 3.3.3); old name: --fusion",
    )
    p.add_argument("--weights", type=float, nargs="+", help="one weight per fused stream (default: equal)")
    _add_data_arguments(p, False)
    p.add_argument("--batch-size", type=int, help="videos per forward pass (default: 4)")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    add_renamed(
        p,
        "--report",
        "--out",
        metavar="DIR",
        help="folder for report.json and the scores files (for a later fusion with --scores; old name: --out)",
    )
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.add_argument("--quiet", "--no-progress", dest="no_progress", action="store_true", help="no progress bars")
    p.set_defaults(func=deferred("actionlib.engine.cli", "cmd_evaluate"))

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
    p.add_argument(
        "--no-fold-bn",
        action="store_true",
        help="keep each BatchNorm separate instead of folding it into the convolution before it (same scores up "
        "to float rounding; folding is faster)",
    )
    p.set_defaults(func=deferred("actionlib.engine.cli", "cmd_predict"))


def add_reproduce_parser(subparsers) -> argparse.ArgumentParser:
    """Add `reproduce` (its code: actionlib.reproduce.cli)."""
    p = subparsers.add_parser(
        "reproduce",
        help="run the numbered notebooks and regenerate results/",
        description="Run notebooks/NN_*.py with papermill, one process each, and write results/executed/, "
        "the index results/README.md and the site results/site/. Exit code 1 when a notebook failed, 2 when parameters or "
        "(full profile) data/checkpoints are wrong, in which case no notebook is started, 130 after Ctrl-C (the "
        "running kernels are stopped, the index shows the notebooks that finished).",
    )
    p.add_argument(
        "--profile",
        default=PUBLISHED_PROFILE,
        choices=PROFILES,
        help=f"run profile (default: {PUBLISHED_PROFILE}, the one written to <repo>/results)",
    )
    p.add_argument("--only", help="comma-separated notebook numbers or names, e.g. 01,05")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time (default: 1)")
    p.add_argument("--notebooks", help="folder of the NN_*.py notebooks (default: <repo>/notebooks)")
    p.add_argument(
        "--results",
        help="results folder (default: $ACTIONLIB_RESULTS, else <repo>/results for the default profile and "
        "<repo>/scratch/results/<profile> for the others)",
    )
    p.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="notebook parameter (repeatable)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="rerun the profile from scratch into <repo>/scratch/check/<time>/ (its own runs; nothing cached is "
        "reused) and report, table by table, whether each fresh Top-1 falls inside the committed 95 %% interval "
        "and whether every claim's verdict holds; --results names the committed folder to compare with",
    )
    p.add_argument("--timeout", type=float, help="seconds a cell may run (default: the profile's cell_timeout)")
    p.add_argument("--kernel", help=f"Jupyter kernel name (default: ${KERNEL_ENV} or python3)")
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar (each notebook's status line is still printed)"
    )
    p.set_defaults(func=deferred("actionlib.reproduce.cli", "cmd_reproduce"))
    return p


def add_recipes_parser(subparsers) -> argparse.ArgumentParser:
    """Add `recipes` (its code: actionlib.recipes)."""
    p = subparsers.add_parser(
        "recipes",
        help="print the full profile's training runs as `actionlib train` / torchrun commands",
        description="The thesis protocol run by run: one `actionlib train` command per stream, split and seed "
        "(teachers first), with the state of its run folder. Run them on as many GPUs as you have (--gpus N: "
        "torchrun); the notebooks under `--profile full` then reuse the finished runs and only test and tabulate.",
    )
    p.add_argument("--notebook", help="the runs of one notebook (01-08)")
    p.add_argument("--tables", help="comma-separated thesis tables, e.g. 4.3,4.4 (default: all)")
    p.add_argument("--gpus", type=int, help="processes per run (torchrun --nproc_per_node; default: 1)")
    p.add_argument("--slurm", metavar="DIR", help="also write one SLURM sbatch script per run into DIR, and "
                   "DIR/submit.sh, which submits them all with teachers before their students")  # fmt: skip
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="with --slurm: replace scripts in DIR that differ from the ones written now (without it they are "
        "refused, so a script of your own or one you edited is never lost)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print every row as it will run (streams, clips, crops, "
        "initialisation, optimizer, test protocol, fusion, thesis value) as JSON instead of commands",
    )
    p.add_argument("--data-root", help="default: $ACTIONLIB_DATA or data/")
    p.add_argument("--weights-dir", help="default: $ACTIONLIB_WEIGHTS or weights/")
    p.add_argument("--runs", help="run folders (default: $ACTIONLIB_RUNS/full or runs/full, as the notebooks)")
    p.set_defaults(func=deferred("actionlib.recipes", "cmd_recipes"))
    return p
