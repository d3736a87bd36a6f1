"""Atomic checkpoints: a killed run never leaves a half-written `last.pt`.

A checkpoint is a dict: model, optimizer, scheduler, scaler, rng (one state per rank), epoch,
step (batches done within `epoch`; 0 = the epoch has not started), partial epoch statistics,
best metric, global optimizer step and the resolved config (which also holds the class names,
so `predict` needs nothing else).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from torch import nn


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP / torch.compile wrappers (its state-dict keys have no prefix)."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write to a temporary file in the same directory, fsync, then `os.replace` (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def copy_checkpoint(source: str | Path, target: str | Path) -> Path:
    """Atomic copy (used for best.pt)."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint written by `save_checkpoint`; name the path when it is missing or unreadable."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        # Our own files hold RNG states and config dicts (python objects), so they need full unpickling.
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 - a corrupt file must say which file
        raise ValueError(f"cannot read checkpoint {path}: {err}") from err


def load_model(path: str | Path, map_location="cpu") -> tuple[nn.Module, dict]:
    """Rebuild a trained model from one of our checkpoints (its config names the model and its
    options); return (model in eval mode, config dict)."""
    from actionlib.models import create

    state = load_checkpoint(path, map_location)
    if "config" not in state or "model" not in state:
        raise ValueError(f"{path} is not an actionlib training checkpoint (no 'config'/'model' entries)")
    config = state["config"]
    model = create(config["model"], num_classes=config["num_classes"], modality=config["modality"], **config["options"])
    model.load_state_dict(state["model"])
    model.class_names = config.get("class_names")
    return model.eval(), config
