"""Activation checkpointing changes memory, not the mathematics: same loss, gradients and BatchNorm statistics."""

import pytest
import torch
import torch.nn.functional as F

from actionlib.engine.train import enable_activation_checkpointing, to_channels_last
from actionlib.models import create

SMALL = {
    "resnext3d_101": dict(blocks=(1, 1, 1, 1), width=16, frames=4, size=32),
    "slowfast_r50": dict(frames=8, size=32),
}


def _step(model, clip, labels):
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(clip), labels)
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", ["resnext3d_101", "slowfast_r50"])
def test_gradients_and_statistics_match(name):
    torch.manual_seed(0)
    plain = create(name, num_classes=5, dropout=0.0, **SMALL[name]).train()
    checkpointed = create(name, num_classes=5, dropout=0.0, **SMALL[name]).train()
    checkpointed.load_state_dict(plain.state_dict())
    for model in (plain, checkpointed):
        to_channels_last(model)  # as fit() does before enabling it
    stages = enable_activation_checkpointing(checkpointed)
    assert stages and enable_activation_checkpointing(checkpointed) == []  # idempotent
    frames, size = SMALL[name]["frames"], SMALL[name]["size"]
    clip = torch.randn(2, 3, frames, size, size).contiguous(memory_format=torch.channels_last_3d)
    labels = torch.tensor([1, 3])

    loss, grads = _step(plain, clip, labels)
    loss_c, grads_c = _step(checkpointed, clip, labels)
    assert loss_c == pytest.approx(loss, rel=1e-5)
    assert grads.keys() == grads_c.keys()
    for key, grad in grads.items():
        torch.testing.assert_close(grads_c[key], grad, rtol=1e-4, atol=1e-6, msg=key)
    # the recomputation in backward must not update the running statistics a second time
    for (key, buffer), buffer_c in zip(plain.state_dict().items(), checkpointed.state_dict().values(), strict=True):
        torch.testing.assert_close(buffer_c, buffer, msg=key)

    with torch.inference_mode():  # eval / no grad: the plain forward
        torch.testing.assert_close(checkpointed.eval()(clip), plain.eval()(clip))


def test_units_found_per_family():
    r2 = enable_activation_checkpointing(create("r2plus1d_34"))
    assert r2[:4] == ["stem", "layer1.0", "layer1.1", "layer1.2"] and len(r2) == 1 + 3 + 4 + 6 + 3
    resnext = enable_activation_checkpointing(create("resnext3d_101", **SMALL["resnext3d_101"]))
    assert resnext == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]  # the stem conv, BN and pool stay


def test_train_flag_reaches_the_config():
    import argparse

    from actionlib.engine.cli import add_parsers, config_from_args

    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--model", "resnet18", "--activation-checkpointing"])
    assert config_from_args(args).activation_checkpointing is True
    args = parser.parse_args(["train", "--model", "resnet18"])
    assert config_from_args(args).activation_checkpointing is False
