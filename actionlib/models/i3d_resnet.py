"""I3D-ResNet50 (± non-local blocks), the thesis's "Modified ResNet50" of Table 3.10.

The Caffe2 model of FAIR's video-nonlocal-net (Wang et al., CVPR 2018) as ported to PyTorch by
Tushar-N/pytorch-resnet3d (`I3Res50`), which the authors used. Kept in that port's key layout
(`conv1`, `bn1`, `layer2.1.conv1`, `layer2.0.downsample.0`, `layer2.1.nl.theta`, ...) so its
`i3d_r50_kinetics.pth` / `i3d_r50_nl_kinetics.pth` (bare state dicts) load directly; their `fc`
(after a global average pool) becomes ours when the model has the "avg" head and 400 classes.

Unlike Hara's 3D ResNets, the 3D kernels are "inflated" selectively: a block's first 1x1 conv
becomes 3x1x1 in alternating blocks, and the 3x3 conv stays spatial (1x3x3). Time is halved by
conv1, by the stem max pool and by a max pool after layer1, so a 32-frame clip gives 4 positions
and a 64-frame clip 8. The non-local variant inserts 5 blocks (after blocks 1 and 3 of layer2 and
1, 3, 5 of layer3) whose key/value path is spatially max-pooled.
"""

from __future__ import annotations

from torch import nn

from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block of video-nonlocal-net: half-width theta/phi/g, phi and g
    on a 2x2 spatially max-pooled map (4x fewer keys), affinity scaled by 1/sqrt(inner width),
    output conv + BN added to the input."""

    def __init__(self, channels: int, inner: int | None = None):
        super().__init__()
        inner = inner or channels // 2
        self.inner = inner
        self.theta = nn.Conv3d(channels, inner, 1)
        self.maxpool = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        self.out = nn.Conv3d(inner, channels, 1)
        self.bn = nn.BatchNorm3d(channels)

    def forward(self, x):
        b = x.shape[0]
        pooled = self.maxpool(x)
        theta = self.theta(x).flatten(2)  # (B, C', N)
        phi = self.phi(pooled).flatten(2)  # (B, C', N / 4)
        g = self.g(pooled).flatten(2)
        attn = (theta.transpose(1, 2) @ phi * self.inner**-0.5).softmax(dim=-1)  # (B, N, N / 4)
        y = (g @ attn.transpose(1, 2)).view(b, self.inner, *x.shape[2:])
        return x + self.bn(self.out(y))


class Bottleneck(nn.Module):
    """(1 or 3)x1x1 -> 1x3x3 (spatial stride) -> 1x1x1, residual, then an optional non-local block."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        temporal_kernel: int = 1,
        downsample: nn.Module | None = None,
        nonlocal_block: bool = False,
    ):
        super().__init__()
        outplanes = planes * self.expansion
        self.conv1 = nn.Conv3d(
            inplanes, planes, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), bias=False
        )
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, outplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(outplanes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.nl = NonLocalBlock(outplanes) if nonlocal_block else None

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.relu(self.bn3(self.conv3(out)) + identity)
        return out if self.nl is None else self.nl(out)


# Per stage: bottleneck width, spatial stride, temporal kernel of each block's first conv.
STAGES = (
    (64, 1, (3, 3, 3)),
    (128, 2, (3, 1, 3, 1)),
    (256, 2, (3, 1, 3, 1, 3, 1)),
    (512, 2, (1, 3, 1)),
)
NONLOCAL_STAGES = (2, 3)  # non-local blocks after every second block of layer2 and layer3


class I3DResNet50(nn.Module):
    """I3D-ResNet50 trunk up to layer4 (no average pool, no classifier); 2048 output channels."""

    public_classifier_prefixes = ("fc.",)
    public_classifier = ("fc.weight", "fc.bias")

    def __init__(self, in_channels: int = 3, nonlocal_blocks: bool = False):
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, 64, (5, 7, 7), stride=(2, 2, 2), padding=(2, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool1 = nn.MaxPool3d((2, 3, 3), stride=(2, 2, 2))
        inplanes = 64
        for i, (planes, stride, kernels) in enumerate(STAGES, start=1):
            outplanes = planes * Bottleneck.expansion
            down = None
            if stride != 1 or inplanes != outplanes:
                down = nn.Sequential(
                    nn.Conv3d(inplanes, outplanes, 1, stride=(1, stride, stride), bias=False),
                    nn.BatchNorm3d(outplanes),
                )
            blocks = []
            for j, k in enumerate(kernels):
                with_nl = nonlocal_blocks and i in NONLOCAL_STAGES and j % 2 == 1
                first = j == 0
                blocks.append(Bottleneck(inplanes, planes, stride if first else 1, k, down if first else None, with_nl))
                inplanes = outplanes
            self.add_module(f"layer{i}", nn.Sequential(*blocks))
            if i == 1:
                self.maxpool2 = nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1))
        self.out_channels = inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, NonLocalBlock):
                # Zero scale on the last BN: a new non-local block starts as the identity (Wang et al.).
                nn.init.zeros_(m.bn.weight)

    def forward(self, x):
        x = self.maxpool1(self.relu(self.bn1(self.conv1(x))))
        x = self.maxpool2(self.layer1(x))
        return self.layer4(self.layer3(self.layer2(x)))


def temporal_steps(frames: int) -> int:
    """Positions left after conv1 (stride 2, pad 2), the stem max pool and max pool 2 (no padding)."""
    t = (frames - 1) // 2 + 1
    return t // 2 // 2


@register("i3d_r50")
def i3d_r50(
    num_classes=51,
    modality="rgb",
    head="avg",
    nonlocal_blocks=False,
    frames=32,
    size=224,
    dropout=None,
    **head_options,
):
    """I3D-ResNet50 ("Modified ResNet50"), optionally with non-local blocks; 32 or 64 frames at 224."""
    if not isinstance(nonlocal_blocks, bool):
        raise ValueError(f"nonlocal_blocks must be True or False, got {nonlocal_blocks!r}")
    steps = temporal_steps(frames)
    if steps < 1:
        raise ValueError(f"frames must be at least 7 for i3d_r50 (time is divided by 8), got {frames}")
    backbone = I3DResNet50(input_channels(modality), nonlocal_blocks=nonlocal_blocks)
    return VideoClassifier(
        backbone,
        build_head(head, backbone.out_channels, steps, **head_options),
        num_classes,
        dropout,
        frames=frames,
        family="i3d_r50",
        modality=modality,
    )
