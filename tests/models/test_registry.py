"""Every registered model builds and trains one step on a reduced clip; the registry fails clearly."""

import pytest
import torch

from actionlib.models import available, create
from tests.helpers import forward_backward

# A reduced clip each family can run (frames, size): enough frames for every temporal stride.
SMALL = {"slowfast_r50": (32, 64), "i3d": (16, 64), "tsm_r50": (4, 64)}


@pytest.mark.parametrize("name", available())
def test_every_registered_model_runs_forward_and_backward(name):
    frames, size = SMALL.get(name, (16, 32))
    model = create(name, num_classes=5, frames=frames, size=size)
    out = forward_backward(model, torch.randn(2, 3, frames, size, size))
    assert out["logits"].shape == (2, 5)
    assert torch.isfinite(out["logits"]).all()
    assert model.fc.weight.grad is not None
    assert model.default_clip == (3, frames, size, size)


def test_the_whole_zoo_is_registered():
    expected = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet3d_101", "resnext3d_101", "i3d", "i3d_r50",
                "slowfast_r50", "r2plus1d_34", "mfnet3d", "tsm_r50", "repflow_50"}  # fmt: skip
    assert expected <= set(available())


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown model 'resnet19'; available: .*resnet18"):
        create("resnet19")


def test_unknown_modality_is_rejected():
    with pytest.raises(ValueError, match="unknown modality 'depth'"):
        create("resnet18", modality="depth")
