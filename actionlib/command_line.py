"""Command-line values and user-facing error lines, shared by every `actionlib` command.

Kept apart from `actionlib.cli` (which builds the parsers and imports the commands' modules on demand) so that those
modules can use these helpers without importing the command-line entry point back.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


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


# What an OSError means to someone running a command, and what to do about it.
_OS_ERRORS = {
    errno.ENOENT: "no such file or directory",
    errno.EACCES: "permission denied: check its permissions or choose another location",
    errno.EPERM: "permission denied: check its permissions or choose another location",
    errno.EROFS: "read-only file system: choose a location on a writable file system",
    errno.ENOSPC: "no space left on device: free some space or write somewhere else",
    errno.EDQUOT: "disk quota exceeded: free some space or write somewhere else",
    errno.EFBIG: "file too large: a file-size limit was reached (see `ulimit -f`): raise it or write somewhere else",
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


def error_message(err: BaseException) -> str:
    """What follows `error: `: `error_line`, except for a message that lists items on lines of their own ("- item",
    as the full profile's missing inputs): its first line says what is wrong, then one item per line."""
    lines = str(err).strip().splitlines()
    if len(lines) > 1 and all(line.strip().startswith("- ") for line in lines[1:]):
        return "\n".join([printable(lines[0]), *(f"  {printable(line.strip())}" for line in lines[1:])])
    return error_line(err)


def deferred(module: str, name: str):
    """The command function `module.name`, imported when the command runs: a parser can name it without importing
    the command's code (torch, pandas), so that `--help` answers in a moment."""

    def command(args):
        return getattr(importlib.import_module(module), name)(args)

    command.__name__ = command.__qualname__ = name
    return command


def add_renamed(parser, name: str, old: str, **kwargs) -> argparse.Action:
    """Option `name`, still taken under its old spelling `old`, which the help no longer shows: command lines
    written with the old name keep working, and a name in the help has one meaning in every command."""
    action = parser.add_argument(name, old, **kwargs)
    action.option_strings.remove(old)  # the parser still maps `old` to the action; help, usage and errors say `name`
    return action


def parse_command(parser: argparse.ArgumentParser, commands: dict, argv: list[str]) -> argparse.Namespace:
    """`parser.parse_args(argv)`, except that an argument the subcommand does not know is reported with that
    subcommand's usage (argparse reports it with the top-level usage, which lists none of the command's options).
    `commands`: the subparsers' `choices` (command name -> its parser)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def add_root_argument(parser, help: str) -> None:
    """A command's dataset root: `--root PATH` in every command (as `actionlib train` takes it); the positional
    ROOT that `flow`, `pose`, `check-data` and `synth` first took still works."""
    # strings, not Paths: Path("https://x") becomes "https:/x", and a URL must be refused as it was typed
    parser.add_argument("root_positional", nargs="?", metavar="ROOT", help=f"{help} (same as --root)")
    parser.add_argument("--root", default=None, help=help)


def root_from(args) -> str:
    """The dataset root given to a command built with `add_root_argument`, or an error that says how to give it."""
    given = [root for root in (args.root, args.root_positional) if root is not None]
    if not given:
        raise ValueError("no dataset root: pass it as --root PATH")
    if len(given) == 2 and given[0] != given[1]:
        raise ValueError(f"two dataset roots, {given[1]} and --root {given[0]}: pass one")
    return given[0]


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ctrl-C ignored inside the block (only the main thread may change signal handlers; elsewhere a no-op): a
    clean-up that must not be cut short, or worker processes started meanwhile, which inherit it ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
