"""The `actionlib` command: one thin subcommand per verb; the work happens in the library."""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import time

from . import reference


def parse_value(text: str):
    """Turn a command-line option value into int / float / bool / None / str."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_pairs(items: list[str], what: str = "--option") -> dict:
    """KEY=VALUE strings -> {key: value}; dashes in keys become underscores."""
    options = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{what} must be KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        options[key.replace("-", "_")] = parse_value(value)
    return options


def cmd_complexity(args) -> int:
    from .thesis import complexity_table, write_table

    if args.model:
        from .complexity import clip_shape, measure
        from .models import create

        options = parse_pairs(args.option)
        for key in ("head", "reduction", "fusion", "frames", "size"):
            if getattr(args, key) is not None:
                options[key] = getattr(args, key)
        model = create(args.model, num_classes=args.num_classes, modality=args.modality, **options)
        clip = clip_shape(args.clip, model.default_clip[0]) if args.clip else model.default_clip
        c = measure(model, clip)
        unit = "per frame" if getattr(model, "per_frame_ops", False) else "per clip"
        print(f"model          {args.model} {options} modality={args.modality} classes={args.num_classes}")
        print(f"clip           {'x'.join(map(str, clip))} (CxTxHxW)")
        print(f"parameters     {c.params:,} ({c.params_m:.2f} M; trainable {c.trainable_params:,})")
        print(f"operations     {c.ops_g:.4f} G ({unit}, the thesis's GMac convention)")
        print(f"multiply-adds  {c.multiply_adds_g:.4f} G ({unit}, conv/linear/matmul/RNN)")
        return 0

    start = time.perf_counter()
    df = complexity_table(args.spec, ids=args.only.split(",") if args.only else None)
    if args.out:
        write_table(df, args.out)
        print(f"wrote {args.out} and {args.out.rsplit('.', 1)[0]}.md")
    with_note = df[~df["match"]]
    for _, row in with_note.iterrows():
        print(
            f"  differs: {row['id']}: ours {row['params_m']:.2f} M / {row['ops_g']:.2f} G, thesis "
            f"{row['thesis_params_m']} M / {row['thesis_ops_g']} G: {row['note']}"
        )
    print(f"counted {len(df)} rows in {time.perf_counter() - start:.0f} s")
    print(f"{int(df['match'].sum())}/{len(df)} rows match the thesis")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actionlib", description=__doc__)
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
        default=str(reference.COMPLEXITY),
        help="spec CSV of thesis rows (default: the thesis's rows shipped in actionlib/reference/complexity.csv)",
    )
    p.add_argument("--out", help="write the table here (CSV, plus a .md beside it)")
    p.add_argument("--only", help="comma-separated spec ids to count (default: all)")
    p.add_argument("--model", help="count one registered model instead of the spec (see `actionlib models`)")
    p.add_argument("--clip", help="input clip TxHxW or CxTxHxW (default: the model's own)")
    p.add_argument("--modality", default="rgb", choices=["rgb", "flow", "pose"], help="input modality")
    p.add_argument("--num-classes", type=int, default=51, help="classifier width (51: HMDB51)")
    p.add_argument("--head", help="late temporal head (avg/tgap, concat, lstm, convgru, bert, ...)")
    p.add_argument("--reduction", help="feature reduction: frmb or frab")
    p.add_argument("--fusion", help="2D feature fusion (dual/triple/quadruplet) or SlowFast BERT fusion (early/late)")
    p.add_argument("--frames", type=int, help="clip length the model is built for")
    p.add_argument("--size", type=int, help="crop size the model is built for")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="any other builder option")
    p.set_defaults(func=cmd_complexity)

    p = sub.add_parser("models", help="list registered models and heads")
    p.set_defaults(func=cmd_models)

    # The other verbs live beside the code they drive.
    from . import recipes, reproduce
    from .data import check, flow, pose_extract, synthetic
    from .engine import cli as engine_cli

    engine_cli.add_parsers(sub)

    synthetic.add_parser(sub)
    check.add_parser(sub)
    flow.add_parser(sub)
    pose_extract.add_parser(sub)
    reproduce.add_parser(sub)
    recipes.add_parser(sub)
    return parser


def cmd_models(args) -> int:
    from .models import available, head_names

    print("models:", ", ".join(available()))
    print("heads: ", ", ".join(head_names()))
    return 0


# What an OSError means to someone running a command, and what to do about it.
_OS_ERRORS = {
    errno.ENOENT: "no such file or directory",
    errno.EACCES: "permission denied: check its permissions or choose another location",
    errno.EPERM: "permission denied: check its permissions or choose another location",
    errno.EROFS: "read-only file system: choose a location on a writable file system",
    errno.ENOSPC: "no space left on device: free some space or write somewhere else",
    errno.EDQUOT: "disk quota exceeded: free some space or write somewhere else",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")  # scheme://..., also as pathlib leaves it (scheme:/...)


def printable(text) -> str:
    """`text` with control characters escaped as `repr` does, so that a file name holding a newline or an escape
    sequence cannot fake or hide a line of a report."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def refuse_url(value, what: str) -> None:
    """Paths are local: a URL would be mangled by pathlib ("https:/...") and then reported as a missing file."""
    if value is not None and _URL.match(str(value)):
        raise ValueError(f"{what} {printable(value)}: URLs are not supported: download the data and pass a local path")


def error_line(err: BaseException) -> str:
    """One line saying what went wrong and, where we know it, what to do."""
    if isinstance(err, OSError) and err.errno in _OS_ERRORS:
        where = err.filename if err.filename is not None else err.filename2
        return f"{printable(where)}: {_OS_ERRORS[err.errno]}" if where is not None else _OS_ERRORS[err.errno]
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        return f"{printable(err.filename)}: {err.strerror[:1].lower()}{err.strerror[1:]}"
    text = str(err).strip() or type(err).__name__
    # A message that lists details on indented lines (a checkpoint that does not fit) becomes one line.
    return printable(re.sub(r"\s*\n\s+", "; ", text))


def main(argv: list[str] | None = None) -> int:
    """Run one command. A mistake the user can fix ends in one `error: <what>: <why>` line on stderr and exit
    code 2 (the engine's run-folder and divergence errors: 1).

    What counts as such a mistake: ValueError (bad values, files that are not what they should be, the library's
    way to report bad input) and OSError (missing files, permissions, full or read-only disks). Anything else is
    a bug and keeps its traceback; so does every error when ACTIONLIB_TRACEBACK=1 is set.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        if os.environ.get("ACTIONLIB_TRACEBACK"):
            raise
        print(f"error: {error_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
