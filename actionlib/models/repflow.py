"""Representation Flow (Piergiovanni & Ryoo, CVPR 2019): a (2+1)D ResNet50 with a learnable
optical-flow layer in the middle, the thesis's Table 3.10 "Rep-Flow" baseline.

The network is piergiaj's `resnet_3d_v1(50, 400)` (representation-flow-cvpr19,
`kinetics_2p1d_model.py`) as the authors used it (`rgb_rep_flow_32f_50`):
- stem: a 7x7x7 conv, stride 2, *no padding* (32 frames -> 13, 224 -> 109), then a max pool 3/2
  behind TensorFlow-style "same" padding;
- four groups of bottlenecks (3, 4, 6, 3) whose first conv is temporal (3x1x1) or pointwise,
  alternating 3, 3, 1, 3, 1, ... inside a group, the second is spatial (1x3x3, carrying the
  stride), all with "same" padding; the first block of a group has a projection shortcut with
  two BatchNorms in a row (kept because the checkpoint has both);
- after res3 the representation flow layer: 512 -> 32 channels, ten TV-L1 iterations between
  consecutive positions with learnable derivative kernels and (theta, lambda, tau), 64 -> 512
  channels, BN, a residual connection. Flow needs two frames, so it drops the last position.
For 32 x 224^2 the feature map is (2048, 6, 7, 7): the heads see 6 positions.

Key names are those of `rep_flow_kinetics.pth` (a bare state dict: `stem.weight`,
`res2.blocks.0.layers.1.weight`, `res2.blocks.0.shortcut.2.*`, `rep_flow.img_grad`, ...,
`classify.*`), so loading is the identity. The `Sequential` indices follow that file, which is why
the parameter-free padding and ReLU modules sit inside `layers`.

Operation counting: the block's final ReLU and the flow layer's convolutions, padding and ReLU are
functional in the authors' code, so (like the thesis's counter) they count nothing here either.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (front, back) for one dimension."""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2


class SamePadding(nn.Module):
    """Pads a (B, C, T, H, W) tensor so a following conv/pool gives ceil(size / stride).

    Parameter-free; it uses F.pad, which the thesis's counter did not count."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = [_same_pad(s, k, st) for s, k, st in zip(x.shape[2:], self.kernel, self.stride, strict=True)]
        (tf, tb), (hf, hb), (wf, wb) = pads
        if not any((tf, tb, hf, hb, wf, wb)):
            return x
        return F.pad(x, (wf, wb, hf, hb, tf, tb))


class Bottleneck(nn.Module):
    """(T x 1 x 1) -> (1 x 3 x 3, stride) -> 1 x 1 x 1, with 'same' padding; output 4 x filters."""

    def __init__(self, inplanes: int, filters: int, stride: int = 1, temporal: int = 3, projection: bool = False):
        super().__init__()
        out = 4 * filters
        self.shortcut = None
        if projection:
            # Two BNs in a row, as in the public model (its checkpoint holds both).
            self.shortcut = nn.Sequential(
                SamePadding((1, 1, 1), (1, stride, stride)),
                nn.Conv3d(inplanes, out, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(out),
                nn.BatchNorm3d(out),
            )
        self.layers = nn.Sequential(
            SamePadding((temporal, 1, 1), (1, 1, 1)),
            nn.Conv3d(inplanes, filters, (temporal, 1, 1), bias=False),
            nn.BatchNorm3d(filters),
            nn.ReLU(),
            SamePadding((1, 3, 3), (1, stride, stride)),
            nn.Conv3d(filters, filters, (1, 3, 3), stride=(1, stride, stride), bias=False),
            nn.BatchNorm3d(filters),
            nn.ReLU(),
            nn.Conv3d(filters, out, 1, bias=False),
            nn.BatchNorm3d(out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(self.layers(x) + identity)  # functional, as in the authors' code: not counted


class BlockGroup(nn.Module):
    """One ResNet stage; the first block strides and projects. Temporal kernels alternate so that
    only about every second block is 3D (as in the non-local networks)."""

    def __init__(self, inplanes: int, filters: int, blocks: int, stride: int):
        super().__init__()
        self.blocks = nn.ModuleList([Bottleneck(inplanes, filters, stride, projection=True)])
        temporal = 3
        for _ in range(1, blocks):
            self.blocks.append(Bottleneck(4 * filters, filters, temporal=temporal))
            temporal = 1 if temporal == 3 else 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class FlowLayer(nn.Module):
    """The representation flow layer: TV-L1 optical flow between consecutive positions of a
    (B, C, T, H, W) map, unrolled for `iterations` steps with learnable kernels and parameters.

    As in the public layer: the derivative kernels are full `bottleneck x bottleneck` convolutions
    (every channel's derivative sums all channels), and `_normalize` maps the whole batch to
    [-255, 0] (its denominator is min - max). The pretrained weights were learned with both, so
    they stay. The output is `relu(x[:, :, :-1] + bn(unbottleneck(flow)))`: one position fewer.
    """

    def __init__(self, channels: int = 512, bottleneck: int = 32, iterations: int = 10):
        super().__init__()
        self.bottleneck = nn.Conv3d(channels, bottleneck, 1, bias=False)
        self.unbottleneck = nn.Conv3d(2 * bottleneck, channels, 1, bias=False)
        self.bn = nn.BatchNorm3d(channels)
        c = bottleneck
        central = torch.tensor([-0.5, 0.0, 0.5])
        forward_diff = torch.tensor([-1.0, 1.0])
        # Image gradients along W and H (central differences), forward differences along H and
        # their adjoint (divergence); all learnable.
        self.img_grad = nn.Parameter(central.view(1, 1, 1, 3).repeat(c, c, 1, 1))
        self.img_grad2 = nn.Parameter(central.view(1, 1, 3, 1).repeat(c, c, 1, 1))
        self.f_grad = nn.Parameter(forward_diff.view(1, 1, 2, 1).repeat(c, c, 1, 1))
        self.f_grad2 = nn.Parameter(forward_diff.view(1, 1, 2, 1).repeat(c, c, 1, 1))
        self.div = nn.Parameter(forward_diff.view(1, 1, 2, 1).repeat(c, c, 1, 1))
        self.div2 = nn.Parameter(forward_diff.view(1, 1, 2, 1).repeat(c, c, 1, 1))
        # TV-L1's time step theta (t), data weight lambda (l) and dual step tau (a).
        self.t = nn.Parameter(torch.tensor([0.3]))
        self.l = nn.Parameter(torch.tensor([0.15]))
        self.a = nn.Parameter(torch.tensor([0.25]))
        self.iterations = iterations

    @staticmethod
    def _normalize(x: torch.Tensor) -> torch.Tensor:
        low, high = x.min(), x.max()
        return 255 * (x - low) / (low - high)

    def _forward_grad(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Forward differences down H; the last row is zero.
        gx = F.pad(F.conv2d(u, self.f_grad), (0, 0, 0, 1))
        gy = F.pad(F.conv2d(u, self.f_grad2), (0, 0, 0, 1))
        return gx, gy

    def _divergence(self, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
        # Shift down one row (zero on top), then the same forward difference with zero padding.
        tx = F.pad(px[:, :, :-1], (0, 0, 1, 1))
        ty = F.pad(py[:, :, :-1], (0, 0, 1, 1))
        return F.conv2d(tx, self.div) + F.conv2d(ty, self.div2)

    def _image_gradients(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Central differences of the second image, with one-sided differences of the first at the
        # borders (as in the public layer).
        gx = F.conv2d(F.pad(y, (1, 1, 0, 0)), self.img_grad)
        left = 0.5 * (x[..., 1:2] - x[..., 0:1])
        right = 0.5 * (x[..., -1:] - x[..., -2:-1])
        gx = torch.cat([left, gx[..., 1:-1], right], dim=-1)
        gy = F.conv2d(F.pad(y, (0, 0, 1, 1)), self.img_grad2)
        top = 0.5 * (x[:, :, 1:2] - x[:, :, 0:1])
        bottom = 0.5 * (x[:, :, -1:] - x[:, :, -2:-1])
        gy = torch.cat([top, gy[:, :, 1:-1], bottom], dim=2)
        return gx, gy

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        residual = fmap[:, :, :-1]
        images = self._normalize(self.bottleneck(fmap))
        b, c, t, h, w = images.shape
        t -= 1
        x = images[:, :, :-1].transpose(1, 2).reshape(b * t, c, h, w)
        y = images[:, :, 1:].transpose(1, 2).reshape(b * t, c, h, w)

        gx, gy = self._image_gradients(x, y)
        grad = gx**2 + gy**2 + 1e-12
        lt = self.l * self.t
        tau_theta = self.a / self.t
        u1, u2 = torch.zeros_like(x), torch.zeros_like(x)
        p11 = p12 = p21 = p22 = torch.zeros_like(x)
        rho_c = y - x  # the constant part of the residual, with u = 0

        for _ in range(self.iterations):
            rho = rho_c + gx * u1 + gy * u2 + 1e-12
            # Thresholding step of TV-L1 (the later assignment wins, as in the public layer).
            below = rho < -lt * grad
            above = rho > lt * grad
            inside = ~below & ~above & (grad > 1e-12)
            step = -rho / grad
            v1 = torch.where(above, -lt * gx, torch.where(below, lt * gx, torch.where(inside, step * gx, 0.0)))
            v2 = torch.where(above, -lt * gy, torch.where(below, lt * gy, torch.where(inside, step * gy, 0.0)))
            u1 = v1 + u1 + self.t * self._divergence(p11, p12)
            u2 = v2 + u2 + self.t * self._divergence(p21, p22)

            u1x, u1y = self._forward_grad(u1)
            u2x, u2y = self._forward_grad(u2)
            norm1 = 1.0 + tau_theta * torch.sqrt(u1x**2 + u1y**2 + 1e-12)
            norm2 = 1.0 + tau_theta * torch.sqrt(u2x**2 + u2y**2 + 1e-12)
            p11, p12 = (p11 + tau_theta * u1x) / norm1, (p12 + tau_theta * u1y) / norm1
            p21, p22 = (p21 + tau_theta * u2x) / norm2, (p22 + tau_theta * u2y) / norm2

        flow = torch.cat([u1, u2], dim=1).reshape(b, t, 2 * c, h, w).transpose(1, 2)
        return F.relu(residual + self.bn(self.unbottleneck(flow)))  # functional ReLU: not counted


def feature_steps(frames: int) -> int:
    """Positions left after the stem (unpadded 7, stride 2), the 'same' max pool (stride 2) and
    the flow layer (one fewer): 32 frames -> 13 -> 7 -> 6."""
    return math.ceil(((frames - 7) // 2 + 1) / 2) - 1


class RepFlowResNet(nn.Module):
    """piergiaj's ResNet3D-50 with the flow layer after res3; clips in, feature maps out."""

    public_classifier_prefixes = ("classify.",)
    # A 1x1x1 convolution after the spatial average, its logits averaged over time: with the
    # "avg" head it is our `fc` (checkpoints.py flattens it).
    public_classifier = ("classify.weight", "classify.bias")

    def __init__(self, layers=(3, 4, 6, 3), in_channels: int = 3, iterations: int = 10):
        super().__init__()
        self.stem = nn.Conv3d(in_channels, 64, 7, stride=2, bias=False)
        self.bn1 = nn.BatchNorm3d(64, eps=1e-3, momentum=0.01)
        self.relu = nn.ReLU(inplace=True)  # a module in the authors' variant: counted
        self.pad = SamePadding((3, 3, 3), (2, 2, 2))
        self.maxpool = nn.MaxPool3d(3, stride=2)
        self.res2 = BlockGroup(64, 64, layers[0], stride=1)
        self.res3 = BlockGroup(256, 128, layers[1], stride=2)
        self.rep_flow = FlowLayer(512, iterations=iterations)
        self.res4 = BlockGroup(512, 256, layers[2], stride=2)
        self.res5 = BlockGroup(1024, 512, layers[3], stride=2)
        self.out_channels = 2048

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.pad(self.relu(self.bn1(self.stem(clip)))))
        x = self.rep_flow(self.res3(self.res2(x)))
        return self.res5(self.res4(x))


@register("repflow_50")
def repflow_50(num_classes=51, modality="rgb", head="avg", frames=32, size=224, dropout=None, **head_options):
    """(2+1)D ResNet50 + representation flow layer (Piergiovanni & Ryoo), 32 frames at 224;
    Table 3.10 (`head="avg"`, the authors' `rgb_rep_flow_32f_50`) and a BERT head on the 6
    positions left after the flow layer."""
    steps = feature_steps(frames)
    if steps < 1:
        raise ValueError(
            f"repflow_50 needs frames >= 11 (the unpadded stem and the flow layer shorten time), got {frames}"
        )
    if size < 32:
        raise ValueError(f"repflow_50 needs size >= 32, got {size}")
    backbone = RepFlowResNet(in_channels=input_channels(modality))
    return VideoClassifier(
        backbone,
        build_head(head, backbone.out_channels, steps, **head_options),
        num_classes,
        dropout,
        frames=frames,
        family="repflow",
        modality=modality,
    )
