"""The `actionlib` command: one thin subcommand per verb; the work happens in the library."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import reference
from .command_line import error_message, parse_command, parse_pairs


def _complexity_inputs(spec: str, only: str | None) -> str:
    """What a complexity table depends on, hashed: the model and counting sources, the spec, the selection and the
    torch version. Counting every row at full size takes minutes and gives the same table for the same inputs."""
    import hashlib

    import torch

    package = Path(__file__).parent
    sources = sorted(package.glob("models/*.py")) + [package / "complexity.py", package / "thesis.py", Path(spec)]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode() + source.read_bytes())
    return f"sha256 {digest.hexdigest()}\nonly {only or 'all'}\ntorch {torch.__version__}\n"


# complexity's options that only mean something with --model, and those that only mean something without it: an
# option that would be ignored is refused (`--clip` alone would start minutes of counting every thesis row).
MODEL_ONLY = ("clip", "modality", "num_classes", "head", "reduction", "fusion", "frames", "size", "option")
SPEC_ONLY = ("spec", "csv", "out", "only", "force")


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _check_complexity_options(args) -> None:
    options = SPEC_ONLY if args.model else MODEL_ONLY
    given = [name for name in options if getattr(args, name) not in (None, [], False)]
    if given and not args.model:
        raise ValueError(
            f"{_flag(given[0])} needs --model: without it complexity counts the thesis's rows (--spec); "
            "pass --model NAME to count one model"
        )
    if given:
        raise ValueError(
            f"{_flag(given[0])} has no effect with --model (it is for the count of the thesis's rows): drop one of them"
        )


def cmd_complexity(args) -> int:
    _check_complexity_options(args)  # before the imports: a refusal comes in a moment
    from .thesis import complexity_table, write_table

    if args.model:
        from .complexity import clip_shape, measure
        from .models import create

        options = parse_pairs(args.option)
        for key in ("head", "reduction", "fusion", "frames", "size"):
            if getattr(args, key) is not None:
                options[key] = getattr(args, key)
        modality, num_classes = args.modality or "rgb", 51 if args.num_classes is None else args.num_classes
        if num_classes < 1:
            raise ValueError(f"--num-classes must be at least 1 (got {num_classes})")
        model = create(args.model, num_classes=num_classes, modality=modality, **options)
        try:
            clip = clip_shape(args.clip, model.default_clip[0]) if args.clip else model.default_clip
        except ValueError as err:
            raise ValueError(f"--clip {args.clip}: {err}") from err
        try:
            c = measure(model, clip)
        except RuntimeError as err:
            if not args.clip:
                raise
            # a clip too small for a kernel or a pooling window: the model's own words, then the fix
            raise ValueError(
                f"--clip {args.clip}: {args.model} cannot take a clip of this size ({str(err).splitlines()[0]}): "
                f"give a larger clip, e.g. its default {'x'.join(map(str, model.default_clip[1:]))}"
            ) from err
        unit = "per frame" if getattr(model, "per_frame_ops", False) else "per clip"
        print(f"model          {args.model} {options} modality={modality} classes={num_classes}")
        print(f"clip           {'x'.join(map(str, clip))} (CxTxHxW)")
        print(f"parameters     {c.params:,} ({c.params_m:.2f} M; trainable {c.trainable_params:,})")
        print(f"operations     {c.ops_g:.4f} G ({unit}, the thesis's GMac convention)")
        print(f"multiply-adds  {c.multiply_adds_g:.4f} G ({unit}, conv/linear/matmul/RNN)")
        return 0

    if args.csv and args.out:
        raise ValueError("--out is the old name of --csv: pass one of them")
    csv = args.csv or args.out
    args.spec = args.spec or str(reference.COMPLEXITY)
    start = time.perf_counter()
    inputs = _complexity_inputs(args.spec, args.only)
    stamp = Path(csv).with_suffix(".inputs") if csv else None
    if stamp and not args.force and Path(csv).is_file() and stamp.is_file() and stamp.read_text() == inputs:
        print(f"{csv} is up to date: the models, the counting code, the spec and torch are unchanged "
              "(--force counts again)")  # fmt: skip
        return 0
    df = complexity_table(args.spec, ids=args.only.split(",") if args.only else None, progress=not args.quiet)
    if csv:
        write_table(df, csv)
        stamp.write_text(inputs)
        print(f"wrote {csv} and {csv.rsplit('.', 1)[0]}.md")
    with_note = df[~df["match"]]
    for _, row in with_note.iterrows():
        print(
            f"  differs: {row['id']}: ours {row['params_m']:.2f} M / {row['ops_g']:.2f} G, thesis "
            f"{row['thesis_params_m']} M / {row['thesis_ops_g']} G: {row['note']}"
        )
    print(f"counted {len(df)} rows in {time.perf_counter() - start:.0f} s")
    print(f"{int(df['match'].sum())}/{len(df)} rows match the thesis")
    return 0


# command -> (the module adding its parser, the function that adds it, its help line). Only the module of the
# command being run is imported, so `actionlib --help` and a mistyped command answer without importing torch (5-6 s
# of CPU before, about 0.1 s now). The parsers come from modules that import neither torch nor pandas (the data
# commands' own modules; actionlib.parsers for the commands whose packages import them), so each command's --help
# takes under 0.5 s of CPU too; tests/test_cli.py checks these help lines against the modules' own.
LAZY_COMMANDS = {
    "train": ("actionlib.parsers", "add_engine_parsers", "train a model (the thesis's recipe; torchrun for several GPUs/processes)"),
    "evaluate": ("actionlib.parsers", "add_engine_parsers", "test trained runs (Appendix C.2 protocols), fuse streams, ensemble runs"),
    "predict": ("actionlib.parsers", "add_engine_parsers", "classify video files with a trained run"),
    "synth": ("actionlib.data.synthetic", "add_parser", "generate the synthetic action dataset (HMDB51 layout)"),
    "check-data": ("actionlib.data.check", "add_parser", "check a dataset root against its split files and decode every video"),
    "flow": ("actionlib.data.flow", "add_parser", "extract TV-L1 optical flow as JPEG folders (flow_x_00001.jpg, flow_y_00001.jpg, ...)"),
    "pose": ("actionlib.data.pose_extract", "add_parser", "estimate human pose (MediaPipe) and render skeleton frames like OpenPose's (img_00001.jpg, ...)"),
    "reproduce": ("actionlib.parsers", "add_reproduce_parser", "run the numbered notebooks and regenerate results/"),
    "recipes": ("actionlib.parsers", "add_recipes_parser", "print the full profile's training runs as `actionlib train` / torchrun commands"),
}  # fmt: skip


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("actionlib")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; of the lazily imported ones (LAZY_COMMANDS), only the one named in `argv` is
    built in full (all of them when `argv` is None), the others are listed with their help line."""
    return _build(argv)[0]


def _build(argv: list[str] | None) -> tuple[argparse.ArgumentParser, dict]:
    """build_parser's parser, and its commands (name -> parser)."""
    import importlib

    parser = argparse.ArgumentParser(prog="actionlib", description=__doc__)
    parser.add_argument("--version", action="version", version=f"actionlib {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "complexity",
        help="parameters and operations in the thesis's convention",
        description="Count parameters and operations (the thesis's ptflops 'GMac' convention, and plain "
        "multiply-adds): every thesis row (or those of --spec), compared with the thesis. "
        "With --model: any registered configuration.",
    )
    p.add_argument(
        "--spec",
        help="spec CSV of thesis rows (default: the thesis's rows shipped in actionlib/reference/complexity.csv)",
    )
    p.add_argument("--csv", help="write the table here (CSV, plus a .md beside it; old name: --out)")
    p.add_argument("--out", help=argparse.SUPPRESS)  # --csv's old name: a refusal names the spelling given
    p.add_argument("--only", help="comma-separated spec ids to count (default: all)")
    p.add_argument("--force", action="store_true", help="count again even if --csv is up to date")
    p.add_argument("--quiet", "--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--model", help="count one registered model instead of the spec (see `actionlib models`)")
    p.add_argument("--clip", help="input clip TxHxW or CxTxHxW (default: the model's own)")
    p.add_argument("--modality", choices=["rgb", "flow", "pose"], help="input modality (default: rgb)")
    p.add_argument("--num-classes", type=int, help="classifier width (default: 51, HMDB51's)")
    p.add_argument("--head", help="late temporal head (avg/tgap, concat, lstm, convgru, bert, ...)")
    p.add_argument("--reduction", help="feature reduction: frmb or frab")
    p.add_argument("--fusion", help="2D feature fusion (dual/triple/quadruplet) or SlowFast BERT fusion (early/late)")
    p.add_argument("--frames", type=int, help="clip length the model is built for")
    p.add_argument("--size", type=int, help="crop size the model is built for")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="any other builder option")
    p.set_defaults(func=cmd_complexity)

    p = sub.add_parser("models", help="list registered models and heads")
    p.set_defaults(func=cmd_models)

    command = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    wanted = dict.fromkeys(
        (m, adder) for name, (m, adder, _) in LAZY_COMMANDS.items() if argv is None or name == command
    )
    for module, adder in wanted:  # an adder may add several commands (train, evaluate, predict)
        getattr(importlib.import_module(module), adder)(sub)
    for name, (_, _, help_line) in LAZY_COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_line, add_help=False)
    return parser, sub.choices


def cmd_models(args) -> int:
    from .models import available, head_names

    print("models:", ", ".join(available()))
    print("heads: ", ", ".join(head_names()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command. A mistake the user can fix ends in one `error: <what>: <why>` line on stderr (a list of
    missing things: that line, then one line per item) and exit code 2 (the engine's run-folder and divergence
    errors: 1).

    What counts as such a mistake: ValueError (bad values, files that are not what they should be, the library's
    way to report bad input) and OSError (missing files, permissions, full or read-only disks). Anything else is
    a bug and keeps its traceback; so does every error when ACTIONLIB_TRACEBACK=1 is set.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_command(*_build(argv), argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        if os.environ.get("ACTIONLIB_TRACEBACK"):
            raise
        print(f"error: {error_message(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
