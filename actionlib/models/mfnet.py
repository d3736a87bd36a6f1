"""MFNet-3D, the multi-fiber network of Chen et al. (ECCV 2018); a baseline of Table 3.10.

A multi-fiber unit splits a residual unit into 16 parallel "fibers" (grouped convolutions) and
lets them exchange information through a cheap 1x1x1 "multiplexer" (conv_i1 -> conv_i2, added to
the input) in front of them. All convolutions are pre-activation (BN -> ReLU -> conv). The stem
keeps the frame rate and the first unit of conv2 halves it, so a 16x224x224 clip ends as
(768, 8, 7, 7).

The layout and key names follow the authors' Kinetics checkpoint `MFNet3D_Kinetics-400_72.8.pth`
(cypw/PyTorch-MFNet `MFNET_3D`: `conv1.conv`, `conv2.B01.conv_i1.bn`, ..., `tail.bn`,
`classifier`), so it loads without renaming. As in the thesis, the trunk ends with the
network's final BN + ReLU (`tail`); its global average pool is our "avg" head, and its
`classifier` becomes our `fc` when the model has that head and 400 classes.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from torch import nn

from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register


class BnReluConv(nn.Module):
    """Pre-activation convolution: BN -> ReLU -> Conv3d."""

    def __init__(self, inplanes: int, outplanes: int, kernel=(1, 1, 1), padding=(0, 0, 0), stride=(1, 1, 1), groups=1):
        super().__init__()
        self.bn = nn.BatchNorm3d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv3d(inplanes, outplanes, kernel, stride=stride, padding=padding, groups=groups, bias=False)

    def forward(self, x):
        return self.conv(self.relu(self.bn(x)))


class MultiFiberUnit(nn.Module):
    """One multi-fiber unit: a multiplexer, then two grouped convolutions, with a residual.

    The first unit of a stage changes the shape: its second conv is a 1x1x1 (not a grouped 1x3x3)
    and the shortcut is a strided 1x1x1 projection (`conv_w1`).
    """

    def __init__(
        self, inplanes: int, mid: int, outplanes: int, stride=(1, 1, 1), groups: int = 16, first: bool = False
    ):
        super().__init__()
        mux = mid // 4
        self.conv_i1 = BnReluConv(inplanes, mux)
        self.conv_i2 = BnReluConv(mux, inplanes)
        self.conv_m1 = BnReluConv(inplanes, mid, (3, 3, 3), (1, 1, 1), stride, groups)
        if first:
            self.conv_m2 = BnReluConv(mid, outplanes)
            self.conv_w1 = BnReluConv(inplanes, outplanes, stride=stride)
        else:
            self.conv_m2 = BnReluConv(mid, outplanes, (1, 3, 3), (0, 1, 1), groups=groups)
            self.conv_w1 = None

    def forward(self, x):
        h = self.conv_m2(self.conv_m1(x + self.conv_i2(self.conv_i1(x))))
        return h + (x if self.conv_w1 is None else self.conv_w1(x))


class MFNet3d(nn.Module):
    """MFNet-3D trunk up to its final BN + ReLU (average pool and classifier removed)."""

    public_classifier_prefixes = ("classifier.",)
    public_classifier = ("classifier.weight", "classifier.bias")

    def __init__(self, units=(3, 4, 6, 3), in_channels: int = 3, groups: int = 16):
        super().__init__()
        self.conv1 = nn.Sequential(
            OrderedDict(
                conv=nn.Conv3d(in_channels, 16, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), bias=False),
                bn=nn.BatchNorm3d(16),
                relu=nn.ReLU(inplace=True),
            )
        )
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        inplanes, width = 16, 96
        for stage, count in enumerate(units, start=2):
            # conv2 halves time (the only temporal stride); conv3-5 halve space.
            stride = (2, 1, 1) if stage == 2 else (1, 2, 2)
            blocks = OrderedDict()
            for i in range(1, count + 1):
                first = i == 1
                blocks[f"B{i:02d}"] = MultiFiberUnit(
                    inplanes if first else width, width, width, stride if first else (1, 1, 1), groups, first
                )
            self.add_module(f"conv{stage}", nn.Sequential(blocks))
            inplanes, width = width, width * 2
        self.tail = nn.Sequential(OrderedDict(bn=nn.BatchNorm3d(inplanes), relu=nn.ReLU(inplace=True)))
        self.out_channels = inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.conv4(self.conv3(self.conv2(x))))
        return self.tail(x)


@register("mfnet3d")
def mfnet3d(
    num_classes=51, modality="rgb", head="avg", reduction=None, frames=16, size=224, dropout=None, **head_options
):
    """MFNet-3D, Kinetics-pretrained, 16 frames at 224; Table 3.10 (avg) and a BERT variant.

    `size` only records the crop the thesis uses (224); the network runs on any size.
    """
    if reduction is not None:
        raise ValueError(f"mfnet3d takes no reduction, got {reduction!r}")
    backbone = MFNet3d(in_channels=input_channels(modality))
    steps = math.ceil(frames / 2)  # conv2's first unit halves T (rounding up)
    return VideoClassifier(
        backbone,
        build_head(head, backbone.out_channels, steps, **head_options),
        num_classes,
        dropout,
        frames=frames,
        family="mfnet3d",
        modality=modality,
    )
