"""Spatial augmentation and normalisation of clips, as in the thesis (Section 3.2.1) and the authors' code.

Training uses multi-scale cropping (Wang et al., "Towards Good Practices for Very Deep Two-Stream ConvNets"):
the crop's height and width are each `min(H, W) * s` for a scale `s` in {1, .875, .75, .66}, the two scales at most
`max_distort` steps apart, placed at one of 13 fixed positions (centre, 4 corners, 4 edge centres, 4 quarter
points) and resized to the network input; then a horizontal flip with probability 0.5. Testing takes the centre
crop, or ten crops (centre + 4 corners, and their flips).

One crop for the whole sample: a :class:`View` (crop box + flip) is drawn once per sample in a shared reference
frame (the `resize` size every stream is brought to, e.g. 256x340) and applied to every frame of every stream,
RGB, flow and pose alike, whatever their stored resolution. Resizing to the reference size and cropping are done
as one resampling of the source pixels, which is cheaper than two and avoids blurring twice.

Flow frames store x and y displacements as grey levels around 128; mirroring the image negates the x
displacement, so the x channel becomes 255 - x after a flip (the TSN convention). The authors' code flipped flow
without this inversion; `invert_flow_x=False` reproduces that.

Normalisation constants differ per backbone family, because each was pretrained with its own (notes section 6):
see :data:`NORMALIZATION` and :func:`normalization_for`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

SCALES = (1.0, 0.875, 0.75, 0.66)
TRANSFORM_MODES = ("train", "center", "ten_crop")


@dataclass(frozen=True)
class CropBox:
    """A crop rectangle in reference-frame pixels (top, left, height, width)."""

    top: int
    left: int
    height: int
    width: int


@dataclass(frozen=True)
class View:
    """One spatial view of a clip: where to crop and whether to mirror."""

    box: CropBox
    flip: bool = False


# ---------------------------------------------------------------------------------------------------------------
# Crop geometry


def crop_size_pairs(
    height: int, width: int, scales: Sequence[float] = SCALES, max_distort: int = 1
) -> list[tuple[int, int]]:
    """Every allowed (crop height, crop width): scales of min(H, W) at most `max_distort` list steps apart."""
    base = min(height, width)
    sizes = [int(base * s) for s in scales]
    return [
        (crop_h, crop_w)
        for i, crop_h in enumerate(sizes)
        for j, crop_w in enumerate(sizes)
        if abs(i - j) <= max_distort
    ]


CROP_POSITIONS = (
    "center",
    "upper_left",
    "upper_right",
    "lower_left",
    "lower_right",
    "top_center",
    "left_center",
    "right_center",
    "bottom_center",
    "upper_left_quarter",
    "upper_right_quarter",
    "lower_left_quarter",
    "lower_right_quarter",
)

# (row, column) of each position in quarters of the free space, in CROP_POSITIONS order.
_QUARTERS = ((2, 2), (0, 0), (0, 4), (4, 0), (4, 4), (0, 2), (2, 0), (2, 4), (4, 2), (1, 1), (1, 3), (3, 1), (3, 3))


def fixed_crop_offsets(
    height: int, width: int, crop_height: int, crop_width: int, more_fix_crop: bool = True
) -> list[tuple[int, int]]:
    """(top, left) of the 13 fixed positions (5 without `more_fix_crop`), in `CROP_POSITIONS` order.

    Positions are multiples of a quarter of the free space, (H - crop_h) // 4 and (W - crop_w) // 4.
    """
    step_h = (height - crop_height) // 4
    step_w = (width - crop_width) // 4
    quarters = _QUARTERS if more_fix_crop else _QUARTERS[:5]
    return [(row * step_h, column * step_w) for row, column in quarters]


def multi_scale_crop(
    height: int,
    width: int,
    size: int | tuple[int, int],
    scales: Sequence[float] = SCALES,
    max_distort: int = 1,
    more_fix_crop: bool = True,
    authors_offsets: bool = False,
    rng: random.Random | None = None,
) -> CropBox:
    """Draw a multi-scale crop box in an H x W frame (the crop is later resized to `size`).

    `authors_offsets=True` reproduces a quirk of the thesis code (``video_transforms.MultiScaleCrop``): the 13
    positions are spaced by (H - output size) / 4 instead of (H - crop size) / 4, so large crops placed towards the
    right or bottom run past the frame and are cut short there (the clipped crop is then stretched to `size`).
    """
    rng = rng or random
    out_h, out_w = (size, size) if isinstance(size, int) else size
    crop_h, crop_w = rng.choice(crop_size_pairs(height, width, scales, max_distort))
    if authors_offsets:
        step_h, step_w = int((height - out_h) / 4), int((width - out_w) / 4)
        quarters = _QUARTERS if more_fix_crop else _QUARTERS[:5]
        top, left = rng.choice([(r * step_h, c * step_w) for r, c in quarters])
        return CropBox(top, left, min(crop_h, height - top), min(crop_w, width - left))
    top, left = rng.choice(fixed_crop_offsets(height, width, crop_h, crop_w, more_fix_crop))
    return CropBox(top, left, crop_h, crop_w)


def center_crop(height: int, width: int, size: int | tuple[int, int]) -> CropBox:
    """The centred `size` box (the validation crop)."""
    crop_h, crop_w = (size, size) if isinstance(size, int) else size
    return CropBox((height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w)


def five_crops(height: int, width: int, size: int | tuple[int, int]) -> list[CropBox]:
    """Centre, upper left, upper right, lower left, lower right (the blue boxes of thesis Figure 3.1)."""
    crop_h, crop_w = (size, size) if isinstance(size, int) else size
    bottom, right = height - crop_h, width - crop_w
    return [
        center_crop(height, width, size),
        CropBox(0, 0, crop_h, crop_w),
        CropBox(0, right, crop_h, crop_w),
        CropBox(bottom, 0, crop_h, crop_w),
        CropBox(bottom, right, crop_h, crop_w),
    ]


def ten_crop_views(height: int, width: int, size: int | tuple[int, int]) -> list[View]:
    """The five crops, then the same five mirrored: the thesis's ten-crop test."""
    boxes = five_crops(height, width, size)
    return [View(box) for box in boxes] + [View(box, flip=True) for box in boxes]


# ---------------------------------------------------------------------------------------------------------------
# Normalisation


@dataclass(frozen=True)
class Normalization:
    """`(pixel / divisor - mean) / std` per channel; `divisor` is 255 for [0, 1] inputs and 1 for Hara's 0..255.

    A single mean/std value applies to every channel (flow has 2 channels, RGB 3).
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    divisor: float = 255.0

    def affine(self, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) per channel so that normalised = pixel * scale + shift: one pass over the clip."""
        mean, std = self.mean, self.std
        if len(mean) == 1:
            mean = mean * channels
        if len(std) == 1:
            std = std * channels
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"normalisation {self} has {len(mean)} means / {len(std)} stds for {channels} channels")
        mean_t = torch.tensor(mean, dtype=torch.float32)
        std_t = torch.tensor(std, dtype=torch.float32)
        return 1.0 / (self.divisor * std_t), -mean_t / std_t


_IMAGENET = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_HARA = Normalization((114.7748, 107.7354, 99.4750), (1.0,), divisor=1.0)
_MARS_FLOW = Normalization((127.5,), (1.0,), divisor=1.0)
_HALF = Normalization((0.5,), (0.5,))
_FLOW_0226 = Normalization((0.5,), (0.226,))
_KINETICS_SLOWFAST = Normalization((0.45,), (0.225,))

#: Per-backbone-family constants (notes section 6). Keys are family names; "<family>_flow" overrides the flow
#: stream. Pose images are RGB pictures and use the RGB entry.
NORMALIZATION: dict[str, Normalization] = {
    "resnext3d": _HARA,  # 0..255 minus the Kinetics mean, std 1 (the authors' ToTensor2: no /255)
    "resnet3d": _HARA,
    "resnext3d_flow": _MARS_FLOW,  # MARS flow: 0..255 minus 127.5
    "resnet3d_flow": _MARS_FLOW,
    "i3d": _HALF,  # -> [-1, 1], RGB and flow
    "r2plus1d": Normalization((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    "r2plus1d_flow": _FLOW_0226,
    "slowfast": _KINETICS_SLOWFAST,
    "i3d_r50": _KINETICS_SLOWFAST,
    "mfnet": Normalization((0.48627451, 0.45882353, 0.40784314), (0.234,)),
    "repflow": _HALF,
    "resnet2d": _IMAGENET,
    "resnet2d_flow": _FLOW_0226,
    "tsm": _IMAGENET,
}


def normalization_for(family: str, modality: str = "rgb") -> Normalization:
    """Constants for a backbone family or a registered model name (`"resnext3d_101"` -> `"resnext3d"`).

    The longest table key that the name starts with wins, so `"i3d_r50"` is not mistaken for `"i3d"`.
    """
    if modality not in ("rgb", "flow", "pose"):
        raise ValueError(f"unknown modality {modality!r}; choose one of rgb, flow, pose")
    families = sorted((k for k in NORMALIZATION if not k.endswith("_flow")), key=len, reverse=True)
    family_key = next((k for k in families if family == k or family.startswith(k)), None)
    if family_key is None:
        raise ValueError(f"no normalisation for {family!r}; known families: {', '.join(families)}")
    if modality == "flow":
        if f"{family_key}_flow" in NORMALIZATION:
            return NORMALIZATION[f"{family_key}_flow"]
        if len(NORMALIZATION[family_key].mean) != 1:
            raise ValueError(
                f"no flow normalisation for {family!r}; families with one: "
                f"{', '.join(k[:-5] for k in NORMALIZATION if k.endswith('_flow'))}, i3d, repflow"
            )
    return NORMALIZATION[family_key]


def default_geometry(family: str) -> tuple[int, tuple[int, int]]:
    """(crop size, frame size H x W) the authors used: 112 from 128x170 for Hara 3D nets and R(2+1)D, else 224
    from 256x340 (I3D, SlowFast, the 2D nets, TSM, MFNet, Rep-Flow)."""
    if family.startswith(("resnext3d", "resnet3d", "r2plus1d")):
        return 112, (128, 170)
    return 224, (256, 340)


# ---------------------------------------------------------------------------------------------------------------
# Applying views


def to_tensor_frames(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(T, H, W, C) uint8 array -> (T, C, H, W) uint8 tensor (no copy when possible)."""
    tensor = torch.as_tensor(frames) if isinstance(frames, np.ndarray) else frames
    if tensor.dtype != torch.uint8 or tensor.dim() != 4:
        raise ValueError(f"expected uint8 frames (T, H, W, C), got {tuple(tensor.shape)} {tensor.dtype}")
    return tensor.permute(0, 3, 1, 2)


def apply_view(
    frames: torch.Tensor,
    view: View,
    reference: tuple[int, int],
    size: tuple[int, int],
    flow: bool = False,
    invert_flow_x: bool = True,
) -> torch.Tensor:
    """Crop `view.box` (reference-frame pixels) out of (T, C, H, W) uint8 frames, resize to `size`, maybe mirror.

    The box is scaled to the frames' own resolution first, so streams stored at different sizes get the same
    region of the scene.
    """
    height, width = frames.shape[-2:]
    scale_y, scale_x = height / reference[0], width / reference[1]
    box = view.box
    top, left = round(box.top * scale_y), round(box.left * scale_x)
    crop_h = max(1, min(round(box.height * scale_y), height - top))
    crop_w = max(1, min(round(box.width * scale_x), width - left))
    if (crop_h, crop_w) == tuple(size):
        out = frames[..., top : top + crop_h, left : left + crop_w]
    else:
        out = F.resized_crop(frames, top, left, crop_h, crop_w, list(size), antialias=True)
    if view.flip:
        out = F.horizontal_flip(out)
        if flow and invert_flow_x:
            out = out.clone()
            out[:, 0] = 255 - out[:, 0]
    return out


class ClipTransform:
    """Frames (T, H, W, C) uint8 -> normalised float clip (C, T, size, size), with the view drawn once per sample.

    Use `views = transform.draw(reference)` once per sample, then `transform(frames, views, modality)` for each
    stream. With one view (modes "train" and "center") the result is (C, T, H, W); with "ten_crop" it is
    (10, C, T, H, W).

    Args:
        size: network input size (int or (H, W)).
        mode: "train" (multi-scale crop + random flip), "center" or "ten_crop".
        resize: (H, W) every stream is brought to before cropping (256x340 or 128x170 in the thesis); None keeps
            the size of the frames given to `draw`.
        normalization: a :class:`Normalization`, a family name for :func:`normalization_for`, or None for raw
            0..255 floats.
        authors_offsets: the thesis code's crop-position quirk, see :func:`multi_scale_crop`.
        invert_flow_x: negate flow x on flips (255 - x); False matches the authors' code.
        multi_scale: False trains on the centre crop (with the random flip) instead of multi-scale crops: the CPU
            profiles' small synthetic frames, where a thin figure fills a tenth of the frame and corner crops cut it
            out (a ResNet18 on the pose frames: 22 % test Top-1 with multi-scale crops, 49 % without, 20 epochs).
    """

    def __init__(
        self,
        size: int | tuple[int, int] = 224,
        mode: str = "train",
        resize: tuple[int, int] | None = None,
        normalization: Normalization | str | None = "resnet2d",
        scales: Sequence[float] = SCALES,
        max_distort: int = 1,
        more_fix_crop: bool = True,
        authors_offsets: bool = False,
        flip_prob: float = 0.5,
        invert_flow_x: bool = True,
        multi_scale: bool = True,
    ):
        if mode not in TRANSFORM_MODES:
            raise ValueError(f"unknown transform mode {mode!r}; choose one of {', '.join(TRANSFORM_MODES)}")
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.mode = mode
        self.resize = tuple(resize) if resize is not None else None
        self.normalization = normalization
        self.scales = tuple(scales)
        self.max_distort = max_distort
        self.more_fix_crop = more_fix_crop
        self.authors_offsets = authors_offsets
        self.flip_prob = flip_prob
        self.invert_flow_x = invert_flow_x
        self.multi_scale = multi_scale

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, mode={self.mode!r}, resize={self.resize}, "
            f"normalization={self.normalization!r})"
        )

    @property
    def num_views(self) -> int:
        return 10 if self.mode == "ten_crop" else 1

    def reference_size(self, frame_size: tuple[int, int]) -> tuple[int, int]:
        """The frame the views live in: `resize` if set, else the given frames' own (H, W)."""
        return self.resize if self.resize is not None else (int(frame_size[0]), int(frame_size[1]))

    def draw(self, reference: tuple[int, int], rng: random.Random | None = None) -> list[View]:
        """The views for one sample, in reference-frame coordinates."""
        height, width = reference
        if self.mode == "ten_crop":
            return ten_crop_views(height, width, self.size)
        if self.mode == "center":
            return [View(center_crop(height, width, self.size))]
        rng = rng or random
        if not self.multi_scale:
            return [View(center_crop(height, width, self.size), flip=rng.random() < self.flip_prob)]
        box = multi_scale_crop(
            height, width, self.size, self.scales, self.max_distort, self.more_fix_crop, self.authors_offsets, rng
        )
        return [View(box, flip=rng.random() < self.flip_prob)]

    def _normalization(self, modality: str) -> Normalization | None:
        if isinstance(self.normalization, str):
            return normalization_for(self.normalization, modality)
        return self.normalization

    def apply(
        self,
        frames: np.ndarray | torch.Tensor,
        views: Sequence[View],
        modality: str = "rgb",
        reference: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Apply `views` (from :meth:`draw`) to one stream's frames (T, H, W, C) uint8 -> (V, C, T, h, w)."""
        tensor = to_tensor_frames(frames)
        reference = reference or self.reference_size(tensor.shape[-2:])
        crops = [apply_view(tensor, v, reference, self.size, modality == "flow", self.invert_flow_x) for v in views]
        clips = torch.stack(crops).permute(0, 2, 1, 3, 4)  # (V, C, T, h, w) uint8
        clips = clips.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        norm = self._normalization(modality)
        if norm is not None:
            scale, shift = norm.affine(clips.shape[1])
            clips.mul_(scale.view(1, -1, 1, 1, 1)).add_(shift.view(1, -1, 1, 1, 1))
        return clips

    def __call__(
        self,
        frames: np.ndarray | torch.Tensor,
        views: Sequence[View] | None = None,
        modality: str = "rgb",
        reference: tuple[int, int] | None = None,
        rng: random.Random | None = None,
    ) -> torch.Tensor:
        """One stream: (C, T, h, w), or (10, C, T, h, w) in "ten_crop" mode. Views are drawn if not given."""
        if views is None:
            tensor_hw = np.shape(frames)[1:3]
            views = self.draw(reference or self.reference_size(tensor_hw), rng)
        clips = self.apply(frames, views, modality, reference)
        return clips if self.mode == "ten_crop" else clips[0]
