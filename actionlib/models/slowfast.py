"""SlowFast-R50 8x8 (Feichtenhofer et al., ICCV 2019), as PySlowFast builds it, with the thesis's heads.

The network reads one 64-frame clip as two pathways: the Fast pathway sees every 2nd frame
(32 frames, 1/8 of the channels), the Slow pathway every 8th (8 frames, full width). After the
stem and each of res2-res4 a time-strided convolution (kernel 7, stride alpha = 4) sends the Fast
features into the Slow pathway, where they are concatenated. Neither pathway is ever strided in
time, so at 224x224 the outputs are Slow (2048, 8, 7, 7) and Fast (256, 32, 7, 7).

Submodules carry PySlowFast's names (`s1.pathway0_stem.conv`, `s1_fuse.conv_f2s`,
`s2.pathway0_res0.branch1`, `...branch2.a`/`a_bn`, ...), so the SLOWFAST_8x8_R50 Kinetics
checkpoint loads as is. Its `head.projection` classifier (on both pathways averaged and
concatenated, as our "avg" head does) becomes `fc` when the model has "avg" and 400 classes.

The backbone returns the pair `(slow, fast)`, so SlowFast has its own heads here (same dict
contract as `heads.py`):
  * "avg": PySlowFast's head, each pathway averaged over T x H x W and concatenated (2304).
  * "bert", fusion="late" (the thesis's choice): one BERT per pathway, the Slow one after a
    2048 -> 512 reducer (BERT 512, L = 8), the Fast one on its 256 channels (BERT 256, L = 32);
    the two classification tokens are concatenated (768).
  * "bert", fusion="early": both pathways reduced (512 and 128), pooled to the Slow pathway's
    8 positions, concatenated per position and fed to a single BERT (640, L = 8).
The reducer is appended after the backbone (FRAB, the thesis's choice) or replaces the last
block of res5 in each reduced pathway (FRMB).
"""

from __future__ import annotations

import torch
from torch import nn

from .classifier import VideoClassifier, input_channels
from .heads import BertHead
from .registry import register
from .resnet3d import Bottleneck

# SLOWFAST_8x8_R50: blocks per stage, and the temporal kernel of the stem conv and of the first
# (`a`) conv of every block in res2..res5, for the (Slow, Fast) pathways. NUM_BLOCK_TEMP_KERNEL
# equals the block counts, so no block falls back to a temporal kernel of 1.
DEPTHS = (3, 4, 6, 3)
STEM_TEMPORAL_KERNEL = (1, 5)
STAGE_TEMPORAL_KERNELS = ((1, 3), (1, 3), (3, 3), (3, 3))
SPATIAL_STRIDES = (1, 2, 2, 2)


class BasicStem(nn.Module):
    """Tx7x7 convolution (spatial stride 2), BN, ReLU, then a 1x3x3 max pool (stride 2)."""

    def __init__(self, in_channels: int, out_channels: int, temporal_kernel: int):
        super().__init__()
        self.conv = nn.Conv3d(
            in_channels,
            out_channels,
            (temporal_kernel, 7, 7),
            stride=(1, 2, 2),
            padding=(temporal_kernel // 2, 3, 3),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.pool_layer = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x):
        return self.pool_layer(self.relu(self.bn(self.conv(x))))


class VideoModelStem(nn.Module):
    """One stem per pathway (`pathway0_stem` = Slow, `pathway1_stem` = Fast)."""

    def __init__(self, in_channels: int, widths: tuple[int, int]):
        super().__init__()
        for p, (width, kernel) in enumerate(zip(widths, STEM_TEMPORAL_KERNEL, strict=True)):
            self.add_module(f"pathway{p}_stem", BasicStem(in_channels, width, kernel))

    def forward(self, xs):
        return [getattr(self, f"pathway{p}_stem")(x) for p, x in enumerate(xs)]


class BottleneckTransform(nn.Module):
    """Tx1x1 -> 1x3x3 (spatial stride here) -> 1x1x1; the temporal extent sits in the first conv."""

    def __init__(self, dim_in: int, dim_out: int, dim_inner: int, temporal_kernel: int, stride: int):
        super().__init__()
        self.a = nn.Conv3d(dim_in, dim_inner, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), bias=False)
        self.a_bn = nn.BatchNorm3d(dim_inner)
        self.a_relu = nn.ReLU(inplace=True)
        self.b = nn.Conv3d(dim_inner, dim_inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.b_bn = nn.BatchNorm3d(dim_inner)
        self.b_relu = nn.ReLU(inplace=True)
        self.c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(dim_out)

    def forward(self, x):
        x = self.a_relu(self.a_bn(self.a(x)))
        x = self.b_relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class ResBlock(nn.Module):
    """Residual unit; `branch1` (1x1x1 projection + BN) only where the shape changes."""

    def __init__(self, dim_in: int, dim_out: int, dim_inner: int, temporal_kernel: int, stride: int = 1):
        super().__init__()
        if dim_in != dim_out or stride != 1:
            self.branch1 = nn.Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = nn.BatchNorm3d(dim_out)
        else:
            self.branch1 = self.branch1_bn = None
        self.branch2 = BottleneckTransform(dim_in, dim_out, dim_inner, temporal_kernel, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        shortcut = x if self.branch1 is None else self.branch1_bn(self.branch1(x))
        return self.relu(shortcut + self.branch2(x))


class ResStage(nn.Module):
    """One ResNet stage for both pathways: blocks `pathway{p}_res{i}`, run pathway by pathway."""

    def __init__(self, dims_in, dims_out, dims_inner, temporal_kernels, blocks: int, stride: int):
        super().__init__()
        self.blocks = blocks
        for p, (d_in, d_out, d_inner, kernel) in enumerate(
            zip(dims_in, dims_out, dims_inner, temporal_kernels, strict=True)
        ):
            for i in range(blocks):
                block = ResBlock(d_in if i == 0 else d_out, d_out, d_inner, kernel, stride if i == 0 else 1)
                self.add_module(f"pathway{p}_res{i}", block)

    def forward(self, xs):
        out = []
        for p, x in enumerate(xs):
            for i in range(self.blocks):
                x = getattr(self, f"pathway{p}_res{i}")(x)
            out.append(x)
        return out


class FuseFastToSlow(nn.Module):
    """Lateral connection: a (7,1,1) conv with temporal stride alpha maps the Fast features to
    the Slow frame rate (and twice their channels); they are concatenated to the Slow features."""

    def __init__(self, fast_channels: int, ratio: int, kernel: int, alpha: int):
        super().__init__()
        self.conv_f2s = nn.Conv3d(
            fast_channels,
            fast_channels * ratio,
            (kernel, 1, 1),
            stride=(alpha, 1, 1),
            padding=(kernel // 2, 0, 0),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(fast_channels * ratio)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs):
        slow, fast = xs
        return [torch.cat([slow, self.relu(self.bn(self.conv_f2s(fast)))], 1), fast]


class SlowFast(nn.Module):
    """PySlowFast's SlowFast trunk (no head); `forward(clip)` returns `[slow, fast]` feature maps.

    `fast_stride` is the frame step of the Fast pathway in the input clip (2: the authors feed 64
    frames, so the Fast pathway sees PySlowFast's 32 frames at sampling rate 2); the Slow pathway
    takes every `alpha`-th of those frames.
    """

    public_classifier_prefixes = ("head.",)
    public_classifier = ("head.projection.weight", "head.projection.bias")

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        alpha: int = 4,
        beta_inv: int = 8,
        fusion_ratio: int = 2,
        fusion_kernel: int = 7,
        fast_stride: int = 2,
    ):
        super().__init__()
        self.alpha, self.fast_stride = alpha, fast_stride
        self.s1 = VideoModelStem(in_channels, (width, width // beta_inv))
        self.s1_fuse = FuseFastToSlow(width // beta_inv, fusion_ratio, fusion_kernel, alpha)
        slow_in, fast_in = width + width // beta_inv * fusion_ratio, width // beta_inv
        for n, (blocks, kernels, stride) in enumerate(
            zip(DEPTHS, STAGE_TEMPORAL_KERNELS, SPATIAL_STRIDES, strict=True), start=2
        ):
            inner = width * 2 ** (n - 2)
            slow_out = inner * 4
            stage = ResStage(
                (slow_in, fast_in),
                (slow_out, slow_out // beta_inv),
                (inner, inner // beta_inv),
                kernels,
                blocks,
                stride,
            )
            self.add_module(f"s{n}", stage)
            if n < 5:
                self.add_module(f"s{n}_fuse", FuseFastToSlow(slow_out // beta_inv, fusion_ratio, fusion_kernel, alpha))
            if n == 2:
                # PySlowFast's identity (1x1x1) max pools after res2: the thesis's counter charged them their
                # input size, so a traced pass (actionlib.complexity) still runs them; `forward` skips them otherwise.
                self.pathway0_pool = nn.MaxPool3d(1, stride=1)
                self.pathway1_pool = nn.MaxPool3d(1, stride=1)
            slow_in = slow_out + slow_out // beta_inv * fusion_ratio
            fast_in = slow_out // beta_inv
        self.out_channels = (slow_out, slow_out // beta_inv)
        self._init_weights()

    def _init_weights(self):
        # PySlowFast: c2_msra_fill (Kaiming normal, fan_out) convs, BN 1/0, the last BN of each
        # residual branch zeroed so every block starts as the identity.
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, BottleneckTransform):
                nn.init.zeros_(m.c_bn.weight)

    def steps(self, frames: int) -> tuple[int, int]:
        """Temporal lengths (slow, fast) of the outputs for a clip of `frames` frames."""
        fast = -(-frames // self.fast_stride)
        return -(-fast // self.alpha), fast

    def forward(self, clip):
        fast = clip[:, :, :: self.fast_stride]
        slow = fast[:, :, :: self.alpha]
        x = self.s1_fuse(self.s1([slow, fast]))
        x = self.s2_fuse(self.s2(x))
        if torch.jit.is_tracing():  # identities: only the thesis's counter (a traced pass) should see them; running
            x = [self.pathway0_pool(x[0]), self.pathway1_pool(x[1])]  # them cost ~4 % of an inference pass on CPU
        x = self.s3_fuse(self.s3(x))
        x = self.s4_fuse(self.s4(x))
        return self.s5(x)


def reducer(inplanes: int, outplanes: int) -> Bottleneck:
    """The authors' SlowFast reducing block: 1x1x1 -> full 3x3x3 -> 1x1x1 bottleneck (expansion
    2) with a projection shortcut; 2048 -> 512 (Slow) or 256 -> 128 (Fast)."""
    projection = nn.Sequential(nn.Conv3d(inplanes, outplanes, 1, bias=False), nn.BatchNorm3d(outplanes))
    block = Bottleneck(inplanes, outplanes // 2, outplanes, downsample=projection)
    for m in block.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight)
    return block


class PathwayReduction(nn.Module):
    """FRAB for two pathways: a reducer after the Slow output and, optionally, the Fast one."""

    def __init__(self, slow: nn.Module, fast: nn.Module | None = None):
        super().__init__()
        self.slow, self.fast = slow, fast

    def forward(self, xs):
        slow, fast = xs
        return [self.slow(slow), fast if self.fast is None else self.fast(fast)]


class SlowFastAvgHead(nn.Module):
    """PySlowFast's ResNetBasicHead without its projection: average each pathway, concatenate."""

    global_average = True  # what `head.projection` reads: the public classifier fits after it

    def __init__(self, channels: tuple[int, int]):
        super().__init__()
        self.pathway0_avgpool = nn.AdaptiveAvgPool3d(1)
        self.pathway1_avgpool = nn.AdaptiveAvgPool3d(1)
        self.out_dim = sum(channels)

    def forward(self, xs):
        slow, fast = xs
        return {"pooled": torch.cat([self.pathway0_avgpool(slow), self.pathway1_avgpool(fast)], 1).flatten(1)}


class SlowFastLateBertHead(nn.Module):
    """One BERT per pathway (each on its own frame rate); the classification tokens are concatenated.

    `tokens`, `token_outputs` and `key_mask` are the Slow pathway's; the Fast pathway's are under
    `fast_tokens`, `fast_token_outputs` and `fast_key_mask`.
    """

    def __init__(self, channels: tuple[int, int], steps: tuple[int, int], **bert_options):
        super().__init__()
        self.slow = BertHead(channels[0], steps[0], **bert_options)
        self.fast = BertHead(channels[1], steps[1], **bert_options)
        self.out_dim = sum(channels)

    def forward(self, xs):
        slow, fast = self.slow(xs[0]), self.fast(xs[1])
        out = {"pooled": torch.cat([slow["pooled"], fast["pooled"]], 1)}
        out.update({k: slow[k] for k in ("tokens", "token_outputs", "key_mask")})
        out.update({f"fast_{k}": fast[k] for k in ("tokens", "token_outputs", "key_mask")})
        return out


class SlowFastEarlyBertHead(BertHead):
    """Both pathways pooled to the Slow pathway's positions and concatenated per position
    before a single BERT (width = the two channel counts summed)."""

    def __init__(self, channels: tuple[int, int], steps: int, **bert_options):
        super().__init__(sum(channels), steps, **bert_options)
        self.slow_pool = nn.AdaptiveAvgPool3d((steps, 1, 1))
        self.fast_pool = nn.AdaptiveAvgPool3d((steps, 1, 1))

    def forward(self, xs):
        slow = self.slow_pool(xs[0]).flatten(2)
        fast = self.fast_pool(xs[1]).flatten(2)
        return self.attend(torch.cat([slow, fast], 1).transpose(1, 2))  # (B, L, C_slow + C_fast)


HEADS = ("avg", "bert")
FUSIONS = ("late", "early")
REDUCTIONS = ("frab", "frmb")
SLOW_REDUCED, FAST_REDUCED = 512, 128


@register("slowfast_r50")
def slowfast_r50(
    num_classes=51,
    modality="rgb",
    head="avg",
    reduction=None,
    fusion=None,
    frames=64,
    size=224,
    dropout=None,
    **head_options,
):
    """SlowFast-R50 8x8 (Table 3.10; Table 4.5 and Section 4.2.4.3 for BERT, FRAB vs FRMB).

    head "avg" is the PySlowFast baseline. head "bert" takes `fusion` ("late", default: one BERT
    per pathway; "early": one BERT on the concatenated pathways) and `reduction` ("frab",
    default: reducers appended after the backbone; "frmb": reducers replace res5's last block).
    Late fusion reduces only the Slow pathway; early fusion reduces both.
    """
    if head == "tgap":
        head = "avg"
    if head not in HEADS:
        raise ValueError(f"SlowFast head must be one of {HEADS}, got {head!r}")
    if head == "avg" and (reduction is not None or fusion is not None or head_options):
        raise ValueError(
            "SlowFast head 'avg' takes no reduction, fusion or head options "
            f"(got reduction={reduction!r}, fusion={fusion!r}, {sorted(head_options)})"
        )
    if head == "bert":
        fusion = "late" if fusion is None else fusion
        reduction = "frab" if reduction is None else reduction
        if fusion not in FUSIONS:
            raise ValueError(f"SlowFast fusion must be one of {FUSIONS}, got {fusion!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"SlowFast reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if frames % 8:
        raise ValueError(f"SlowFast needs frames divisible by 8 (Fast = every 2nd, Slow = every 8th), got {frames}")

    backbone = SlowFast(in_channels=input_channels(modality))
    steps = backbone.steps(frames)
    channels = backbone.out_channels
    reducers = None
    skip: tuple[str, ...] = ()
    if head == "avg":
        pooling = SlowFastAvgHead(channels)
    else:
        slow = reducer(channels[0], SLOW_REDUCED)
        fast = reducer(channels[1], FAST_REDUCED) if fusion == "early" else None
        if reduction == "frab":
            reducers = PathwayReduction(slow, fast)
        else:
            last = DEPTHS[-1] - 1
            backbone.s5.add_module(f"pathway0_res{last}", slow)
            skip = (f"backbone.s5.pathway0_res{last}.",)
            if fast is not None:
                backbone.s5.add_module(f"pathway1_res{last}", fast)
                skip += (f"backbone.s5.pathway1_res{last}.",)
        channels = (SLOW_REDUCED, FAST_REDUCED if fusion == "early" else channels[1])
        if fusion == "late":
            pooling = SlowFastLateBertHead(channels, steps, **head_options)
        else:
            pooling = SlowFastEarlyBertHead(channels, steps[0], **head_options)
    model = VideoClassifier(
        backbone,
        pooling,
        num_classes,
        dropout,
        reduction=reducers,
        frames=frames,
        family="slowfast",
        modality=modality,
    )
    model.pretrained_skip = skip
    return model
