"""I3D-ResNet50 (± non-local): configurations, thesis counts (Table 3.10), pretrained loading."""

import pytest
import torch

from actionlib.complexity import count_params, measure
from actionlib.models import create
from actionlib.models.i3d_resnet import I3DResNet50, temporal_steps

PARAMS = {False: 27_328_371, True: 34_686_835}
# (nonlocal_blocks, frames) -> GMac at 224x224, from the authors' code.
OPS = {(False, 32): 33.0510, (True, 32): 38.2157, (False, 64): 66.1019, (True, 64): 76.4314}


@pytest.mark.parametrize("nonlocal_blocks", [False, True], ids=["plain", "nl"])
@pytest.mark.parametrize("head", ["avg", "bert"])
def test_forward_backward_small_clip(nonlocal_blocks, head):
    torch.manual_seed(0)
    model = create("i3d_r50", head=head, nonlocal_blocks=nonlocal_blocks, frames=16, size=64)
    out = model.forward_features(torch.randn(2, 3, 16, 64, 64))
    assert out["logits"].shape == (2, 51)
    out["logits"].sum().backward()
    assert model.backbone.conv1.weight.grad is not None
    if head == "bert":
        assert out["tokens"].shape[1:] == (2, 2048)  # 16 frames / 8
    if nonlocal_blocks:
        assert model.backbone.layer3[5].nl.theta.weight.grad is not None


def test_bert_tokens_per_clip_length():
    assert [temporal_steps(f) for f in (16, 32, 64)] == [2, 4, 8]  # BERT L = 4 at 32f, 8 at 64f
    model = create("i3d_r50", head="bert", frames=64)
    assert model.head.bert.length == 8
    assert not model.head.normalize_input  # BERT5 on raw features, as the authors' I3D-R50 BERT
    assert model.default_clip == (3, 64, 224, 224)


def test_output_map():
    backbone = I3DResNet50().eval()
    with torch.no_grad():
        assert backbone(torch.zeros(1, 3, 16, 96, 96)).shape == (1, 2048, 2, 3, 3)


@pytest.fixture(scope="module")
def nl_backbone():
    return I3DResNet50(nonlocal_blocks=True)


def test_nonlocal_block_positions(nl_backbone):
    backbone = nl_backbone
    where = [name for name, m in backbone.named_modules() if name.endswith(".nl") and m is not None]
    assert where == ["layer2.1.nl", "layer2.3.nl", "layer3.1.nl", "layer3.3.nl", "layer3.5.nl"]


@pytest.mark.parametrize("nonlocal_blocks", [False, True], ids=["plain", "nl"])
def test_parameter_counts(nonlocal_blocks):
    model = create("i3d_r50", nonlocal_blocks=nonlocal_blocks)  # does not depend on frames
    assert count_params(model)[0] == PARAMS[nonlocal_blocks]


@pytest.mark.slow
@pytest.mark.parametrize("nonlocal_blocks, frames", list(OPS), ids=[f"nl{n}-{f}f" for n, f in OPS])
def test_operation_counts(nonlocal_blocks, frames):
    model = create("i3d_r50", nonlocal_blocks=nonlocal_blocks, frames=frames)
    result = measure(model, (3, frames, 224, 224))
    assert round(result.ops / 1e9, 4) == OPS[(nonlocal_blocks, frames)]


def test_options_are_validated():
    with pytest.raises(ValueError, match="nonlocal_blocks"):
        create("i3d_r50", nonlocal_blocks="yes")
    with pytest.raises(ValueError, match="frames"):
        create("i3d_r50", frames=4)


# Shapes of a few keys of Tushar-N's converted i3d_r50_nl_kinetics.pth.
PUBLIC_SHAPES = {
    "conv1.weight": (64, 3, 5, 7, 7),
    "layer1.0.conv1.weight": (64, 64, 3, 1, 1),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1, 1),
    "layer2.1.conv1.weight": (128, 512, 1, 1, 1),
    "layer2.1.nl.theta.weight": (256, 512, 1, 1, 1),
    "layer3.5.nl.out.bias": (1024,),
    "layer4.1.conv1.weight": (512, 2048, 3, 1, 1),
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Fake i3d_r50_kinetics.pth / i3d_r50_nl_kinetics.pth: {nonlocal_blocks: (path, state)}."""
    folder = tmp_path_factory.mktemp("i3d_r50")
    return {
        nl: (folder / name, _fake_public_checkpoint(folder / name, nl))
        for nl, name in ((False, "i3d_r50_kinetics.pth"), (True, "i3d_r50_nl_kinetics.pth"))
    }


def _fake_public_checkpoint(path, nonlocal_blocks):
    """A bare state dict as the converter writes it: no `num_batches_tracked`, 400-way `fc`."""
    state = {
        k: torch.randn(v.shape)
        for k, v in I3DResNet50(nonlocal_blocks=nonlocal_blocks).state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    state["fc.weight"] = torch.randn(400, 2048)
    state["fc.bias"] = torch.randn(400)
    torch.save(state, path)
    return state


def test_backbone_keys_match_public_layout(nl_backbone):
    own = nl_backbone.state_dict()
    for key, shape in PUBLIC_SHAPES.items():
        assert tuple(own[key].shape) == shape


@pytest.mark.parametrize("nonlocal_blocks", [False, True], ids=["plain", "nl"])
def test_load_pretrained(checkpoints, nonlocal_blocks):
    path, state = checkpoints[nonlocal_blocks]
    model = create("i3d_r50", nonlocal_blocks=nonlocal_blocks, frames=16, pretrained=path)
    torch.testing.assert_close(model.backbone.layer3[2].conv1.weight, state["layer3.2.conv1.weight"])
    if nonlocal_blocks:
        torch.testing.assert_close(model.backbone.layer2[1].nl.bn.weight, state["layer2.1.nl.bn.weight"])


def test_flow_from_rgb_checkpoint(checkpoints):
    path, state = checkpoints[False]
    model = create("i3d_r50", modality="flow", pretrained=path)
    first = state["conv1.weight"].mean(1, keepdim=True).expand(-1, 2, -1, -1, -1)
    torch.testing.assert_close(model.backbone.conv1.weight, first)


def test_wrong_variant_lists_keys(checkpoints):
    with pytest.raises(ValueError, match=r"missing keys: layer2\.1\.nl\."):
        create("i3d_r50", nonlocal_blocks=True, pretrained=checkpoints[False][0])
    with pytest.raises(ValueError, match=r"unexpected keys: layer2\.1\.nl\."):
        create("i3d_r50", nonlocal_blocks=False, pretrained=checkpoints[True][0])
