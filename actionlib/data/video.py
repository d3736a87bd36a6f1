"""Frame readers: video files (PyAV, frame-accurate seeking), RGB frame folders and optical-flow folders.

Every reader follows one small protocol so the datasets need not care where frames come from::

    reader.num_frames                 # frames that can actually be delivered
    reader.read([0, 5, 5, 9])         # -> uint8 array (N, H, W, C), in the order asked, repeats allowed

Why seeking matters: a 16-frame training clip from a 10 s video needs about 16 frames plus one group of pictures
decoded, not 250. :class:`VideoReader` therefore builds a small index of the stream's packets once per file
(demuxing only, ~1 ms for a 10 s video, cached per process), seeks to the last keyframe at or before the first
wanted frame, decodes forward and maps each decoded frame's presentation timestamp to its frame index. Sorting the
packets' timestamps gives presentation order, so the index works with B-frames and with containers that report no
frame count (Matroska, WebM). When a file's timestamps are unusable (missing or repeated), the reader falls back
to decoding from the start and counting, which is always correct, only slower.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".ogv", ".flv", ".wmv")

# Frame-file names of the common pre-extracted layouts, tried in this order. The first is the authors' layout
# (bryanyzhu/two-stream-pytorch); the second the two-stream-fusion / feichtenhofer one.
RGB_TEMPLATES = ("img_{:05d}.jpg", "frame{:06d}.jpg", "image_{:05d}.jpg", "img_{:05d}.png")
# Flow pairs: {axis} is "x" or "y". HMDB51's published flow has no file extension.
FLOW_TEMPLATES = ("flow_{axis}_{index:05d}.jpg", "flow_{axis}_{index:05d}", "flow_{axis}_{index:05d}.png")


class VideoDecodeError(RuntimeError):
    """A video (or frame folder) that cannot be decoded; `path` names it so a report can list it."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FrameReader(Protocol):
    """What datasets need from a source of frames."""

    @property
    def num_frames(self) -> int: ...

    def read(self, indices: Sequence[int]) -> np.ndarray: ...


def _check_indices(path: Path, indices: Sequence[int], num_frames: int) -> list[int]:
    wanted = [int(i) for i in indices]
    if not wanted:
        raise ValueError(f"{path}: no frame indices requested")
    bad = [i for i in wanted if i < 0 or i >= num_frames]
    if bad:
        raise IndexError(f"{path}: frame indices {bad[:5]} outside 0..{num_frames - 1}")
    return wanted


# ---------------------------------------------------------------------------------------------------------------
# Video files


@dataclass(frozen=True, eq=False)
class StreamIndex:
    """Presentation timestamps of every frame in display order, and where decoding can start.

    `keyframes` are frame indices of keyframes; `seek_points` the timestamps to seek to for each of them (the
    packet's decoding timestamp: demuxers index by it, and seeking by the presentation timestamp can land on the
    next keyframe when frames are reordered). `exact` is False when the timestamps cannot identify frames
    (missing or repeated); readers then decode sequentially and `num_frames` comes from a full count.
    Arrays rather than lists keep the per-process cache small (8 bytes a frame: ~20 MB for all of UCF101).
    """

    pts: np.ndarray
    keyframes: np.ndarray
    seek_points: np.ndarray
    claimed_frames: int
    exact: bool

    @property
    def num_frames(self) -> int:
        return len(self.pts)

    def keyframe_before(self, frame: int) -> tuple[int, int]:
        """(keyframe index, seek timestamp) of the last keyframe at or before `frame`."""
        position = max(int(np.searchsorted(self.keyframes, frame, side="right")) - 1, 0)
        return int(self.keyframes[position]), int(self.seek_points[position])

    def frame_of(self, pts: int | None) -> int | None:
        """The frame index with this presentation timestamp, or None when no frame has it."""
        if pts is None:
            return None
        position = int(np.searchsorted(self.pts, pts))
        return position if position < len(self.pts) and self.pts[position] == pts else None


def _make_index(pts, keyframes, seek_points, claimed: int, exact: bool) -> StreamIndex:
    return StreamIndex(
        pts=np.asarray(pts, dtype=np.int64),
        keyframes=np.asarray(keyframes, dtype=np.int64),
        seek_points=np.asarray(seek_points, dtype=np.int64),
        claimed_frames=claimed,
        exact=exact,
    )


_INDEX_CACHE: OrderedDict[tuple, StreamIndex] = OrderedDict()
_INDEX_CACHE_SIZE = 20000
_INDEX_LOCK = threading.Lock()


def _cache_key(path: Path) -> tuple:
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns)


def clear_index_cache() -> None:
    """Forget every cached stream index (tests; files rewritten in place with the same size and mtime)."""
    with _INDEX_LOCK:
        _INDEX_CACHE.clear()


def _open(path: Path):
    import av

    if not path.exists():
        raise VideoDecodeError(path, "no such file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as error:
        raise VideoDecodeError(path, f"cannot open: {error}") from error
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "no video stream")
    stream = container.streams.video[0]
    # One decoding thread: datasets run in DataLoader workers, one per core, and frame threading would add
    # a delay of several frames after every seek.
    stream.thread_type = "SLICE"
    stream.codec_context.thread_count = 1
    return container, stream


def not_a_video(path: str | os.PathLike) -> str | None:
    """Why a file PyAV opens is not a video, or None: an image (PNG, JPEG, a one-frame GIF) opens as a "video"
    of one frame and would be classified with confidence. Files PyAV cannot open at all are not judged here:
    reading them reports them as unreadable."""
    import av

    path = Path(path)
    try:
        container, stream = _open(path)
    except VideoDecodeError as error:
        return error.reason if error.reason == "no video stream" else None
    try:
        name = container.format.name
        if name == "image2" or name.endswith("_pipe"):
            return f"a still image ({stream.codec_context.name})"
        frames = 0
        for packet in container.demux(stream):
            frames += packet.size > 0
            if frames > 1:
                return None
        return "a single frame"
    except av.FFmpegError:  # a damaged video: reported as unreadable when it is read
        return None
    finally:
        container.close()


def _build_index(path: Path, container, stream) -> StreamIndex:
    import av

    pts: list[int] = []
    keyframes: list[tuple[int, int]] = []  # (pts, seek timestamp)
    exact = True
    start = None  # timestamp of the first packet: seeking there always restarts decoding from the beginning
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet at the end, or an AVI "dropped frame" chunk
                continue
            if start is None:
                start = packet.dts if packet.dts is not None else packet.pts
            if packet.pts is None:
                exact = False
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keyframes.append((packet.pts, packet.dts if packet.dts is not None else packet.pts))
    except av.FFmpegError as error:
        raise VideoDecodeError(path, f"cannot demux: {error}") from error
    claimed = int(stream.frames or 0)
    if pts and 0 < claimed and len(pts) < claimed:
        # A truncated file (fewer packets than the header promises): its last packet is most likely cut short
        # and would fail to decode, so leave it out and keep the rest of the video usable.
        cut = pts.pop()
        keyframes = [k for k in keyframes if k[0] != cut]
    ordered = sorted(pts)
    if not exact or len(set(ordered)) != len(ordered):
        return _counted_index(path, claimed)
    position = {p: i for i, p in enumerate(ordered)}
    keyframes.sort(key=lambda item: position[item[0]])
    if not ordered:
        return _make_index([], [0], [0], claimed, exact=True)
    if not keyframes or position[keyframes[0][0]] != 0:
        # No keyframe flag on the first frame (some muxers): decoding from the very start is always valid.
        keyframes.insert(0, (ordered[0], min(start, ordered[0])))
    return _make_index(ordered, [position[p] for p, _ in keyframes], [seek for _, seek in keyframes], claimed, True)


def _counted_index(path: Path, claimed: int) -> StreamIndex:
    """An index for files whose timestamps are unusable: count the frames once by decoding them."""
    count = _count_by_decoding(path)
    return _make_index(np.arange(count), [0], [0], claimed, exact=False)


def _count_by_decoding(path: Path) -> int:
    import av

    container, stream = _open(path)
    count = 0
    try:
        for _ in container.decode(stream):
            count += 1
    except av.FFmpegError as error:
        raise VideoDecodeError(path, f"decoding failed after frame {count}: {error}") from error
    finally:
        container.close()
    return count


def stream_index(path: str | os.PathLike) -> StreamIndex:
    """The (cached) frame index of a video file; raises VideoDecodeError for unreadable files."""
    path = Path(path)
    if not path.exists():
        raise VideoDecodeError(path, "no such file")
    key = _cache_key(path)
    with _INDEX_LOCK:
        if key in _INDEX_CACHE:
            _INDEX_CACHE.move_to_end(key)
            return _INDEX_CACHE[key]
    container, stream = _open(path)
    try:
        index = _build_index(path, container, stream)
    finally:
        container.close()
    _remember(key, index)
    return index


def _remember(key: tuple, index: StreamIndex) -> None:
    with _INDEX_LOCK:
        _INDEX_CACHE[key] = index
        while len(_INDEX_CACHE) > _INDEX_CACHE_SIZE:
            _INDEX_CACHE.popitem(last=False)


class VideoReader:
    """Random access to the frames of a video file, decoding only what is needed.

    Frames come back as RGB uint8 arrays (N, H, W, 3). `num_frames` counts the frames the file really holds,
    which can be fewer than its header claims (`claimed_frames`) when it is truncated.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.index = stream_index(self.path)
        if self.index.num_frames == 0:
            raise VideoDecodeError(self.path, "no decodable frames")
        self._container = None
        self._stream = None

    @property
    def num_frames(self) -> int:
        return self.index.num_frames

    @property
    def claimed_frames(self) -> int:
        """The frame count the container reports (0 when it reports none)."""
        return self.index.claimed_frames

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = self._stream = None

    def _ensure_open(self):
        if self._container is None:
            self._container, self._stream = _open(self.path)
        return self._container, self._stream

    def read(self, indices: Sequence[int]) -> np.ndarray:
        wanted = _check_indices(self.path, indices, self.num_frames)
        unique = sorted(set(wanted))
        frames = self._decode_exact(unique) if self.index.exact else None
        if frames is None:
            if self.index.exact:  # timestamps did not match the packets: remember to count and decode in order
                self.close()
                self.index = _counted_index(self.path, self.index.claimed_frames)
                _remember(_cache_key(self.path), self.index)
                if unique[-1] >= self.num_frames:
                    raise VideoDecodeError(self.path, f"only {self.num_frames} frames decode; frame {unique[-1]} asked")
            frames = self._decode_sequential(unique)
        return np.stack([frames[i] for i in wanted])

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Every frame in display order, decoded once (flow and pose extraction)."""
        import av

        self.close()
        container, stream = self._ensure_open()
        count = 0
        try:
            for frame in container.decode(stream):
                count += 1
                yield frame.to_ndarray(format="rgb24")
        except av.FFmpegError as error:
            raise VideoDecodeError(self.path, f"decoding failed after frame {count}: {error}") from error
        finally:
            self.close()

    def _decode_exact(self, unique: list[int]) -> dict[int, np.ndarray] | None:
        """Seek-and-decode; None when the file's timestamps turn out not to match the index."""
        import av

        container, stream = self._ensure_open()
        frames: dict[int, np.ndarray] = {}
        position = -1  # index of the last decoded frame; -1 means the decoder needs a seek first
        decoder = None
        pending = list(unique)
        try:
            while pending:
                target = pending[0]
                keyframe, seek_point = self.index.keyframe_before(target)
                if decoder is None or position >= target or keyframe > position + 1:
                    # Seeking lands on `keyframe`, which is later than where we are: cheaper than decoding on.
                    container.seek(seek_point, stream=stream, backward=True, any_frame=False)
                    decoder = container.decode(stream)
                    floor = keyframe
                    first = True
                else:
                    first = False
                for frame in decoder:
                    index = self.index.frame_of(frame.pts)
                    if index is None:
                        return None
                    if index < floor:  # leading frames of an open GOP, shown before the keyframe
                        continue
                    if first and index > target:  # the seek landed after the frame we want
                        return None
                    first = False
                    position = index
                    if index == pending[0]:
                        frames[index] = frame.to_ndarray(format="rgb24")
                        pending.pop(0)
                        if not pending:
                            break
                        if self.index.keyframe_before(pending[0])[0] > position + 1:
                            break  # jump ahead with a seek instead of decoding the gap
                    elif index > pending[0]:
                        return None  # a frame was skipped: timestamps are not what the index says
                else:
                    raise VideoDecodeError(self.path, f"stream ended before frame {pending[0]} (truncated?)")
        except av.FFmpegError as error:
            raise VideoDecodeError(self.path, f"decoding failed near frame {position + 1}: {error}") from error
        return frames

    def _decode_sequential(self, unique: list[int]) -> dict[int, np.ndarray]:
        import av

        self.close()
        container, stream = self._ensure_open()
        wanted = set(unique)
        last = unique[-1]
        frames: dict[int, np.ndarray] = {}
        index = -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    frames[index] = frame.to_ndarray(format="rgb24")
                if index >= last:
                    break
        except av.FFmpegError as error:
            raise VideoDecodeError(self.path, f"decoding failed after frame {index + 1}: {error}") from error
        if len(frames) != len(wanted):
            raise VideoDecodeError(self.path, f"stream ended after {index + 1} frames, before frame {last}")
        return frames


def decode_all(path: str | os.PathLike) -> np.ndarray:
    """Every frame of a video, (N, H, W, 3) uint8: the naive reference the seeking reader is tested against."""
    import av

    path = Path(path)
    container, stream = _open(path)
    try:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    except av.FFmpegError as error:
        raise VideoDecodeError(path, f"decoding failed: {error}") from error
    finally:
        container.close()
    if not frames:
        raise VideoDecodeError(path, "no decodable frames")
    return np.stack(frames)


# ---------------------------------------------------------------------------------------------------------------
# Frame folders


def _load_image(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode))
    except FileNotFoundError as error:
        raise VideoDecodeError(path.parent, f"missing frame {path.name}") from error
    except OSError as error:  # PIL's UnidentifiedImageError and truncated JPEGs are OSErrors
        raise VideoDecodeError(path.parent, f"unreadable frame {path.name}: {error}") from error


def _template_regex(template: str) -> re.Pattern:
    """'img_{:05d}.jpg' -> a regex matching the names that template produces."""
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile("^" + r"(\d+)".join(re.escape(p) for p in parts) + "$")


def _count_matching(folder: Path, template: str) -> int:
    pattern = _template_regex(template)
    return sum(1 for entry in os.scandir(folder) if pattern.match(entry.name))


def _detect_template(folder: Path, templates: Sequence[str], first_number: int) -> str | None:
    for template in templates:
        if (folder / template.format(first_number)).is_file():
            return template
    return None


class FrameFolderReader:
    """Pre-extracted frames, one image per frame (`img_00001.jpg`, ... — the authors' layout).

    `template` is a `str.format` pattern for the 1-based file number; by default the common layouts in
    `RGB_TEMPLATES` are tried. Used for RGB frames and for pose images (skeletons drawn as RGB pictures).
    """

    def __init__(self, folder: str | os.PathLike, template: str | None = None, first_number: int = 1):
        self.path = Path(folder)
        if not self.path.is_dir():
            raise VideoDecodeError(self.path, "frame folder does not exist")
        self.first_number = first_number
        self.template = template or _detect_template(self.path, RGB_TEMPLATES, first_number)
        if self.template is None:
            raise VideoDecodeError(
                self.path, f"no frames named like {', '.join(t.format(first_number) for t in RGB_TEMPLATES)}"
            )
        self._num_frames = _count_matching(self.path, self.template)

    @property
    def num_frames(self) -> int:
        return self._num_frames

    def read(self, indices: Sequence[int]) -> np.ndarray:
        wanted = _check_indices(self.path, indices, self.num_frames)
        cache: dict[int, np.ndarray] = {}
        for i in set(wanted):
            cache[i] = _load_image(self.path / self.template.format(i + self.first_number), "RGB")
        return np.stack([cache[i] for i in wanted])


class FlowFolderReader:
    """Pre-extracted optical flow, x and y as separate grey images per frame pair -> (N, H, W, 2) uint8.

    Handles `flow_x_00001.jpg` / `flow_y_00001.jpg` and HMDB51's extension-less `flow_x_00001` / `flow_y_00001`.
    A folder for a video of n frames holds n - 1 pairs.
    """

    def __init__(self, folder: str | os.PathLike, template: str | None = None, first_number: int = 1):
        self.path = Path(folder)
        if not self.path.is_dir():
            raise VideoDecodeError(self.path, "flow folder does not exist")
        self.first_number = first_number
        self.template = template
        if self.template is None:
            for candidate in FLOW_TEMPLATES:
                if (self.path / candidate.format(axis="x", index=first_number)).is_file():
                    self.template = candidate
                    break
        if self.template is None:
            names = ", ".join(t.format(axis="x", index=first_number) for t in FLOW_TEMPLATES)
            raise VideoDecodeError(self.path, f"no flow frames named like {names}")
        pattern = _template_regex(self.template.replace("{axis}", "x"))
        self._num_frames = sum(1 for entry in os.scandir(self.path) if pattern.match(entry.name))

    @property
    def num_frames(self) -> int:
        return self._num_frames

    def read(self, indices: Sequence[int]) -> np.ndarray:
        wanted = _check_indices(self.path, indices, self.num_frames)
        cache: dict[int, np.ndarray] = {}
        for i in set(wanted):
            number = i + self.first_number
            x = _load_image(self.path / self.template.format(axis="x", index=number), "L")
            y = _load_image(self.path / self.template.format(axis="y", index=number), "L")
            if x.shape != y.shape:
                raise VideoDecodeError(self.path, f"flow_x and flow_y of pair {number} differ in size")
            cache[i] = np.stack([x, y], axis=-1)
        return np.stack([cache[i] for i in wanted])


def open_reader(path: str | os.PathLike, modality: str = "rgb") -> FrameReader:
    """The right reader for a source: a flow folder, a frame folder (RGB or pose), or a video file."""
    path = Path(path)
    if modality == "flow":
        return FlowFolderReader(path)
    if modality not in ("rgb", "pose"):
        raise ValueError(f"unknown modality {modality!r}; choose one of rgb, flow, pose")
    if path.is_dir():
        return FrameFolderReader(path)
    return VideoReader(path)
