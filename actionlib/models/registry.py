"""One registry for every architecture: `create(name, **options)` and `available()`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    """Decorator: make a builder available to `create` under `name`."""

    def wrap(builder):
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return wrap


def available() -> list[str]:
    return sorted(_BUILDERS)


def create(
    name: str,
    num_classes: int = 51,
    modality: str = "rgb",
    pretrained: str | Path | None = None,
    **options,
) -> nn.Module:
    """Build a registered model, e.g. `create("resnext3d_101", head="bert", reduction="frmb")`.

    `pretrained` is a local checkpoint in its public key layout (see `checkpoints.py`); the first
    layer is adapted to the modality, and its classifier is kept when the model's has the same size
    behind a plain average head, else dropped. One line says which; `model.pretrained_report` keeps
    the loader's whole report.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    from .classifier import input_channels

    input_channels(modality)  # validates the modality with a clear message
    builder = _BUILDERS[name]
    model = builder(num_classes=num_classes, modality=modality, **options)
    model.name = name
    model.default_clip = default_clip(builder, modality, options)
    if pretrained is not None:
        from .checkpoints import load_pretrained

        model.pretrained_report = load_pretrained(model, pretrained)
        if _main_process():
            print(f"loaded {pretrained}; classifier {model.pretrained_report['classifier']}")
    return model


def _main_process() -> bool:
    """False on the other ranks of a distributed run, so that a line is printed once."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def default_clip(builder, modality: str, options: dict) -> tuple[int, int, int, int]:
    """(C, T, H, W) the model was built for: its `frames` and `size` options or their defaults."""
    from .classifier import input_channels

    params = inspect.signature(builder).parameters

    def option(key, fallback):
        if key in options:
            return options[key]
        default = params[key].default if key in params else inspect.Parameter.empty
        return fallback if default is inspect.Parameter.empty else default

    size = option("size", 224)
    return (input_channels(modality), option("frames", 16), size, size)
