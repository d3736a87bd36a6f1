"""The model zoo: `create(name, **options)` builds any thesis row, `available()` lists names.

A thesis table row is a name plus options: backbone x late temporal head x feature reduction x
modality, e.g. `create("resnext3d_101", head="bert", reduction="frmb", modality="flow")`.
"""

from importlib import import_module

from .classifier import VideoClassifier
from .heads import build_head, head_names
from .registry import available, create, register

# Importing a family module registers its builders.
FAMILIES = ("resnet2d", "resnet3d", "i3d", "i3d_resnet", "slowfast", "r2plus1d", "mfnet", "tsm", "repflow")
for _family in FAMILIES:
    import_module(f"{__name__}.{_family}")

__all__ = ["VideoClassifier", "available", "build_head", "create", "head_names", "register"]
