"""Loading public pretrained checkpoints from a local file, safely.

Each backbone keeps the key names of the public checkpoint it comes from (Hara's 3D ResNets,
piergiaj's I3D, PySlowFast, ig65m, torchvision, ...), so loading is mostly a matter of
unwrapping the file, dropping the old classifier and putting the keys under `backbone.`.
A backbone whose public layout differs defines `convert_pretrained(state_dict)` to rename keys.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

_WRAPPER_KEYS = ("state_dict", "model_state", "model", "net")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint with `weights_only=True` and unwrap the usual containers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"refused to load {path}: it is not a plain tensor checkpoint (weights_only=True "
            f"rejected it, so it may try to run code): {err}"
        ) from err
    for key in _WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def adapt_input_channels(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """Average a first-layer kernel over its input channels and replicate it (Section 3.2.2),
    so RGB-pretrained weights can start a flow (2-channel) stream."""
    mean = weight.mean(dim=1, keepdim=True)
    return mean.expand(-1, channels, *weight.shape[2:]).contiguous()


def load_pretrained(model: nn.Module, path: str | Path, strict: bool = True) -> dict[str, list[str]]:
    """Load a public checkpoint into `model.backbone`; the classifier stays freshly initialised.

    Raises ValueError listing missing, unexpected and mis-shaped keys when the file does not fit
    (unless `strict=False`, which returns them instead).
    """
    state = read_state_dict(path)
    backbone = model.backbone
    if hasattr(backbone, "convert_pretrained"):
        state = backbone.convert_pretrained(state)
    classifier_prefixes = tuple(getattr(backbone, "public_classifier_prefixes", ("fc.",)))
    state = {k: v for k, v in state.items() if not k.startswith(classifier_prefixes)}

    skip = tuple(p.removeprefix("backbone.") for p in getattr(model, "pretrained_skip", ()))
    own = backbone.state_dict()
    loadable, mismatched = {}, []
    for key, value in state.items():
        if skip and key.startswith(skip):
            continue
        if key not in own:
            continue
        target = own[key]
        if value.shape != target.shape and value.dim() == target.dim() and value.dim() >= 4:
            if value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]:
                value = adapt_input_channels(value, target.shape[1])
        if value.shape != target.shape:
            mismatched.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(target.shape)}")
            continue
        loadable[key] = value
    unexpected = sorted(k for k in state if k not in own and not (skip and k.startswith(skip)))
    missing = sorted(
        k
        for k in own
        if k not in loadable
        and not k.endswith("num_batches_tracked")
        and not (skip and k.startswith(skip))
        and not any(k in m.split(":")[0] for m in mismatched)
    )
    report = {"missing": missing, "unexpected": unexpected, "mismatched": mismatched}
    if strict and (missing or unexpected or mismatched):
        lines = [f"{path} does not fit {type(backbone).__name__}:"]
        for kind, keys in report.items():
            if keys:
                shown = ", ".join(keys[:12]) + (f", ... ({len(keys)} in all)" if len(keys) > 12 else "")
                lines.append(f"  {kind} keys: {shown}")
        raise ValueError("\n".join(lines))
    backbone.load_state_dict(loadable, strict=False)
    return report
