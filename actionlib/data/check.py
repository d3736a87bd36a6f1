"""`actionlib check-data`: is a dataset root complete and readable before hours of training depend on it?

:func:`check_dataset` compares the split files with the files on disk and decodes every video once, reporting
per-class and per-split counts, split entries with no file, files listed in no split, videos listed for both
training and testing in one split (a leak that inflates test accuracy), unreadable files, truncated files (fewer frames decode than the container claims, or decoding fails part-way) and videos with
fewer frames than a clip needs. The report renders as text and has an `ok` flag; the command exits non-zero
when anything is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..choices import DATASETS
from ..command_line import add_root_argument, printable, refuse_url, root_from

if TYPE_CHECKING:
    from .datasets import SplitEntry
# .datasets (torch) and .video are imported where they are used: `actionlib check-data --help` imports neither.

DEFAULT_MIN_FRAMES = 16


@dataclass
class VideoProbe:
    """What a full decode of one file found."""

    path: Path
    claimed_frames: int = 0
    decoded_frames: int = 0
    error: str | None = None
    opened: bool = True

    @property
    def truncated(self) -> bool:
        if not self.opened:
            return False
        short = self.claimed_frames > 0 and self.decoded_frames < self.claimed_frames
        return short or (self.error is not None and self.decoded_frames > 0)


def probe_video(path: str | os.PathLike) -> VideoProbe:
    """Decode every frame of a video (without converting colours) and count them."""
    import av

    from .video import VideoDecodeError, _open

    path = Path(path)
    try:
        container, stream = _open(path)
    except VideoDecodeError as error:
        return VideoProbe(path, error=error.reason, opened=False)
    probe = VideoProbe(path, claimed_frames=int(stream.frames or 0))
    try:
        for _ in container.decode(stream):
            probe.decoded_frames += 1
    except (av.FFmpegError, OSError, ValueError) as error:
        probe.error = f"decoding failed after frame {probe.decoded_frames}: {error}"
    finally:
        container.close()
    if probe.decoded_frames == 0 and probe.error is None:
        probe.error = "no decodable frames"
    if probe.decoded_frames == 0:
        probe.opened = False  # nothing usable: report as unreadable, not truncated
    return probe


@dataclass
class DataReport:
    """The findings of :func:`check_dataset`; `ok` is True when no list of problems has an entry."""

    root: Path
    dataset: str
    split_dir: Path
    min_frames: int
    classes: list[str] = field(default_factory=list)
    videos_on_disk: int = 0
    per_class: dict[str, Counter] = field(default_factory=dict)  # class -> {"disk": n, "split1/train": n, ...}
    per_split: dict[int, Counter] = field(default_factory=dict)  # split -> {"train": n, "test": n, "unused": n}
    missing_split_files: list[Path] = field(default_factory=list)
    missing: list[tuple[int, str]] = field(default_factory=list)  # (split, "<class>/<file>") with no file
    unlisted: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    truncated: list[tuple[Path, str]] = field(default_factory=list)
    malformed: list[tuple[Path, int, str]] = field(default_factory=list)  # (split file, line number, text)
    # (split, "<class>/<file>", (train split file, line number), (test split file, line number))
    leaked: list[tuple[int, str, tuple[Path, int], tuple[Path, int]]] = field(default_factory=list)
    too_short: list[tuple[Path, int]] = field(default_factory=list)
    frame_counts: dict[Path, int] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, list]:
        return {
            "malformed split lines": self.malformed,
            "missing split files": self.missing_split_files,
            "videos in both train and test of a split": self.leaked,
            "split entries with no file": self.missing,
            "files in no split": self.unlisted,
            "unreadable": self.unreadable,
            "truncated": self.truncated,
            f"fewer than {self.min_frames} frames": self.too_short,
        }

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def render(self, max_items: int = 50) -> str:
        """A plain-text report: counts per split and class, then every problem by name. Names are printed with
        control characters escaped: a file name holding a newline cannot fake a line of the report."""
        lines = [f"dataset {self.dataset} at {printable(self.root)}", f"splits from {printable(self.split_dir)}"]
        lines.append(f"{len(self.classes)} classes, {self.videos_on_disk} video files on disk")
        for split, counts in sorted(self.per_split.items()):
            parts = ", ".join(f"{counts[s]} {s}" for s in ("train", "test", "unused") if counts[s] or s != "unused")
            lines.append(f"split {split}: {parts}")
        columns = ["disk"] + [f"split{k}/{s}" for k in sorted(self.per_split) for s in ("train", "test")]
        width = max([len(printable(c)) for c in self.classes] + [5])
        lines.append("")
        lines.append(f"{'class':<{width}}  " + "  ".join(f"{c:>12}" for c in columns))
        for name in self.classes:
            counts = self.per_class.get(name, Counter())
            lines.append(f"{printable(name):<{width}}  " + "  ".join(f"{counts[c]:>12}" for c in columns))
        lines.append("")
        for title, items in self.problems.items():
            if not items:
                continue
            lines.append(f"{title}: {len(items)}")
            for item in items[:max_items]:
                lines.append(f"  {_describe(item, self.root)}")
            if len(items) > max_items:
                lines.append(f"  ... and {len(items) - max_items} more")
        lines.append("OK: no problems found" if self.ok else "NOT OK: see the problems above")
        return "\n".join(lines)

    __str__ = render


def _describe(item, root: Path) -> str:
    def show(path) -> str:
        path = Path(path)
        return printable(path.relative_to(root) if path.is_relative_to(root) else path)

    if isinstance(item, tuple) and len(item) == 4:  # (split, "<class>/<file>", (file, line), (file, line))
        split, relative, (train, train_line), (test, test_line) = item
        return (
            f"split {split}: {printable(relative)}: train in {show(train)}:{train_line}, "
            f"test in {show(test)}:{test_line}"
        )
    if isinstance(item, tuple) and len(item) == 3:  # (split file, line number, text)
        path, number, text = item
        return f"{show(path)}:{number}: {printable(text)}"
    if isinstance(item, tuple):
        first, second = item
        if isinstance(first, int):  # (split, "<class>/<file>")
            return f"split {first}: {printable(second)}"
        if isinstance(second, int):  # (path, frames)
            return f"{show(first)}: {second} frames"
        return f"{show(first)}: {printable(second)}"
    return show(item)


def _probe_all(paths: list[Path], jobs: int, progress: bool) -> Iterable[VideoProbe]:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        tqdm = None
    show = progress and tqdm is not None and sys.stderr.isatty()
    if jobs <= 1 or len(paths) < 2:
        results: Iterable[VideoProbe] = map(probe_video, paths)
        yield from (tqdm(results, total=len(paths), desc="decoding", unit="video") if show else results)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(probe_video, paths, chunksize=max(1, len(paths) // (jobs * 8)))
        yield from (tqdm(results, total=len(paths), desc="decoding", unit="video") if show else results)


def check_dataset(
    root: str | os.PathLike,
    dataset: str,
    split_dir: str | os.PathLike | None = None,
    min_frames: int = DEFAULT_MIN_FRAMES,
    jobs: int = 1,
    progress: bool = False,
) -> DataReport:
    """Check a dataset root against its split files and decode every video (see the module docstring).

    Raises FileNotFoundError when the root or the split folder does not exist at all; everything else is
    reported.
    """
    from .datasets import _check_dataset, _check_root, class_names, find_split_dir, find_video_files, split_entries

    root = Path(root)
    _check_dataset(dataset)
    _check_root(root, dataset)
    folder = find_split_dir(root, dataset, split_dir)
    classes = class_names(root, dataset, folder)
    report = DataReport(root=root, dataset=dataset, split_dir=folder, min_frames=min_frames, classes=classes)
    report.per_class = {name: Counter() for name in classes}

    on_disk = find_video_files(root)
    report.videos_on_disk = len(on_disk)
    disk_keys = {f"{p.parent.name}/{p.name}": p for p in on_disk}
    disk_folded = {_fold(k): p for k, p in disk_keys.items()}
    for path in on_disk:
        report.per_class.setdefault(path.parent.name, Counter())["disk"] += 1

    listed: set[Path] = set()
    for split in _present_splits(folder, dataset):
        report.per_split[split] = Counter()
        entries = split_entries(root, dataset, split, folder, report.missing_split_files, report.malformed)
        first: dict[str, dict[str, SplitEntry]] = {}  # video -> subset -> its first line there
        for entry in entries:
            report.per_split[split][entry.subset] += 1
            report.per_class.setdefault(entry.class_name, Counter())[f"split{split}/{entry.subset}"] += 1
            path = disk_keys.get(entry.relative) or disk_folded.get(_fold(entry.relative))
            if path is None:
                report.missing.append((split, entry.relative))
            else:
                listed.add(path)
            first.setdefault(_fold(entry.relative), {}).setdefault(entry.subset, entry)
        for subsets in first.values():
            if "train" in subsets and "test" in subsets:
                train, test = subsets["train"], subsets["test"]
                report.leaked.append((split, train.relative, (train.file, train.line), (test.file, test.line)))
    if report.per_split:
        report.unlisted = [p for p in on_disk if p not in listed]
    else:
        pattern = "trainlist01.txt" if dataset == "ucf101" else "<class>_test_split1.txt"
        report.missing_split_files.append(folder / pattern)

    for probe in _probe_all(on_disk, jobs, progress):
        report.frame_counts[probe.path] = probe.decoded_frames
        if not probe.opened:
            report.unreadable.append((probe.path, probe.error or "unreadable"))
        elif probe.truncated:
            reason = f"{probe.decoded_frames} of {probe.claimed_frames or '?'} claimed frames decode"
            reason += f" ({probe.error})" if probe.error else ""
            report.truncated.append((probe.path, reason))
        if probe.opened and probe.decoded_frames < min_frames:
            report.too_short.append((probe.path, probe.decoded_frames))
    for name in list(report.per_class):
        if name not in classes:
            report.classes.append(name)
    return report


def _fold(text: str) -> str:
    """Comparison key tolerant of Unicode normalisation and UCF101's HandStand/Handstand case mix."""
    import unicodedata

    return unicodedata.normalize("NFC", text).casefold()


def _present_splits(folder: Path, dataset: str) -> list[int]:
    """Split numbers with at least one split file present (the absent files of those splits get reported)."""
    from .datasets import SPLITS, _hmdb_split_files

    if dataset == "ucf101":
        names = {k: [f"trainlist{k:02d}.txt", f"testlist{k:02d}.txt"] for k in SPLITS}
        return [k for k in SPLITS if any((folder / name).is_file() for name in names[k])]
    return sorted(k for k in _hmdb_split_files(folder) if k in SPLITS)


# ---------------------------------------------------------------------------------------------------------------
# Command line


def run_check(args: argparse.Namespace) -> int:
    """`actionlib check-data`: print the report; exit code 0 when clean, 1 when anything is wrong."""
    root = root_from(args)
    refuse_url(root, "ROOT")
    refuse_url(args.split_dir, "--split-dir")
    if args.min_frames < 1:
        raise ValueError(f"--min-frames must be >= 1, got {args.min_frames}")
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    if args.max_items < 0:
        raise ValueError(f"--max-items must be >= 0, got {args.max_items}")
    report = check_dataset(
        root,
        args.dataset,
        split_dir=args.split_dir,
        min_frames=args.min_frames,
        jobs=args.jobs,
        progress=not args.quiet,
    )
    print(report.render(max_items=args.max_items))
    return 0 if report.ok else 1


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add `check-data` to the `actionlib` command."""
    parser = subparsers.add_parser(
        "check-data",
        help="check a dataset root against its split files and decode every video",
        description="Compare a dataset root with its split files and decode every video once. Reports counts per "
        "class and split, split entries with no file, files listed in no split, unreadable files, truncated "
        "files (fewer frames decode than the container claims, or decoding fails part-way) and videos with too "
        "few frames. Exits with 1 when anything is wrong, 0 when the dataset is clean.",
    )
    add_root_argument(
        parser,
        "dataset root with one folder per class (HMDB51: the unpacked class folders; UCF101: the UCF-101 "
        "folder; synthetic: the folder written by `actionlib synth`)",
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which layout and split files to expect")
    parser.add_argument("--quiet", "--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--split-dir",
        default=None,
        help="folder with the split files (default: testTrainMulti_7030_splits or ucfTrainTestlist inside ROOT, "
        "then next to it)",
    )
    parser.add_argument(
        "--min-frames",
        type=int,
        default=DEFAULT_MIN_FRAMES,
        help=f"report videos with fewer decodable frames than this (default {DEFAULT_MIN_FRAMES}: the shortest "
        "clip the thesis uses; shorter videos would be looped)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="decode this many videos in parallel processes (default 1)")
    parser.add_argument(
        "--max-items", type=int, default=50, help="list at most this many files per problem (default 50)"
    )
    parser.set_defaults(func=run_check)
    return parser
