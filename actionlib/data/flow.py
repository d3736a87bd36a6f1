"""TV-L1 optical flow extraction into the JPEG folder layout the thesis's code reads.

The thesis (Section 3.2.6) feeds the flow streams with TV-L1 flow whose displacements are clipped to +-20 px and
mapped linearly to 0..255, x and y stored as separate grey images. The authors used the pre-extracted folders
published with the two-stream-fusion code; this module produces the same layout for videos that have none
(the synthetic dataset, new data)::

    <FLOWROOT>/<class>/<video>/flow_x_00001.jpg, flow_y_00001.jpg, ...   (n - 1 pairs for n frames)

Pair ``k`` is the flow from frame ``k`` to frame ``k + 1``. A zero displacement is stored as 128 (the same rounding
as the dense-flow tools: ``round(255 * (d + bound) / (2 * bound))``).

TV-L1 is slow on a CPU (about 2 s per 320x240 pair with OpenCV's defaults), so extraction runs videos in parallel
processes, can resize frames first (``size``), offers a cheaper solver preset (``FAST_TVL1``), and is resumable:
every video is written into a temporary folder that is renamed into place only once it is complete, with a
completion marker inside, so an interrupted run picks up where it stopped and never leaves half a video behind.
The batch machinery (:func:`find_videos`, :func:`run_over_videos`, :func:`atomic_output_dir`) is shared with the
pose extractor.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..choices import DATASETS
from ..command_line import add_renamed, add_root_argument, printable, root_from, sigint_ignored
from ..locks import FolderBusyError, FolderLock
from .video import VIDEO_EXTENSIONS, VideoDecodeError, VideoReader

FLOW_BOUND = 20.0
"""Displacements beyond +-20 px are clipped (thesis Section 3.2.6)."""

MARKER_NAME = ".complete.json"
"""Written last into a finished video folder; its presence is what "already done" means."""

LOCK_NAME = ".writing.lock"
"""In an output root while a process writes it: a second one is refused (they would remove each other's
unfinished folders)."""

_EXPECTED_CLASSES = {"hmdb51": 51, "ucf101": 101}


@dataclass(frozen=True)
class TVL1Options:
    """Solver settings of OpenCV's Dual TV-L1; the defaults are OpenCV's (and the dense-flow tools')."""

    nscales: int = 5
    warps: int = 5
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    epsilon: float = 0.01
    median_filtering: int = 5


FAST_TVL1 = TVL1Options(nscales=3, warps=2, inner_iterations=10, outer_iterations=3)
"""About 3-4x cheaper than the defaults at 112x112 (0.05 s vs 0.17 s a pair, measured); coarser on large motion."""


class FlowExtractionError(RuntimeError):
    """A video gives no flow (fewer than two frames); unreadable files raise the readers' VideoDecodeError."""


# ---------------------------------------------------------------------------------------------------------------
# Single frames and pairs


def flow_to_uint8(flow: np.ndarray, bound: float = FLOW_BOUND) -> np.ndarray:
    """Clip displacements to +-bound and map [-bound, bound] linearly onto 0..255 (0 px -> 128)."""
    if bound <= 0:
        raise ValueError(f"bound must be positive, got {bound}")
    scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2.0 * bound))
    return np.round(scaled).astype(np.uint8)


def subtract_median_motion(flow: np.ndarray) -> np.ndarray:
    """Flow (H, W, 2) minus its median displacement (x and y apart): motion relative to the background.

    Where the actor covers a small part of the frame, the median displacement is the camera's, so what is left
    is the actors' own motion whatever the camera did (the two-stream networks' mean flow subtraction, with the
    median so that the moving actor does not pull it).
    """
    return flow - np.median(flow.reshape(-1, flow.shape[-1]), axis=0).astype(flow.dtype)


def uint8_to_flow(image: np.ndarray, bound: float = FLOW_BOUND) -> np.ndarray:
    """The inverse of :func:`flow_to_uint8` up to quantisation (one grey level is 2 * bound / 255 px)."""
    return image.astype(np.float32) * (2.0 * bound / 255.0) - bound


def create_tvl1(options: TVL1Options = TVL1Options()):
    """An OpenCV Dual TV-L1 solver; needs the contrib build (``pip install opencv-contrib-python-headless``)."""
    try:
        import cv2
    except ImportError as error:
        raise ImportError(
            "optical flow needs OpenCV with the contrib modules: pip install opencv-contrib-python-headless"
        ) from error
    if not hasattr(cv2, "optflow"):
        raise ImportError(
            "this OpenCV build has no cv2.optflow (contrib modules); install opencv-contrib-python-headless "
            "instead of opencv-python: pip install opencv-contrib-python-headless"
        )
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=options.tau,
        lambda_=options.lambda_,
        theta=options.theta,
        nscales=options.nscales,
        warps=options.warps,
        epsilon=options.epsilon,
        innnerIterations=options.inner_iterations,  # sic: OpenCV's spelling
        outerIterations=options.outer_iterations,
        scaleStep=options.scale_step,
        medianFiltering=options.median_filtering,
    )


def compute_flow(previous: np.ndarray, current: np.ndarray, solver=None) -> np.ndarray:
    """TV-L1 flow (H, W, 2) float32 in pixels from ``previous`` to ``current`` (grey uint8 frames)."""
    solver = solver if solver is not None else create_tvl1()
    return solver.calc(previous, current, None)


def parse_size(text: str | int | Sequence[int] | None) -> tuple[int, int] | int | None:
    """``"112"`` -> 112 (shorter side, aspect kept); ``"170x128"`` -> (170, 128) as (width, height)."""
    if text is None or isinstance(text, int):
        return text
    if not isinstance(text, str):
        width, height = text
        return int(width), int(height)
    parts = text.lower().replace("*", "x").split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values, default=0) <= 0:
        raise ValueError(f"size must be N (shorter side) or WxH in pixels, e.g. 112 or 170x128; got {text!r}")
    return values[0] if len(values) == 1 else (values[0], values[1])


def _resize(frame: np.ndarray, size: tuple[int, int] | int | None) -> np.ndarray:
    if size is None:
        return frame
    import cv2

    height, width = frame.shape[:2]
    if isinstance(size, int):
        scale = size / min(height, width)
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
    else:
        target = size
    if target == (width, height):
        return frame
    shrinking = target[0] * target[1] < width * height
    return cv2.resize(frame, target, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


# ---------------------------------------------------------------------------------------------------------------
# Decoding


def iter_video_frames(video_path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Every frame a video really holds, RGB uint8 (H, W, 3), decoded once and one at a time.

    Stops at the frame count the shared :class:`~actionlib.data.video.VideoReader` reports, so a truncated file
    gives the frames the datasets also see instead of failing on its cut-off last packet. Raises
    :class:`~actionlib.data.video.VideoDecodeError` for a file that cannot be read.
    """
    reader = VideoReader(video_path)
    wanted = reader.num_frames
    frames = reader.iter_frames()
    try:
        for index, frame in enumerate(frames):
            if index >= wanted:
                break
            yield frame
    finally:
        frames.close()
        reader.close()


# ---------------------------------------------------------------------------------------------------------------
# Atomic, resumable output folders


def is_complete(out_dir: str | os.PathLike) -> bool:
    """True when ``out_dir`` was finished by an earlier run (it holds the completion marker)."""
    return (Path(out_dir) / MARKER_NAME).is_file()


def _partial_dir(out_dir: Path) -> Path:
    # A hidden sibling: on the same file system (so the final rename is atomic) and ignored by folder listings.
    return out_dir.parent / f".{out_dir.name}.partial"


@contextmanager
def atomic_output_dir(out_dir: str | os.PathLike, marker: dict | None = None) -> Iterator[Path]:
    """Yield a temporary folder to write into; on success write the marker and rename it to ``out_dir``.

    A leftover temporary folder from an interrupted run is removed first; on an exception the temporary folder is
    removed and ``out_dir`` is left as it was. An existing ``out_dir`` without a marker (unfinished or foreign) is
    replaced. Two runs never write one output root at once: `run_over_videos` holds its lock.
    """
    final = Path(out_dir)
    partial = _partial_dir(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    try:
        yield partial
        (partial / MARKER_NAME).write_text(json.dumps(marker or {}, indent=1, ensure_ascii=False), encoding="utf-8")
        if final.exists():
            stale = final.parent / f".{final.name}.stale"
            if stale.exists():
                shutil.rmtree(stale)
            final.rename(stale)
            partial.rename(final)
            shutil.rmtree(stale)
        else:
            partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise FlowExtractionError(f"{path}: JPEG encoding failed")
    # Bytes through pathlib, not cv2.imwrite: names with non-ASCII characters must work everywhere.
    path.write_bytes(encoded.tobytes())


# ---------------------------------------------------------------------------------------------------------------
# One video


def extract_video_flow(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    options: TVL1Options = TVL1Options(),
    size: tuple[int, int] | int | str | None = None,
    bound: float = FLOW_BOUND,
    jpeg_quality: int = 95,
    overwrite: bool = False,
    subtract_median: bool = False,
) -> int:
    """Write ``flow_x_%05d.jpg`` / ``flow_y_%05d.jpg`` for every consecutive frame pair of a video.

    ``subtract_median`` stores each pair's flow minus its median displacement (:func:`subtract_median_motion`):
    the camera's motion removed. Returns the number of flow pairs (frames - 1). A folder finished by an earlier
    run is kept and its count returned, unless ``overwrite``. Raises
    :class:`~actionlib.data.video.VideoDecodeError` for an unreadable video and :class:`FlowExtractionError` for
    one with fewer than two frames; nothing is left behind then.
    """
    import cv2

    video_path, out_dir = Path(video_path), Path(out_dir)
    if not overwrite and is_complete(out_dir):
        return int(json.loads((out_dir / MARKER_NAME).read_text(encoding="utf-8")).get("pairs", 0))
    size = parse_size(size)
    solver = create_tvl1(options)
    marker = {
        "kind": "flow",
        "video": video_path.name,
        "bound": bound,
        "size": size,
        "tvl1": asdict(options),
        "jpeg_quality": jpeg_quality,
        "subtract_median": subtract_median,
    }
    with atomic_output_dir(out_dir, marker) as partial:
        previous = None
        pairs = 0
        for rgb in iter_video_frames(video_path):
            frame = cv2.cvtColor(_resize(rgb, size), cv2.COLOR_RGB2GRAY)
            if previous is not None:
                flow = solver.calc(previous, frame, None)
                if subtract_median:
                    flow = subtract_median_motion(flow)
                pairs += 1
                _write_jpeg(partial / f"flow_x_{pairs:05d}.jpg", flow_to_uint8(flow[..., 0], bound), jpeg_quality)
                _write_jpeg(partial / f"flow_y_{pairs:05d}.jpg", flow_to_uint8(flow[..., 1], bound), jpeg_quality)
            previous = frame
        if pairs == 0:
            raise FlowExtractionError(f"{video_path}: fewer than two decodable frames, no flow to compute")
        marker["pairs"] = pairs  # the marker is written when the block exits, so it records the count
    return pairs


# ---------------------------------------------------------------------------------------------------------------
# A dataset: discovery and the parallel, resumable batch runner (shared with pose extraction)


def find_videos(root: str | os.PathLike, dataset: str | None = None) -> list[Path]:
    """Video files in the ``<root>/<class>/<video>.<ext>`` layout (HMDB51, UCF101's UCF-101/, synthetic).

    Hidden entries are ignored; split-file folders hold no videos and so add nothing. Sorted for a stable order.
    """
    root = Path(root)
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if not root.is_dir():
        raise FileNotFoundError(f"video root {root} is not a directory")
    videos = [
        video
        for class_dir in sorted(root.iterdir())
        if class_dir.is_dir() and not class_dir.name.startswith(".")
        for video in sorted(class_dir.iterdir())
        if video.suffix.lower() in VIDEO_EXTENSIONS and not video.name.startswith(".") and video.is_file()
    ]
    if not videos:
        hint = " (for UCF101 point at the UCF-101 folder)" if dataset == "ucf101" else ""
        raise ValueError(
            f"no videos found under {root}: expected <root>/<class>/<video> with one of "
            f"{', '.join(VIDEO_EXTENSIONS)}{hint}"
        )
    return videos


def output_dir_for(video: Path, root: Path, out_root: Path) -> Path:
    """``<out>/<class>/<video stem>``: the folder name the datasets and the authors' split files use."""
    relative = video.relative_to(root)
    return out_root / relative.parent / video.stem


@dataclass
class ExtractionReport:
    """What a batch run did: finished now, already done before, and failed (with the reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return f"{len(self.written)} written, {len(self.skipped)} already done, {len(self.failed)} failed"


def _limit_worker_threads() -> None:
    # Ctrl-C reaches every process of the terminal's job: a worker leaves at once and quietly (a KeyboardInterrupt
    # there prints a traceback per worker); the main process reports the interruption, and the worker's unfinished
    # temporary folder is removed by the next run. Until here the worker ignored SIGINT (started under
    # `command_line.sigint_ignored`).
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))
    # One process per core does the parallelism; OpenCV's own threads would only oversubscribe the cores.
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


def _run_one(function: Callable, video: Path, out_dir: Path, kwargs: dict) -> tuple[Path, str | None]:
    """Call ``function`` and turn any failure into a message, so one bad video never stops the batch."""
    try:
        function(video, out_dir, **kwargs)
    except Exception as error:  # noqa: BLE001 - reported per video, the run goes on
        known = (FlowExtractionError, VideoDecodeError)
        message = str(error) if isinstance(error, known) else f"{type(error).__name__}: {error}"
        return video, message
    return video, None


def run_over_videos(
    function: Callable,
    root: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    dataset: str | None = None,
    jobs: int = 1,
    kwargs: dict | None = None,
    progress: bool = True,
    description: str = "videos",
) -> ExtractionReport:
    """Run ``function(video, out_dir, **kwargs)`` for every unfinished video of a dataset, in ``jobs`` processes.

    ``function`` must be a module-level function (it is sent to worker processes) that writes its folder through
    :func:`atomic_output_dir`. Videos whose folder has the completion marker are skipped without decoding.
    """
    root, out_root = Path(root), Path(out_root)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    videos = find_videos(root, dataset)
    report = ExtractionReport()
    expected = _EXPECTED_CLASSES.get(dataset or "")
    classes = {video.parent.name for video in videos}
    if expected is not None and len(classes) != expected:
        report.warnings.append(f"{root} has {len(classes)} class folders with videos, {dataset} has {expected}")
    with FolderLock(out_root / LOCK_NAME, out_root, error=FolderBusyError):  # a second writer would fail videos
        return _run_unfinished(function, videos, root, out_root, report, jobs, kwargs or {}, progress, description)


def _run_unfinished(function, videos, root, out_root, report, jobs, kwargs, progress, description) -> ExtractionReport:
    """`run_over_videos` holding the output root's lock: skip the finished videos, run the others."""
    from tqdm import tqdm

    todo = []
    for video in videos:
        out_dir = output_dir_for(video, root, out_root)
        if is_complete(out_dir):
            report.skipped.append(video)
        else:
            todo.append((video, out_dir))

    bar = tqdm(total=len(videos), initial=len(report.skipped), desc=description, unit="video", disable=not progress)

    def record(video: Path, error: str | None) -> None:
        if error is None:
            report.written.append(video)
        else:
            report.failed.append((video, error))
            if progress:  # said as it happens in long runs; the caller lists all failures at the end anyway
                bar.write(f"failed: {video}: {error}", file=sys.stderr)
        bar.update(1)

    try:
        if jobs == 1 or len(todo) <= 1:
            for video, out_dir in todo:
                record(*_run_one(function, video, out_dir, kwargs))
        else:
            # "spawn": forking a process whose OpenCV / FFmpeg thread pools are running can deadlock the children.
            context = multiprocessing.get_context("spawn")
            workers = min(jobs, len(todo))
            pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_limit_worker_threads)
            try:
                with sigint_ignored():  # a spawning pool starts its workers in `submit`: they inherit it ignored
                    futures = {
                        pool.submit(_run_one, function, video, out_dir, kwargs): video for video, out_dir in todo
                    }
                for future in as_completed(futures):
                    try:
                        record(*future.result())
                    except Exception as error:  # noqa: BLE001
                        # The worker process died (e.g. a crash inside a native library). That breaks the pool,
                        # so the videos still queued are reported too; a rerun retries all of them.
                        record(futures[future], f"worker process failed: {type(error).__name__}: {error}")
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: do not start the videos still queued
                raise
            pool.shutdown()
    finally:
        bar.close()
    return report


def extract_dataset_flow(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dataset: str | None = None,
    jobs: int = 1,
    options: TVL1Options = TVL1Options(),
    size: tuple[int, int] | int | str | None = None,
    bound: float = FLOW_BOUND,
    jpeg_quality: int = 95,
    progress: bool = True,
    subtract_median: bool = False,
) -> ExtractionReport:
    """TV-L1 flow for every video under ``root`` into ``out/<class>/<video>/``, resumable and in parallel
    (``subtract_median``: see :func:`extract_video_flow`).

    Unreadable videos are reported in the returned :class:`ExtractionReport` and do not stop the others.
    """
    create_tvl1(options)  # fail once, here, when OpenCV contrib is missing, rather than once per video
    kwargs = {
        "options": options,
        "size": parse_size(size),
        "bound": bound,
        "jpeg_quality": jpeg_quality,
        "subtract_median": subtract_median,
    }
    return run_over_videos(
        extract_video_flow, root, out, dataset=dataset, jobs=jobs, kwargs=kwargs, progress=progress, description="flow"
    )


# ---------------------------------------------------------------------------------------------------------------
# Command line


def print_report(report: ExtractionReport, out: Path) -> int:
    """Print the outcome of a batch run; the exit code is 1 when any video failed."""
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for video, error in report.failed:
        print(f"failed: {video}: {error}", file=sys.stderr)
    print(f"{out}: {report.summary()}")
    return 0 if report.ok else 1


def cmd_flow(args: argparse.Namespace) -> int:
    base = FAST_TVL1 if args.fast else TVL1Options()
    overrides = {
        name: getattr(args, name)
        for name in ("nscales", "warps", "inner_iterations", "outer_iterations")
        if getattr(args, name) is not None
    }
    options = TVL1Options(**{**asdict(base), **overrides})
    if min(asdict(options)[name] for name in ("nscales", "warps", "inner_iterations", "outer_iterations")) < 1:
        raise ValueError("--nscales, --warps, --inner-iterations and --outer-iterations must be at least 1")
    if not 0 <= args.jpeg_quality <= 100:
        raise ValueError(f"--jpeg-quality must be within 0..100, got {args.jpeg_quality}")
    try:
        report = extract_dataset_flow(
            Path(root_from(args)),
            args.out,
            dataset=args.dataset,
            jobs=args.jobs,
            options=options,
            size=args.size,
            bound=args.bound,
            jpeg_quality=args.jpeg_quality,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:  # every finished video is already in place: say so, and how to go on
        print(
            f"interrupted: the videos finished so far are kept in {printable(args.out)}; the same command "
            "continues with the others (finished videos are skipped)",
            file=sys.stderr,
        )
        return 130
    return print_report(report, args.out)


def _size_argument(text: str) -> tuple[int, int] | int:
    """`parse_size` for argparse, whose error then names the option (`argument --video-size: size must be ...`)."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``actionlib flow ROOT --flow-frames FLOWROOT ...``."""
    parser = subparsers.add_parser(
        "flow",
        help="extract TV-L1 optical flow as JPEG folders (flow_x_00001.jpg, flow_y_00001.jpg, ...)",
        description="Compute TV-L1 optical flow (OpenCV contrib) for every video in ROOT/<class>/<video>.<ext> and "
        "write FLOWROOT/<class>/<video>/flow_x_%05d.jpg and flow_y_%05d.jpg, n-1 pairs for n frames, displacement "
        "clipped to +-BOUND px and mapped linearly to 0..255 (0 px -> 128), as in the thesis. Each video is "
        "written to a temporary folder and renamed into place when complete, so an interrupted run can simply be "
        "started again: finished videos are skipped. Unreadable videos are reported and skipped; the exit code "
        "is 1 if any video failed. Needs opencv-contrib-python-headless (pip install opencv-contrib-python-headless).",
    )
    add_root_argument(parser, "dataset root holding one folder of videos per class")
    add_renamed(
        parser,
        "--flow-frames",
        "--out",
        dest="out",
        type=Path,
        required=True,
        metavar="FLOWROOT",
        help="root the flow frame folders are written to, as `actionlib train --flow-frames` reads them (old name: "
        "--out)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="videos processed in parallel, one process each (default 1)"
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="dataset the root holds; only used to warn when the number of class folders is not the expected "
        "one (51 for hmdb51, 101 for ucf101). The layout is the same for all three.",
    )
    # `--size` is a crop in `train`: here it is the videos' frame size, named as `synth` names it
    add_renamed(
        parser,
        "--video-size",
        "--size",
        dest="size",
        type=_size_argument,
        default=None,
        help="resize frames before computing flow: N scales the shorter side to N pixels keeping the aspect "
        "ratio, WxH (e.g. 340x256) resizes exactly; flow is then in pixels of the resized frames. "
        "Default: the video's own size (old name: --size)",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="cheaper TV-L1 preset: nscales=3, warps=2, inner iterations 10, outer iterations 3 (about 3-4x "
        "faster, coarser on large motion); individual options below override it",
    )
    parser.add_argument("--nscales", type=int, default=None, help="pyramid levels (OpenCV default 5)")
    parser.add_argument("--warps", type=int, default=None, help="warpings per pyramid level (default 5)")
    parser.add_argument(
        "--inner-iterations", type=int, default=None, help="inner iterations of the solver (default 30)"
    )
    parser.add_argument(
        "--outer-iterations", type=int, default=None, help="outer iterations of the solver (default 10)"
    )
    parser.add_argument(
        "--bound", type=float, default=FLOW_BOUND, help="clip displacements to +-BOUND px before scaling (default 20)"
    )
    parser.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality 0..100 (default 95)")
    parser.add_argument("--quiet", "--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_flow)
    return parser


__all__ = [
    "FAST_TVL1",
    "FLOW_BOUND",
    "ExtractionReport",
    "FlowExtractionError",
    "TVL1Options",
    "add_parser",
    "atomic_output_dir",
    "compute_flow",
    "create_tvl1",
    "extract_dataset_flow",
    "extract_video_flow",
    "find_videos",
    "flow_to_uint8",
    "is_complete",
    "iter_video_frames",
    "parse_size",
    "run_over_videos",
    "subtract_median_motion",
    "uint8_to_flow",
]
