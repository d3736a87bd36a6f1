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

    `pretrained` is a local checkpoint in its public key layout (see `checkpoints.py`); its
    classifier is dropped and the first layer adapted to the modality.
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

        load_pretrained(model, pretrained)
    return model


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
