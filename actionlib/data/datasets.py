"""HMDB51, UCF101 and the synthetic dataset in their published layouts, and one clip dataset over all of them.

Layouts (as distributed; names keep their spaces, brackets, `&`, `#`, `!`, apostrophes and non-ASCII letters)::

    HMDB51 / synthetic                                 UCF101
    <root>/<class>/<video>.avi                         <root>/<Class>/v_<Class>_g01_c01.avi   (root = UCF-101/)
    testTrainMulti_7030_splits/                        ucfTrainTestlist/
        <class>_test_split{1,2,3}.txt                      classInd.txt            "1 ApplyEyeMakeup"
        lines "<video>.avi <0|1|2>"                        trainlist0{1,2,3}.txt   "<Class>/<video>.avi <label>"
        (1 = train, 2 = test, 0 = unused)                  testlist0{1,2,3}.txt    "<Class>/<video>.avi"

The split folder is looked for inside the root, then next to it (where the archives unpack it). Class indices
are the alphabetical class order for HMDB51 (as the authors' split lists) and classInd.txt's order for UCF101.

Pre-extracted frames use the authors' layout, one folder per video named after the video without its extension
(``img_00001.jpg``..., flow ``flow_x_00001.jpg``/``flow_y_00001.jpg``, HMDB flow without extension), either
directly under the frames root or under a class folder; pass the roots as `frame_roots={"rgb": ..., "flow": ...}`.
"""

from __future__ import annotations

import random
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset, default_collate

from ..choices import DATASETS
from .sampling import FrameSampler
from .transforms import ClipTransform
from .video import VIDEO_EXTENSIONS, FrameReader, VideoDecodeError, open_reader

SUBSETS = ("train", "test", "unused")
SPLIT_DIR_NAMES = {
    "hmdb51": "testTrainMulti_7030_splits",
    "synthetic": "testTrainMulti_7030_splits",
    "ucf101": "ucfTrainTestlist",
}
SPLITS = (1, 2, 3)
_HMDB_CODES = {"0": "unused", "1": "train", "2": "test"}
_HMDB_SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>\d+)\.txt$")
_LAYOUT_HINT = {
    "hmdb51": "one folder per class holding the .avi files (e.g. brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi)",
    "synthetic": "one folder per class holding the videos, as written by `actionlib synth`",
    "ucf101": "the UCF-101 folder: one folder per class (ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi, ...)",
}
_SPLIT_HINT = {
    "hmdb51": "<class>_test_split1.txt ... (test_train_splits.rar)",
    "synthetic": "<class>_test_split1.txt ...",
    "ucf101": "classInd.txt, trainlist01.txt, testlist01.txt ... (UCF101TrainTestSplits-RecognitionTask.zip)",
}


class SkippedVideoWarning(UserWarning):
    """A video could not be read and was left out of a batch."""


class SplitFileError(ValueError):
    """A split file, or one of its lines, that cannot be used; the message names the file and line."""


@dataclass
class SplitEntry:
    """One line of a split file: `relative` is `<class>/<file name>` as the file names it; `file` and `line` say
    where it is written, for messages."""

    class_name: str
    name: str
    subset: str
    split: int
    file: Path | None = None
    line: int = 0

    @property
    def relative(self) -> str:
        return f"{self.class_name}/{self.name}"


@dataclass
class VideoRecord:
    """A video of a split: where its frames are and what it is labelled.

    `path` is the video file; `sources` maps a modality ("rgb", "flow", "pose") to a frame folder when frames
    are pre-extracted. RGB falls back to the video file.
    """

    name: str
    class_name: str
    label: int
    path: Path
    subset: str = "train"
    sources: dict[str, Path] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """The video's name without extension: the name of its frame folders."""
        return Path(self.name).stem

    def source(self, modality: str) -> Path:
        if modality in self.sources:
            return self.sources[modality]
        if modality == "rgb":
            return self.path
        raise FileNotFoundError(f"{self.name}: no {modality} folder given (pass frame_roots={{{modality!r}: ...}})")


# ---------------------------------------------------------------------------------------------------------------
# Split files


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")


def _check_root(root: Path, dataset: str) -> None:
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} does not exist; expected {_LAYOUT_HINT[dataset]}")


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of the non-empty lines, tolerating a BOM, Windows line ends and Latin-1 files."""
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _malformed(path: Path, number: int, line: str, problem: str, malformed: list | None) -> None:
    """Collect a malformed split line in `malformed` (check-data lists them all), or raise naming it."""
    if malformed is None:
        raise SplitFileError(f"{path}:{number}: {problem}")
    malformed.append((path, number, line))


_ABSOLUTE = re.compile(r"^([\\/]|[A-Za-z]:[\\/])")


def _leaves_root(relative: str) -> str | None:
    """Why a path written in a split file would reach outside the dataset root (absolute, or through `..`), or
    None. The path as written is judged, not where it resolves: symlinks placed in the tree are the user's choice
    and are followed. Both separators count, so a Windows-style line cannot slip through either."""
    if _ABSOLUTE.match(relative):
        return "an absolute path"
    if ".." in re.split(r"[\\/]", relative):
        return "a '..' component"
    return None


def _not_a_class(name: str) -> bool:
    """A class name is one folder of the root: not empty, `.` or `..`, no separator."""
    return name in ("", ".", "..") or bool(re.search(r"[\\/]", name))


def find_split_dir(root: str | Path, dataset: str, split_dir: str | Path | None = None) -> Path:
    """The folder with the split files: `split_dir`, else `<root>/<name>`, else `<root>/../<name>`."""
    _check_dataset(dataset)
    if split_dir is not None:
        split_dir = Path(split_dir)
        if not split_dir.is_dir():
            raise FileNotFoundError(f"split folder {split_dir} does not exist; expected {_SPLIT_HINT[dataset]}")
        return split_dir
    root = Path(root)
    name = SPLIT_DIR_NAMES[dataset]
    for candidate in (root / name, root.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"split folder {root / name} (or {root.parent / name}) does not exist; expected {_SPLIT_HINT[dataset]} "
        f"there, or pass split_dir / --split-dir"
    )


def _hmdb_split_files(split_dir: Path) -> dict[int, dict[str, Path]]:
    """{split number: {class: file}} for every `<class>_test_split<k>.txt` in the folder."""
    found: dict[int, dict[str, Path]] = {}
    for path in split_dir.iterdir():
        match = _HMDB_SPLIT_FILE.match(path.name)
        if match and path.is_file():
            if _not_a_class(match["cls"]):
                raise SplitFileError(
                    f"{path}: its class {match['cls']!r} is not a folder of the dataset root; name split files "
                    "<class>_test_split<k>.txt after a class folder"
                )
            found.setdefault(int(match["split"]), {})[match["cls"]] = path
    return found


def _ucf_classes(split_dir: Path) -> list[str]:
    classes: dict[int, str] = {}
    for line_number, line in _read_lines(split_dir / "classInd.txt"):
        number, _, name = line.partition(" ")
        if not number.isdigit() or _not_a_class(name.strip()):
            expected = "expected '<number> <ClassName>', the class being a folder name (not '.', '..' or a path)"
            _malformed(split_dir / "classInd.txt", line_number, line, f"bad line {line!r}; {expected}", None)
        classes[int(number)] = name.strip()
    return [classes[k] for k in sorted(classes)]


def class_names(root: str | Path, dataset: str, split_dir: str | Path | None = None) -> list[str]:
    """Class names in label order (HMDB51/synthetic: alphabetical; UCF101: classInd.txt)."""
    _check_dataset(dataset)
    root = Path(root)
    _check_root(root, dataset)
    folder = find_split_dir(root, dataset, split_dir)
    if dataset == "ucf101":
        return _ucf_classes(folder)
    files = _hmdb_split_files(folder)
    names = {name for per_class in files.values() for name in per_class}
    names |= {d.name for d in _class_dirs(root)}
    if not names:
        raise FileNotFoundError(f"no <class>_test_split<k>.txt files in {folder} and no class folders in {root}")
    return sorted(names)


def split_entries(
    root: str | Path,
    dataset: str,
    split: int = 1,
    split_dir: str | Path | None = None,
    missing: list[Path] | None = None,
    malformed: list[tuple[Path, int, str]] | None = None,
) -> list[SplitEntry]:
    """Every line of split `split` (train, test and, for HMDB51, unused videos).

    A missing split file raises FileNotFoundError, unless a `missing` list is given to collect it in; a malformed
    line raises ValueError naming its file and line, unless a `malformed` list collects (file, line number, text).
    """
    _check_dataset(dataset)
    root = Path(root)
    _check_root(root, dataset)
    folder = find_split_dir(root, dataset, split_dir)
    if dataset == "ucf101":
        return _ucf_entries(folder, split, missing, malformed)
    classes = class_names(root, dataset, folder)
    entries = []
    for class_name in classes:
        path = folder / f"{class_name}_test_split{split}.txt"
        if missing is not None and not path.is_file():
            missing.append(path)
            continue
        for number, line in _read_lines(path):
            parts = line.rsplit(None, 1)
            if len(parts) != 2 or parts[1] not in _HMDB_CODES:
                _malformed(path, number, line, f"bad line {line!r}; expected '<video file> <0|1|2>'", malformed)
                continue
            outside = _leaves_root(parts[0])
            if outside:
                problem = (
                    f"{line!r} names a video outside {class_name}/ ({outside}); list the file names in {class_name}/"
                )
                _malformed(path, number, line, problem, malformed)
                continue
            entries.append(SplitEntry(class_name, parts[0], _HMDB_CODES[parts[1]], split, path, number))
    return entries


def _ucf_entries(
    folder: Path, split: int, missing: list[Path] | None = None, malformed: list | None = None
) -> list[SplitEntry]:
    entries = []
    for subset, file_name in (("train", f"trainlist{split:02d}.txt"), ("test", f"testlist{split:02d}.txt")):
        path = folder / file_name
        if missing is not None and not path.is_file():
            missing.append(path)
            continue
        for number, line in _read_lines(path):
            match = re.match(r"^(.*\S)\s+\d+$", line) if subset == "train" else None
            relative = (match[1] if match else line).replace("\\", "/")
            class_name, slash, name = relative.partition("/")
            if not slash:
                _malformed(path, number, line, f"bad line {line!r}; expected '<Class>/<video file>'", malformed)
                continue
            outside = _leaves_root(relative) or (f"{class_name!r} is no class" if _not_a_class(class_name) else None)
            if outside:
                problem = (
                    f"{line!r} names a video outside its class folder ({outside}); expected '<Class>/<video file>' "
                    "with the folder of the video's class"
                )
                _malformed(path, number, line, problem, malformed)
                continue
            entries.append(SplitEntry(class_name, name, subset, split, path, number))
    return entries


def fold_name(text: str) -> str:
    """Comparison key of a video's name, tolerant of Unicode normalisation and UCF101's HandStand/Handstand case
    mix: two lines naming one video in two spellings are one video."""
    return unicodedata.normalize("NFC", text).casefold()


def train_test_leaks(entries: Sequence[SplitEntry]) -> list[tuple[SplitEntry, SplitEntry]]:
    """(train line, test line) of each video listed both for training and for testing in `entries` (one split),
    first lines only: a model tested on videos it trained on reports an inflated accuracy."""
    first: dict[str, dict[str, SplitEntry]] = {}
    for entry in entries:
        first.setdefault(fold_name(entry.relative), {}).setdefault(entry.subset, entry)
    return [(subsets["train"], subsets["test"]) for subsets in first.values() if {"train", "test"} <= set(subsets)]


def check_no_leak(root: str | Path, dataset: str, split: int = 1, split_dir: str | Path | None = None) -> None:
    """Refuse a split that lists a video both for training and for testing, naming the first one."""
    leaks = train_test_leaks(split_entries(root, dataset, split, split_dir))
    if not leaks:
        return
    train, test = leaks[0]
    more = f" (and {len(leaks) - 1} more videos)" if len(leaks) > 1 else ""
    raise SplitFileError(
        f"{test.file}:{test.line}: {test.relative} is a test video of split {split}, and a training video in "
        f"{train.file}:{train.line}{more}: training on test videos inflates the test accuracy; fix the split files "
        "(`actionlib check-data` lists every such video)"
    )


def _label_lookup(classes: Sequence[str]) -> dict[str, int]:
    labels = {name: i for i, name in enumerate(classes)}
    # UCF101's folder "HandstandPushups" holds files named "HandStandPushups": match case-insensitively too.
    labels.update({name.lower(): i for i, name in enumerate(classes)})
    return labels


def _resolve(path: Path) -> Path:
    """The file as stored on disk, also when the split file and the file system normalise Unicode differently."""
    if path.exists():
        return path
    for form in ("NFC", "NFD"):
        candidate = path.parent / unicodedata.normalize(form, path.name)
        if candidate.exists():
            return candidate
    return path


def _frame_folder(frames_root: Path, class_name: str, stem: str) -> Path:
    """`<frames_root>/<class>/<stem>` or `<frames_root>/<stem>`, whichever exists (class layout if neither)."""
    by_class, flat = frames_root / class_name / stem, frames_root / stem
    if by_class.is_dir():
        return by_class
    if flat.is_dir():
        return flat
    return by_class if (frames_root / class_name).is_dir() else flat


def read_split(
    root: str | Path,
    dataset: str,
    split: int = 1,
    subset: str = "train",
    split_dir: str | Path | None = None,
    frame_roots: Mapping[str, str | Path] | None = None,
) -> list[VideoRecord]:
    """The videos of one subset ("train" or "test"; HMDB51 also "unused") of split 1, 2 or 3.

    Entries whose file is missing are kept (the dataset skips them with a warning; `actionlib check-data`
    lists them), so that a root holding only the split files works with pre-extracted frames.
    """
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(map(str, SPLITS))}")
    _check_dataset(dataset)
    root = Path(root)
    _check_root(root, dataset)
    folder = find_split_dir(root, dataset, split_dir)
    classes = class_names(root, dataset, folder)
    labels = _label_lookup(classes)
    frame_roots = {m: Path(p) for m, p in (frame_roots or {}).items()}
    records = []
    for entry in split_entries(root, dataset, split, folder):
        if entry.subset != subset:
            continue
        label = labels.get(entry.class_name, labels.get(entry.class_name.lower()))
        if label is None:
            raise SplitFileError(
                f"{entry.file}:{entry.line}: {entry.relative}: class {entry.class_name!r} is not among the "
                f"{len(classes)} classes"
            )
        record = VideoRecord(entry.name, classes[label], label, _resolve(root / entry.class_name / entry.name), subset)
        for modality, frames_root in frame_roots.items():
            record.sources[modality] = _frame_folder(frames_root, entry.class_name, record.stem)
        records.append(record)
    return records


def _class_dirs(root: Path) -> list[Path]:
    """Sub-folders of the root that hold at least one video file (split folders and frame roots hold none)."""
    dirs = []
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            if any(f.suffix.lower() in VIDEO_EXTENSIONS for f in path.iterdir() if f.is_file()):
                dirs.append(path)
    return dirs


def find_video_files(root: str | Path) -> list[Path]:
    """Every `<root>/<class>/<video>` file with a video extension, sorted."""
    root = Path(root)
    return [
        f
        for d in _class_dirs(root)
        for f in sorted(d.iterdir())
        if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS and not f.name.startswith(".")
    ]


# ---------------------------------------------------------------------------------------------------------------
# The clip dataset


def _split_clips(clips: torch.Tensor, num_clips: int) -> torch.Tensor:
    """(V, C, n*T, h, w) with clips concatenated in time -> (n*V, C, T, h, w), clip-major."""
    views, channels, total, height, width = clips.shape
    length = total // num_clips
    clips = clips.view(views, channels, num_clips, length, height, width).permute(2, 0, 1, 3, 4, 5)
    return clips.reshape(num_clips * views, channels, length, height, width)


class ClipDataset(Dataset):
    """Clips of videos or frame folders: `dataset[i]` is a dict, or None when the video is unreadable.

    Returns ``{"clip": float tensor, "label": int, "index": int}``. "clip" is (C, T, H, W) for a single view; for
    multi-clip sampling or ten-crop it is (V, C, T, H, W) with V = clips x crops (clip-major) and "num_views" = V
    is added. With several modalities the first is "clip" and the others are "clip_<modality>"; every stream of
    a sample gets the same frames and the same crop and flip.

    Unreadable videos (corrupt, truncated, missing, empty) are not fatal: `__getitem__` warns with
    :class:`SkippedVideoWarning`, records the video in `skipped` and returns None; use :func:`collate_clips` as
    the DataLoader's `collate_fn` to drop them and count them per batch (this also works inside worker processes,
    where `skipped` of the main process stays empty).

    Args:
        records: the videos (see :func:`read_split`).
        sampler: the temporal rule (:class:`FrameSampler`).
        transform: the spatial rule and normalisation (:class:`ClipTransform`).
        modalities: "rgb", "flow", "pose" or several of them.
        open_reader: `(path, modality) -> FrameReader`; replace to read from elsewhere.
        rng: a `random.Random` for sampling and augmentation; default the global one (reseeded per worker).
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        sampler: FrameSampler,
        transform: ClipTransform,
        modalities: str | Sequence[str] = "rgb",
        open_reader: Callable[[Path, str], FrameReader] = open_reader,
        rng: random.Random | None = None,
    ):
        self.records = list(records)
        self.sampler = sampler
        self.transform = transform
        self.modalities = (modalities,) if isinstance(modalities, str) else tuple(modalities)
        for modality in self.modalities:
            if modality not in ("rgb", "flow", "pose"):
                raise ValueError(f"unknown modality {modality!r}; choose one of rgb, flow, pose")
        self.open_reader = open_reader
        self.rng = rng
        self.skipped: list[tuple[int, Path, str]] = []

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[int]:
        return [r.label for r in self.records]

    @property
    def multi_view(self) -> bool:
        return self.sampler.mode == "multi" or self.transform.num_views > 1

    def __getitem__(self, index: int) -> dict | None:
        record = self.records[index]
        readers: dict[str, FrameReader] = {}
        try:
            for modality in self.modalities:
                readers[modality] = self.open_reader(record.source(modality), modality)
            num_frames = min(reader.num_frames for reader in readers.values())
            if num_frames < 1:
                raise VideoDecodeError(record.source(self.modalities[0]), "no frames")
            clips = self.sampler(num_frames, self.rng)
            indices = [i for clip in clips for i in clip]
            frames = {m: reader.read(indices) for m, reader in readers.items()}
        except (VideoDecodeError, OSError) as error:
            return self._skip(index, record, error)
        finally:
            for reader in readers.values():
                close = getattr(reader, "close", None)
                if close is not None:
                    close()
        first = frames[self.modalities[0]]
        reference = self.transform.reference_size(first.shape[1:3])
        views = self.transform.draw(reference, self.rng)
        sample: dict = {"label": record.label, "index": index}
        for position, modality in enumerate(self.modalities):
            clip = _split_clips(self.transform.apply(frames[modality], views, modality, reference), len(clips))
            key = "clip" if position == 0 else f"clip_{modality}"
            sample[key] = clip if self.multi_view else clip[0]
        if self.multi_view:
            sample["num_views"] = sample["clip"].shape[0]
        return sample

    def _skip(self, index: int, record: VideoRecord, error: Exception) -> None:
        path = getattr(error, "path", None) or record.path
        reason = getattr(error, "reason", None) or str(error)
        self.skipped.append((index, Path(path), reason))
        warnings.warn(f"skipping video {index} ({path}): {reason}", SkippedVideoWarning, stacklevel=2)
        return None


def collate_clips(batch: Sequence[dict | None]) -> dict:
    """DataLoader `collate_fn`: drops skipped (None) samples and reports how many as `batch["skipped"]`.

    Multi-view samples with different numbers of views (multi-clip testing of videos of different lengths)
    cannot be stacked: their views are concatenated along dimension 0 instead, and `num_views` says how to split
    them back. A batch whose samples were all skipped is `{"skipped": n}`.
    """
    kept = [sample for sample in batch if sample is not None]
    skipped = len(batch) - len(kept)
    if not kept:
        return {"skipped": skipped}
    clip_keys = [k for k in kept[0] if k == "clip" or k.startswith("clip_")]
    ragged = {k for k in clip_keys if len({tuple(s[k].shape) for s in kept}) > 1}
    rest = default_collate([{k: v for k, v in s.items() if k not in ragged} for s in kept])
    for key in ragged:
        rest[key] = torch.cat([s[key] for s in kept])
    rest["skipped"] = skipped
    return rest
