"""2D ResNets (torchvision layout) as per-frame feature extractors: the thesis's Chapter 3.

A clip `(B, C, T, H, W)` is run as a batch of B*T frames (TSN segments: one frame per
segment) and the final maps are regrouped to `(B, C', T, h, w)` for the late temporal head. The
thesis reports their operations per frame, as its counter saw a batch of frames.

Options the thesis varies:
- `fusion` (Table 3.4): concatenate spatially pooled features of several stages per frame
  ("dual" conv4_x+conv5_x, "triple" adds conv3_x, "quadruplet" adds conv2_x).
- `frozen_stages`: the thesis trains only the later stages, keeping ImageNet features of the
  early ones: stem and layers 1..k get `requires_grad=False`. The default is the thesis's
  choice for each configuration.
- `width` (not in the thesis): the first stage's channels, 64 as published; the CPU profile uses narrow
  variants (e.g. 16: about 1/16 of the operations) because it trains from scratch in minutes.
- `reduction="frmb"` (Appendix C.4): layer4's last block narrowed to 512 channels so BERT stays
  small on ResNet50/101.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tv

from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register

DEPTHS = {
    18: (tv.BasicBlock, (2, 2, 2, 2)),
    34: (tv.BasicBlock, (3, 4, 6, 3)),
    50: (tv.Bottleneck, (3, 4, 6, 3)),
    101: (tv.Bottleneck, (3, 4, 23, 3)),
}
FUSIONS = {None: (4,), "dual": (3, 4), "triple": (2, 3, 4), "quadruplet": (1, 2, 3, 4)}


class ResNet2d(nn.Module):
    """torchvision's ResNet trunk (same key names as the ImageNet checkpoints), frames as a batch."""

    public_classifier_prefixes = ("fc.",)
    public_classifier = ("fc.weight", "fc.bias")

    def __init__(self, depth: int, in_channels: int = 3, fusion: str | None = None, width: int = 64):
        super().__init__()
        block, layers = DEPTHS[depth]
        net = tv.ResNet(block, list(layers))
        if width != 64:  # a narrow variant for CPU runs: every stage scaled by width / 64, same layout and key names
            net.inplanes = width
            net.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
            net.bn1 = nn.BatchNorm2d(width)
            for i in range(1, 5):
                setattr(
                    net, f"layer{i}", net._make_layer(block, width * 2 ** (i - 1), layers[i - 1], 1 if i == 1 else 2)
                )
            for module in net.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            self.add_module(name, getattr(net, name))
        self.taps = FUSIONS[fusion]
        # Fused stages are not what torchvision's `fc` reads: its classifier cannot be kept then.
        self.public_features = fusion is None
        widths = {i: width * 2 ** (i - 1) * block.expansion for i in range(1, 5)}
        self.out_channels = sum(widths[i] for i in self.taps)
        # Fused stages are pooled per frame to one vector each (the authors' AvgPool2d per stage).
        self.stage_pools = nn.ModuleList(nn.AdaptiveAvgPool2d(1) for _ in self.taps) if fusion else None

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = clip.shape
        x = clip.transpose(1, 2).reshape(b * t, c, h, w)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        stages = {}
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
            stages[i] = x
        if self.stage_pools is None:
            fmap = stages[4]
        else:
            fmap = torch.cat([pool(stages[i]) for pool, i in zip(self.stage_pools, self.taps, strict=True)], dim=1)
        return fmap.reshape(b, t, *fmap.shape[1:]).transpose(1, 2)


def frmb_block(depth: int) -> nn.Module:
    """Appendix C.4's reducing block: a bottleneck 2048 -> 128 -> 128 -> 512 with a projection."""
    if DEPTHS[depth][0] is not tv.Bottleneck:
        raise ValueError(f"reduction='frmb' needs a bottleneck ResNet (50 or 101), not ResNet{depth}")
    down = nn.Sequential(nn.Conv2d(2048, 512, 1, bias=False), nn.BatchNorm2d(512))
    return tv.Bottleneck(2048, 128, downsample=down)


def default_frozen_stages(depth: int, head: str, fusion: str | None, frames: int) -> int:
    """The thesis's choice (notes section 4): most heads freeze the stem and layers 1-2;
    triple fusion freezes layer 1 only (ResNet34: nothing); dual freezes 1-2; quadruplet and the
    single-frame model train everything."""
    if frames == 1 or fusion == "quadruplet":
        return 0
    if fusion == "triple":
        return 0 if depth == 34 else 1
    return 2


def freeze_stages(backbone: ResNet2d, stages: int) -> None:
    if not 0 <= stages <= 4:
        raise ValueError(f"frozen_stages must be 0..4, got {stages}")
    modules = [backbone.conv1, backbone.bn1] + [getattr(backbone, f"layer{i}") for i in range(1, stages + 1)]
    for module in modules if stages else []:
        for p in module.parameters():
            p.requires_grad_(False)


def _build(depth, num_classes, modality, head, fusion, reduction, frames, frozen_stages, dropout, width, head_options):
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {list(FUSIONS)}, got {fusion!r}")
    if reduction not in (None, "frmb"):
        raise ValueError(f"reduction for 2D ResNets must be None or 'frmb', got {reduction!r}")
    backbone = ResNet2d(depth, input_channels(modality), fusion, width)
    model_skip = ()
    if reduction == "frmb":
        if width != 64:
            raise ValueError(f"reduction='frmb' needs the published width 64, got width {width}")
        if fusion:
            raise ValueError("reduction='frmb' and fusion cannot be combined")
        backbone.layer4[-1] = frmb_block(depth)
        backbone.out_channels = 512
        model_skip = (f"backbone.layer4.{len(backbone.layer4) - 1}.",)
    if frozen_stages is None:
        frozen_stages = default_frozen_stages(depth, head, fusion, frames)
    freeze_stages(backbone, frozen_stages)
    if head == "bert":
        head_options.setdefault("keep_prob", 0.75)  # the 2D ResNet18 BERT masks 25 % of frames
    model = VideoClassifier(
        backbone,
        build_head(head, backbone.out_channels, frames, **head_options),
        num_classes,
        dropout,
        frames=frames,
        per_frame_ops=True,
        family="resnet2d",
        modality=modality,
    )
    model.pretrained_skip = model_skip
    return model


def _register(depth: int):
    def builder(
        num_classes=51,
        modality="rgb",
        head="avg",
        fusion=None,
        reduction=None,
        frames=16,
        size=224,
        frozen_stages=None,
        dropout=None,
        width=64,
        **head_options,
    ):
        return _build(
            depth, num_classes, modality, head, fusion, reduction, frames, frozen_stages, dropout, width, head_options
        )

    builder.__name__ = f"resnet{depth}"
    builder.__doc__ = (
        f"2D ResNet{depth} over `frames` TSN segments (frames=1: the single-frame 'no pooling' model); "
        "Tables 3.2-3.7, C.4."
    )
    register(f"resnet{depth}")(builder)


for _depth in DEPTHS:
    _register(_depth)
