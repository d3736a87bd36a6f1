import pytest
import torch

from actionlib.complexity import measure
from actionlib.models import create
from actionlib.models.repflow import FlowLayer, feature_steps
from tests.helpers import forward_backward

RF = "repflow_50"


@pytest.mark.parametrize(
    ("options", "params"),
    [
        (dict(), 29_090_550),  # Table 3.10: 29.09 M
        # trunk + flow layer 28,986,051 + BERT (d 2048, L 6) 50,374,656 + fc 104,499
        (dict(head="bert"), 79_465_206),
    ],
)
def test_parameters_match_the_thesis_models(options, params):
    model = create(RF, **options)
    assert sum(p.numel() for p in model.parameters()) == params


def test_flow_layer_parameters_are_all_learnable():
    layer = FlowLayer(512)
    # 1x1 convs 512->32 and 64->512, BN, six 32x32 derivative kernels, theta / lambda / tau
    assert sum(p.numel() for p in layer.parameters() if p.requires_grad) == 64_515


def test_thirty_two_frames_leave_six_positions():
    assert feature_steps(32) == 6
    assert create(RF, head="bert").head.bert.length == 6
    model = create(RF, num_classes=5, frames=16, size=48).eval()
    with torch.no_grad():
        fmap = model.backbone(torch.randn(1, 3, 16, 48, 48))
    assert fmap.shape == (1, 2048, feature_steps(16), 2, 2)


def test_flow_layer_drops_the_last_position_and_keeps_the_identity_at_zero_flow():
    layer = FlowLayer(16, bottleneck=4, iterations=3).eval()
    torch.nn.init.zeros_(layer.bn.weight)
    x = torch.randn(2, 16, 5, 6, 6).abs()
    with torch.no_grad():
        out = layer(x)
    assert torch.allclose(out, x[:, :, :-1])


@pytest.mark.parametrize("options", [dict(), dict(head="bert", modality="flow")])
def test_forward_and_backward_on_a_small_clip(options):
    modality = options.pop("modality", "rgb")
    model = create(RF, num_classes=5, frames=12, size=32, modality=modality, **options)
    out = forward_backward(model, torch.randn(2, 2 if modality == "flow" else 3, 12, 32, 32))
    assert out["logits"].shape == (2, 5)
    assert model.backbone.stem.weight.grad is not None
    flow = model.backbone.rep_flow
    for p in (flow.img_grad, flow.f_grad, flow.div2, flow.t, flow.l, flow.a, flow.bottleneck.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="frames"):
        create(RF, frames=8)
    with pytest.raises(ValueError, match="size"):
        create(RF, size=16)
    with pytest.raises(ValueError, match="unknown head"):
        create(RF, head="transformer")


@pytest.mark.slow
@pytest.mark.parametrize(("options", "ops"), [(dict(), 44.5863)])
def test_operations_match_the_authors_model(options, ops):
    model = create(RF, **options)
    assert round(measure(model, (3, 32, 224, 224)).ops_g, 4) == ops


def repflow_checkpoint():
    """The layout of rep_flow_kinetics.pth: a bare state dict of resnet_3d_v1(50, 400), classifier `classify`."""
    own = create(RF, frames=16, size=64).backbone.state_dict()
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in own.items()}
    state["classify.weight"] = torch.randn(400, 2048, 1, 1, 1)
    state["classify.bias"] = torch.randn(400)
    return state


def test_public_key_names():
    keys = set(repflow_checkpoint())
    for key in (
        "stem.weight",
        "bn1.running_mean",
        "res2.blocks.0.shortcut.1.weight",
        "res2.blocks.0.shortcut.3.bias",
        "res3.blocks.3.layers.1.weight",
        "res5.blocks.2.layers.9.running_var",
        "rep_flow.bottleneck.weight",
        "rep_flow.unbottleneck.weight",
        "rep_flow.img_grad2",
        "rep_flow.div",
        "rep_flow.t",
    ):
        assert key in keys, key


def test_repflow_checkpoint_loads_for_rgb_and_flow(tmp_path):
    state = repflow_checkpoint()
    path = tmp_path / "rep_flow_kinetics.pth"
    torch.save(state, path)
    model = create(RF, frames=16, size=64, pretrained=path)
    assert torch.equal(model.backbone.res4.blocks[1].layers[5].weight, state["res4.blocks.1.layers.5.weight"])
    assert torch.equal(model.backbone.rep_flow.img_grad, state["rep_flow.img_grad"])
    assert torch.equal(model.backbone.rep_flow.l, state["rep_flow.l"])
    flow = create(RF, frames=16, size=64, modality="flow", pretrained=path)
    expected = state["stem.weight"].mean(1, keepdim=True).expand(-1, 2, -1, -1, -1)
    assert torch.allclose(flow.backbone.stem.weight, expected)


def test_wrong_checkpoint_lists_keys(tmp_path):
    state = repflow_checkpoint()
    del state["rep_flow.div2"]
    state["res6.blocks.0.layers.1.weight"] = torch.randn(3)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"missing keys: rep_flow\.div2") as err:
        create(RF, frames=16, size=64, pretrained=path)
    assert "unexpected keys: res6.blocks.0.layers.1.weight" in str(err.value)
