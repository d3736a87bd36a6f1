"""R(2+1)D-34 (Tran et al., CVPR 2018) in the IG65M layout, the thesis's best backbone (Table 4.6).

The thesis fine-tunes Facebook's IG65M R(2+1)D-34 (`r2plus1d_34_clip32_ig65m_from_scratch`,
359 hashtag classes, ported to PyTorch by ig65m-pytorch in torchvision's VideoResNet layout).
We keep that layout and its key names (`stem.0`, `layer1.0.conv1.0.0`, ...), so the public file
loads without renaming. Every 3x3x3 convolution is factorised into a 1x3x3 spatial convolution,
BN, ReLU and a 3x1x1 temporal convolution, with the mid width chosen to keep the parameter count
of the full 3D kernel. The stem keeps the frame rate and layers 2-4 halve it, so a 32-frame clip
ends as (512, 4, 7, 7) at 112x112: the BERT head sees 4 tokens (8 for 64 frames).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .checkpoints import adapt_input_channels
from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register

# Caffe2's BatchNorm settings, which the IG65M weights were trained with (as set by ig65m-pytorch).
# PyTorch's momentum weights the *new* batch, so 0.9 makes the running statistics follow the
# last batch closely; the authors fine-tuned with exactly this, so we keep it.
BN_EPS, BN_MOMENTUM = 1e-3, 0.9


def _bn(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def midplanes(inplanes: int, outplanes: int) -> int:
    """Width between the spatial and temporal convolutions: as many parameters as a 3x3x3 kernel."""
    return (inplanes * outplanes * 27) // (inplanes * 9 + 3 * outplanes)


class Conv2Plus1D(nn.Sequential):
    """(1, 3, 3) spatial conv -> BN -> ReLU -> (3, 1, 1) temporal conv; `stride` applies to all axes.

    The mid width is computed from this convolution's own input and output widths. That is the
    Caffe2 layout of the IG65M weights: torchvision reuses the first conv's mid width for the
    second conv of a downsampling block, which ig65m-pytorch patches for layer2-4 (288/576/1152).
    """

    def __init__(self, inplanes: int, outplanes: int, stride: int = 1):
        mid = midplanes(inplanes, outplanes)
        super().__init__(
            nn.Conv3d(inplanes, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
            _bn(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, outplanes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
        )


class BasicBlock(nn.Module):
    """Two (2+1)D convolutions with a residual connection (projection when the shape changes)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Sequential(Conv2Plus1D(inplanes, planes, stride), _bn(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(Conv2Plus1D(planes, planes), _bn(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv3d(inplanes, planes, 1, stride=stride, bias=False), _bn(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + identity)


class R2Plus1dStem(nn.Sequential):
    """The stem is factorised too: 1x7x7 (stride (1, 2, 2)) to 45 channels, then 3x1x1 to 64."""

    def __init__(self, in_channels: int = 3):
        super().__init__(
            nn.Conv3d(in_channels, 45, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            _bn(45),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, (3, 1, 1), padding=(1, 0, 0), bias=False),
            _bn(64),
            nn.ReLU(inplace=True),
        )


class R2Plus1d(nn.Module):
    """R(2+1)D trunk (stem + 4 stages of basic blocks) without its average pool and classifier."""

    public_classifier_prefixes = ("fc.",)
    public_classifier = ("fc.weight", "fc.bias")
    # The authors' flow stream starts from the RGB stem averaged over its input channels and
    # scaled by 1.5 (ig65m copy in their code); see `convert_pretrained`.
    flow_stem_scale = 1.5

    def __init__(self, layers=(3, 4, 6, 3), in_channels: int = 3):
        super().__init__()
        self.in_channels = in_channels
        self.stem = R2Plus1dStem(in_channels)
        inplanes = 64
        for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = [BasicBlock(inplanes, planes, stride)] + [BasicBlock(planes, planes) for _ in range(count - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes
        self.out_channels = inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def convert_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Give a flow (2-channel) stem the authors' start: RGB stem averaged, replicated, x1.5."""
        weight = state.get("stem.0.weight")
        if weight is not None and weight.dim() == 5 and weight.shape[1] == 3 and self.in_channels == 2:
            state = dict(state)
            state["stem.0.weight"] = adapt_input_channels(weight, self.in_channels) * self.flow_stem_scale
        return state


@register("r2plus1d_34")
def r2plus1d_34(
    num_classes=51, modality="rgb", head="avg", reduction=None, frames=32, size=112, dropout=None, **head_options
):
    """R(2+1)D-34, IG65M-pretrained; Table 4.6 (32 frames: avg baseline, BERT; 64 frames: BERT).

    `size` only records the crop the thesis uses (112); the network runs on any size.
    """
    if reduction is not None:
        raise ValueError(f"r2plus1d_34 takes no reduction (its output is already 512 wide), got {reduction!r}")
    backbone = R2Plus1d(in_channels=input_channels(modality))
    steps = math.ceil(frames / 8)  # layers 2-4 halve T (rounding up); the stem keeps it
    return VideoClassifier(
        backbone,
        build_head(head, backbone.out_channels, steps, **head_options),
        num_classes,
        dropout,
        frames=frames,
        family="r2plus1d",
        modality=modality,
    )
