"""One registry for every architecture: `create(name, **options)` and `available()`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from numbers import Integral, Real
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
    check_options(name, options, unknown=False)
    builder = _BUILDERS[name]
    try:
        model = builder(num_classes=num_classes, modality=modality, **options)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        accepted = accepted_options(name, options.get("head")) or {}
        raise ValueError(f"{name}: {err}; its options: {', '.join(sorted(accepted))}") from err
    model.name = name
    model.default_clip = default_clip(builder, modality, options)
    if pretrained is not None:
        from .checkpoints import load_pretrained

        model.pretrained_report = load_pretrained(model, pretrained)
        if _main_process():
            print(f"loaded {pretrained}; classifier {model.pretrained_report['classifier']}")
    return model


# Options that the 3D ResNets read from their keyword options (CPU variants: blocks per stage, base width).
EXTRA_OPTIONS = {
    "resnext3d_101": {"blocks": (3, 4, 23, 3), "width": 64},
    "resnet3d_101": {"blocks": (3, 4, 23, 3), "width": 64},
}
# Sizes and counts: a value below 1 would build a network of nothing, or record a crop of 0 pixels.
POSITIVE_OPTIONS = ("frames", "size", "width", "hidden", "layers", "heads", "kernel", "fold_div", "inter_channels")
_NOT_OPTIONS = ("self", "num_classes", "modality", "channels", "steps", "c", "t")


def _keywords(function) -> tuple[dict[str, inspect.Parameter], bool]:
    """A function's named options, and whether it also takes any keyword (**options)."""
    params = inspect.signature(function).parameters
    named = {
        k: p for k, p in params.items() if k not in _NOT_OPTIONS and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return named, any(p.kind == p.VAR_KEYWORD for p in params.values())


def accepted_options(name: str, head=None) -> dict[str, inspect.Parameter] | None:
    """The options `create(name, ...)` takes with this head: the builder's own, plus those of the late temporal
    head (a builder passes the options it does not take to its head). None when they cannot be known (an unknown
    head, or one that takes any keyword), so that nothing is refused wrongly."""
    from . import heads

    named, open_ended = _keywords(_BUILDERS[name])
    for key, default in EXTRA_OPTIONS.get(name, {}).items():
        named[key] = inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default)
    if not open_ended:
        return named
    if head is None and "head" in named:
        head = named["head"].default
    make = heads.HEADS.get(heads.HEAD_ALIASES.get(head, head)) if isinstance(head, str) else None
    if make is None:
        return None
    options, _ = _keywords(make)
    named.update(options)
    for global_name in make.__code__.co_names:  # the head class the factory builds
        target = getattr(heads, global_name, None)
        if isinstance(target, type):
            options, open_ended = _keywords(target.__init__)
            if open_ended:
                return None
            named.update(options)
    return named


_INTEGER, _NUMBER = ((Integral,), "an integer"), ((Real,), "a number")
_BOOL, _WORD, _LIST = ((bool,), "true or false"), ((str,), "a word"), ((tuple, list), "a list")
_ANNOTATED = (("bool", _BOOL), ("int", _INTEGER), ("float", _NUMBER), ("str", _WORD))
# Builder options whose default (None) does not say what they want.
_NONE_DEFAULTS = {"dropout": _NUMBER, "frozen_stages": _INTEGER}


def _expected_type(param: inspect.Parameter) -> tuple[tuple, str] | None:
    """(types, description) an option's value must have: from its default, else its annotation; None: any."""
    default = param.default
    for kind, expected in ((bool, _BOOL), (Integral, _INTEGER), (Real, _NUMBER), (str, _WORD), ((tuple, list), _LIST)):
        if isinstance(default, kind):
            return expected
    annotation = str(param.annotation)
    for word, expected in _ANNOTATED:
        if annotation.startswith(word):
            return expected
    return _NONE_DEFAULTS.get(param.name)


def check_options(name: str, options: dict, unknown: bool = True) -> None:
    """Refuse, before anything is built, an option the model does not take (naming those it takes), a value of
    the wrong type and a size or count below 1: a typo must not be trained with, nor fail after minutes.

    `unknown=False` leaves options the signatures do not list to the builder (`create` does: some families
    refuse head options with messages of their own)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    accepted = accepted_options(name, options.get("head"))
    for key, value in options.items():
        if accepted is not None and key not in accepted:
            if not unknown:
                continue
            head = options.get("head", accepted["head"].default if "head" in accepted else None)
            with_head = f" with head {head!r}" if head is not None else ""
            raise ValueError(
                f"option {key!r}: {name}{with_head} does not take it; its options: {', '.join(sorted(accepted))}"
            )
        expected = _expected_type(accepted[key]) if accepted is not None and key in accepted else None
        if expected is not None and value is not None:
            types, description = expected
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise ValueError(f"option {key!r}: {name} wants {description}, got {value!r}")
        number = isinstance(value, Real) and not isinstance(value, bool)
        if key in POSITIVE_OPTIONS and number and value < 1:
            raise ValueError(f"option {key!r} must be at least 1, got {value!r}")


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
