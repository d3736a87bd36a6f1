"""3D ResNet-101 and ResNeXt-101 of Hara et al. (CVPR 2018), the thesis's main 3D backbones.

Kept in the key layout of Hara's Kinetics checkpoints (`conv1`, `bn1`, `layer1.0.conv1`, ...,
shortcut type B: 1x1x1 projection + BN), so `resnext-101-64f-kinetics.pth`, the MARS RGB and
flow ResNeXts and `resnet-101-kinetics.pth` load directly. The stem keeps the temporal
resolution (stride (1, 2, 2)) and the max pool halves it, so 64 frames become T/16 = 4 positions
after layer4: the BERT head on ResNeXt101-64f sees 4 tokens, not 8.

`blocks`, `width` and `layer4_time_stride` build CPU variants that are not in the thesis (e.g. blocks=(1, 1, 1, 1),
width=16: one block per stage, a quarter of the channels) for the CPU profile, which trains from scratch.
`layer4_time_stride=1` keeps layer4 at its input's temporal resolution, so 32 frames give the 4 positions (BERT
tokens) that 64 frames give the published network. (`layers` stays free for the BERT head's depth, Table 4.2.)

Feature reduction (Section 4.2.1) turns the 2048-wide output into 512 channels so that BERT
stays small: FRMB replaces layer4's last block with a narrower one, FRAB appends it.
"""

from __future__ import annotations

import math

from torch import nn

from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register


def _projection(inplanes: int, outplanes: int, stride=1) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(inplanes, outplanes, 1, stride=stride, bias=False), nn.BatchNorm3d(outplanes))


class Bottleneck(nn.Module):
    """1x1x1 -> 3x3x3 (grouped for ResNeXt) -> 1x1x1 with a residual connection."""

    def __init__(self, inplanes: int, mid: int, outplanes: int, stride=1, groups: int = 1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv3d(inplanes, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, outplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(outplanes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


# (block widths per stage, expansion, cardinality) of the two variants.
VARIANTS = {
    "resnet": dict(widths=(64, 128, 256, 512), expansion=4, groups=1),
    "resnext": dict(widths=(128, 256, 512, 1024), expansion=2, groups=32),
}


def _block(variant: str, inplanes: int, width: int, stride=1, downsample=None) -> Bottleneck:
    # Hara's ResNeXt has mid planes = cardinality * (width / 32), which is `width` itself,
    # so both variants run their 3x3x3 conv at `width` channels.
    v = VARIANTS[variant]
    return Bottleneck(inplanes, width, width * v["expansion"], stride, v["groups"], downsample)


def reduction_block(variant: str, inplanes: int = 2048, outplanes: int = 512) -> Bottleneck:
    """The FRMB/FRAB block: same block type, 2048 -> 512 channels, projection shortcut."""
    width = outplanes // VARIANTS[variant]["expansion"]
    block = _block(variant, inplanes, width, downsample=_projection(inplanes, outplanes))
    for m in block.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight)
    return block


class ResNet3d(nn.Module):
    """Hara's 3D ResNet/ResNeXt trunk without its average pool and classifier."""

    public_classifier_prefixes = ("fc.",)
    public_classifier = ("fc.weight", "fc.bias")

    def __init__(self, variant: str = "resnext", layers=(3, 4, 23, 3), in_channels: int = 3, width: int = 64,
                 layer4_time_stride: int = 2):  # fmt: skip
        super().__init__()
        v = VARIANTS[variant]
        self.conv1 = nn.Conv3d(in_channels, width, 7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        inplanes = width
        stage_widths = [w * width // 64 for w in v["widths"]]
        for i, (planes, count) in enumerate(zip(stage_widths, layers, strict=True)):
            stride = 1 if i == 0 else (layer4_time_stride if i == 3 else 2, 2, 2)
            outplanes = planes * v["expansion"]
            down = _projection(inplanes, outplanes, stride) if stride != 1 or inplanes != outplanes else None
            blocks = [_block(variant, inplanes, planes, stride, down)]
            blocks += [_block(variant, outplanes, planes) for _ in range(count - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = outplanes
        self.out_channels = inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


REDUCTIONS = (None, "frmb", "frab")


# `size` in the builders below only records the crop the model is meant for (112 in the thesis,
# 224 for "ResNeXt101-64f-224"); the network itself runs on any size.
def _build(variant, num_classes, modality, head, reduction, frames, dropout, head_options):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    # CPU variants (not in the thesis): fewer blocks per stage and narrower stages, same block types.
    layers = tuple(head_options.pop("blocks", (3, 4, 23, 3)))
    width = head_options.pop("width", 64)
    time_stride = head_options.pop("layer4_time_stride", 2)
    if (layers, width, time_stride) != ((3, 4, 23, 3), 64, 2) and reduction is not None:
        raise ValueError("reduction (FRMB/FRAB) is defined for the published 101-layer network only")
    if time_stride not in (1, 2):
        raise ValueError(f"layer4_time_stride must be 1 or 2, got {time_stride}")
    if variant == "resnext" and (width * 2) % 32:
        raise ValueError(f"ResNeXt width must keep 32 groups: a multiple of 16, got {width}")
    backbone = ResNet3d(variant, layers, input_channels(modality), width, time_stride)
    channels = backbone.out_channels
    reducer = None
    skip = ()
    if reduction == "frmb":
        backbone.layer4[-1] = reduction_block(variant, channels)
        skip = (f"backbone.layer4.{len(backbone.layer4) - 1}.",)
        channels = 512
    elif reduction == "frab":
        reducer = reduction_block(variant, channels)
        channels = 512
    if head == "lstm":
        head_options.setdefault("hidden", 450)  # Table 4.1: 2 stacked layers of 450
    steps = math.ceil(frames / (8 * time_stride))  # stem keeps T; max pool, layers 2-3 (and 4) halve it, rounding up
    model = VideoClassifier(
        backbone,
        build_head(head, channels, steps, **head_options),
        num_classes,
        dropout,
        reduction=reducer,
        frames=frames,
        family=f"{variant}3d",
        modality=modality,
    )
    model.pretrained_skip = skip
    return model


@register("resnext3d_101")
def resnext3d_101(
    num_classes=51, modality="rgb", head="avg", reduction=None, frames=64, size=112, dropout=None, **head_options
):
    """ResNeXt-101 3D (cardinality 32), Hara et al.; Tables 3.8-3.10, 4.1-4.3, 5.x."""
    return _build("resnext", num_classes, modality, head, reduction, frames, dropout, head_options)


@register("resnet3d_101")
def resnet3d_101(
    num_classes=51, modality="rgb", head="avg", reduction=None, frames=16, size=112, dropout=None, **head_options
):
    """ResNet-101 3D, Hara et al.; Table 3.8."""
    return _build("resnet", num_classes, modality, head, reduction, frames, dropout, head_options)
