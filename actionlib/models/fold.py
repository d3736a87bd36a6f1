"""BatchNorm folded into the convolution before it, for inference.

In eval mode a BatchNorm is a per-channel affine map, y = x * scale + shift with scale = gamma / sqrt(var + eps) and
shift = beta - mean * scale. When its input is the output of a convolution and nothing else reads that output, the
map can go into the convolution's weights and bias: one operator and one full pass over the activation map fewer per
convolution. On one CPU thread that took 3-5 % off an inference pass of I3D, SlowFast-50, R(2+1)D-34 and
I3D-ResNet50 at small clips (results/benchmarks/models.md, "BN folded" columns, at the thesis's sizes).

Which BatchNorm follows which convolution is read from one forward pass on a small clip, not guessed from the order
the modules were registered in: a pair is folded only when, in every call, the BatchNorm's input is the very tensor
the convolution returned and no other operation reads that tensor. A BatchNorm after a pooling, a padding, an
addition or a concatenation stays as it is.
"""

from __future__ import annotations

import copy
import weakref

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

# Exact types only: a subclass may change what its forward does with the weights (e.g. standardise them).
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
# Reading a tensor's shape or layout is not a use of its values: `_same_padding` and the like may look.
_METADATA = {"__get__", "size", "dim", "ndimension", "numel", "stride", "is_contiguous", "data_ptr", "element_size"}


class _Call:
    """One convolution call: its output (weakly held), the BatchNorm that read it, and its other readers."""

    def __init__(self, conv: nn.Module, output: torch.Tensor):
        self.conv, self.output, self.norm, self.reads = conv, weakref.ref(output), None, 0


class _Readers(TorchFunctionMode):
    """Counts, for each convolution output, the torch operations that take it as an input."""

    def __init__(self):
        super().__init__()
        self.calls: dict[int, _Call] = {}  # by id() of a live output; a dead output's id may be reused

    def call_of(self, tensor) -> _Call | None:
        call = self.calls.get(id(tensor))
        return call if call is not None and call.output() is tensor else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") not in _METADATA:
            for leaf in tree_leaves((args, kwargs)):
                call = self.call_of(leaf) if isinstance(leaf, torch.Tensor) else None
                if call is not None:
                    call.reads += 1
        return func(*args, **kwargs)


def conv_bn_pairs(model: nn.Module, example) -> list[tuple[str, str]]:
    """(convolution name, BatchNorm name) pairs where, in every call of one forward pass of `model` on `example`,
    the BatchNorm reads that convolution's output and nothing else reads it."""
    names = {id(m): n for n, m in model.named_modules()}
    readers = _Readers()
    calls: list[_Call] = []
    leaders: dict[nn.Module, set] = {}  # BatchNorm -> the convs whose outputs it read (None: any other input)

    def after_conv(module, _inputs, output):
        call = _Call(module, output)
        readers.calls[id(output)] = call
        calls.append(call)

    def before_norm(module, inputs):
        call = readers.call_of(inputs[0])
        leaders.setdefault(module, set()).add(call.conv if call is not None else None)
        if call is not None:
            call.norm = module
            call.reads -= 1  # the BatchNorm's own read, counted when it calls batch_norm

    handles = []
    for module in model.modules():
        if type(module) in _CONVS:
            handles.append(module.register_forward_hook(after_conv))
        elif type(module) in _NORMS:
            handles.append(module.register_forward_pre_hook(before_norm))
    try:
        with torch.inference_mode(), readers:
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    followers: dict[nn.Module, set] = {}  # conv -> the BatchNorms that alone read its outputs (None: otherwise)
    for call in calls:
        followers.setdefault(call.conv, set()).add(call.norm if call.reads == 0 else None)
    pairs = []
    for conv, norms in followers.items():
        if len(norms) == 1 and None not in norms:
            (norm,) = norms
            if leaders[norm] == {conv}:
                pairs.append((names[id(conv)], names[id(norm)]))
    return pairs


def _fold(conv: nn.Module, norm: nn.Module) -> None:
    """conv's weight and bias take norm's eval-mode affine map (in place)."""
    with torch.no_grad():
        scale = (norm.running_var + norm.eps).rsqrt()
        if norm.weight is not None:
            scale = scale * norm.weight
        shift = -norm.running_mean * scale
        if norm.bias is not None:
            shift = shift + norm.bias
        weight = conv.weight
        weight.mul_(scale.to(weight.dtype).reshape(-1, *[1] * (weight.dim() - 1)))  # in place: keeps the layout
        bias = shift if conv.bias is None else conv.bias * scale + shift
        conv.bias = nn.Parameter(bias.to(weight.dtype), requires_grad=conv.weight.requires_grad)


def default_example(model: nn.Module) -> torch.Tensor:
    """A small clip for finding the pairs: the model's channels and frames (heads like BERT need the frame count),
    at most 32x32 pixels, in the dtype, on the device and (channels-last or not) in the layout of its weights."""
    channels, frames, size = 3, 16, 32
    if hasattr(model, "default_clip"):
        channels, frames, size = model.default_clip[0], model.default_clip[1], min(model.default_clip[2], 32)
    weight = next(model.parameters())
    clip = torch.zeros(1, channels, frames, size, size, dtype=weight.dtype, device=weight.device)
    first_conv = next((m.weight for m in model.modules() if isinstance(m, nn.Conv3d)), None)
    if first_conv is not None and first_conv.is_contiguous(memory_format=torch.channels_last_3d):
        clip = clip.contiguous(memory_format=torch.channels_last_3d)
    return clip


def fold_batchnorm(model: nn.Module, example=None) -> nn.Module:
    """An eval-mode copy of `model` in which every BatchNorm that reads only a convolution's output is folded into
    that convolution (which gains a bias if it had none) and replaced by `nn.Identity`.

    Inference only: the copy has no BatchNorm statistics to update, so it must not be trained. `model` itself is
    left as it is. `example` is an input for the one forward pass that finds the pairs (default: a small zero clip
    of the model's channels and frames, see `default_example`). BatchNorms without running statistics
    (`track_running_stats=False`) normalise with the batch's own statistics even in eval mode and are not folded.
    """
    folded = copy.deepcopy(model).eval()
    if example is None:
        example = default_example(folded)
    modules = dict(folded.named_modules())
    count = 0
    for conv_name, norm_name in conv_bn_pairs(folded, example):
        conv, norm = modules[conv_name], modules[norm_name]
        if norm.running_var is None or conv.out_channels != norm.num_features:
            continue
        _fold(conv, norm)
        _replace(folded, norm, nn.Identity())
        count += 1
    folded.folded_batchnorms = count
    return folded


def _replace(model: nn.Module, old: nn.Module, new: nn.Module) -> None:
    """Every registration of module `old` (it may sit under several names) becomes `new`."""
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if child is old:
                setattr(parent, name, new)
