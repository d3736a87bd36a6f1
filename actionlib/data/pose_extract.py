"""Pose frames for real videos: MediaPipe Pose landmarks drawn as OpenPose-style skeleton images.

The thesis's pose stream (Section 3.2.6, Appendix B) reads OpenPose skeletons rendered as RGB images. OpenPose
needs Caffe models and a GPU to be practical, so this optional extractor uses MediaPipe Pose instead: its 33
landmarks are mapped onto OpenPose's BODY_25 joints and drawn with the same renderer as the synthetic dataset's
ground-truth skeletons (:mod:`actionlib.data.pose`), so a network sees one kind of pose image whatever the source.
Differences from the thesis's OpenPose frames, worth knowing when comparing numbers: MediaPipe tracks a single
person (OpenPose draws everyone), it has no small-toe landmarks (those two joints stay undrawn), and the neck and
mid-hip joints are the midpoints of the shoulders and of the hips.

Output layout, one JPEG per frame like the RGB frame folders, plus the joints for later use::

    <POSEROOT>/<class>/<video>/img_00001.jpg, ..., joints.npy   ((T, 25, 3): x, y in pixels, confidence)

Needs ``mediapipe==0.10.14`` (``pip install actionlib[pose]``): that release ships its full pose-landmark model in
the wheel, so extraction works offline; newer releases and MediaPipe's lite/heavy models download at run time.
Writing is atomic and resumable exactly as for optical flow (see :mod:`actionlib.data.flow`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from ..command_line import add_renamed, add_root_argument, root_from
from .flow import (
    DATASETS,
    MARKER_NAME,
    ExtractionReport,
    atomic_output_dir,
    is_complete,
    iter_video_frames,
    print_report,
    run_over_videos,
)
from .pose import BODY_25, frame_name, render_pose

MEDIAPIPE_VERSION = "0.10.14"
INSTALL_HINT = f"pip install actionlib[pose]  (mediapipe=={MEDIAPIPE_VERSION}, which ships its pose model)"
JOINTS_FILE = "joints.npy"

# MediaPipe Pose's 33 landmarks, in its order.
MEDIAPIPE_LANDMARKS = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

# BODY_25 joint -> the MediaPipe landmarks it is the mean of; () means MediaPipe has no such point. Both use the
# person's own left and right, so no mirroring is needed.
BODY_25_FROM_MEDIAPIPE: dict[str, tuple[str, ...]] = {
    "nose": ("nose",),
    "neck": ("left_shoulder", "right_shoulder"),
    "right_shoulder": ("right_shoulder",),
    "right_elbow": ("right_elbow",),
    "right_wrist": ("right_wrist",),
    "left_shoulder": ("left_shoulder",),
    "left_elbow": ("left_elbow",),
    "left_wrist": ("left_wrist",),
    "mid_hip": ("left_hip", "right_hip"),
    "right_hip": ("right_hip",),
    "right_knee": ("right_knee",),
    "right_ankle": ("right_ankle",),
    "left_hip": ("left_hip",),
    "left_knee": ("left_knee",),
    "left_ankle": ("left_ankle",),
    "right_eye": ("right_eye",),
    "left_eye": ("left_eye",),
    "right_ear": ("right_ear",),
    "left_ear": ("left_ear",),
    "left_big_toe": ("left_foot_index",),
    "left_small_toe": (),
    "left_heel": ("left_heel",),
    "right_big_toe": ("right_foot_index",),
    "right_small_toe": (),
    "right_heel": ("right_heel",),
}


def _mapping_indices() -> list[list[int]]:
    missing = set(BODY_25.joints) ^ set(BODY_25_FROM_MEDIAPIPE)
    if missing:  # guards against the renderer's joint set changing under us
        raise RuntimeError(f"BODY_25 mapping out of date for joints {sorted(missing)}")
    return [[MEDIAPIPE_LANDMARKS.index(name) for name in BODY_25_FROM_MEDIAPIPE[joint]] for joint in BODY_25.joints]


_SOURCES = _mapping_indices()


def mediapipe_to_body25(
    landmarks: np.ndarray | None, width: int, height: int, *, min_visibility: float = 0.5
) -> np.ndarray:
    """Turn MediaPipe landmarks into BODY_25 joints for :func:`~actionlib.data.pose.render_pose`.

    Args:
        landmarks: (..., 33, 3) normalised x, y (fractions of the width and height) and visibility, or
            (..., 33, 2) without visibility (taken as 1); None for a frame where nobody was found.
        width, height: frame size in pixels.
        min_visibility: landmarks less visible than this are treated as undetected (confidence 0), as OpenPose
            leaves out joints it does not find; a derived joint needs both of its landmarks.

    Returns:
        (..., 25, 3) float32: x, y in pixels and a confidence; undetected joints are NaN with confidence 0.
    """
    if landmarks is None:
        nobody = np.full((len(BODY_25.joints), 3), np.nan, dtype=np.float32)
        nobody[:, 2] = 0.0
        return nobody
    array = np.asarray(landmarks, dtype=np.float64)
    if array.ndim < 2 or array.shape[-2] != len(MEDIAPIPE_LANDMARKS) or array.shape[-1] not in (2, 3):
        raise ValueError(f"landmarks must have shape (..., 33, 2|3) (x, y[, visibility]), got {array.shape}")
    if array.shape[-1] == 2:
        array = np.concatenate([array, np.ones(array.shape[:-1] + (1,))], axis=-1)
    xy = array[..., :2] * np.array([width, height], dtype=np.float64)
    seen = (array[..., 2] >= min_visibility) & np.isfinite(xy).all(-1)
    joints = np.full(array.shape[:-2] + (len(BODY_25.joints), 3), np.nan)
    joints[..., 2] = 0.0
    for joint, sources in enumerate(_SOURCES):
        if not sources:
            continue
        found = seen[..., sources].all(-1)
        joints[..., joint, :2] = np.where(found[..., None], xy[..., sources, :].mean(-2), np.nan)
        joints[..., joint, 2] = np.where(found, array[..., sources, 2].min(-1), 0.0)
    return joints.astype(np.float32)


def require_mediapipe():
    """Import MediaPipe's pose solution or fail with the install command."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging: errors only
    try:
        import mediapipe
    except ImportError as error:
        raise ImportError(f"pose extraction needs MediaPipe, which is not installed: {INSTALL_HINT}") from error
    solutions = getattr(mediapipe, "solutions", None)
    if solutions is None or not hasattr(solutions, "pose"):
        raise ImportError(
            f"mediapipe {getattr(mediapipe, '__version__', '?')} has no mp.solutions.pose (removed in newer "
            f"releases); {INSTALL_HINT}"
        )
    return solutions.pose


def _landmark_array(result) -> np.ndarray | None:
    if result.pose_landmarks is None:
        return None
    return np.array([(point.x, point.y, point.visibility) for point in result.pose_landmarks.landmark])


def extract_video_pose(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    min_visibility: float = 0.5,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    jpeg_quality: int = 90,
    overwrite: bool = False,
) -> int:
    """Render one skeleton image per frame of a video into ``out_dir`` (``img_00001.jpg``, ...); return frames.

    MediaPipe runs in video mode (landmarks tracked from frame to frame, as OpenPose's per-frame detections are
    not, but much steadier on small people). Frames with nobody found are black, as OpenPose renders them. A
    folder finished by an earlier run is kept unless ``overwrite``.
    """
    from PIL import Image

    video_path, out_dir = Path(video_path), Path(out_dir)
    if not overwrite and is_complete(out_dir):
        return int(json.loads((out_dir / MARKER_NAME).read_text(encoding="utf-8")).get("frames", 0))
    pose_solution = require_mediapipe()
    marker = {
        "kind": "pose",
        "estimator": f"mediapipe pose (model complexity 1), mapped to {BODY_25.name}",
        "video": video_path.name,
        "min_visibility": min_visibility,
        "min_detection_confidence": min_detection_confidence,
        "min_tracking_confidence": min_tracking_confidence,
    }
    all_joints = []
    with (
        atomic_output_dir(out_dir, marker) as partial,
        warnings.catch_warnings(),
        pose_solution.Pose(
            static_image_mode=False,
            model_complexity=1,  # the only pose-landmark model inside the 0.10.14 wheel; 0 and 2 download
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        ) as estimator,
    ):
        warnings.filterwarnings("ignore", message=".*GetPrototype", category=UserWarning)  # protobuf, per frame
        for index, frame in enumerate(iter_video_frames(video_path), start=1):
            height, width = frame.shape[:2]
            joints = mediapipe_to_body25(
                _landmark_array(estimator.process(frame)), width, height, min_visibility=min_visibility
            )
            all_joints.append(joints)
            image = render_pose(joints, (width, height))
            Image.fromarray(image).save(partial / frame_name(index), quality=jpeg_quality)
        if not all_joints:
            raise ValueError(f"{video_path}: no frames decoded")
        np.save(partial / JOINTS_FILE, np.stack(all_joints))
        marker["frames"] = len(all_joints)  # the marker is written when the block exits
        marker["frames_with_person"] = int(sum(bool((j[:, 2] > 0).any()) for j in all_joints))
    return len(all_joints)


def extract_dataset_pose(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dataset: str | None = None,
    jobs: int = 1,
    min_visibility: float = 0.5,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    jpeg_quality: int = 90,
    progress: bool = True,
) -> ExtractionReport:
    """Pose frames for every video under ``root`` into ``out/<class>/<video>/``, resumable and in parallel."""
    require_mediapipe()  # fail once, here, rather than once per video
    kwargs = {
        "min_visibility": min_visibility,
        "min_detection_confidence": min_detection_confidence,
        "min_tracking_confidence": min_tracking_confidence,
        "jpeg_quality": jpeg_quality,
    }
    return run_over_videos(
        extract_video_pose, root, out, dataset=dataset, jobs=jobs, kwargs=kwargs, progress=progress, description="pose"
    )


def cmd_pose(args: argparse.Namespace) -> int:
    try:
        require_mediapipe()
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name in ("min_visibility", "min_detection_confidence", "min_tracking_confidence"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise ValueError(f"--{name.replace('_', '-')} must be within 0..1, got {getattr(args, name)}")
    if not 0 <= args.jpeg_quality <= 100:
        raise ValueError(f"--jpeg-quality must be within 0..100, got {args.jpeg_quality}")
    report = extract_dataset_pose(
        Path(root_from(args)),
        args.out,
        dataset=args.dataset,
        jobs=args.jobs,
        min_visibility=args.min_visibility,
        min_detection_confidence=args.min_detection_confidence,
        min_tracking_confidence=args.min_tracking_confidence,
        jpeg_quality=args.jpeg_quality,
        progress=not args.quiet,
    )
    return print_report(report, args.out)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``actionlib pose ROOT --pose-frames POSEROOT ...``."""
    parser = subparsers.add_parser(
        "pose",
        help="estimate human pose (MediaPipe) and render skeleton frames like OpenPose's (img_00001.jpg, ...)",
        description="Run MediaPipe Pose on every frame of every video in ROOT/<class>/<video>.<ext>, map its "
        "landmarks to OpenPose's BODY_25 joints and draw the skeletons as RGB images on black, written to "
        "POSEROOT/<class>/<video>/img_%05d.jpg with the joints in joints.npy. This stands in for the thesis's "
        "OpenPose frames (single person only; no small-toe joints). Each video is written to a temporary folder "
        "and renamed into place when complete, so an interrupted run can simply be started again: finished "
        "videos are skipped. Unreadable videos are reported and skipped; the exit code is 1 if any video failed. "
        f"Needs {INSTALL_HINT}.",
    )
    add_root_argument(parser, "dataset root holding one folder of videos per class")
    add_renamed(
        parser,
        "--pose-frames",
        "--out",
        dest="out",
        type=Path,
        required=True,
        metavar="POSEROOT",
        help="root the pose frame folders are written to, as `actionlib train --pose-frames` reads them (old name: "
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
        "one (51 for hmdb51, 101 for ucf101)",
    )
    parser.add_argument(
        "--min-visibility",
        type=float,
        default=0.5,
        help="joints MediaPipe rates less visible than this (0..1) are not drawn (default 0.5)",
    )
    parser.add_argument(
        "--min-detection-confidence",
        type=float,
        default=0.5,
        help="MediaPipe's person detection threshold, 0..1 (default 0.5)",
    )
    parser.add_argument(
        "--min-tracking-confidence",
        type=float,
        default=0.5,
        help="below this (0..1) MediaPipe re-detects the person instead of tracking it (default 0.5)",
    )
    parser.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 0..100 (default 90)")
    parser.add_argument("--quiet", "--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_pose)
    return parser


__all__ = [
    "BODY_25_FROM_MEDIAPIPE",
    "MEDIAPIPE_LANDMARKS",
    "add_parser",
    "extract_dataset_pose",
    "extract_video_pose",
    "mediapipe_to_body25",
    "require_mediapipe",
]
