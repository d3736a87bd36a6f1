"""Parameters and operations, counted the way the thesis counted them.

The thesis's tables come from flops-counter.pytorch (ptflops 0.5.2, "GMac"). That counter
hooks modules by exact type and counts, per call:
  convolution   multiply-adds, plus one add per output element when the conv has a bias
  linear        input elements x output features (no bias)
  batch norm    2 x elements (affine), ReLU-family activations: output elements
  pooling       input elements, upsampling: output elements
  RNNs          the ptflops >= 0.6 formula (the thesis's LSTM rows need it)
and nothing else: attention matrix products, softmax, GELU, custom LayerNorms and functional
calls (e.g. `F.relu`) are free. The total is divided by the batch, so the 2D models, which the
authors fed as a batch of frames, are reported per frame.

We trace the model once with fvcore, give each aten op a handle for that rule, and keep an op's
count only when the innermost module that ran it has one of the counted types: that reproduces
the module-type semantics of the original counter. The same trace also gives plain
multiply-adds (convolutions, linear layers, matrix products and RNNs wherever they run).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

# Module types whose ops the thesis's counter saw (exact type match, as ptflops does).
COUNTED_MODULES = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d,
    nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
    nn.Linear, nn.Upsample, nn.LSTM, nn.GRU, nn.RNN,
)  # fmt: skip
THESIS_KINDS = {
    "conv",
    "conv_bias",
    "linear",
    "batch_norm",
    "activation",
    "pool",
    "upsample",
    "rnn",
}
MULTIPLY_ADD_KINDS = {"conv", "linear", "matmul", "rnn"}


def _shape(value) -> list[int] | None:
    t = value.type()
    if isinstance(t, torch._C.TensorType) and t.sizes() is not None:
        return list(t.sizes())
    return None


def _numel(value) -> int:
    shape = _shape(value)
    return math.prod(shape) if shape else 0


def _is_none(value) -> bool:
    return isinstance(value.type(), torch._C.NoneType)


def _conv(inputs, outputs):
    out, weight = _shape(outputs[0]), _shape(inputs[1])
    positions = math.prod(out) // out[1] if out else 0
    macs = positions * math.prod(weight)  # weight is (C_out, C_in / groups, *k)
    bias = 0 if _is_none(inputs[2]) else math.prod(out)
    return Counter({"conv": macs, "conv_bias": bias})


def _linear(inputs, outputs):
    x, w = _shape(inputs[0]), _shape(inputs[1])
    return Counter({"linear": math.prod(x) * w[0]})


def _addmm(inputs, outputs):
    a, b = _shape(inputs[1]), _shape(inputs[2])
    return Counter({"linear": a[0] * a[1] * b[1]})


def _matmul(inputs, outputs):
    a, out = _shape(inputs[0]), _shape(outputs[0])
    return Counter({"matmul": math.prod(out) * a[-1]})


def _einsum(inputs, outputs):
    # Rare in this code base; count as a product whose contraction is the input's last dim.
    operands = list(inputs[1].node().inputs())
    a, out = _shape(operands[0]), _shape(outputs[0])
    return Counter({"matmul": math.prod(out) * (a[-1] if a else 1)})


def _batch_norm(inputs, outputs):
    return Counter({"batch_norm": _numel(inputs[0]) * (1 if _is_none(inputs[1]) else 2)})


def _activation(inputs, outputs):
    return Counter({"activation": _numel(outputs[0])})


def _pool(inputs, outputs):
    return Counter({"pool": _numel(inputs[0])})


def _upsample(inputs, outputs):
    return Counter({"upsample": _numel(outputs[0])})


def _rnn(inputs, outputs):
    """ptflops >= 0.6 LSTM rule: per step and layer, the weight sizes, the biases and 10 x hidden."""
    x = _shape(inputs[0])
    hidden = _shape(list(inputs[1].node().inputs())[0])[-1]
    weights = [_shape(w) for w in inputs[2].node().inputs()]
    layers = inputs[4].toIValue()
    bidirectional = bool(inputs[7].toIValue())
    directions = 2 if bidirectional else 1
    per_step = sum(math.prod(w) for w in weights) // directions + layers * 10 * hidden
    steps = math.prod(x[:-1])
    return Counter({"rnn": per_step * steps * directions})


_HANDLES = {
    "aten::_convolution": _conv,
    "aten::linear": _linear,
    "aten::addmm": _addmm,
    "aten::matmul": _matmul,
    "aten::bmm": _matmul,
    "aten::mm": _matmul,
    "aten::einsum": _einsum,
    "aten::batch_norm": _batch_norm,
    "aten::lstm": _rnn,
    **{f"aten::{op}": _activation for op in ("relu", "relu_", "prelu", "elu", "elu_", "leaky_relu", "leaky_relu_", "hardtanh", "hardtanh_")},
    **{
        f"aten::{op}": _pool
        for op in (
            "max_pool1d", "max_pool2d", "max_pool3d", "max_pool3d_with_indices", "max_pool2d_with_indices",
            "avg_pool1d", "avg_pool2d", "avg_pool3d",
            "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
            "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
        )
    },
    **{f"aten::{op}": _upsample for op in ("upsample_nearest2d", "upsample_bilinear2d", "upsample_nearest3d", "upsample_trilinear3d")},
}  # fmt: skip


@dataclass
class Complexity:
    params: int  # all parameters, frozen ones included
    trainable_params: int
    ops: float  # the thesis's convention (ptflops "MAC"), per sample (per frame for 2D models)
    multiply_adds: float  # plain multiply-adds of convs, linears, matrix products and RNNs

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def ops_g(self) -> float:
        return self.ops / 1e9

    @property
    def multiply_adds_g(self) -> float:
        return self.multiply_adds / 1e9


def count_params(model: nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def measure(model: nn.Module, clip: tuple[int, ...] | torch.Tensor | list) -> Complexity:
    """Count parameters and operations of `model` on one sample.

    `clip` is the input shape without the batch, e.g. (3, 64, 112, 112), or ready inputs.
    """
    from fvcore.nn.jit_analysis import JitModelAnalysis

    model = model.eval()
    if isinstance(clip, tuple):
        clip = torch.zeros(1, *clip)
    inputs = clip if isinstance(clip, (list, tuple)) else (clip,)
    batch = inputs[0].shape[0]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = JitModelAnalysis(model, tuple(inputs)).set_op_handle(**_HANDLES)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        per_module = analysis.by_module_and_operator()

    modules = dict(model.named_modules())
    thesis, plain = 0, 0
    for name, counts in per_module.items():
        if name == "":
            plain = sum(v for k, v in counts.items() if k in MULTIPLY_ADD_KINDS)
        if type(modules.get(name)) in COUNTED_MODULES:
            thesis += sum(v for k, v in counts.items() if k in THESIS_KINDS)
    divisor = batch * (getattr(model, "frames", 1) if getattr(model, "per_frame_ops", False) else 1)
    params, trainable = count_params(model)
    return Complexity(params, trainable, thesis / divisor, plain / divisor)


def clip_shape(text: str, channels: int) -> tuple[int, int, int, int]:
    """'64x112x112' (T x H x W) or '3x64x112x112' (C x T x H x W) -> (C, T, H, W): positive whole numbers, and the
    model's own channel count (a clip a model cannot take fails here, not deep in a convolution)."""
    parts = text.lower().split("x")
    if len(parts) not in (3, 4) or not all(part.strip().isdigit() and int(part) > 0 for part in parts):
        raise ValueError(
            f"give TxHxW or CxTxHxW in positive whole numbers, e.g. 16x112x112 or 3x16x112x112 (got {text!r})"
        )
    dims = tuple(int(part) for part in parts)
    if len(dims) == 3:
        return (channels, *dims)
    if dims[0] != channels:
        raise ValueError(f"the model takes {channels} channels, not {dims[0]}: give TxHxW")
    return dims
