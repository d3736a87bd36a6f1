"""The `actionlib reproduce` command: its parser (add_parser), what it prints and its exit codes (cmd_reproduce),
and main() for `python -m actionlib.reproduce`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..command_line import parse_command
from ..parsers import add_reproduce_parser
from .checking import check
from .execution import Interrupted, run
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
        "progress": not getattr(args, "quiet", False),
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
    """Register `reproduce` on the `actionlib` command's subparsers (the parser itself is actionlib.parsers', which
    `actionlib reproduce --help` builds without importing this package)."""
    p = add_reproduce_parser(subparsers)
    p.set_defaults(func=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionlib")
    commands = parser.add_subparsers(dest="command", required=True)
    add_parser(commands)
    args = parse_command(parser, commands.choices, ["reproduce", *(argv if argv is not None else sys.argv[1:])])
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
