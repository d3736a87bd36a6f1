import pytest
import torch

from actionlib.complexity import measure
from actionlib.models import create
from actionlib.models.slowfast import SlowFast
from tests.helpers import forward_backward

SF = "slowfast_r50"
# The authors' SlowFast-BERT wrappers kept PySlowFast's unused Kinetics classifier
# head.projection = Linear(2304, 400); the thesis's BERT parameter counts include it, ours do not.
DEAD_KINETICS_HEAD = 2304 * 400 + 400

# name: (options, thesis params, our params, ops in MACs, i.e. ptflops 0.5.2 on the authors' models)
CONFIGS = {
    "avg": (dict(), 33_762_043, 33_762_043, 50_721_530_624),
    "bert_late_frab": (dict(head="bert"), 42_038_155, 41_116_155, 52_138_295_552),
    "bert_early_frab": (dict(head="bert", fusion="early"), 43_174_283, 42_252_283, 52_392_990_592),
    "bert_late_frmb": (dict(head="bert", reduction="frmb"), 35_478_411, 34_556_411, 49_565_671_680),
    "bert_early_frmb": (dict(head="bert", fusion="early", reduction="frmb"), 36_511_371, 35_589_371, 49_657_997_184),
}


# Per configuration: expected shapes of `pooled`, `tokens` and (late fusion) `fast_tokens` for a
# batch of 2 clips of 64 frames: BERT sees 8 Slow positions (and 32 Fast ones in late fusion).
SHAPES = {
    "avg": ((2, 2304), None, None),
    "bert_late_frab": ((2, 768), (2, 8, 512), (2, 32, 256)),
    "bert_early_frab": ((2, 640), (2, 8, 640), None),
    "bert_late_frmb": ((2, 768), (2, 8, 512), (2, 32, 256)),
    "bert_early_frmb": ((2, 640), (2, 8, 640), None),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_thesis_configuration_has_the_authors_parameters_and_trains(config):
    """Built for the thesis's 64-frame clip (BERT lengths depend on it), run on a small frame size."""
    options, thesis_params, params, _ = CONFIGS[config]
    assert params == (thesis_params if config == "avg" else thesis_params - DEAD_KINETICS_HEAD)
    model = create(SF, **options)
    assert sum(p.numel() for p in model.parameters()) == params
    out = forward_backward(model, torch.randn(2, 3, 64, 32, 32))
    assert out["logits"].shape == (2, 51)
    pooled, tokens, fast_tokens = SHAPES[config]
    assert out["pooled"].shape == pooled
    if tokens is not None:
        assert out["tokens"].shape == out["token_outputs"].shape == tokens
        assert out["key_mask"].shape == (2, tokens[1] + 1)
        assert torch.allclose(out["tokens"].norm(dim=-1), torch.ones(tokens[:2]))
    if fast_tokens is not None:
        assert out["fast_tokens"].shape == out["fast_token_outputs"].shape == fast_tokens
        assert out["fast_key_mask"].shape == (2, fast_tokens[1] + 1)
    assert model.backbone.s1.pathway1_stem.conv.weight.grad is not None
    assert all(p.grad is not None for p in model.head.parameters())


@pytest.fixture(scope="module")
def backbone():
    return SlowFast()


def test_pathways_sample_every_second_and_eighth_frame(backbone):
    assert backbone.steps(64) == (8, 32)
    assert backbone.out_channels == (2048, 256)
    with torch.no_grad():
        slow, fast = backbone.eval()(torch.randn(1, 3, 16, 32, 32))
    assert slow.shape == (1, 2048, 2, 1, 1) and fast.shape == (1, 256, 8, 1, 1)


def test_state_dict_uses_pyslowfast_names(backbone):
    shapes = {k: tuple(v.shape) for k, v in backbone.state_dict().items()}
    assert shapes["s1.pathway0_stem.conv.weight"] == (64, 3, 1, 7, 7)
    assert shapes["s1.pathway1_stem.conv.weight"] == (8, 3, 5, 7, 7)
    assert shapes["s1_fuse.conv_f2s.weight"] == (16, 8, 7, 1, 1)
    assert shapes["s2.pathway0_res0.branch1.weight"] == (256, 80, 1, 1, 1)
    assert shapes["s2.pathway0_res0.branch1_bn.running_var"] == (256,)
    assert shapes["s4.pathway0_res0.branch2.a.weight"] == (256, 640, 3, 1, 1)
    assert shapes["s5.pathway0_res2.branch2.b.weight"] == (512, 512, 1, 3, 3)
    assert shapes["s5.pathway1_res2.branch2.c_bn.weight"] == (256,)
    assert "s5.pathway0_res1.branch1.weight" not in shapes  # identity shortcut inside a stage


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(head="lstm"), "head must be one of"),
        (dict(head="bert", fusion="middle"), "fusion must be one of"),
        (dict(head="bert", reduction="frxx"), "reduction must be one of"),
        (dict(head="avg", fusion="late"), "takes no reduction, fusion"),
        (dict(frames=20), "frames divisible by 8"),
    ],
)
def test_invalid_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        create(SF, **options)


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
def test_operations_match_the_authors_models(config):
    options, _, params, ops = CONFIGS[config]
    result = measure(create(SF, **options), (3, 64, 224, 224))
    assert result.params == params
    assert result.ops == ops
    assert round(result.ops_g, 4) == round(ops / 1e9, 4)


@pytest.fixture(scope="module")
def pyslowfast_state(backbone):
    """Random tensors in the layout of PySlowFast's SLOWFAST_8x8_R50 checkpoint, Kinetics head included."""
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in backbone.state_dict().items()}
    state["head.projection.weight"] = torch.randn(400, 2304)
    state["head.projection.bias"] = torch.randn(400)
    return state


def test_pyslowfast_checkpoint_loads(tmp_path, pyslowfast_state):
    path = tmp_path / "SLOWFAST_8x8_R50.pth"
    torch.save({"model_state": pyslowfast_state, "epoch": 196}, path)
    model = create(SF, frames=16, pretrained=path)
    for key in ("s1.pathway1_stem.conv.weight", "s3_fuse.bn.running_mean", "s5.pathway0_res2.branch2.c.weight"):
        assert torch.equal(model.backbone.state_dict()[key], pyslowfast_state[key])


def test_flow_frmb_model_loads_an_rgb_checkpoint(tmp_path, pyslowfast_state):
    path = tmp_path / "SLOWFAST_8x8_R50_torch.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in pyslowfast_state.items()}}, path)
    model = create(SF, modality="flow", head="bert", fusion="early", reduction="frmb", frames=16, pretrained=path)
    assert model.pretrained_skip == ("backbone.s5.pathway0_res2.", "backbone.s5.pathway1_res2.")
    for p in (0, 1):
        weight = pyslowfast_state[f"s1.pathway{p}_stem.conv.weight"]
        expected = weight.mean(1, keepdim=True).expand(-1, 2, -1, -1, -1)
        assert torch.allclose(getattr(model.backbone.s1, f"pathway{p}_stem").conv.weight, expected)
    assert torch.equal(
        model.backbone.s5.pathway0_res1.branch2.a.weight, pyslowfast_state["s5.pathway0_res1.branch2.a.weight"]
    )
    assert model.backbone.s5.pathway0_res2.conv3.weight.shape[0] == 512  # the reducer is kept
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 2, 16, 32, 32)).shape == (1, 51)


def test_wrong_checkpoint_lists_the_keys(tmp_path, pyslowfast_state):
    state = dict(pyslowfast_state)
    del state["s4_fuse.conv_f2s.weight"]
    state["conv1.weight"] = torch.randn(64, 3, 7, 7, 7)
    path = tmp_path / "resnext.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(
        ValueError, match=r"missing keys: s4_fuse\.conv_f2s\.weight(.|\n)*unexpected keys: conv1\.weight"
    ):
        create(SF, frames=16, pretrained=path)
