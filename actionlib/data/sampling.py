"""Which frames of a video make a clip: the thesis's temporal sampling rules.

Two families (thesis Appendix C.1 and C.2, and the authors' ``datasets/hmdb51.py``):

* **Segments (2D models, TSN style).** The video is cut into N equal segments; training takes a random frame
  from each, testing the middle frame of each. Frames are therefore not equally spaced in training.
* **Clips (3D models).** `length` frames, `stride` apart. Training starts the clip at a random frame; testing
  takes either one centred clip or every non-overlapping clip, floor(frames / window) of them, shifted so that
  they are centred in the video (``VideoSpatialPrediction3D.py``). R(2+1)D's 32x2 clips use stride 2; TSM's dense
  8x8 sampling uses stride 8 with `phase` 4 (the middle frame of every 8-frame chunk, ``range(0, 64, 8) + 4``).

Videos shorter than a clip's window are looped: frame indices wrap modulo the video length, as the authors did.

All functions return 0-based frame indices; randomness comes from a `random.Random` (default: the module-level
generator, which PyTorch reseeds in every DataLoader worker, so workers do not repeat each other).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

MODES = ("train", "center", "multi")


def _check_frames(num_frames: int) -> None:
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame to sample from, got num_frames={num_frames}")


def segment_indices(num_frames: int, num_segments: int, train: bool, rng: random.Random | None = None) -> list[int]:
    """TSN sampling: one frame per equal segment; random within the segment in training, its middle at test.

    With fewer frames than segments the segments are shorter than a frame and indices repeat (still in order).
    """
    _check_frames(num_frames)
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    rng = rng or random
    width = num_frames / num_segments
    offsets = [rng.random() for _ in range(num_segments)] if train else [0.5] * num_segments
    return [min(int(k * width + offset * width), num_frames - 1) for k, offset in enumerate(offsets)]


def clip_indices(start: int, length: int, num_frames: int, stride: int = 1, phase: int = 0) -> list[int]:
    """`length` frames from `start + phase`, `stride` apart, wrapping around short videos."""
    _check_frames(num_frames)
    return [(start + phase + i * stride) % num_frames for i in range(length)]


def random_clip_start(num_frames: int, window: int, rng: random.Random | None = None) -> int:
    """A uniformly random start so that the window fits; 0 when the video is shorter than the window."""
    _check_frames(num_frames)
    return (rng or random).randint(0, max(0, num_frames - window))


def centred_clip_start(num_frames: int, window: int) -> int:
    """Start of the window centred in the video (0 when the video is shorter: the clip then loops)."""
    _check_frames(num_frames)
    return max(0, (num_frames - window) // 2)


def multi_clip_starts(num_frames: int, window: int) -> list[int]:
    """Starts of the floor(num_frames / window) non-overlapping windows, centred as a block (at least one)."""
    _check_frames(num_frames)
    count = max(1, num_frames // window)
    offset = max(0, (num_frames - count * window) // 2)
    return [offset + k * window for k in range(count)]


@dataclass(frozen=True)
class FrameSampler:
    """A sampling rule: `sampler(num_frames)` gives a list of clips, each a list of frame indices.

    Training and single-clip testing give one clip; `mode="multi"` gives every non-overlapping clip (for
    segment sampling, which is already a whole-video view, "multi" is the same as "center").

    Attributes:
        length: frames per clip, or the number of segments when `segments` is True.
        stride: distance between the frames of a clip (1 = consecutive).
        phase: shift added inside every stride (TSM dense sampling takes the middle of each chunk).
        segments: TSN segment sampling instead of clips.
        mode: "train" (random), "center" (one centred clip / segment middles) or "multi" (non-overlapping clips).
    """

    length: int = 16
    stride: int = 1
    phase: int = 0
    segments: bool = False
    mode: str = "train"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown sampling mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.length < 1 or self.stride < 1:
            raise ValueError(f"length and stride must be >= 1, got length={self.length}, stride={self.stride}")
        if not 0 <= self.phase < self.stride:
            raise ValueError(f"phase must be in 0..stride-1 = 0..{self.stride - 1}, got {self.phase}")

    @classmethod
    def tsn(cls, num_segments: int = 16, mode: str = "train") -> FrameSampler:
        """2D models of Chapter 3: 16 segments, one frame each."""
        return cls(length=num_segments, segments=True, mode=mode)

    @classmethod
    def clip(cls, length: int = 16, stride: int = 1, mode: str = "train", phase: int = 0) -> FrameSampler:
        """3D models: `length` frames, `stride` apart (R(2+1)D 32x2: `clip(32, 2)`)."""
        return cls(length=length, stride=stride, phase=phase, mode=mode)

    @classmethod
    def tsm_dense(cls, length: int = 8, stride: int = 8, mode: str = "train") -> FrameSampler:
        """TSM's 8x8 dense sampling: frames `range(0, 64, 8) + 4` of a 64-frame window."""
        return cls(length=length, stride=stride, phase=stride // 2, mode=mode)

    @property
    def window(self) -> int:
        """Frames a clip spans, the unit in which multi-clip testing tiles the video."""
        return self.length * self.stride

    @property
    def train(self) -> bool:
        return self.mode == "train"

    def __call__(self, num_frames: int, rng: random.Random | None = None) -> list[list[int]]:
        if self.segments:
            return [segment_indices(num_frames, self.length, self.train, rng)]
        if self.mode == "train":
            starts: Sequence[int] = [random_clip_start(num_frames, self.window, rng)]
        elif self.mode == "center":
            starts = [centred_clip_start(num_frames, self.window)]
        else:
            starts = multi_clip_starts(num_frames, self.window)
        return [clip_indices(s, self.length, num_frames, self.stride, self.phase) for s in starts]
