"""R(2+1)D-34 (IG65M layout): configurations, thesis parameter / operation counts, checkpoint loading."""

import pytest
import torch

from actionlib.complexity import count_params, measure
from actionlib.models import create
from actionlib.models.r2plus1d import R2Plus1d

torch.set_num_threads(1)


@pytest.mark.parametrize(
    "modality, head, frames",
    [("rgb", "avg", 8), ("rgb", "bert", 16), ("flow", "bert", 16)],
)
def test_forward_backward(modality, head, frames):
    model = create("r2plus1d_34", modality=modality, head=head, frames=frames, size=32)
    channels = 2 if modality == "flow" else 3
    logits = model(torch.randn(2, channels, frames, 32, 32))
    assert logits.shape == (2, 51)
    logits.sum().backward()
    assert model.backbone.stem[0].weight.grad is not None
    assert model.fc.weight.grad is not None


@pytest.mark.parametrize("frames, tokens", [(32, 4), (64, 8)])
def test_bert_sees_one_token_per_eight_frames(frames, tokens):
    model = create("r2plus1d_34", head="bert", frames=frames).eval()
    with torch.no_grad():
        out = model.forward_features(torch.randn(1, 3, frames, 16, 16))
    assert out["tokens"].shape == (1, tokens, 512)
    assert model.head.bert.length == tokens


def test_caffe2_mid_planes_and_batch_norm():
    backbone = R2Plus1d()
    for layer, first, second in [("layer2", 230, 288), ("layer3", 460, 576), ("layer4", 921, 1152)]:
        block = getattr(backbone, layer)[0]
        assert block.conv1[0][0].out_channels == first
        assert block.conv2[0][0].out_channels == second
    assert backbone.layer1[0].conv1[0][0].weight.shape == (144, 64, 1, 3, 3)
    assert backbone.stem[0].weight.shape == (45, 3, 1, 7, 7)
    assert backbone.stem[3].weight.shape == (64, 45, 3, 1, 1)
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert norms and all(m.eps == 1e-3 and m.momentum == 0.9 for m in norms)


@pytest.mark.parametrize(
    "options, params",
    [
        (dict(head="avg", frames=32), 63_518_138),
        (dict(head="bert", frames=32), 66_673_594),
        (dict(head="bert", frames=64), 66_675_642),
        # The raw IG65M model with its 359-class classifier: the thesis's "63.67 M" baseline.
        (dict(head="avg", frames=32, num_classes=359), 63_676_142),
    ],
)
def test_params_match_thesis(options, params):
    assert count_params(create("r2plus1d_34", **options))[0] == params


@pytest.mark.slow
@pytest.mark.parametrize(
    "head, frames, gmac",
    [("avg", 32, 152.9550), ("bert", 32, 152.9707), ("bert", 64, 305.9382)],
)
def test_ops_match_thesis(head, frames, gmac):
    model = create("r2plus1d_34", head=head, frames=frames)
    assert round(measure(model, (3, frames, 112, 112)).ops / 1e9, 4) == gmac


def test_rejects_reduction():
    with pytest.raises(ValueError, match="reduction"):
        create("r2plus1d_34", reduction="frab")


@pytest.fixture(scope="module")
def ig65m_checkpoint(tmp_path_factory):
    """A fake `r2plus1d_34_clip32_ig65m_from_scratch` file: a bare state dict with the 359-class fc."""
    state = {k: torch.randn(v.shape) if v.is_floating_point() else v for k, v in R2Plus1d().state_dict().items()}
    state["fc.weight"] = torch.randn(359, 512)
    state["fc.bias"] = torch.randn(359)
    path = tmp_path_factory.mktemp("ig65m") / "r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth"
    torch.save(state, path)
    return path, state


def test_load_ig65m_checkpoint(ig65m_checkpoint):
    path, state = ig65m_checkpoint
    model = create("r2plus1d_34", head="bert", frames=16, pretrained=path)
    own = model.backbone.state_dict()
    for key in (
        "stem.0.weight",
        "layer1.0.conv1.0.1.running_var",
        "layer4.0.conv2.0.3.weight",
        "layer2.0.downsample.0.weight",
    ):
        assert torch.equal(own[key], state[key])
    assert model.fc.weight.shape == (51, 512)


def test_flow_stem_from_rgb_checkpoint(ig65m_checkpoint):
    path, state = ig65m_checkpoint
    model = create("r2plus1d_34", modality="flow", frames=8, pretrained=path)
    stem = model.backbone.stem[0].weight
    assert stem.shape == (45, 2, 1, 7, 7)
    # The authors' flow start: the RGB kernel averaged over its channels, replicated, times 1.5.
    expected = state["stem.0.weight"].mean(1, keepdim=True).repeat(1, 2, 1, 1, 1) * 1.5
    assert torch.allclose(stem, expected)
    assert torch.equal(model.backbone.layer3[1].conv1[0][0].weight, state["layer3.1.conv1.0.0.weight"])


def test_wrong_checkpoint_lists_keys(tmp_path):
    path = tmp_path / "hara.pth"
    torch.save({"state_dict": {"module.conv1.weight": torch.randn(64, 3, 7, 7, 7)}}, path)
    with pytest.raises(ValueError, match=r"missing keys: layer1\.0\.conv1\.0\.0\.weight") as err:
        create("r2plus1d_34", pretrained=path)
    assert "unexpected keys: conv1.weight" in str(err.value)
