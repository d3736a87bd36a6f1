import pytest
import torch

from actionlib.complexity import measure
from actionlib.models import create
from actionlib.models.tsm import temporal_shift
from tests.helpers import forward_backward

TSM = "tsm_r50"


@pytest.mark.parametrize(
    ("options", "params"),
    [
        (dict(), 23_612_531),  # Table 3.10: 23.61 M
        # ResNet50 trunk 23,508,032 + BERT (d 2048, L 8) 50,378,752 + fc 104,499
        (dict(head="bert"), 73_991_283),
    ],
)
def test_parameters_match_the_thesis_models(options, params):
    model = create(TSM, **options)
    assert sum(p.numel() for p in model.parameters()) == params


def test_shift_moves_one_eighth_each_way_and_zero_fills():
    frames, channels = 4, 16
    x = torch.arange(frames, dtype=torch.float).view(frames, 1, 1, 1).expand(frames, channels, 2, 2).clone()
    x[:, :, 0, 0] += torch.arange(channels) / 100
    out = temporal_shift(x, frames, fold_div=8).view(frames, channels, 2, 2)
    # channels 0-1 come from the next frame, 2-3 from the previous one, 4.. stay
    assert torch.equal(out[:-1, :2], x[1:, :2])
    assert torch.equal(out[-1, :2], torch.zeros_like(out[-1, :2]))
    assert torch.equal(out[1:, 2:4], x[:-1, 2:4])
    assert torch.equal(out[0, 2:4], torch.zeros_like(out[0, 2:4]))
    assert torch.equal(out[:, 4:], x[:, 4:])


def test_shift_stays_inside_each_clip():
    model = create(TSM, num_classes=5, frames=3).eval()
    a, b = torch.randn(1, 3, 3, 32, 32), torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        together = model(torch.cat([a, b]))
        alone = model(a)
    assert torch.allclose(together[0], alone[0], atol=1e-4)


def test_consensus_averages_the_frame_scores():
    model = create(TSM, num_classes=5, frames=3).eval()
    clip = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        out = model.forward_features(clip)
        frames = model.backbone(clip).mean(dim=(3, 4)).transpose(1, 2)  # (B, T, 2048)
    assert torch.allclose(out["logits"], model.fc(frames).mean(dim=1), atol=1e-5)
    assert torch.allclose(out["pooled"], frames.mean(dim=1), atol=1e-5)


@pytest.mark.parametrize("options", [dict(), dict(head="bert", modality="flow")])
def test_forward_and_backward_on_a_small_clip(options):
    modality = options.pop("modality", "rgb")
    model = create(TSM, num_classes=5, frames=3, size=32, modality=modality, **options)
    out = forward_backward(model, torch.randn(2, 2 if modality == "flow" else 3, 3, 32, 32))
    assert out["logits"].shape == (2, 5)
    assert model.backbone.conv1.weight.grad is not None
    assert model.backbone.layer1[0].conv1.weight.grad is not None


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="frames"):
        create(TSM, frames=0)
    with pytest.raises(ValueError, match="unknown head"):
        create(TSM, head="transformer")
    with pytest.raises(ValueError, match="no options"):
        create(TSM, keep_prob=0.5)


@pytest.mark.slow
@pytest.mark.parametrize(("options", "ops"), [(dict(), 32.9598)])
def test_operations_match_the_authors_model(options, ops):
    # The thesis counted one (8, 3, 224, 224) sample: the whole 8-frame clip, not per frame.
    model = create(TSM, **options)
    assert round(measure(model, (3, 8, 224, 224)).ops_g, 4) == ops


def tsm_checkpoint():
    """The layout of TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment16_e50.pth:
    {'state_dict': {'module.base_model.<torchvision key>' (shifted conv1 as conv1.net), 'module.new_fc.*'}}."""
    own = create(TSM, frames=2).backbone.state_dict()
    state = {}
    for key, value in own.items():
        if key.endswith("num_batches_tracked"):
            continue
        public = key.replace(".conv1.", ".conv1.net.") if key.startswith("layer") else key
        state[f"module.base_model.{public}"] = torch.randn_like(value)
    state["module.new_fc.weight"] = torch.randn(400, 2048)
    state["module.new_fc.bias"] = torch.randn(400)
    return {"epoch": 50, "arch": "resnet50", "state_dict": state, "best_prec1": 74.1}


def test_tsm_checkpoint_loads_for_rgb_and_flow(tmp_path):
    ckpt = tsm_checkpoint()
    assert "module.base_model.layer3.2.conv1.net.weight" in ckpt["state_dict"]
    path = tmp_path / "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment16_e50.pth"
    torch.save(ckpt, path)
    model = create(TSM, frames=2, pretrained=path)
    state = ckpt["state_dict"]
    assert torch.equal(model.backbone.layer3[2].conv1.weight, state["module.base_model.layer3.2.conv1.net.weight"])
    assert torch.equal(
        model.backbone.layer4[0].downsample[1].running_var, state["module.base_model.layer4.0.downsample.1.running_var"]
    )
    flow = create(TSM, frames=2, modality="flow", pretrained=path)
    expected = state["module.base_model.conv1.weight"].mean(1, keepdim=True).expand(-1, 2, -1, -1)
    assert torch.allclose(flow.backbone.conv1.weight, expected)


def test_torchvision_layout_converts_unchanged():
    backbone = create(TSM, frames=2).backbone
    keys = {"conv1.weight": 0, "layer1.0.conv1.weight": 1, "fc.weight": 2}
    assert backbone.convert_pretrained(keys) == keys


def test_wrong_checkpoint_lists_keys(tmp_path):
    state = tsm_checkpoint()["state_dict"]
    del state["module.base_model.layer2.1.conv1.net.weight"]
    state["module.base_model.layer5.0.conv1.weight"] = torch.randn(3)
    path = tmp_path / "partial.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match=r"missing keys: layer2\.1\.conv1\.weight") as err:
        create(TSM, frames=2, pretrained=path)
    assert "unexpected keys: layer5.0.conv1.weight" in str(err.value)
