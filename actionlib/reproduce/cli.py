"""The `actionlib reproduce` command: its parser (add_parser), what it prints and its exit codes (cmd_reproduce),
and main() for `python -m actionlib.reproduce`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import profiles
from ..paths import PUBLISHED_PROFILE
from .checking import check
from .execution import KERNEL_ENV, Interrupted, run
from .parameters import ParameterError, parse_assignments
from .rendering import _relative


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def cmd_reproduce(args) -> int:
    """Exit code 0 when every notebook run passed (and, with --check, every verdict held), 1 otherwise, 2 for
    wrong parameters, 130 after Ctrl-C."""
    options = {
        "only": args.only.split(",") if args.only else None,
        "params": parse_assignments(args.param),
        "jobs": args.jobs,
        "notebooks_dir": args.notebooks,
        "timeout": args.timeout,
        "kernel": args.kernel,
    }
    try:
        if args.check:
            results, report, summary, held = check(args.profile, args.results, **options)
        else:
            results = run(profile=args.profile, results=args.results, **options)
    except ParameterError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"interrupted: {_count(len(stop.finished), 'notebook')} finished, {stop.cancelled} cancelled")
        return 130
    failed = [s["notebook"] for s in results if s["status"] != "passed"]
    print(
        f"{len(results) - len(failed)}/{len(results)} notebooks passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if args.check:
        print("\n".join(summary))
        print(f"check: {_relative(report, Path.cwd()) if report.is_relative_to(Path.cwd()) else report}")
        return 1 if failed or not held else 0
    return 1 if failed else 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `reproduce` on the `actionlib` command's subparsers."""
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
        choices=list(profiles.PROFILES),
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
    p.set_defaults(func=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionlib")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["reproduce", *(argv if argv is not None else sys.argv[1:])])
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
