"""Atomic checkpoints: a killed run never leaves a half-written `last.pt`; reading one never runs code.

A checkpoint is a dict: model, optimizer, scheduler, scaler, rng (one state per rank), epoch,
step (batches done within `epoch`; 0 = the epoch has not started), partial epoch statistics,
best metric and epoch, global optimizer step, the resolved config (which also holds the class
names, so `predict` needs nothing else) and, at an epoch's end, that epoch's metrics line
(`record`), so a resume can finish an epoch end that a kill interrupted.

Everything in it is a tensor, number, string, list or dict: every file is read with
`weights_only=True`, and a file that needs more (a pickle that would run code) is refused.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..locks import temporary_path


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP / torch.compile wrappers (its state-dict keys have no prefix)."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model


def plain(value):
    """Paths as strings and NumPy values as Python numbers/lists: what `weights_only=True` can read back."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def durable_replace(tmp: Path, path: Path) -> None:
    """fsync the file, rename it over `path` (atomic on POSIX) and fsync the folder, so the rename survives a crash."""
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_failure(err: Exception) -> OSError | None:
    """The OSError behind a failed `torch.save`: torch's zip writer reports a write that failed (full disk, file-size
    limit) as a RuntimeError ("unexpected pos ..."), the OSError of the file's `write` being its context."""
    while err is not None and not isinstance(err, OSError):
        err = err.__cause__ or err.__context__
    return err


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write to a temporary file in the same directory, fsync, then `os.replace`: a failed write (full disk,
    file-size limit) leaves the previous file as it was, and is raised as an OSError naming `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:
            try:
                torch.save(state, f)
            except RuntimeError as err:
                cause = _write_failure(err)
                if cause is None:
                    raise
                raise OSError(cause.errno, cause.strerror, str(path)) from err
            f.flush()
            os.fsync(f.fileno())
        durable_replace(tmp, path)
    except OSError as err:  # a full or read-only disk: name the file being written, not its temporary
        raise OSError(err.errno, err.strerror, str(path)) from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


def copy_checkpoint(source: str | Path, target: str | Path) -> Path:
    """Atomic copy (used for best.pt); a failure names `target`, not its temporary."""
    target = Path(target)
    tmp = temporary_path(target)
    try:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        durable_replace(tmp, target)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(target)) from err
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _legacy_numpy_globals() -> list:
    """Checkpoints written before RNG states were stored as plain lists hold NumPy's RNG key as a uint32 array:
    these four globals rebuild such an array and nothing else, so those runs still resume."""
    return [np.zeros(1).__reduce__()[0], np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def _refusal_reason(err: Exception) -> str:
    """The line of torch's message that says what the file needs (its advice to load it unsafely is left out)."""
    for line in str(err).splitlines():
        line = line.replace("WeightsUnpickler error:", "").strip()
        if "GLOBAL" in line or "Can only build" in line:
            return line.split(". Please")[0].rstrip(".")
    return "it needs more than tensors and plain values"


def _written_by_torch_save(path: Path) -> bool:
    """torch.save writes a zip archive (or, before PyTorch 1.6, a pickle): a text or image file is neither."""
    with open(path, "rb") as f:
        start = f.read(4)
    return start.startswith(b"PK\x03\x04") or start[:1] == b"\x80"


def safe_load(path: str | Path, what: str = "checkpoint", map_location="cpu"):
    """`torch.load(weights_only=True)`; a file that needs more is refused with a message naming it."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(_legacy_numpy_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise  # permission denied and the like: the command line words these
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file must say which file
        if path.stat().st_size == 0:
            raise ValueError(f"{path}: not a {what}: the file is empty") from err
        if not _written_by_torch_save(path):
            raise ValueError(f"{path}: not a {what}: not a file torch.save writes") from err
        if isinstance(err, pickle.UnpicklingError):
            raise ValueError(
                f"refused to load {path}: it is not a plain {what} (loading it would run code); only tensors, "
                f"numbers, strings, lists and dicts are read ({_refusal_reason(err)})"
            ) from err
        reason = (str(err).splitlines() or [""])[0].split(". ")[0] or type(err).__name__
        raise ValueError(f"cannot read {what} {path}: {reason} (truncated or damaged?)") from err


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint written by `save_checkpoint`; name the path when it is missing, unreadable or unsafe."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = safe_load(path, "checkpoint", map_location)
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not an actionlib checkpoint (it holds a {type(state).__name__}, not a dict)")
    return state


def _misfit(own: dict, weights: dict) -> str:
    """Which keys of a state dict do not fit a model's, in a few words."""
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shaped = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in weights and hasattr(weights[k], "shape") and weights[k].shape != own[k].shape
    ]
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", shaped)):
        if keys:
            parts.append(f"{len(keys)} weights {label}, e.g. {keys[0]}")
    return "; ".join(parts) or "the weights do not load"


# Far beyond any action dataset (Kinetics-700, ...) and any clip or layer size: a larger value in a checkpoint's
# config is damage or an edit, and building it would allocate gigabytes before failing.
MAX_COUNT = 100_000


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_COUNT


def config_problem(config: dict) -> str | None:
    """What is wrong with a checkpoint's config, checked before a model is built from it; None if nothing."""
    from actionlib.models.registry import POSITIVE_OPTIONS

    model, classes, names = config["model"], config["num_classes"], config.get("class_names")
    if not isinstance(model, str) or not isinstance(config["modality"], str):
        return f"its config's model and modality must be names, got {model!r} and {config['modality']!r}"
    whole = isinstance(classes, int) and not isinstance(classes, bool)
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        return f"its config's class_names must be a list of names, got {type(names).__name__}"
    if whole and names is not None and len(names) != classes:
        return f"its config says num_classes={classes} but names {len(names)} classes (class_names)"
    if not _count(classes):
        return f"its config's num_classes must be a whole number within 1..{MAX_COUNT}, got {classes!r}"
    options = config["options"]
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        return f"its config's options must be a dict of named options, got {type(options).__name__}"
    for key, value in options.items():
        if key in POSITIVE_OPTIONS and value is not None and not _count(value):
            return f"its config's option {key!r} must be a whole number within 1..{MAX_COUNT}, got {value!r}"
    return None


def load_model(path: str | Path, map_location="cpu", frames: int | None = None) -> tuple[nn.Module, dict]:
    """Rebuild a trained model from one of our checkpoints (its config names the model and its
    options); return (model in eval mode, config dict).

    `frames` builds it for another clip length (2D: number of segments) than it was trained on, which only a
    model without frame-dependent weights allows: Table 3.3's No Pooling network is trained on one frame and
    tested on 16 (Section 3.3.1).
    """
    from actionlib.models import create

    state = load_checkpoint(path, map_location)
    if "config" not in state or "model" not in state:
        raise ValueError(f"{path} is not an actionlib training checkpoint (no 'config'/'model' entries)")
    config = state["config"]
    missing = [key for key in ("model", "num_classes", "modality", "options") if key not in (config or {})]
    if missing or not isinstance(state["model"], dict):
        raise ValueError(f"{path} is not an actionlib training checkpoint (its config lacks {', '.join(missing)})")
    problem = config_problem(config)
    if problem:
        raise ValueError(f"{path}: {problem}: was the file edited or damaged? Use the checkpoint its run wrote")
    if frames is not None:
        config = {**config, "options": {**config["options"], "frames": frames}}
    model = create(config["model"], num_classes=config["num_classes"], modality=config["modality"], **config["options"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        if frames is None:
            raise ValueError(
                f"{path}: its weights do not fit the model its config describes ({config['model']}, "
                f"{config['num_classes']} classes: {_misfit(model.state_dict(), state['model'])}); was the file "
                "edited, or its config taken from another run?"
            ) from err
        raise ValueError(f"{path} cannot be tested on {frames} frames: its head has frame-dependent weights") from err
    model.class_names = config.get("class_names")
    return model.eval(), config
