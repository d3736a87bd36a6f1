"""MFNet-3D: configurations, the thesis's parameter / operation count, checkpoint loading."""

import pytest
import torch

from actionlib.complexity import count_params, measure
from actionlib.models import create
from actionlib.models.mfnet import MFNet3d

torch.set_num_threads(1)


@pytest.mark.parametrize("modality, head", [("rgb", "avg"), ("rgb", "bert"), ("flow", "avg")])
def test_forward_backward(modality, head):
    model = create("mfnet3d", modality=modality, head=head, frames=8, size=64)
    channels = 2 if modality == "flow" else 3
    logits = model(torch.randn(2, channels, 8, 64, 64))
    assert logits.shape == (2, 51)
    logits.sum().backward()
    assert model.backbone.conv1.conv.weight.grad is not None
    assert model.fc.weight.grad is not None


def test_feature_map_and_bert_tokens():
    model = create("mfnet3d", head="bert").eval()
    assert model.head.bert.length == 8  # 16 frames, halved once by conv2
    with torch.no_grad():
        fmap = model.backbone(torch.randn(1, 3, 16, 112, 112))
    assert fmap.shape == (1, 768, 8, 4, 4)  # 7 x 7 at 224: stride 32 in space


def test_params_match_thesis():
    assert count_params(create("mfnet3d"))[0] == 7_727_987


@pytest.mark.slow
def test_ops_match_thesis():
    model = create("mfnet3d")
    assert round(measure(model, (3, 16, 224, 224)).ops / 1e9, 4) == 11.2453


def test_rejects_reduction():
    with pytest.raises(ValueError, match="reduction"):
        create("mfnet3d", reduction="frmb")


@pytest.fixture(scope="module")
def kinetics_checkpoint(tmp_path_factory):
    """A fake `MFNet3D_Kinetics-400_72.8.pth`: {'state_dict': ...} with `module.` keys and the 400-class classifier."""
    state = {k: torch.randn(v.shape) if v.is_floating_point() else v for k, v in MFNet3d().state_dict().items()}
    state["classifier.weight"] = torch.randn(400, 768)
    state["classifier.bias"] = torch.randn(400)
    path = tmp_path_factory.mktemp("mfnet") / "MFNet3D_Kinetics-400_72.8.pth"
    torch.save({"epoch": 72, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path, state


def test_load_kinetics_checkpoint(kinetics_checkpoint):
    path, state = kinetics_checkpoint
    model = create("mfnet3d", head="bert", frames=8, pretrained=path)
    own = model.backbone.state_dict()
    for key in (
        "conv1.conv.weight",
        "conv2.B01.conv_w1.conv.weight",
        "conv5.B03.conv_m2.bn.running_mean",
        "tail.bn.weight",
    ):
        assert torch.equal(own[key], state[key])
    assert model.fc.weight.shape == (51, 768)


def test_flow_from_rgb_checkpoint(kinetics_checkpoint):
    path, state = kinetics_checkpoint
    model = create("mfnet3d", modality="flow", frames=8, pretrained=path)
    conv1 = model.backbone.conv1.conv.weight
    assert conv1.shape == (16, 2, 3, 5, 5)
    assert torch.allclose(conv1, state["conv1.conv.weight"].mean(1, keepdim=True).expand(-1, 2, -1, -1, -1))


def test_wrong_checkpoint_lists_keys(tmp_path):
    path = tmp_path / "r2plus1d.pth"
    torch.save({"stem.0.weight": torch.randn(45, 3, 1, 7, 7)}, path)
    with pytest.raises(ValueError, match=r"missing keys: conv1\.bn\.bias") as err:
        create("mfnet3d", pretrained=path)
    assert "unexpected keys: stem.0.weight" in str(err.value)
