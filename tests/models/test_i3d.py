"""I3D (piergiaj layout): configurations, thesis parameter / operation counts, pretrained loading."""

import pytest
import torch

from actionlib.complexity import count_params, measure
from actionlib.models import create
from actionlib.models.i3d import InceptionI3d

# (modality, options) -> (params, GMac at 64x224x224) from the authors' code (thesis Tables 4.3-4.5).
TARGETS = {
    ("rgb", ()): (12_339_539, 111.3288),
    ("flow", ()): (12_317_587, 102.5171),
    ("rgb", (("head", "bert"),)): (24_946_003, 111.4421),
    ("flow", (("head", "bert"),)): (24_924_051, 102.6304),
    ("rgb", (("head", "bert"), ("reduction", "frab"))): (16_396_355, 111.7197),
    ("flow", (("head", "bert"), ("reduction", "frab"))): (16_374_403, 102.9080),
    ("rgb", (("head", "bert"), ("reduction", "frmb"))): (13_539_427, 110.5998),
}
CONFIGS = [*TARGETS, ("flow", (("head", "bert"), ("reduction", "frmb")))]


def _ids(config):
    modality, options = config
    return "-".join([modality, *(str(v) for _, v in options)]) or modality


@pytest.mark.parametrize("config", CONFIGS, ids=[_ids(c) for c in CONFIGS])
def test_forward_backward_small_clip(config):
    modality, options = config
    torch.manual_seed(0)
    model = create("i3d", modality=modality, frames=16, size=64, **dict(options))
    clip = torch.randn(2, 3 if modality == "rgb" else 2, 16, 64, 64)
    out = model.forward_features(clip)
    assert out["logits"].shape == (2, 51)
    out["logits"].sum().backward()
    assert model.backbone.Conv3d_1a_7x7.conv3d.weight.grad is not None
    if dict(options).get("head") == "bert":
        assert out["tokens"].shape[1] == 2  # 16 frames / temporal stride 8
    expected = 512 if dict(options).get("reduction") else 1024
    assert model.head.out_dim == expected


def test_output_map_is_t_over_8():
    backbone = InceptionI3d().eval()
    with torch.no_grad():
        assert backbone(torch.zeros(1, 3, 24, 96, 96)).shape == (1, 1024, 3, 3, 3)


@pytest.mark.parametrize("config", list(TARGETS), ids=[_ids(c) for c in TARGETS])
def test_parameter_counts(config):
    modality, options = config
    assert count_params(create("i3d", modality=modality, **dict(options)))[0] == TARGETS[config][0]


@pytest.mark.slow
@pytest.mark.parametrize("config", list(TARGETS), ids=[_ids(c) for c in TARGETS])
def test_operation_counts(config):
    modality, options = config
    model = create("i3d", modality=modality, **dict(options))
    assert model.default_clip == (3 if modality == "rgb" else 2, 64, 224, 224)
    result = measure(model, model.default_clip)
    assert round(result.ops / 1e9, 4) == TARGETS[config][1]


def test_bert_defaults_follow_the_authors_i3d_models():
    model = create("i3d", head="bert", frames=64)
    assert model.head.normalize_input
    assert model.head.bert.length == 8
    # BERT2: Linear biases zero, positions with std d^-0.5 (not 0.02).
    assert model.head.bert.blocks[0].ffn_in.bias.abs().sum() == 0
    assert abs(model.head.bert.position.std().item() - 1024**-0.5) < 0.003
    assert model.dropout.p == 0.8
    assert create("i3d", modality="flow", head="bert").dropout.p == 0.7  # thesis text: 0.7 for flow streams
    assert create("i3d", modality="flow", head="bert", dropout=0.8).dropout.p == 0.8
    overridden = create("i3d", head="bert", init="bert5", normalize_input=False)
    assert not overridden.head.normalize_input
    assert overridden.head.bert.blocks[0].ffn_in.bias.abs().sum() > 0


def test_bad_reduction_is_rejected():
    with pytest.raises(ValueError, match="reduction"):
        create("i3d", reduction="frxb")


# Shapes of a few keys of piergiaj's rgb_imagenet.pth (the public layout we must keep).
PUBLIC_SHAPES = {
    "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
    "Conv3d_2c_3x3.bn.running_var": (192,),
    "Mixed_3b.b3b.conv3d.weight": (32, 192, 1, 1, 1),
    "Mixed_4f.b1b.conv3d.weight": (320, 160, 3, 3, 3),
    "Mixed_5c.b2b.bn.weight": (128,),
    "Mixed_5c.b1b.conv3d.weight": (384, 192, 3, 3, 3),
}


def _fake_public_checkpoint(path, channels=3):
    """A bare state dict in piergiaj's layout: backbone keys, the 400-way `logits` unit, no
    `num_batches_tracked` (the files predate it)."""
    state = {
        k: torch.randn(v.shape) if v.is_floating_point() else v
        for k, v in InceptionI3d(channels).state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    state["logits.conv3d.weight"] = torch.randn(400, 1024, 1, 1, 1)
    state["logits.conv3d.bias"] = torch.randn(400)
    torch.save(state, path)
    return state


def test_backbone_keys_match_public_layout():
    own = InceptionI3d().state_dict()
    for key, shape in PUBLIC_SHAPES.items():
        assert tuple(own[key].shape) == shape


@pytest.fixture(scope="module")
def rgb_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("i3d") / "rgb_imagenet.pth"
    return path, _fake_public_checkpoint(path)


def test_load_pretrained_rgb_and_flow(rgb_checkpoint):
    path, state = rgb_checkpoint
    model = create("i3d", pretrained=path)
    torch.testing.assert_close(model.backbone.Mixed_4d.b2b.conv3d.weight, state["Mixed_4d.b2b.conv3d.weight"])
    torch.testing.assert_close(model.backbone.Mixed_5c.b0.bn.running_mean, state["Mixed_5c.b0.bn.running_mean"])
    # Flow from the RGB file: the first kernel is averaged over its input channels.
    flow = create("i3d", modality="flow", head="bert", reduction="frab", pretrained=path)
    first = state["Conv3d_1a_7x7.conv3d.weight"].mean(1, keepdim=True).expand(-1, 2, -1, -1, -1)
    torch.testing.assert_close(flow.backbone.Conv3d_1a_7x7.conv3d.weight, first)


def test_load_pretrained_flow_file(tmp_path):
    path = tmp_path / "flow_imagenet.pth"
    state = _fake_public_checkpoint(path, channels=2)
    model = create("i3d", modality="flow", pretrained=path)
    torch.testing.assert_close(model.backbone.Conv3d_1a_7x7.conv3d.weight, state["Conv3d_1a_7x7.conv3d.weight"])


def test_frmb_skips_the_replaced_block(rgb_checkpoint):
    path, state = rgb_checkpoint
    model = create("i3d", head="bert", reduction="frmb")
    assert model.pretrained_skip == ("backbone.Mixed_5c.",)
    before = model.backbone.Mixed_5c.b0.conv3d.weight.clone()
    from actionlib.models.checkpoints import load_pretrained

    load_pretrained(model, path)
    torch.testing.assert_close(model.backbone.Mixed_5b.b0.conv3d.weight, state["Mixed_5b.b0.conv3d.weight"])
    torch.testing.assert_close(model.backbone.Mixed_5c.b0.conv3d.weight, before)
    assert model.backbone.Mixed_5c.out_channels == 512


def test_wrong_checkpoint_lists_keys(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.randn(64, 3, 7, 7, 7), "fc.weight": torch.randn(400, 2048)}, path)
    with pytest.raises(ValueError, match=r"missing keys: .*Conv3d_1a_7x7") as err:
        create("i3d", pretrained=path)
    assert "unexpected keys: conv1.weight" in str(err.value)
