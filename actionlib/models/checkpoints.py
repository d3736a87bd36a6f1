"""Loading public pretrained checkpoints from a local file, safely.

Each backbone keeps the key names of the public checkpoint it comes from (Hara's 3D ResNets,
piergiaj's I3D, PySlowFast, ig65m, torchvision, ...), so loading is mostly a matter of
unwrapping the file and putting the keys under `backbone.`. A backbone whose public layout
differs defines `convert_pretrained(state_dict)` to rename keys.

The public classifier (keys under the backbone's `public_classifier_prefixes`; the weight and bias
named by its `public_classifier`) becomes the model's `fc` when the model has its size and nothing
between the backbone and `fc` changes what it reads; otherwise it is dropped and the report says why.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

_WRAPPER_KEYS = ("state_dict", "model_state", "model", "net")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint with `weights_only=True` and unwrap the usual containers.

    A file that is not one (empty, truncated, text, another format) is refused naming the file, in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint not found: {path}")
    with open(path, "rb") as f:
        start = f.read(4)
    if not start:
        raise ValueError(f"{path}: not a checkpoint: the file is empty")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise  # permission denied and the like: the command line words these
    except Exception as err:  # noqa: BLE001 - a damaged or foreign file fails in many ways: name the file
        if not (start.startswith(b"PK\x03\x04") or start[:1] == b"\x80"):  # torch.save: a zip or a pickle
            raise ValueError(
                f"{path}: not a checkpoint: not a file torch.save writes (pass the .pth/.pt file)"
            ) from err
        reason = (str(err).splitlines() or [type(err).__name__])[0].split(". ")[0]
        if isinstance(err, pickle.UnpicklingError):
            raise ValueError(
                f"refused to load {path}: it is not a plain tensor checkpoint (weights_only=True rejected it, so it "
                f"may try to run code): {reason}"
            ) from err
        raise ValueError(
            f"{path}: not a readable checkpoint (truncated or damaged? {reason}): download it again"
        ) from err
    for key in _WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: not a checkpoint of model weights: it does not hold a state dict of tensors")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def adapt_input_channels(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """Average a first-layer kernel over its input channels and replicate it (Section 3.2.2),
    so RGB-pretrained weights can start a flow (2-channel) stream."""
    mean = weight.mean(dim=1, keepdim=True)
    return mean.expand(-1, channels, *weight.shape[2:]).contiguous()


def load_pretrained(model: nn.Module, path: str | Path, strict: bool = True) -> dict:
    """Load a public checkpoint into `model.backbone`, and its classifier into `model.fc` when it fits.

    The classifier is kept (as timm and torchvision do) only when `model.fc` has its exact shape and
    reads what the public classifier read, the backbone's averaged output (see
    `VideoClassifier.reads_public_features`): then the model predicts the public network's classes.
    Otherwise `fc` stays freshly initialised. The returned report has the `missing`, `unexpected`
    and `mismatched` backbone keys and a `classifier` line saying which it was.

    Raises ValueError listing missing, unexpected and mis-shaped keys when the file does not fit
    (unless `strict=False`, which returns them instead).
    """
    state = read_state_dict(path)
    backbone = model.backbone
    if hasattr(backbone, "convert_pretrained"):
        state = backbone.convert_pretrained(state)
    classifier_prefixes = tuple(getattr(backbone, "public_classifier_prefixes", ("fc.",)))
    classifier_state = {k: v for k, v in state.items() if k.startswith(classifier_prefixes)}
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
    report["classifier"] = _load_classifier(model, classifier_state)
    return report


def _load_classifier(model: nn.Module, classifier_state: dict[str, torch.Tensor]) -> str:
    """Copy the public classifier into `model.fc` when it fits; say what happened, in one line."""
    if not classifier_state:
        return "none in the checkpoint"
    keys = ", ".join(classifier_state)
    if not model.reads_public_features():
        return f"dropped: {keys} (the model's classifier reads its late temporal head, reduction or fusion)"
    names = getattr(model.backbone, "public_classifier", ("fc.weight", "fc.bias"))
    if any(name not in classifier_state for name in names):
        return f"dropped: {keys} (the model takes only {', '.join(names)} as its classifier)"
    weight, bias = (classifier_state[name] for name in names)
    if weight.dim() > 2 and all(size == 1 for size in weight.shape[2:]):
        weight = weight.flatten(1)  # a 1x1x1 convolution on pooled features is a linear layer
    fc = model.fc
    if weight.dim() != 2 or bias.shape != weight.shape[:1]:
        return f"dropped: {keys} (not a linear classifier: weight {tuple(weight.shape)}, bias {tuple(bias.shape)})"
    if weight.shape[1] != fc.in_features:
        return f"dropped: {keys} (it reads {weight.shape[1]} features, the model's classifier {fc.in_features})"
    if weight.shape[0] != fc.out_features:
        return f"dropped: {keys} ({weight.shape[0]} classes, the model has {fc.out_features})"
    with torch.no_grad():
        fc.weight.copy_(weight)
        fc.bias.copy_(bias)
    return f"loaded: {', '.join(names)}"
