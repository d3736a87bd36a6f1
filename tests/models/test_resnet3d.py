import pickle

import pytest
import torch

from actionlib.complexity import measure
from actionlib.models import create
from tests.helpers import forward_backward

RX = "resnext3d_101"


@pytest.mark.parametrize(
    ("name", "modality", "options", "params"),
    [
        (RX, "rgb", {}, 47_625_715),
        ("resnet3d_101", "rgb", {}, 85_349_619),
        (RX, "rgb", dict(head="avg", reduction="frmb"), 44_222_451),
        (RX, "rgb", dict(head="concat", reduction="frmb"), 44_300_787),
        (RX, "rgb", dict(head="lstm", reduction="frmb"), 47_578_089),
        (RX, "rgb", dict(head="concat_fc", reduction="frmb"), 47_451_339),
        (RX, "rgb", dict(head="nl_concat_fc", reduction="frmb"), 47_347_987),
        (RX, "rgb", dict(head="bert", reduction="frmb"), 47_377_907),
        (RX, "rgb", dict(head="bert", reduction="frab"), 52_465_139),
        (RX, "flow", {}, 47_603_763),
        (RX, "flow", dict(head="bert", reduction="frmb"), 47_355_955),
    ],
)
def test_parameters_match_the_thesis_models(name, modality, options, params):
    model = create(name, modality=modality, **options)
    assert sum(p.numel() for p in model.parameters()) == params


def test_bert_sees_four_positions_at_64_frames():
    model = create(RX, head="bert", reduction="frmb")
    assert model.head.bert.length == 4


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(head="bert", reduction="frmb"),
        dict(head="bert", reduction="frab"),
        dict(head="lstm", reduction="frmb"),
        dict(head="nl_concat_fc", reduction="frmb"),
        dict(head="concat_fc", reduction="frmb"),
        dict(head="bert", reduction="frmb", modality="flow"),
    ],
)
def test_resnext_forward_and_backward_on_a_small_clip(options):
    modality = options.pop("modality", "rgb")
    model = create(RX, num_classes=5, frames=16, modality=modality, **options)
    out = forward_backward(model, torch.randn(2, 2 if modality == "flow" else 3, 16, 32, 32))
    assert out["logits"].shape == (2, 5)
    assert model.backbone.conv1.weight.grad is not None


def test_resnet101_3d_forward_and_backward():
    model = create("resnet3d_101", num_classes=5, frames=16, head="bert", reduction="frmb")
    forward_backward(model, torch.randn(2, 3, 16, 32, 32))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "modality", "options", "clip", "ops"),
    [
        (RX, "rgb", dict(frames=16), (3, 16, 112, 112), 9.6427),
        (RX, "rgb", {}, (3, 64, 112, 112), 38.5703),
        (RX, "rgb", dict(head="bert", reduction="frmb"), (3, 64, 112, 112), 38.3729),
        (RX, "rgb", dict(head="lstm", reduction="frmb"), (3, 64, 112, 112), 38.3706),
        (RX, "rgb", dict(head="nl_concat_fc", reduction="frmb"), (3, 64, 112, 112), 38.4265),
        (RX, "flow", {}, (2, 64, 112, 112), 34.1644),
        (RX, "flow", dict(head="bert", reduction="frmb"), (2, 64, 112, 112), 33.9670),
        ("resnet3d_101", "rgb", dict(frames=16), (3, 16, 112, 112), 13.9496),
    ],
)
def test_operations_match_the_authors_models(name, modality, options, clip, ops):
    model = create(name, modality=modality, **options)
    assert round(measure(model, clip).ops_g, 4) == ops


def hara_checkpoint(modality="rgb"):
    """A state dict in the layout of Hara's Kinetics files: {'state_dict': {'module.<key>': ...}}."""
    model = create(RX, modality=modality, frames=16)
    state = {
        f"module.{k}": torch.randn_like(v) if v.is_floating_point() else v
        for k, v in model.backbone.state_dict().items()
    }
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state["module.fc.weight"] = torch.randn(400, 2048)
    state["module.fc.bias"] = torch.randn(400)
    return {"epoch": 200, "arch": "resnext-101", "state_dict": state}


def test_hara_checkpoint_loads_with_frmb_and_flow(tmp_path):
    ckpt = hara_checkpoint()
    path = tmp_path / "resnext-101-64f-kinetics.pth"
    torch.save(ckpt, path)
    model = create(RX, frames=16, head="bert", reduction="frmb", pretrained=path)
    assert torch.equal(model.backbone.layer4[1].conv2.weight, ckpt["state_dict"]["module.layer4.1.conv2.weight"])
    assert model.backbone.layer4[2].conv3.weight.shape[0] == 512  # the new block is not overwritten
    flow = create(RX, frames=16, modality="flow", pretrained=path)
    expected = ckpt["state_dict"]["module.conv1.weight"].mean(1, keepdim=True).expand(-1, 2, -1, -1, -1)
    assert torch.allclose(flow.backbone.conv1.weight, expected)


def test_checkpoint_that_runs_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": Evil()}, f)
    with pytest.raises(ValueError, match="refused"):
        create(RX, frames=16, pretrained=path)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        create(RX, frames=16, pretrained=tmp_path / "nothing.pth")


def test_truncated_checkpoint_lists_missing_keys(tmp_path):
    state = hara_checkpoint()["state_dict"]
    del state["module.layer3.5.conv2.weight"]
    path = tmp_path / "partial.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match=r"missing keys: layer3\.5\.conv2\.weight"):
        create(RX, frames=16, pretrained=path)


def test_cpu_variant_is_small_and_trains():
    model = create("resnext3d_101", num_classes=4, head="bert", frames=32, blocks=(1, 1, 1, 1), width=16)
    assert sum(p.numel() for p in model.parameters()) < 4_000_000  # the published one: 47.6 M
    assert model.backbone.out_channels == 512
    assert forward_backward(model, torch.randn(2, 3, 32, 48, 64))["logits"].shape == (2, 4)
    with pytest.raises(ValueError, match="published 101-layer"):
        create("resnext3d_101", reduction="frmb", width=16)
    with pytest.raises(ValueError, match="multiple of 16"):
        create("resnext3d_101", width=24)


def test_cpu_variant_can_keep_time_in_layer4_for_four_tokens_at_32_frames():
    """layer4_time_stride=1: 32 frames leave the 4 positions the published network keeps from 64."""
    small = {"blocks": (1, 1, 1, 1), "width": 16}
    kept = create("resnext3d_101", num_classes=4, head="bert", frames=32, layer4_time_stride=1, **small)
    halved = create("resnext3d_101", num_classes=4, head="bert", frames=32, **small)
    clip = torch.randn(1, 3, 32, 48, 64)
    assert kept.backbone(clip).shape[2] == 4 and halved.backbone(clip).shape[2] == 2
    assert kept.head.pool.output_size[0] == 4 and halved.head.pool.output_size[0] == 2
    assert forward_backward(kept, torch.randn(2, 3, 32, 48, 64))["logits"].shape == (2, 4)
    with pytest.raises(ValueError, match="layer4_time_stride must be 1 or 2"):
        create("resnext3d_101", layer4_time_stride=4, **small)
    with pytest.raises(ValueError, match="published 101-layer"):
        create("resnext3d_101", reduction="frmb", layer4_time_stride=1)
