"""Human pose as an image modality (thesis Section 3.2.6, Appendix B).

The thesis does not feed joint coordinates to its pose networks: it runs OpenPose on every frame and gives
the CNN the *rendered* skeleton, an RGB image with coloured limbs on a black background. The colour of a
limb tells the network which body part it is (left and right included), so the same image CNNs that read
RGB frames can read poses. This module draws such images from 2D joints in OpenPose's BODY_25 layout.

Two sources of joints use it: the synthetic dataset (ground-truth skeletons, see `synthetic.py`) and an
optional pose estimator run on real videos (MediaPipe, in the separate section at the end of this file).

Joints are given per frame as an array of shape (J, 2) (x, y in pixels), (J, 3) (x, y, confidence), or
(P, J, 2|3) for P people. A joint whose confidence is below `min_confidence`, or whose coordinates are not
finite, is missing: neither it nor its limbs are drawn, as OpenPose does for undetected joints.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "BODY_25",
    "SkeletonLayout",
    "frame_name",
    "render_pose",
    "render_pose_sequence",
    "write_pose_frames",
]


@dataclass(frozen=True)
class SkeletonLayout:
    """Joint names, the limbs that join them and one colour per limb (a joint takes its limb's colour)."""

    name: str
    joints: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    limb_colours: tuple[tuple[int, int, int], ...]

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    @property
    def joint_colours(self) -> tuple[tuple[int, int, int], ...]:
        """Each joint is coloured like the limb that ends in it (the trunk's first joint like the trunk)."""
        colours = [self.limb_colours[0]] * len(self.joints)
        seen = set()
        for (start, end), colour in zip(self.limbs, self.limb_colours, strict=True):
            if end not in seen:
                colours[end] = colour
                seen.add(end)
            if start not in seen:
                colours[start] = colour
                seen.add(start)
        return tuple(colours)


def _hsv(hue_degrees: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((hue_degrees % 360) / 360, 1.0, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


# OpenPose's BODY_25 joint order (the format of its JSON output and of its rendered images).
_BODY_25_JOINTS = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "mid_hip",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
    "left_big_toe",
    "left_small_toe",
    "left_heel",
    "right_big_toe",
    "right_small_toe",
    "right_heel",
)

# (limb, hue): a sweep like OpenPose's renderer uses: trunk red, right arm orange->yellow, left arm
# yellow-green->green, right leg green->cyan, left leg azure->blue, head magenta/purple. The exact RGB values
# are ours; what matters to a CNN is that every limb has its own, fixed colour.
_BODY_25_LIMBS_AND_HUES = (
    ((1, 8), 0),  # neck - mid hip (trunk)
    ((1, 2), 15),  # neck - right shoulder
    ((2, 3), 30),  # right upper arm
    ((3, 4), 50),  # right forearm
    ((1, 5), 70),  # neck - left shoulder
    ((5, 6), 90),  # left upper arm
    ((6, 7), 115),  # left forearm
    ((8, 9), 135),  # mid hip - right hip
    ((9, 10), 150),  # right thigh
    ((10, 11), 165),  # right shin
    ((8, 12), 185),  # mid hip - left hip
    ((12, 13), 205),  # left thigh
    ((13, 14), 225),  # left shin
    ((1, 0), 330),  # neck - nose
    ((0, 15), 310),  # nose - right eye
    ((15, 17), 295),  # right eye - right ear
    ((0, 16), 280),  # nose - left eye
    ((16, 18), 265),  # left eye - left ear
    ((14, 19), 240),  # left ankle - big toe
    ((19, 20), 240),  # left big toe - small toe
    ((14, 21), 240),  # left ankle - heel
    ((11, 22), 175),  # right ankle - big toe
    ((22, 23), 175),  # right big toe - small toe
    ((11, 24), 175),  # right ankle - heel
)

BODY_25 = SkeletonLayout(
    name="BODY_25",
    joints=_BODY_25_JOINTS,
    limbs=tuple(limb for limb, _ in _BODY_25_LIMBS_AND_HUES),
    limb_colours=tuple(_hsv(hue) for _, hue in _BODY_25_LIMBS_AND_HUES),
)


def frame_name(index: int) -> str:
    """1-based JPEG name used by every frame folder in the project: `img_00001.jpg`."""
    return f"img_{index:05d}.jpg"


def _as_people(joints: np.ndarray, layout: SkeletonLayout) -> np.ndarray:
    """Normalise one frame's joints to (P, J, 3) float with a confidence column."""
    array = np.asarray(joints, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[-1] not in (2, 3):
        raise ValueError(f"joints must have shape (J, 2|3) or (P, J, 2|3), got {np.shape(joints)}")
    if array.shape[1] != len(layout.joints):
        raise ValueError(f"{layout.name} has {len(layout.joints)} joints, got {array.shape[1]}")
    if array.shape[-1] == 2:
        array = np.concatenate([array, np.ones(array.shape[:2] + (1,))], axis=-1)
    return array


def _default_thickness(people: np.ndarray, visible: np.ndarray, height: int, width: int) -> int:
    """Scale the stroke with the people's size, as OpenPose scales its rendering with the person."""
    if not visible.any():
        return 1
    spans = []
    for person, seen in zip(people, visible, strict=True):
        if seen.sum() >= 2:
            xy = person[seen, :2]
            spans.append(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1])))
    span = max(spans) if spans else 0.15 * min(height, width)
    return int(max(1, round(0.035 * span)))


def render_pose(
    joints: np.ndarray,
    size: tuple[int, int],
    *,
    layout: SkeletonLayout = BODY_25,
    thickness: int | None = None,
    joint_radius: int | None = None,
    min_confidence: float = 0.05,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Draw one frame's skeleton(s) like OpenPose: coloured limbs and joint dots on black.

    Args:
        joints: (J, 2|3) or (P, J, 2|3) pixel coordinates (and confidences) in `layout` order.
        size: output (width, height).
        thickness: limb width in pixels; default grows with the person's size (at least 1).
        joint_radius: joint dot radius; default thickness // 2 + 1.
        min_confidence: joints below it are treated as missing.
        background: optional (H, W, 3) uint8 image to draw on instead of black.

    Returns:
        (H, W, 3) uint8 RGB image.
    """
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive (width, height), got {size}")
    people = _as_people(joints, layout)
    visible = np.isfinite(people[..., :2]).all(-1) & (np.nan_to_num(people[..., 2], nan=0.0) >= min_confidence)

    if background is None:
        image = Image.new("RGB", (width, height))
    else:
        if background.shape != (height, width, 3):
            raise ValueError(f"background must have shape {(height, width, 3)}, got {background.shape}")
        image = Image.fromarray(np.ascontiguousarray(background, dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    line_width = thickness if thickness is not None else _default_thickness(people, visible, height, width)
    radius = joint_radius if joint_radius is not None else line_width // 2 + 1

    joint_colours = layout.joint_colours
    for person, seen in zip(people, visible, strict=True):
        for (start, end), colour in zip(layout.limbs, layout.limb_colours, strict=True):
            if seen[start] and seen[end]:
                (x0, y0), (x1, y1) = person[start, :2], person[end, :2]
                draw.line([(x0, y0), (x1, y1)], fill=colour, width=line_width)
        for index in np.flatnonzero(seen):
            x, y = person[index, :2]
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=joint_colours[index])
    return np.asarray(image)


def render_pose_sequence(joints: Sequence[np.ndarray] | np.ndarray, size: tuple[int, int], **options) -> np.ndarray:
    """Render every frame of a sequence; returns (T, H, W, 3) uint8. Options as for `render_pose`."""
    frames = [render_pose(frame_joints, size, **options) for frame_joints in joints]
    if not frames:
        return np.zeros((0, int(size[1]), int(size[0]), 3), np.uint8)
    return np.stack(frames)


def write_pose_frames(frames: np.ndarray, folder: str | Path, *, quality: int = 90) -> list[Path]:
    """Write frames as `folder/img_00001.jpg`, ... (the frame-folder layout the readers expect)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, frame in enumerate(frames, start=1):
        path = folder / frame_name(index)
        Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).save(path, quality=quality)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------------------------------
# Pose estimation on real videos (optional MediaPipe extractor).
#
# The MediaPipe extractor for real videos is in pose_extract.py; it maps MediaPipe's landmarks to BODY_25 and
# renders them with `render_pose_sequence` above, so estimated and synthetic poses look the same to a network.
