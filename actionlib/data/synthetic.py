"""A synthetic action dataset in HMDB51's layout, built so that frame order matters.

The thesis motivates temporal modelling with two kinds of action pairs (Chapter 1, Figure 1.1): *reverse*
actions such as opening and closing a window, which one frame cannot tell apart, and actions that differ in
*speed*, such as walking and running. Real datasets mix these cues with many others. Here they are isolated:

* reversed pairs (sit_down/stand_up, raise_arm/lower_arm, open_door/close_door, pick_up/put_down): a video of
  the second class is, frame for frame, a video of the first class played backwards. Every frame of
  "stand_up" is, as a set, distributed exactly like the frames of "sit_down", so a model that ignores frame
  order (average pooling over frames, a single frame) is at chance on the pair;
* a speed pair (walk/run): the same body poses at the same amplitudes; only the cadence and the stride (how
  fast the camera-tracked background scrolls) differ, so a single frame cannot tell them apart either;
* appearance classes (wave, clap, jump, kick, punch, squat) that one frame does identify.

Each video is an articulated stick figure (head, torso, arms with elbows, legs with knees; its 2D joints are
the ground truth) on a random textured background, with camera jitter and random scale, position, facing,
colours, limb thickness ("clothing"), body proportions, speed and start phase. Actions fill a random part of
the video, so which clip is sampled matters.

Output (`generate`, or `actionlib synth OUT`):

    OUT/<class>/<class>_<NNN>.avi                                 videos (MPEG-4 Part 2 in AVI, as HMDB51)
    OUT/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt  `<video>.avi <1|2>` (1 train, 2 test)
    OUT/synthetic.json                                            parameters, classes, pairs, paths (written last)
    OUT_pose/<class>/<class>_<NNN>/img_00001.jpg ...              rendered ground-truth skeletons
    OUT_pose/joints.npz                                           BODY_25 joints, key "<class>/<video>"

The pose tree is a sibling of OUT (OUT_pose, i.e. OUT's path with "_pose" appended), in the frame-folder
layout, so OUT keeps exactly HMDB51's layout and can be read by the same code as the real dataset.

Videos are deterministic for a seed: every video has its own random stream keyed by (seed, class, index), so
a video does not depend on `jobs`, on the other classes selected or on the number of videos per class.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import os
import shutil
import sys
import textwrap
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..command_line import add_renamed, add_root_argument, root_from
from ..locks import FolderBusyError, FolderLock
from .pose import BODY_25, render_pose, write_pose_frames

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "DEFAULT_FRAMES",
    "DEFAULT_SIZE",
    "DEFAULT_VIDEOS_PER_CLASS",
    "FPS",
    "ActionClass",
    "RenderedVideo",
    "Trajectory",
    "VideoSpec",
    "add_parser",
    "generate",
    "get_class",
    "pose_root_for",
    "render",
    "reversed_pairs",
    "speed_pairs",
    "trajectory",
    "video_name",
    "video_spec",
]

FPS = 25
DEFAULT_VIDEOS_PER_CLASS = 30
DEFAULT_FRAMES = 40
DEFAULT_SIZE = (128, 96)  # width, height: HMDB51's 4:3 aspect (its videos are 320x240)
SPLITS_DIR = "testTrainMulti_7030_splits"
MANIFEST = "synthetic.json"
# Written first and removed after the manifest: a root holding it is an unfinished (killed) `actionlib synth`, which
# a rerun writes again.
PARTIAL = ".synth-partial"
JOINTS_FILE = "joints.npz"
TEST_FRACTION = 0.3
CODEC = "mpeg4"  # MPEG-4 Part 2, the family of HMDB51's DivX/XviD files
QUANTIZER = 3  # constant quantiser: compression does not depend on how much moves


# ------------------------------------------------------------------------------------------------ classes
@dataclass(frozen=True)
class ActionClass:
    """One synthetic action.

    group: "reversed" (one frame cannot tell it from its partner: the partner is this class backwards),
    "speed" (same poses as its partner, different cadence and stride) or "appearance" (one frame suffices).
    reverse_of: for the second class of a reversed pair, the class it is the time reversal of.
    """

    name: str
    description: str
    group: str
    partner: str | None = None
    reverse_of: str | None = None
    view: str = "profile"  # "profile" (side view) or "frontal"
    prop: str | None = None  # "chair", "door", "box" or None


def _reversed_pair(forward: str, backward: str, forward_text: str, backward_text: str, view: str, prop=None):
    return (
        ActionClass(forward, forward_text, "reversed", partner=backward, view=view, prop=prop),
        ActionClass(backward, backward_text, "reversed", partner=forward, reverse_of=forward, view=view, prop=prop),
    )


CLASSES: tuple[ActionClass, ...] = (
    *_reversed_pair(
        "sit_down",
        "stand_up",
        "stands in front of a chair and sits down on it",
        "sits on a chair and stands up (sit_down played backwards)",
        "profile",
        "chair",
    ),
    *_reversed_pair(
        "raise_arm",
        "lower_arm",
        "raises one straight arm sideways from the hip to above the head",
        "lowers a raised arm to the hip (raise_arm played backwards)",
        "frontal",
    ),
    *_reversed_pair(
        "open_door",
        "close_door",
        "pulls a door open by its handle, stepping along as it swings",
        "pushes an open door shut (open_door played backwards)",
        "profile",
        "door",
    ),
    *_reversed_pair(
        "pick_up",
        "put_down",
        "bends down, grips a box on the floor and stands up holding it",
        "bends down, sets a carried box on the floor and stands up (pick_up played backwards)",
        "profile",
        "box",
    ),
    ActionClass("walk", "walks, followed by the camera: 24-32 frames per gait cycle, short stride", "speed", "run"),
    ActionClass("run", "runs: the poses of walk at 10-14 frames per cycle and a longer stride", "speed", "walk"),
    ActionClass("wave", "waves one raised forearm from side to side", "appearance", view="frontal"),
    ActionClass("clap", "claps the hands in front of the chest", "appearance", view="frontal"),
    ActionClass("jump", "jumps repeatedly on the spot: crouch, take-off with the arms up, landing", "appearance"),
    ActionClass("kick", "kicks forward with one leg from a fighting guard", "appearance"),
    ActionClass("punch", "throws alternating straight punches from a boxing guard", "appearance"),
    ActionClass("squat", "squats down and up with the arms held forward", "appearance"),
)
CLASS_NAMES: tuple[str, ...] = tuple(action.name for action in CLASSES)
_BY_NAME = {action.name: action for action in CLASSES}


def get_class(name: str) -> ActionClass:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown synthetic class {name!r}; choose from: {', '.join(CLASS_NAMES)}") from None


def _pairs(group: str, classes) -> list[tuple[str, str]]:
    chosen = set(CLASS_NAMES if classes is None else classes)
    pairs = []
    for action in CLASSES:
        if (
            action.group == group
            and action.partner
            and CLASS_NAMES.index(action.name) < CLASS_NAMES.index(action.partner)
        ):
            if action.name in chosen and action.partner in chosen:
                pairs.append((action.name, action.partner))
    return pairs


def reversed_pairs(classes=None) -> list[tuple[str, str]]:
    """(forward, backward) class pairs that only frame order separates; restricted to `classes` if given."""
    return _pairs("reversed", classes)


def speed_pairs(classes=None) -> list[tuple[str, str]]:
    """(slow, fast) class pairs that only cadence and stride separate; restricted to `classes` if given."""
    return _pairs("speed", classes)


def video_name(action: str, index: int) -> str:
    """File stem of a video: `<class>_<index:03d>` (the video file is this plus `.avi`)."""
    return f"{action}_{index:03d}"


def pose_root_for(out: str | Path) -> Path:
    """Where the pose frames of dataset root `out` go: a sibling directory named `<out>_pose`."""
    out = Path(out)
    return out.with_name(out.name + "_pose")


# ------------------------------------------------------------------------------------------ video specs
@dataclass(frozen=True)
class VideoSpec:
    """Everything that determines one video. `key` seeds its random stream.

    `video_spec` derives the key from (seed, class, index). Replacing `action` while keeping the key renders
    the same random draws as another class: for a reversed pair, `replace(spec, action=partner)` gives exactly
    the time-reversed video (the tests use this).
    """

    action: str
    index: int
    frames: int
    width: int
    height: int
    key: tuple[int, ...]
    clutter: float = 1.0  # background texture and furniture: 1 as designed, 0 a plain wall and floor

    @property
    def name(self) -> str:
        return video_name(self.action, self.index)


def video_spec(
    action: str, index: int, seed: int = 0, frames: int = DEFAULT_FRAMES, size=DEFAULT_SIZE, clutter: float = 1.0
) -> VideoSpec:
    get_class(action)
    width, height = _parse_size(size)
    key = (int(seed), zlib.crc32(action.encode()), index)
    return VideoSpec(action, int(index), int(frames), width, height, key, float(clutter))


# --------------------------------------------------------------------------------------- small helpers
def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _window(rng, frames: int, low: float, high: float) -> tuple[int, int]:
    """A random (start, duration) covering a `low`..`high` fraction of the video."""
    duration = int(np.clip(round(frames * rng.uniform(low, high)), 2, frames))
    start = int(rng.integers(0, frames - duration + 1))
    return start, duration


def _progress(frames: int, start: int, duration: int) -> np.ndarray:
    """0 before the window, a smooth ramp to 1 inside it, 1 after it."""
    t = np.arange(frames, dtype=np.float64)
    return _smoothstep((t - start) / max(duration - 1, 1))


def _envelope(frames: int, start: int, duration: int, ramp: float) -> np.ndarray:
    """1 inside the window, smooth ramps of `ramp` frames at both ends, 0 outside."""
    t = np.arange(frames, dtype=np.float64)
    ramp = max(ramp, 1.0)
    rise = _smoothstep((t - start + 1) / ramp)
    fall = _smoothstep((start + duration - t) / ramp)
    return np.minimum(rise, fall)


def _smooth_noise(rng, frames: int, correlation: float) -> np.ndarray:
    """Stationary Gaussian noise with unit variance and a Gaussian autocorrelation of `correlation` frames."""
    radius = int(math.ceil(3 * correlation))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / correlation) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    white = rng.standard_normal(frames + 2 * radius)
    return np.convolve(white, kernel, mode="valid")[:frames]


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, float(np.clip(saturation, 0, 1)), float(np.clip(value, 0, 1)))
    return round(r * 255), round(g * 255), round(b * 255)


def _shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(round(c * factor), 0, 255)) for c in colour)


# ------------------------------------------------------------------------------------------- the body
@dataclass(frozen=True)
class _Body:
    """Segment lengths in body units (standing height is about 1)."""

    head_r: float
    neck: float
    torso: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    shoulder_w: float = 0.10
    hip_w: float = 0.055


def _random_body(rng) -> _Body:
    arms, legs, trunk = rng.uniform(0.93, 1.07, size=3)
    return _Body(
        head_r=0.065 * rng.uniform(0.92, 1.1),
        neck=0.04,
        torso=0.30 * trunk,
        upper_arm=0.165 * arms,
        forearm=0.16 * arms,
        thigh=0.245 * legs,
        shin=0.245 * legs,
        shoulder_w=0.10 * rng.uniform(0.9, 1.15),
        hip_w=0.055 * rng.uniform(0.9, 1.15),
    )


_ANGLES = ("torso", "head", "r_sh", "r_el", "l_sh", "l_el", "r_hip", "r_knee", "l_hip", "l_knee")
_J = {name: index for index, name in enumerate(BODY_25.joints)}
_HEAD = len(BODY_25.joints)  # extra internal joint: the centre of the drawn head
_FOOT_POINTS = [
    _J[f"{side}_{part}"] for side in ("right", "left") for part in ("ankle", "heel", "big_toe", "small_toe")
]


def _rest(view: str, frames: int) -> dict[str, np.ndarray]:
    """Neutral standing pose (degrees). Arm angles are relative to the torso, leg angles absolute."""
    if view == "frontal":  # the figure's right side is on the image's left: outward is negative for it
        values = dict(torso=0, head=0, r_sh=-7, r_el=4, l_sh=7, l_el=-4, r_hip=-3, r_knee=1, l_hip=3, l_knee=-1)
    else:  # facing +x; 0 = hanging down, positive = rotated forward
        values = dict(torso=2, head=0, r_sh=-4, r_el=10, l_sh=4, l_el=12, r_hip=2, r_knee=-2, l_hip=-2, l_knee=-2)
    return {name: np.full(frames, float(value)) for name, value in values.items()}


def _direction(angle):
    """Unit vector for an angle measured from straight down, positive towards +x (y points up)."""
    return np.stack([np.sin(angle), -np.cos(angle)], axis=-1)


def _rotate(offset, angle):
    """Rotate (x, y) offsets by the torso/head lean: positive lean tips them towards +x."""
    x, y = offset
    return np.stack([x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)], axis=-1)


def _forward_kinematics(angles: dict[str, np.ndarray], body: _Body, view: str) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions (T, 26, 2) in body units relative to the pelvis (y up), and confidences (26,)."""
    frames = len(angles["torso"])
    rad = {name: np.radians(angles[name]) for name in _ANGLES}
    tau = rad["torso"]
    up = np.stack([np.sin(tau), np.cos(tau)], axis=-1)
    across = np.stack([np.cos(tau), -np.sin(tau)], axis=-1)
    pelvis = np.zeros((frames, 2))
    neck = pelvis + body.torso * up
    head_angle = tau + rad["head"]
    head = neck + (body.neck + body.head_r) * np.stack([np.sin(head_angle), np.cos(head_angle)], axis=-1)
    frontal = view == "frontal"
    shoulder_w, hip_w = (body.shoulder_w, body.hip_w) if frontal else (0.012, 0.01)

    joints = np.zeros((frames, _HEAD + 1, 2))
    confidence = np.ones(_HEAD + 1)
    joints[:, _J["neck"]] = neck
    joints[:, _J["mid_hip"]] = pelvis
    joints[:, _HEAD] = head
    for side, sign in (("right", -1.0), ("left", 1.0)):
        s = side[0]
        shoulder = neck + sign * shoulder_w * across
        upper = tau + rad[f"{s}_sh"]
        elbow = shoulder + body.upper_arm * _direction(upper)
        wrist = elbow + body.forearm * _direction(upper + rad[f"{s}_el"])
        hip = pelvis + sign * hip_w * across
        thigh = rad[f"{s}_hip"]
        knee = hip + body.thigh * _direction(thigh)
        shin = thigh + rad[f"{s}_knee"]
        ankle = knee + body.shin * _direction(shin)
        down = _direction(shin)
        if frontal:  # the feet point at the camera: the toes show below the ankle
            inward = -sign * np.stack([np.cos(shin), np.sin(shin)], axis=-1)
            big_toe = ankle + 0.045 * down + 0.012 * inward
            small_toe = ankle + 0.04 * down - 0.016 * inward
            heel = ankle + 0.02 * down
        else:
            forward = _direction(shin + np.pi / 2)
            big_toe = ankle + 0.075 * forward + 0.03 * down
            small_toe = ankle + 0.058 * forward + 0.03 * down
            heel = ankle - 0.03 * forward + 0.03 * down
        parts = dict(shoulder=shoulder, elbow=elbow, wrist=wrist, hip=hip, knee=knee, ankle=ankle, heel=heel)
        parts.update(big_toe=big_toe, small_toe=small_toe)
        for name, value in parts.items():
            joints[:, _J[f"{side}_{name}"]] = value

    r = body.head_r
    if frontal:
        face = {
            "nose": (0.0, -0.15),
            "right_eye": (-0.38, 0.18),
            "left_eye": (0.38, 0.18),
            "right_ear": (-0.95, 0.05),
            "left_ear": (0.95, 0.05),
        }
    else:  # facing +x, left side towards the camera: the right ear is hidden
        face = {
            "nose": (0.85, -0.15),
            "left_eye": (0.5, 0.2),
            "right_eye": (0.66, 0.2),
            "left_ear": (-0.15, 0.05),
            "right_ear": (-0.15, 0.05),
        }
        confidence[_J["right_ear"]] = 0.0
    for name, (dx, dy) in face.items():
        joints[:, _J[name]] = head + _rotate((dx * r, dy * r), head_angle)
    return joints, confidence


# ------------------------------------------------------------------------------------------ the motions
@dataclass
class _Motion:
    angles: dict[str, np.ndarray]
    anchor: str = "feet"  # what stays put horizontally: "feet", "pelvis", "right_ankle", "left_ankle"
    lift: np.ndarray | None = None  # body units above the ground (jumps)
    advance: np.ndarray | None = None  # body units the figure moves forward (door)
    pan: np.ndarray | None = None  # body units the tracking camera moves forward (walk, run)
    prop: dict = field(default_factory=dict)


def _blend(rest: dict, active: dict, weight: np.ndarray) -> dict:
    return {name: rest[name] + weight * (active.get(name, rest[name]) - rest[name]) for name in rest}


def _sit_down(rng, frames):
    a = _rest("profile", frames)
    p = _progress(frames, *_window(rng, frames, 0.45, 0.8))
    bump = np.sin(np.pi * p)
    lean = rng.uniform(25, 40)
    a["torso"] = 2 + 6 * p + lean * bump
    a["head"] = -0.4 * lean * bump
    for s, offset in (("r", 2.0), ("l", -1.0)):
        a[f"{s}_hip"] = (88 + offset) * p + a[f"{s}_hip"] * (1 - p)
        a[f"{s}_knee"] = -(88 + offset) * p + a[f"{s}_knee"] * (1 - p)
        a[f"{s}_sh"] = a[f"{s}_sh"] + 18 * p + 30 * bump
        a[f"{s}_el"] = a[f"{s}_el"] + 35 * p
    return _Motion(a, anchor="feet", prop={"kind": "chair", "progress": p})


def _raise_arm(rng, frames):
    a = _rest("frontal", frames)
    p = _progress(frames, *_window(rng, frames, 0.45, 0.8))
    top = rng.uniform(160, 178)
    side, sign = ("r", -1.0) if rng.random() < 0.5 else ("l", 1.0)
    a[f"{side}_sh"] = sign * (7 + (top - 7) * p)
    a[f"{side}_el"] = a[f"{side}_el"] * (1 - p) - sign * 6 * np.sin(np.pi * p)
    a["torso"] = -sign * 3 * p  # lean slightly away from the raised arm
    return _Motion(a, anchor="feet")


def _open_door(rng, frames):
    a = _rest("profile", frames)
    p = _progress(frames, *_window(rng, frames, 0.45, 0.8))
    width = rng.uniform(0.28, 0.36)
    opening = np.radians(rng.uniform(65, 85)) * p
    advance = width * (1 - np.cos(opening))  # the handle moves towards the hinge; the figure follows it
    a["l_sh"] = np.full(frames, rng.uniform(55, 70))
    a["l_el"] = np.full(frames, rng.uniform(10, 25))
    step = 2 * np.pi * advance / 0.22
    for s, phase in (("r", 0.0), ("l", np.pi)):
        a[f"{s}_hip"] = a[f"{s}_hip"] + 10 * np.sin(step + phase)
        a[f"{s}_knee"] = a[f"{s}_knee"] - 14 * np.maximum(0, np.cos(step + phase))
    a["torso"] = a["torso"] + 4
    prop = {"kind": "door", "width": width, "height": rng.uniform(1.0, 1.12), "angle": opening}
    return _Motion(a, anchor="pelvis", advance=advance, prop=prop)


def _pick_up(rng, frames):
    a = _rest("profile", frames)
    p = _progress(frames, *_window(rng, frames, 0.5, 0.85))
    bend = np.sin(np.pi * p)
    lean = rng.uniform(75, 85) * bend
    a["torso"] = 2 + lean
    a["head"] = -0.45 * lean
    carry = _smoothstep((p - 0.5) / 0.5)
    hold_sh, hold_el = rng.uniform(18, 30), rng.uniform(65, 85)
    for s, offset in (("r", 4.0), ("l", 0.0)):
        a[f"{s}_hip"] = (45 + offset) * bend + a[f"{s}_hip"] * (1 - bend)
        a[f"{s}_knee"] = -(70 + offset) * bend + a[f"{s}_knee"] * (1 - bend)
        hang = -lean + 3 + offset  # arms straight down while bending
        a[f"{s}_sh"] = (1 - carry) * hang + carry * (hold_sh + offset)
        a[f"{s}_el"] = (1 - carry) * 5 + carry * hold_el
    prop = {"kind": "box", "progress": p, "width": rng.uniform(0.12, 0.18)}
    return _Motion(a, anchor="feet", prop=prop)


def _gait(rng, frames, cycle_frames: tuple[float, float], stride: tuple[float, float]):
    """Walking and running share this: same poses and amplitudes, different cadence and stride."""
    a = _rest("profile", frames)
    cadence = 1.0 / rng.uniform(*cycle_frames)  # gait cycles per frame
    theta = 2 * np.pi * (rng.random() + cadence * np.arange(frames))
    hip, knee, arm = rng.uniform(22, 30), rng.uniform(35, 50), rng.uniform(20, 32)
    elbow = rng.uniform(15, 35)
    a["torso"] = np.full(frames, rng.uniform(3, 8))
    for s, phase in (("r", 0.0), ("l", np.pi)):
        a[f"{s}_hip"] = hip * np.sin(theta + phase)
        a[f"{s}_knee"] = -(4 + knee * np.maximum(0, np.cos(theta + phase)) ** 1.5)
        a[f"{s}_sh"] = -arm * np.sin(theta + phase)
        a[f"{s}_el"] = elbow + 8 * np.sin(theta + phase)
    pan = cadence * rng.uniform(*stride) * np.arange(frames)
    return _Motion(a, anchor="pelvis", pan=pan)


def _walk(rng, frames):
    return _gait(rng, frames, (24, 32), (0.75, 0.95))


def _run(rng, frames):
    return _gait(rng, frames, (10, 14), (1.4, 1.8))


def _active_window(rng, frames):
    start, duration = _window(rng, frames, 0.65, 1.0)
    return _envelope(frames, start, duration, ramp=rng.uniform(3, 6))


def _wave(rng, frames):
    rest = _rest("frontal", frames)
    env = _active_window(rng, frames)
    theta = 2 * np.pi * (rng.random() + np.arange(frames) / rng.uniform(7, 12))
    raised, swing = rng.uniform(115, 140), rng.uniform(20, 35)
    side, sign = ("r", -1.0) if rng.random() < 0.5 else ("l", 1.0)
    forearm = raised - 180 + swing * np.sin(theta)  # relative angle that keeps the forearm about vertical
    active = {f"{side}_sh": np.full(frames, sign * raised), f"{side}_el": -sign * forearm}
    return _Motion(_blend(rest, active, env))


def _clap(rng, frames):
    rest = _rest("frontal", frames)
    env = _active_window(rng, frames)
    theta = 2 * np.pi * (rng.random() + np.arange(frames) / rng.uniform(8, 12))
    upper = rng.uniform(6, 14)
    forearm = 126 + rng.uniform(28, 38) * (0.5 + 0.5 * np.cos(theta))  # absolute, towards the midline
    active = {
        "r_sh": np.full(frames, -upper),
        "r_el": forearm + upper,
        "l_sh": np.full(frames, upper),
        "l_el": -(forearm + upper),
    }
    return _Motion(_blend(rest, active, env))


def _jump(rng, frames):
    rest = _rest("profile", frames)
    env = _active_window(rng, frames)
    u = (rng.random() + np.arange(frames) / rng.uniform(14, 22)) % 1.0
    ground = u < 0.4
    crouch = np.where(ground, np.sin(np.pi * np.minimum(u, 0.4) / 0.4), 0.0)
    flight = np.where(ground, 0.0, (u - 0.4) / 0.6)
    tuck = np.sin(np.pi * flight)
    height = rng.uniform(0.10, 0.22)
    arms = np.where(ground, -40 * crouch, 160 * tuck)
    active = {
        "torso": 25 * crouch,
        "head": -10 * crouch,
        "r_sh": arms - 4,
        "l_sh": arms + 4,
        "r_el": np.full(frames, 15.0),
        "l_el": np.full(frames, 20.0),
    }
    for s, offset in (("r", 4.0), ("l", -3.0)):
        active[f"{s}_hip"] = 55 * crouch + 25 * tuck + offset
        active[f"{s}_knee"] = -95 * crouch - 50 * tuck
    lift = env * height * 4 * flight * (1 - flight)
    return _Motion(_blend(rest, active, env), anchor="feet", lift=lift)


def _guard(a, frames, rng):
    for s in ("r", "l"):
        a[f"{s}_sh"] = np.full(frames, rng.uniform(35, 50))
        a[f"{s}_el"] = np.full(frames, rng.uniform(95, 115))


def _kick(rng, frames):
    a = _rest("profile", frames)
    _guard(a, frames, rng)
    kicker, support = ("r", "l") if rng.random() < 0.5 else ("l", "r")
    a[f"{support}_hip"] = np.full(frames, -6.0)
    a[f"{kicker}_hip"] = np.full(frames, 8.0)
    kicks = 1 if frames < 32 else int(rng.integers(1, 3))
    part = frames // kicks
    height = rng.uniform(75, 100)
    for k in range(kicks):
        duration = int(min(part, round(rng.uniform(10, 16))))
        start = k * part + int(rng.integers(0, part - duration + 1))
        x = np.clip((np.arange(frames) - start) / max(duration - 1, 1), 0, 1)
        raise_ = np.sin(np.pi * x) ** 2
        a[f"{kicker}_hip"] = a[f"{kicker}_hip"] + height * raise_
        a[f"{kicker}_knee"] = a[f"{kicker}_knee"] - 85 * np.sin(2 * np.pi * x) ** 2
        a["torso"] = a["torso"] - 15 * raise_
    return _Motion(a, anchor=f"{'right' if support == 'r' else 'left'}_ankle")


def _punch(rng, frames):
    rest = _rest("profile", frames)
    rest["r_hip"], rest["l_hip"] = np.full(frames, 15.0), np.full(frames, -15.0)
    rest["r_knee"], rest["l_knee"] = np.full(frames, -8.0), np.full(frames, -8.0)
    _guard(rest, frames, rng)
    env = _active_window(rng, frames)
    u = (rng.random() + np.arange(frames) / rng.uniform(9, 14)) % 1.0
    reach, straight = rng.uniform(80, 92), rng.uniform(0, 10)
    active = {}
    for s, lo in (("r", 0.0), ("l", 0.5)):
        inside = (u >= lo) & (u < lo + 0.5)
        extend = np.where(inside, np.sin(2 * np.pi * (u - lo)) ** 2, 0.0)
        active[f"{s}_sh"] = rest[f"{s}_sh"] + extend * (reach - rest[f"{s}_sh"])
        active[f"{s}_el"] = rest[f"{s}_el"] + extend * (straight - rest[f"{s}_el"])
    active["torso"] = rest["torso"] + 6
    return _Motion(_blend(rest, active, env))


def _squat(rng, frames):
    rest = _rest("profile", frames)
    env = _active_window(rng, frames)
    depth = rng.uniform(0.8, 1.0)
    k = depth * (0.5 - 0.5 * np.cos(2 * np.pi * (rng.random() + np.arange(frames) / rng.uniform(18, 28))))
    torso = 35 * k
    active = {"torso": torso, "head": -0.5 * torso}
    for s, offset in (("r", 3.0), ("l", -2.0)):
        active[f"{s}_hip"] = 95 * k + offset
        active[f"{s}_knee"] = -115 * k
        active[f"{s}_sh"] = 3 + 82 * k - torso + offset
        active[f"{s}_el"] = np.full(frames, 5.0)
    return _Motion(_blend(rest, active, env))


_MOTIONS = {
    "sit_down": _sit_down,
    "raise_arm": _raise_arm,
    "open_door": _open_door,
    "pick_up": _pick_up,
    "walk": _walk,
    "run": _run,
    "wave": _wave,
    "clap": _clap,
    "jump": _jump,
    "kick": _kick,
    "punch": _punch,
    "squat": _squat,
}


# --------------------------------------------------------------------------------------------- props
def _prop_geometry(motion: _Motion, joints: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame prop shapes in body units (ground at y = 0), from the animated joints."""
    prop = motion.prop
    frames = len(joints)
    if prop.get("kind") == "chair":
        end = int(np.argmax(prop["progress"]))
        x, y = joints[end, _J["mid_hip"]]
        seat = y - 0.04
        back = seat + 0.27
        lines = np.array(
            [
                [[x - 0.09, seat], [x + 0.15, seat]],  # seat
                [[x - 0.09, seat], [x - 0.09, back]],  # backrest
                [[x - 0.08, seat], [x - 0.08, 0.0]],  # back leg
                [[x + 0.14, seat], [x + 0.14, 0.0]],  # front leg
            ]
        )
        return {"chair": np.broadcast_to(lines, (frames,) + lines.shape).copy()}
    if prop.get("kind") == "box":
        wrists = 0.5 * (joints[:, _J["right_wrist"]] + joints[:, _J["left_wrist"]])
        attach = int(np.argmax(prop["progress"] >= 0.5))
        height = float(np.clip(wrists[attach, 1] + 0.02, 0.06, 0.16))
        half = prop["width"] / 2
        top = np.where((np.arange(frames) >= attach)[:, None], wrists + [0, 0.02], [wrists[attach, 0], height])
        boxes = np.stack([top[:, 0] - half, top[:, 1] - height, top[:, 0] + half, top[:, 1]], axis=-1)
        return {"box": boxes}
    if prop.get("kind") == "door":
        wrist = joints[:, _J["left_wrist"]]
        width, height, angle = prop["width"], prop["height"], prop["angle"]
        hinge = wrist[0, 0] + width  # closed at the first frame of the opening motion
        edge = hinge - width * np.cos(angle)
        grow = 1 + 0.25 * np.sin(angle)  # the free edge swings towards the camera and looks taller
        mid = height / 2
        leaf = np.stack(
            [
                np.stack([np.full(frames, hinge), np.zeros(frames)], -1),
                np.stack([np.full(frames, hinge), np.full(frames, height)], -1),
                np.stack([edge, mid + grow * mid], -1),
                np.stack([edge, mid - grow * mid], -1),
            ],
            axis=1,
        )
        doorway = np.tile([hinge - width, 0.0, hinge, height], (frames, 1))
        return {"doorway": doorway, "leaf": leaf, "handle": wrist.copy()}
    return {}


# ------------------------------------------------------------------------------------------ trajectory
@dataclass
class Trajectory:
    """A video's ground truth, in frame pixel coordinates (x right, y down).

    joints: (T, 25, 3) BODY_25 x, y, confidence (0 for hidden or out-of-frame joints).
    tracks: per-frame arrays used for drawing: head centre, camera offset into the background, props.
    look: static appearance (colours, stroke widths, background seed, view, facing).
    """

    joints: np.ndarray
    tracks: dict[str, np.ndarray]
    look: dict

    def reversed(self) -> Trajectory:
        return Trajectory(
            self.joints[::-1].copy(), {name: value[::-1].copy() for name, value in self.tracks.items()}, self.look
        )


def _appearance(rng) -> dict:
    skin_hue = rng.uniform(0.03, 0.1)
    return {
        "skin": _colour(skin_hue, rng.uniform(0.25, 0.6), rng.uniform(0.45, 0.95)),
        "shirt": _colour(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.55, 1.0)),
        "pants": _colour(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.85)),
        "clothing": rng.uniform(0.75, 1.4),
        "prop": _colour(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.35, 0.8)),
        "doorway": _colour(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.05, 0.2)),
        "background_seed": int(rng.integers(0, 2**63 - 1)),
    }


def trajectory(spec: VideoSpec) -> Trajectory:
    """The ground-truth animation of one video (no pixels). Reversed classes are their partner backwards."""
    action = get_class(spec.action)
    source = get_class(action.reverse_of) if action.reverse_of else action
    rng = np.random.default_rng(np.random.SeedSequence(list(spec.key)))
    frames, width, height = spec.frames, spec.width, spec.height

    look = _appearance(rng)
    look["view"] = source.view
    body = _random_body(rng)
    motion = _MOTIONS[source.name](rng, frames)
    for name in _ANGLES:  # nobody holds still: a little smooth sway on every joint
        motion.angles[name] = motion.angles[name] + (1.5 if name == "torso" else 2.5) * _smooth_noise(rng, frames, 4)

    joints, confidence = _forward_kinematics(motion.angles, body, source.view)
    ground = joints[:, _FOOT_POINTS, 1].min(axis=1)
    if motion.anchor == "feet":
        anchor_x = 0.5 * (joints[:, _J["right_ankle"], 0] + joints[:, _J["left_ankle"], 0])
    elif motion.anchor == "pelvis":
        anchor_x = np.zeros(frames)
    else:
        anchor_x = joints[:, _J[motion.anchor], 0]
    shift = np.stack([-anchor_x, -ground], axis=-1)
    if motion.lift is not None:
        shift[:, 1] += motion.lift
    if motion.advance is not None:
        shift[:, 0] += motion.advance
    joints = joints + shift[:, None, :]
    props = _prop_geometry(motion, joints)

    # Place the figure: scale, facing and position, everything (props included) inside the frame.
    facing = 1.0 if rng.random() < 0.5 else -1.0
    scale = rng.uniform(0.55, 0.78) * height  # pixels per body unit
    jitter_amplitude = rng.uniform(0.0, 2.0)
    margin = 3 + 3 * jitter_amplitude
    xs = [joints[..., 0].ravel(), (joints[:, _HEAD, 0][:, None] + [-body.head_r, body.head_r]).ravel()]
    ys = [joints[..., 1].ravel(), joints[:, _HEAD, 1] + body.head_r]
    for value in props.values():
        flat = value.reshape(frames, -1)
        if value.shape[-1] == 2:
            xs.append(flat[:, 0::2].ravel())
            ys.append(flat[:, 1::2].ravel())
        else:  # boxes (x0, y0, x1, y1)
            xs.append(flat[:, [0, 2]].ravel())
            ys.append(flat[:, [1, 3]].ravel())
    xs, ys = facing * np.concatenate(xs), np.concatenate(ys)
    pad = 0.06  # limb thickness
    x_low, x_high, top = xs.min() - pad, xs.max() + pad, ys.max() + pad
    scale = min(scale, (width - 2 * margin) / (x_high - x_low))
    ground_y = rng.uniform(0.88, 0.97) * height
    scale = min(scale, (ground_y - margin) / top)
    origin_x = rng.uniform(margin - x_low * scale, width - margin - x_high * scale)

    def to_image(points):
        points = np.asarray(points, dtype=np.float64)
        return np.stack([origin_x + facing * scale * points[..., 0], ground_y - scale * points[..., 1]], axis=-1)

    # Camera: smooth jitter, and for walk/run a pan that tracks the figure (the background scrolls past).
    jitter = jitter_amplitude * np.clip(
        np.stack([_smooth_noise(rng, frames, 3), _smooth_noise(rng, frames, 3)], -1), -3, 3
    )
    pan = np.zeros(frames) if motion.pan is None else facing * scale * motion.pan
    canvas_margin = int(math.ceil(3 * jitter_amplitude)) + 1
    pan_min = pan.min()
    camera = np.round(np.stack([canvas_margin + pan - pan_min + jitter[:, 0], canvas_margin + jitter[:, 1]], -1))
    # The figure moves with the world (the pan) but not with the jitter: its frame offset is world - camera.
    offset = np.stack([canvas_margin + pan - pan_min, np.full(frames, float(canvas_margin))], -1) - camera

    image_joints = to_image(joints) + offset[:, None, :]
    body_joints = image_joints[:, : len(BODY_25.joints)]
    inside = (
        (body_joints[..., 0] >= 0)
        & (body_joints[..., 0] <= width - 1)
        & (body_joints[..., 1] >= 0)
        & (body_joints[..., 1] <= height - 1)
    )
    conf = np.broadcast_to(confidence[: len(BODY_25.joints)], inside.shape) * inside
    if facing < 0:  # a mirrored figure is seen from its other side: its left and right swap
        swap = [BODY_25.joints.index(_swap_side(name)) for name in BODY_25.joints]
        body_joints, conf = body_joints[:, swap], conf[:, swap]
    tracks = {
        "head": image_joints[:, _HEAD],
        "camera": camera.astype(np.int64),
    }
    for name, value in props.items():
        if value.shape[-1] == 2:
            tracks[name] = to_image(value) + offset.reshape((frames,) + (1,) * (value.ndim - 2) + (2,))
        else:
            corners = to_image(value.reshape(frames, 2, 2)) + offset[:, None, :]
            tracks[name] = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=-1)
    look.update(
        facing=facing,
        scale=scale,
        head_radius=body.head_r * scale,
        canvas=(height + 2 * canvas_margin, width + 2 * canvas_margin + int(math.ceil(pan.max() - pan_min)) + 1),
        horizon=canvas_margin + ground_y - scale * rng.uniform(0.08, 0.35),
        prop_kind=motion.prop.get("kind"),
    )
    result = Trajectory(np.concatenate([body_joints, conf[..., None]], axis=-1), tracks, look)
    return result.reversed() if action.reverse_of else result


def _swap_side(name: str) -> str:
    if name.startswith("right_"):
        return "left_" + name[len("right_") :]
    if name.startswith("left_"):
        return "right_" + name[len("left_") :]
    return name


# ------------------------------------------------------------------------------------------- rendering
def _background(look: dict, clutter: float = 1.0) -> np.ndarray:
    """A random textured scene: wall with blotches, gratings and 'furniture' rectangles, and a floor.

    `clutter` scales the texture and the amount of furniture (0: plain wall and floor), for studies of how much
    the scene matters. (Measured: it is not what stops RGB learning on CPU; a narrow ResNet18 trained from scratch
    for 24 epochs reached 12-16 % test Top-1 on plain scenes as on cluttered ones, against ~60 % on pose frames.)
    """
    rng = np.random.default_rng(look["background_seed"])
    rows, cols = look["canvas"]
    horizon = int(round(look["horizon"]))
    wall = np.array(_colour(rng.random(), rng.uniform(0.05, 0.5), rng.uniform(0.25, 0.7)), np.float32)
    floor = np.array(_colour(rng.random(), rng.uniform(0.05, 0.5), rng.uniform(0.2, 0.6)), np.float32)
    image = np.empty((rows, cols, 3), np.float32)
    image[:horizon] = wall
    image[horizon:] = floor

    coarse = rng.normal(0, 1, (rows // 12 + 2, cols // 12 + 2, 3))
    coarse = ((coarse - coarse.min()) / (np.ptp(coarse) + 1e-6) * 255).astype(np.uint8)
    blotches = np.asarray(Image.fromarray(coarse).resize((cols, rows), Image.BILINEAR), np.float32) - 127.5
    image += blotches * rng.uniform(0.1, 0.35) * clutter

    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):
        angle, frequency = rng.uniform(0, np.pi), rng.uniform(0.03, 0.2)
        wave = np.sin(2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
        tint = rng.uniform(0.5, 1.0, 3).astype(np.float32)
        image += rng.uniform(5, 16) * wave[..., None] * tint * clutter

    count = int(round((int(rng.poisson(rows * cols / 2500)) + 1) * clutter))
    for _ in range(count):
        h, w = rng.integers(6, max(7, rows // 2)), rng.integers(6, max(7, rows // 2))
        top, left = rng.integers(0, max(1, horizon - h // 2)), rng.integers(0, cols)
        colour = np.array(_colour(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.75)), np.float32)
        image[top : top + h, left : left + w] = colour + rng.normal(0, 6, 3)

    stripes = (np.floor((y[horizon:] - horizon) ** 1.2 / rng.uniform(3, 7)) % 2)[..., None]
    image[horizon:] += stripes * rng.uniform(-18, 18) * clutter
    image += rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _stroke(draw, a, b, colour, width):
    draw.line([tuple(a), tuple(b)], fill=colour, width=max(1, int(round(width))))
    r = width / 2
    for x, y in (a, b):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)


def _draw_frame(draw, joints, head, props, t, look):
    scale, clothing = look["scale"], look["clothing"]
    arm_w, leg_w, trunk_w = 0.045 * scale * clothing, 0.055 * scale * clothing, 0.09 * scale * clothing
    j = {name: joints[index, :2] for index, name in enumerate(BODY_25.joints)}
    shirt, pants, skin = look["shirt"], look["pants"], look["skin"]
    frontal = look["view"] == "frontal"
    near, far = "left", "right"  # in the figure's own frame it faces +x and shows its left side

    def leg(side, shade):
        _stroke(draw, j[f"{side}_hip"], j[f"{side}_knee"], _shade(pants, shade), leg_w)
        _stroke(draw, j[f"{side}_knee"], j[f"{side}_ankle"], _shade(pants, shade), leg_w * 0.9)
        _stroke(draw, j[f"{side}_heel"], j[f"{side}_big_toe"], _shade((40, 40, 40), shade), leg_w * 0.8)

    def arm(side, shade):
        _stroke(draw, j[f"{side}_shoulder"], j[f"{side}_elbow"], _shade(shirt, shade), arm_w)
        _stroke(draw, j[f"{side}_elbow"], j[f"{side}_wrist"], _shade(skin, shade), arm_w * 0.9)

    if "chair" in props:
        for a, b in props["chair"][t]:
            _stroke(draw, a, b, look["prop"], 0.028 * scale)
    if "doorway" in props:
        x0, y0, x1, y1 = props["doorway"][t]
        draw.rectangle([x0, y0, x1, y1], fill=look["doorway"])
        draw.rectangle([x0, y0, x1, y1], outline=_shade(look["prop"], 0.6), width=max(1, round(0.02 * scale)))
        draw.polygon([tuple(p) for p in props["leaf"][t]], fill=look["prop"], outline=_shade(look["prop"], 0.7))

    if frontal:
        leg("right", 1.0)
        leg("left", 1.0)
    else:
        arm(far, 0.7)
        leg(far, 0.7)
    _stroke(draw, j["neck"], j["mid_hip"], shirt, trunk_w)
    if frontal:
        _stroke(draw, j["right_shoulder"], j["left_shoulder"], shirt, arm_w * 1.2)
        _stroke(draw, j["right_hip"], j["left_hip"], pants, leg_w)
    hx, hy = head[t]
    r = look["head_radius"]
    draw.ellipse([hx - r, hy - r, hx + r, hy + r], fill=skin)
    if "box" in props:
        x0, y0, x1, y1 = props["box"][t]
        draw.rectangle([x0, y0, x1, y1], fill=look["prop"], outline=_shade(look["prop"], 0.6))
    if frontal:
        arm("right", 1.0)
        arm("left", 1.0)
    else:
        leg(near, 1.0)
        arm(near, 1.0)
    if "handle" in props:
        x, y = props["handle"][t]
        r = max(1.0, 0.02 * scale)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_shade(look["prop"], 0.4))


@dataclass
class RenderedVideo:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB video frames
    pose: np.ndarray  # (T, H, W, 3) uint8 rendered ground-truth skeletons
    trajectory: Trajectory


def render(spec: VideoSpec, traj: Trajectory | None = None) -> RenderedVideo:
    """Pixels of one video and of its pose frames."""
    traj = trajectory(spec) if traj is None else traj
    background = _background(traj.look, spec.clutter)
    width, height = spec.width, spec.height
    props = {name: value for name, value in traj.tracks.items() if name not in ("head", "camera")}
    frames = np.empty((spec.frames, height, width, 3), np.uint8)
    poses = np.empty_like(frames)
    # Draw with the figure's own (unswapped) sides: undo the left/right relabelling of mirrored figures.
    joints = traj.joints
    if traj.look["facing"] < 0:
        swap = [BODY_25.joints.index(_swap_side(name)) for name in BODY_25.joints]
        joints = joints[:, swap]
    for t in range(spec.frames):
        cx, cy = traj.tracks["camera"][t]
        image = Image.fromarray(background[cy : cy + height, cx : cx + width])
        _draw_frame(ImageDraw.Draw(image), joints[t], traj.tracks["head"], props, t, traj.look)
        frames[t] = np.asarray(image)
        poses[t] = render_pose(traj.joints[t], (width, height))
    return RenderedVideo(frames, poses, traj)


def write_video(path: str | Path, frames: np.ndarray, fps: int = FPS) -> None:
    """Encode RGB frames as MPEG-4 Part 2 in AVI: intra-only with a constant quantiser.

    Intra-only keeps the compression of each frame independent of motion, so a single decoded frame of "run"
    carries no more blur or blocking than one of "walk".
    """
    import av

    height, width = frames.shape[1:3]
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream(CODEC, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.codec_context.gop_size = 1
        stream.codec_context.qmin = stream.codec_context.qmax = QUANTIZER
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# -------------------------------------------------------------------------------------------- dataset
def _parse_size(size) -> tuple[int, int]:
    """`112`, `(128, 96)` or "128x96" (width x height) -> (width, height), checked."""
    if isinstance(size, str):
        text = size.lower().replace(" ", "")
        parts = text.split("x")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"size must be N or WIDTHxHEIGHT (e.g. 112 or 128x96), got {size!r}") from None
        size = values[0] if len(values) == 1 else tuple(values)
    if isinstance(size, (int, np.integer)):
        width = height = int(size)
    else:
        try:
            width, height = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ValueError(f"size must be N or (width, height), got {size!r}") from None
    for label, value in (("width", width), ("height", height)):
        if value < 32 or value > 1024 or value % 2:
            raise ValueError(f"video {label} must be an even number between 32 and 1024, got {value}")
    return width, height


def _check_classes(classes) -> list[str]:
    if classes is None:
        return list(CLASS_NAMES)
    if isinstance(classes, str):
        classes = [name for name in classes.replace(",", " ").split() if name]
    chosen = []
    for name in classes:
        get_class(name)
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ValueError(f"no classes selected; choose from: {', '.join(CLASS_NAMES)}")
    return [name for name in CLASS_NAMES if name in chosen]  # canonical order


def _split_lines(action: str, names: list[str], seed: int, splits: int) -> list[list[str]]:
    """HMDB51-style split files: ~70 % train (1), ~30 % test (2); the test folds of the splits are disjoint
    whenever there are enough videos (3 x 30 % <= 100 %)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(action.encode()), 7030]))
    count = len(names)
    order = rng.permutation(count)
    n_test = min(count - 1, max(1, round(TEST_FRACTION * count)))
    files = []
    for split in range(splits):
        test = {int(order[(split * n_test + j) % count]) for j in range(n_test)}
        files.append([f"{name}.avi {2 if i in test else 1}" for i, name in enumerate(names)])
    return files


def _make_video(job) -> tuple[str, str, np.ndarray, int]:
    spec, video_path, pose_dir = job
    rendered = render(spec)
    write_video(video_path, rendered.frames)
    if pose_dir is not None:
        write_pose_frames(rendered.pose, pose_dir)
    return spec.action, spec.name, rendered.trajectory.joints.astype(np.float32), os.path.getsize(video_path)


def _root_state(root: Path) -> str:
    """The state of an output root: "new" (absent or empty), "partial" (an unfinished `actionlib synth`),
    "complete" (a finished one) or "foreign" (anything else, never to be deleted)."""
    if root.exists() and not root.is_dir():
        return "foreign"
    if not root.exists() or not any(root.iterdir()):
        return "new"
    if (root / PARTIAL).exists():
        return "partial"
    return "complete" if (root / MANIFEST).exists() else "foreign"


def _check_root(root: Path, overwrite: bool, what: str, unfinished_run: bool = False) -> bool:
    """An output root must be new, an unfinished synth output, or (with overwrite) a previous synthetic root.
    `unfinished_run`: OUT is unfinished, so a finished pose root beside it belongs to that run too.
    Returns whether the root is to be written again."""
    state = _root_state(root)
    if state == "foreign" and root.exists() and not root.is_dir():
        raise ValueError(f"{what} {root} exists and is not a directory")
    if state == "foreign":
        if not overwrite:
            raise ValueError(f"{what} {root} already exists and is not empty; choose another dataset root")
        raise ValueError(
            f"refusing to overwrite {what} {root}: it was not made by `actionlib synth` (no {MANIFEST} in it)"
        )
    if state == "complete" and not (overwrite or unfinished_run):
        raise ValueError(
            f"{what} {root} already exists and is not empty; choose another dataset root or pass --overwrite (overwrite=True)"
        )
    if state == "partial":
        print(f"note: {what} {root} is an unfinished `actionlib synth` output: writing it again", file=sys.stderr)
    return state != "new"


def _write_manifest(root: Path, summary: dict) -> None:
    """Through a temporary file: a kill never leaves half a manifest (which would mark the root finished)."""
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, root / MANIFEST)


def generate(
    out: str | Path,
    classes=None,
    videos_per_class: int = DEFAULT_VIDEOS_PER_CLASS,
    frames: int = DEFAULT_FRAMES,
    size=DEFAULT_SIZE,
    seed: int = 0,
    splits: int = 3,
    jobs: int = 1,
    *,
    pose: bool = True,
    pose_out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    clutter: float = 1.0,
) -> dict:
    """Write the synthetic dataset (layout in the module docstring) and return a summary dict.

    Args:
        out: dataset root (created; must be empty or a previous synthetic root with `overwrite`).
        classes: class names (list or comma-separated string); default all of `CLASS_NAMES`.
        videos_per_class: videos per class (>= 2: every split needs a train and a test video).
        frames: frames per video (>= 8). size: N, (width, height) or "WxH"; even, 32..1024.
        seed: dataset seed. splits: number of split files per class (HMDB51 has 3).
        jobs: worker processes (0 = all CPUs).
        pose: also write pose frames; pose_out: their root (default `<out>_pose`).

    Each root is locked meanwhile (`root_lock`): a second run into it is refused, not mixed with this one.
    """
    start_time = time.perf_counter()
    chosen = _check_classes(classes)
    width, height = _parse_size(size)
    for label, value, low in (
        ("videos_per_class", videos_per_class, 2),
        ("frames", frames, 8),
        ("splits", splits, 1),
        ("jobs", jobs, 0),
    ):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
    if frames > 10000 or splits > 10:
        raise ValueError(f"frames must be <= 10000 and splits <= 10, got frames={frames}, splits={splits}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(clutter, bool) or not isinstance(clutter, (int, float)) or not 0 <= clutter <= 1:
        raise ValueError(f"clutter must be a number between 0 and 1, got {clutter!r}")
    jobs = int(jobs) or (os.cpu_count() or 1)

    out = Path(out)
    pose_root = (Path(pose_out) if pose_out is not None else pose_root_for(out)) if pose else None
    if pose_root is not None and pose_root.resolve() == out.resolve():
        raise ValueError(f"the pose root must differ from the dataset root ({out})")
    roots = [(out, "dataset root")] + ([] if pose_root is None else [(pose_root, "pose root")])
    with ExitStack() as locks:
        for root, _ in roots:  # before looking at the roots: two runs at once would mix their seeds' videos
            locks.enter_context(root_lock(root))
        unfinished = _root_state(out) == "partial"
        again = [root for root, what in roots if _check_root(root, overwrite, what, unfinished)]
        for root in again:
            shutil.rmtree(root)
        for root, _ in roots:
            root.mkdir(parents=True, exist_ok=True)
            (root / PARTIAL).write_text("an unfinished `actionlib synth` output: run it again to finish it\n")

        jobs_list = []
        for action in chosen:
            (out / action).mkdir(parents=True, exist_ok=True)
            for index in range(videos_per_class):
                spec = video_spec(action, index, seed, frames, (width, height), clutter)
                pose_dir = None if pose_root is None else pose_root / action / spec.name
                jobs_list.append((spec, out / action / f"{spec.name}.avi", pose_dir))

        joints, total_bytes = {}, 0
        if jobs == 1:
            results = map(_make_video, jobs_list)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=jobs)
            results = pool.map(_make_video, jobs_list, chunksize=max(1, len(jobs_list) // (8 * jobs)))
        try:
            if progress:
                from tqdm import tqdm

                results = tqdm(results, total=len(jobs_list), desc="synth", unit="video")
            for action, name, video_joints, size_bytes in results:
                joints[f"{action}/{name}"] = video_joints
                total_bytes += size_bytes
        finally:
            if pool is not None:
                pool.shutdown()

        split_dir = out / SPLITS_DIR
        split_dir.mkdir(exist_ok=True)
        for action in chosen:
            names = [video_name(action, index) for index in range(videos_per_class)]
            for split, lines in enumerate(_split_lines(action, names, seed, splits), start=1):
                (split_dir / f"{action}_test_split{split}.txt").write_text("\n".join(lines) + "\n")
        if pose_root is not None:
            np.savez_compressed(pose_root / JOINTS_FILE, **joints)

        summary = {
            "root": str(out),
            "pose_root": None if pose_root is None else str(pose_root),
            "classes": chosen,
            "descriptions": {name: get_class(name).description for name in chosen},
            "groups": {name: get_class(name).group for name in chosen},
            "reversed_pairs": [list(pair) for pair in reversed_pairs(chosen)],
            "speed_pairs": [list(pair) for pair in speed_pairs(chosen)],
            "videos_per_class": int(videos_per_class),
            "videos": len(jobs_list),
            "frames": int(frames),
            "size": [width, height],
            "fps": FPS,
            "codec": f"{CODEC} in avi, intra-only, constant quantiser {QUANTIZER}",
            "seed": int(seed),
            "clutter": float(clutter),
            "splits": int(splits),
            "split_dir": SPLITS_DIR,
            "joints": None
            if pose_root is None
            else f"{JOINTS_FILE} in pose_root: key '<class>/<video>', (T, 25, 3) BODY_25 x, y, confidence in pixels",
            "bytes": int(total_bytes),
            "jobs": jobs,
            "seconds": round(time.perf_counter() - start_time, 2),
        }
        for root, _ in reversed(roots):  # OUT last: until its marker is gone, a rerun writes both roots again
            _write_manifest(root, summary)
            (root / PARTIAL).unlink()
        return summary


def root_lock(root: Path) -> FolderLock:
    """The lock of an output root: a file beside it (`.<name>.lock`), since the root itself may be replaced."""
    where = Path(os.path.abspath(root))
    return FolderLock(where.parent / f".{where.name}.lock", root, error=FolderBusyError)


# ------------------------------------------------------------------------------------------------- CLI
def _positive(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}")
    return value


def _size_argument(text: str) -> tuple[int, int]:
    try:
        return _parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _classes_argument(text: str) -> list[str]:
    try:
        return _check_classes(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _class_table() -> str:
    lines = []
    for action in CLASSES:
        pair = ""
        if action.group == "reversed":
            pair = f" [reversed pair with {action.partner}]"
        elif action.group == "speed":
            pair = f" [speed pair with {action.partner}]"
        lines.append(f"  {action.name:<11} {action.description}{pair}")
    return "\n".join(lines)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add `synth` to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "synth",
        help="generate the synthetic action dataset (HMDB51 layout)",
        description=textwrap.fill(
            "Generate synthetic stick-figure action videos in HMDB51's layout: ROOT/<class>/<video>.avi and "
            f"ROOT/{SPLITS_DIR}/<class>_test_split{{1,2,3}}.txt, plus rendered ground-truth skeletons in "
            "ROOT_pose/<class>/<video>/img_00001.jpg and their joints in ROOT_pose/joints.npz. Reversed pairs can "
            "only be told apart by frame order, the speed pair only by cadence and stride.",
            width=100,
        ),
        epilog="classes:\n" + _class_table() + "\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_root_argument(parser, "dataset root to create (must not exist or be empty)")
    parser.add_argument(
        "--classes",
        metavar="LIST",
        type=_classes_argument,
        default=None,
        help="comma-separated class names (default: all 16; see the list below)",
    )
    parser.add_argument(
        "--videos-per-class",
        metavar="N",
        type=_positive(2),
        default=DEFAULT_VIDEOS_PER_CLASS,
        help=f"videos per class, >= 2 (default {DEFAULT_VIDEOS_PER_CLASS})",
    )
    # `--frames` and `--size` are a clip's length and crop in `train`: here they were the videos' own, so they are
    # named for the videos, and the old spellings still work
    add_renamed(
        parser,
        "--video-frames",
        "--frames",
        dest="frames",
        metavar="N",
        type=_positive(8),
        default=DEFAULT_FRAMES,
        help=f"frames per video at {FPS} fps, >= 8 (default {DEFAULT_FRAMES}; old name: --frames)",
    )
    add_renamed(
        parser,
        "--video-size",
        "--size",
        dest="size",
        metavar="WxH",
        type=_size_argument,
        default=DEFAULT_SIZE,
        help=f"frame size of the videos, N or WIDTHxHEIGHT, even, 32..1024 (default {DEFAULT_SIZE[0]}x"
        f"{DEFAULT_SIZE[1]}; old name: --size)",
    )
    parser.add_argument("--seed", type=_positive(0), default=0, metavar="N", help="dataset seed (default 0)")
    parser.add_argument("--splits", type=_positive(1), default=3, metavar="N", help="split files per class (default 3)")
    parser.add_argument(
        "--jobs", type=_positive(0), default=1, metavar="N", help="worker processes, 0 = all CPUs (default 1)"
    )
    add_renamed(
        parser,
        "--pose-frames",
        "--pose-out",
        dest="pose_out",
        default=None,
        metavar="POSEROOT",
        help="root the pose frame folders are written to, as `actionlib train --pose-frames` reads them (default: "
        "ROOT_pose beside ROOT; old name: --pose-out)",
    )
    parser.add_argument("--no-pose", action="store_true", help="do not write pose frames")
    parser.add_argument(
        "--clutter",
        type=_fraction,
        default=1.0,
        metavar="X",
        help="background texture and furniture, 0 (plain wall and floor) .. 1 (default 1)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace ROOT (and its pose root) if a previous `actionlib synth` made them",
    )
    parser.add_argument("--quiet", "--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    """The `synth` command."""
    summary = generate(
        Path(root_from(args)),
        classes=args.classes,
        videos_per_class=args.videos_per_class,
        frames=args.frames,
        size=args.size,
        seed=args.seed,
        splits=args.splits,
        jobs=args.jobs,
        pose=not args.no_pose,
        pose_out=args.pose_out,
        overwrite=args.overwrite,
        progress=not args.quiet,
        clutter=args.clutter,
    )
    print(
        f"wrote {summary['videos']} videos ({len(summary['classes'])} classes x {summary['videos_per_class']}, "
        f"{summary['frames']} frames at {summary['size'][0]}x{summary['size'][1]}) to {summary['root']}"
    )
    if summary["pose_root"]:
        print(f"pose frames in {summary['pose_root']}")
    print(f"reversed pairs: {summary['reversed_pairs']}; speed pairs: {summary['speed_pairs']}")
    print(f"{summary['bytes'] / 1e6:.1f} MB in {summary['seconds']:.1f} s with {summary['jobs']} job(s)")
    return 0
