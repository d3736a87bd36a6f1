import pytest
import torch
from torchvision.models import resnet18 as tv_resnet18

from actionlib.complexity import measure
from actionlib.models import create
from tests.helpers import forward_backward

# (options, all params, trainable params) from the authors' models with 51 classes (notes section 5).
PARAMS = [
    (dict(frames=1), 11_202_675, 11_202_675),
    (dict(head="avg"), 11_202_675, 10_519_603),
    (dict(head="nl_avg"), 12_254_323, None),
    (dict(head="concat"), 11_594_355, None),  # authors: +1 for an unused PReLU we do not build
    (dict(head="nl_concat"), 12_646_003, None),
    (dict(head="lstm"), 15_405_171, None),
    (dict(head="convgru"), 14_933_883, None),
    (dict(head="bert"), 14_364_275, None),
    (dict(head="concat", fusion="triple"), 11_907_699, 11_750_195),
]


@pytest.mark.parametrize(("options", "params", "trainable"), PARAMS)
def test_resnet18_parameters_match_the_thesis_models(options, params, trainable):
    model = create("resnet18", **options)
    assert sum(p.numel() for p in model.parameters()) == params
    if trainable is not None:
        assert sum(p.numel() for p in model.parameters() if p.requires_grad) == trainable


@pytest.mark.parametrize(
    ("depth", "params", "trainable"),
    [(34, 22_015_859, 22_015_859), (50, 26_432_627, 26_207_283), (101, 45_424_755, 45_199_411)],
)
def test_depth_study_parameters(depth, params, trainable):
    model = create(f"resnet{depth}", head="concat", fusion="triple")
    assert sum(p.numel() for p in model.parameters()) == params
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == trainable


def test_flow_resnet101_frmb_bert_matches_appendix_c4():
    frmb = create("resnet101", head="bert", reduction="frmb", modality="flow")
    full = create("resnet101", head="bert", modality="flow")
    assert sum(p.numel() for p in frmb.parameters()) == 42_748_467
    assert sum(p.numel() for p in full.parameters()) == 92_996_659


@pytest.mark.parametrize(
    "options",
    [
        dict(frames=1),
        *[dict(head=h) for h in ("avg", "nl_avg", "concat", "nl_concat", "lstm", "convgru", "bert")],
        dict(head="concat", fusion="dual"),
        dict(head="concat", fusion="triple"),
        dict(head="concat", fusion="quadruplet"),
        dict(head="bert", modality="flow"),
        dict(head="bert", modality="pose"),
    ],
)
def test_forward_and_backward_on_a_small_clip(options):
    frames = options.pop("frames", 4)
    modality = options.pop("modality", "rgb")
    model = create("resnet18", num_classes=7, frames=frames, modality=modality, **options)
    clip = torch.randn(2, 2 if modality == "flow" else 3, frames, 64, 64)
    out = forward_backward(model, clip)
    assert out["logits"].shape == (2, 7)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in trainable if p is not model.backbone.conv1.weight or frames == 1)
    assert model.fc.weight.grad.abs().sum() > 0


def test_frmb_forward_and_freezing():
    model = create("resnet50", num_classes=5, head="bert", reduction="frmb", frames=2)
    forward_backward(model, torch.randn(1, 3, 2, 64, 64))
    assert not model.backbone.layer2[0].conv1.weight.requires_grad
    assert model.backbone.layer3[0].conv1.weight.requires_grad
    with pytest.raises(ValueError, match="bottleneck"):
        create("resnet18", reduction="frmb")
    with pytest.raises(ValueError, match="fusion must be one of"):
        create("resnet18", fusion="quad")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "options", "ops"),
    [
        ("resnet18", dict(head="avg"), 1.8217),
        ("resnet18", dict(head="convgru"), 2.0053),
        ("resnet18", dict(head="bert"), 1.8250),
        ("resnet18", dict(head="nl_avg"), 1.8732),
        ("resnet101", dict(head="concat", fusion="triple"), 7.8482),
    ],
)
def test_per_frame_operations_match(name, options, ops):
    model = create(name, **options)
    assert round(measure(model, model.default_clip).ops_g, 4) == ops


def test_imagenet_checkpoint_loads_and_adapts_to_flow(tmp_path):
    reference = tv_resnet18()
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(reference.state_dict(), path)  # torchvision files are bare state dicts with fc.*
    rgb = create("resnet18", head="bert", frames=2, pretrained=path)
    assert torch.equal(rgb.backbone.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    flow = create("resnet18", head="bert", frames=2, modality="flow", pretrained=path)
    expected = reference.conv1.weight.mean(1, keepdim=True).expand(-1, 2, -1, -1)
    assert torch.allclose(flow.backbone.conv1.weight, expected)
    assert flow.fc.out_features == 51


def test_a_checkpoint_of_another_architecture_fails_listing_keys(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"state_dict": create("resnet34").backbone.state_dict()}, path)
    with pytest.raises(ValueError, match="missing keys|unexpected keys"):
        create("resnet18", pretrained=path)


@pytest.mark.parametrize("depth", [18, 50])
def test_narrow_resnet_keeps_key_names_and_scales_channels(depth):
    full = create(f"resnet{depth}", num_classes=5, head="avg", frames=2)
    narrow = create(f"resnet{depth}", num_classes=5, head="avg", frames=2, width=16)
    assert set(full.state_dict()) == set(narrow.state_dict())
    assert narrow.backbone.out_channels * 4 == full.backbone.out_channels
    assert narrow(torch.randn(2, 3, 2, 48, 64)).shape == (2, 5)


def test_default_width_is_the_published_network():
    model = create("resnet18", num_classes=51, head="avg", frames=1)
    assert sum(p.numel() for p in model.parameters()) == 11_202_675


def test_frmb_needs_the_published_width():
    with pytest.raises(ValueError, match="width 64"):
        create("resnet50", num_classes=5, head="bert", reduction="frmb", width=32)
