"""TSM-ResNet50 (Lin et al., ICCV 2019): a 2D ResNet50 whose residual branches exchange
channels between neighbouring frames, the thesis's Table 3.10 2D-with-temporal-mixing baseline.

The trunk is torchvision's ResNet50. In every bottleneck the input of the residual branch is
shifted along time before `conv1` ("blockres" placement): 1/8 of the channels come from the next
frame, 1/8 from the previous one (zeros at the clip ends), the rest stay. The shift has no
weights and no operations, so parameters and operation counts are those of ResNet50 on T frames.

A clip `(B, C, T, H, W)` is run as a batch of B*T frames (T = the TSN segments) and regrouped to
`(B, 2048, T, 7, 7)`. The baseline ("avg") is TSM's segment consensus: every frame is classified
(dropout + linear, per frame) and the T score vectors are averaged, as in TSM and the authors'
`rgb_tsm_resnet50_8f`. That is why this family has its own head and classifier: averaging the
features first would give the same logits in eval but one dropout mask per clip in training, and
would count 7 x 2048 x 51 fewer operations than the thesis (32.9591 instead of 32.9598 GMac).
The BERT head attends over the T frame features and classifies its CLS output once.

Operations are reported for the whole clip, not per frame: the thesis counted TSM on one
`(8, 3, 224, 224)` sample. The thesis's "TSM 8x8f" is a *sampling* choice, not another model:
8 frames `range(0, 64, 8) + 4` of a 64-frame window fed to this same network.

Checkpoint `TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment16_e50.pth` (mit-han-lab):
`{'state_dict': {'module.base_model.<torchvision key>': ..., 'module.new_fc.*': ...}}` with each
shifted `conv1` wrapped as `conv1.net`. `convert_pretrained` maps it to plain torchvision keys, so a
torchvision ImageNet ResNet50 checkpoint loads as well.
"""

from __future__ import annotations

import torch
from torch import nn

from .classifier import VideoClassifier, input_channels
from .heads import build_head
from .registry import register


def temporal_shift(x: torch.Tensor, segments: int, fold_div: int = 8) -> torch.Tensor:
    """Shift 1/fold_div of the channels of a `(N*segments, C, H, W)` batch one frame back in time
    (frame t sees t+1) and another 1/fold_div one frame forward (t sees t-1), zero-filled."""
    nt, c, h, w = x.shape
    x = x.reshape(nt // segments, segments, c, h, w)
    fold = c // fold_div
    pad = x.new_zeros(x.shape[0], 1, fold, h, w)
    from_next = torch.cat([x[:, 1:, :fold], pad], dim=1)
    from_previous = torch.cat([pad, x[:, :-1, fold : 2 * fold]], dim=1)
    return torch.cat([from_next, from_previous, x[:, :, 2 * fold :]], dim=2).reshape(nt, c, h, w)


class ShiftBottleneck(nn.Module):
    """torchvision's ResNet50 bottleneck (stride on the 3x3 conv) with the temporal shift at
    the start of the residual branch; the identity path stays unshifted."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, fold_div: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.fold_div = fold_div

    def forward(self, x: torch.Tensor, segments: int) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(temporal_shift(x, segments, self.fold_div))))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class TSMResNet(nn.Module):
    """ResNet50 trunk with temporal shift; clips in, `(B, 2048, T, h, w)` feature maps out."""

    # After `module.` is stripped: TSM's `new_fc`, or a torchvision checkpoint's `fc`. Only `new_fc`
    # can become our classifier: an ImageNet `fc` was trained on features without the temporal shift.
    public_classifier_prefixes = ("new_fc.", "fc.")
    public_classifier = ("new_fc.weight", "new_fc.bias")

    def __init__(self, layers=(3, 4, 6, 3), in_channels: int = 3, fold_div: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride = 1 if i == 0 else 2
            outplanes = planes * ShiftBottleneck.expansion
            down = None
            if stride != 1 or inplanes != outplanes:
                down = nn.Sequential(
                    nn.Conv2d(inplanes, outplanes, 1, stride=stride, bias=False), nn.BatchNorm2d(outplanes)
                )
            blocks = [ShiftBottleneck(inplanes, planes, stride, down, fold_div)]
            blocks += [ShiftBottleneck(outplanes, planes, fold_div=fold_div) for _ in range(count - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = outplanes
        self.out_channels = inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = clip.shape
        x = clip.transpose(1, 2).reshape(b * t, c, h, w)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                x = block(x, t)
        return x.reshape(b, t, *x.shape[1:]).transpose(1, 2)

    @staticmethod
    def convert_pretrained(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """TSM layout -> ours: drop the `base_model.` prefix and unwrap `conv1.net` (the shift
        wrapper); torchvision keys pass unchanged."""
        out = {}
        for key, value in state.items():
            key = key.removeprefix("base_model.").replace(".conv1.net.", ".conv1.")
            out[key] = value
        return out


class SegmentConsensus(nn.Module):
    """TSM's average consensus, first half: one spatially pooled feature per frame.

    `frame_features` (B, T, C) go to `ConsensusClassifier`, which classifies each frame and
    averages the scores; `pooled` (their mean) is kept for consumers of the head contract."""

    global_average = True  # TSM's own consensus: its `new_fc` fits after it

    def __init__(self, channels: int, steps: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d((None, 1, 1))
        self.out_dim = channels

    def forward(self, fmap: torch.Tensor) -> dict:
        frames = self.pool(fmap).flatten(2).transpose(1, 2)
        return {"pooled": frames.mean(dim=1), "frame_features": frames}


class ConsensusClassifier(VideoClassifier):
    """VideoClassifier whose dropout + linear run per frame when the head supplies
    `frame_features`; the logits are the average of the frame scores (segment consensus)."""

    def forward_features(self, clip: torch.Tensor) -> dict:
        if not isinstance(self.head, SegmentConsensus):
            return super().forward_features(clip)
        out = self.head(self.backbone(clip))
        out["logits"] = self.fc(self.dropout(out.pop("frame_features"))).mean(dim=1)
        return out


@register("tsm_r50")
def tsm_r50(num_classes=51, modality="rgb", head="avg", frames=8, size=224, dropout=None, fold_div=8, **head_options):
    """TSM-ResNet50, 8 segments, shift 1/8 + 1/8 (blockres); Table 3.10. `head="avg"` is TSM's
    average consensus; `head="bert"` puts BERT (d 2048, `frames` positions) on the frame features
    (the authors' `rgb_tsm_resnet50_64f_bert10`). Any other late head of `heads.py` also fits."""
    if frames < 1:
        raise ValueError(f"tsm_r50 needs frames >= 1, got frames={frames}")
    backbone = TSMResNet(in_channels=input_channels(modality), fold_div=fold_div)
    if head in ("avg", "tgap"):
        if head_options:
            raise ValueError(f"the avg (segment consensus) head takes no options, got {sorted(head_options)}")
        late = SegmentConsensus(backbone.out_channels, frames)
    else:
        late = build_head(head, backbone.out_channels, frames, **head_options)
    return ConsensusClassifier(
        backbone,
        late,
        num_classes,
        dropout,
        frames=frames,
        per_frame_ops=False,  # the thesis counted the 8-frame clip as one sample
        family="tsm",
        modality=modality,
    )
