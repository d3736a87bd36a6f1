"""A public checkpoint's classifier is kept when it fits the model (the timm/torchvision convention).

It fits when `fc` has its exact shape and reads what the public classifier read (the backbone's
averaged output: the plain "avg" head, no reduction, no replaced block). Then the model predicts the
public network's classes as the public network does; otherwise `fc` stays fresh and the report says why.

Full-size trunks are only built where a test runs one: the mapping tests build the model on the meta
device, give it a real `fc`, and load a file holding just the public classifier with `strict=False`.
"""

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import resnet18 as tv_resnet18

from actionlib.models import create
from actionlib.models.checkpoints import load_pretrained
from actionlib.models.i3d import InceptionI3d

NARROW_3D = dict(blocks=(1, 1, 1, 1), width=16)
# Loading into a trunk on the meta device is a no-op that torch warns about; only `fc` matters there.
pytestmark = pytest.mark.filterwarnings("ignore:.*to a meta parameter:UserWarning")


def meta_model(name, **options):
    """`create(name)` without allocating the trunk: only `fc` gets real (CPU) weights."""
    with torch.device("meta"):
        model = create(name, **options)
    model.fc.to_empty(device="cpu")
    torch.nn.init.zeros_(model.fc.weight)
    torch.nn.init.zeros_(model.fc.bias)
    return model


def load_classifier_only(model, tmp_path, state, wrapper=None):
    """Load a file holding only `state` (the public classifier keys) into `model`; return the report."""
    path = tmp_path / "classifier.pth"
    torch.save({wrapper: state} if wrapper else state, path)
    return load_pretrained(model, path, strict=False)


# model, options, the file's classifier keys (with `module.` where the file has it), weight shape after the
# class axis, the file's wrapper key, classes
FAMILIES = {
    "i3d": ("i3d", {}, ("logits.conv3d.weight", "logits.conv3d.bias"), (1024, 1, 1, 1), None, 400),
    "slowfast": ("slowfast_r50", {}, ("head.projection.weight", "head.projection.bias"), (2304,), "model_state", 400),
    "hara_resnext": ("resnext3d_101", {}, ("module.fc.weight", "module.fc.bias"), (2048,), "state_dict", 400),
    "hara_resnet": ("resnet3d_101", {}, ("module.fc.weight", "module.fc.bias"), (2048,), "state_dict", 400),
    "ig65m": ("r2plus1d_34", {}, ("fc.weight", "fc.bias"), (512,), None, 359),
    "torchvision": ("resnet50", {}, ("fc.weight", "fc.bias"), (2048,), None, 1000),
    "mfnet": ("mfnet3d", {}, ("module.classifier.weight", "module.classifier.bias"), (768,), "state_dict", 400),
    "tsm": ("tsm_r50", {}, ("module.new_fc.weight", "module.new_fc.bias"), (2048,), "state_dict", 400),
    "i3d_r50_nl": ("i3d_r50", {"nonlocal_blocks": True}, ("fc.weight", "fc.bias"), (2048,), None, 400),
    "repflow": ("repflow_50", {}, ("classify.weight", "classify.bias"), (2048, 1, 1, 1), None, 400),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_maps_its_public_classifier_to_fc(tmp_path, family):
    name, options, (weight_key, bias_key), weight_shape, wrapper, classes = FAMILIES[family]
    weight, bias = torch.randn(classes, *weight_shape), torch.randn(classes)
    model = meta_model(name, num_classes=classes, **options)
    report = load_classifier_only(model, tmp_path, {weight_key: weight, bias_key: bias}, wrapper)
    assert report["classifier"] == f"loaded: {weight_key.removeprefix('module.')}, {bias_key.removeprefix('module.')}"
    torch.testing.assert_close(model.fc.weight, weight.flatten(1))
    torch.testing.assert_close(model.fc.bias, bias)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_classifier_of_another_size_is_dropped_and_named(tmp_path, family):
    name, options, (weight_key, bias_key), weight_shape, wrapper, classes = FAMILIES[family]
    model = meta_model(name, num_classes=51, **options)
    state = {weight_key: torch.randn(classes, *weight_shape), bias_key: torch.randn(classes)}
    report = load_classifier_only(model, tmp_path, state, wrapper)
    keys = f"{weight_key.removeprefix('module.')}, {bias_key.removeprefix('module.')}"
    assert report["classifier"] == f"dropped: {keys} ({classes} classes, the model has 51)"
    assert not model.fc.weight.any()  # untouched


@pytest.mark.parametrize(
    "name, options, key, in_features",
    [
        ("i3d", {"reduction": "frmb"}, "logits.conv3d", 512),  # Mixed_5c replaced: 512 channels, "avg" head
        ("i3d", {"head": "bert"}, "logits.conv3d", 1024),
        ("resnext3d_101", {"reduction": "frab"}, "fc", 512),
        ("resnext3d_101", {"head": "nl_avg"}, "fc", 2048),
        ("slowfast_r50", {"head": "bert"}, "head.projection", 768),
        ("tsm_r50", {"head": "bert"}, "new_fc", 2048),
        ("resnet18", {"fusion": "dual"}, "fc", 768),
    ],
)
def test_a_head_or_reduction_before_fc_drops_the_classifier_even_when_sizes_match(
    tmp_path, name, options, key, in_features
):
    model = meta_model(name, num_classes=400, **options)
    assert model.fc.in_features == in_features  # so only the head can refuse it
    state = {f"{key}.weight": torch.randn(400, in_features), f"{key}.bias": torch.randn(400)}
    report = load_classifier_only(model, tmp_path, state)
    expected = (
        f"dropped: {key}.weight, {key}.bias (the model's classifier reads its late temporal head, reduction or fusion)"
    )
    assert report["classifier"] == expected
    assert not model.fc.weight.any()


def test_tsm_does_not_take_an_imagenet_fc(tmp_path):
    model = meta_model("tsm_r50", num_classes=1000)
    report = load_classifier_only(model, tmp_path, {"fc.weight": torch.randn(1000, 2048), "fc.bias": torch.randn(1000)})
    assert (
        report["classifier"]
        == "dropped: fc.weight, fc.bias (the model takes only new_fc.weight, new_fc.bias as its classifier)"
    )


def test_a_checkpoint_without_classifier_says_so(tmp_path):
    report = load_classifier_only(meta_model("resnet18"), tmp_path, {"conv1.weight": torch.randn(64, 3, 7, 7)})
    assert report["classifier"] == "none in the checkpoint"


# ------------------------------------------------------------------ I3D: the Kinetics logits, numerically
@pytest.fixture(scope="module")
def i3d_checkpoint(tmp_path_factory):
    """A bare state dict in piergiaj's layout from our own trunk's initial weights (valid BN statistics),
    with a random 400-way `logits` unit."""
    torch.manual_seed(0)
    state = {k: v for k, v in InceptionI3d().state_dict().items() if not k.endswith("num_batches_tracked")}
    for key in state:
        if key.endswith("running_mean"):
            state[key] = torch.randn_like(state[key]) * 0.1
        elif key.endswith("running_var"):
            state[key] = torch.rand_like(state[key]) + 0.5
    state["logits.conv3d.weight"] = torch.randn(400, 1024, 1, 1, 1) * 0.05
    state["logits.conv3d.bias"] = torch.randn(400)
    path = tmp_path_factory.mktemp("i3d") / "rgb_imagenet.pth"
    torch.save(state, path)
    return path, state


def piergiaj_logits(fmap, weight, bias, window=2):
    """piergiaj's `InceptionI3d` after Mixed_5c: AvgPool3d((2, 7, 7), stride 1) (the whole 7x7 map at 224;
    the whole map here), the 1x1x1 `logits` convolution, then the logits averaged over the time windows
    (as the Kinetics evaluation does)."""
    pooled = F.avg_pool3d(fmap, (window, *fmap.shape[3:]), stride=1)
    return F.conv3d(pooled, weight, bias).squeeze(4).squeeze(3).mean(2)


def test_i3d_keeps_the_kinetics_logits_and_predicts_as_the_public_network(i3d_checkpoint, capsys):
    path, state = i3d_checkpoint
    model = create("i3d", num_classes=400, frames=16, size=64, pretrained=path)
    assert model.pretrained_report["classifier"] == "loaded: logits.conv3d.weight, logits.conv3d.bias"
    assert capsys.readouterr().out.strip().endswith("classifier loaded: logits.conv3d.weight, logits.conv3d.bias")
    model = model.double().eval()
    clip = torch.randn(1, 3, 16, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        ours = model(clip)
        fmap = model.backbone(clip)
    assert fmap.shape[2] == 2  # 16 frames: one (2, h, w) window covers the whole map
    weight, bias = state["logits.conv3d.weight"].double(), state["logits.conv3d.bias"].double()
    torch.testing.assert_close(ours, piergiaj_logits(fmap, weight, bias), rtol=1e-12, atol=1e-12)


def test_i3d_pooling_then_fc_is_the_logits_convolution_averaged(tmp_path):
    """Both are linear: averaging the features, then the linear layer, equals the 1x1x1 convolution at
    every position averaged. piergiaj's overlapping (2, 7, 7) windows, though, weigh the first and last of
    T time positions by 1 instead of 2 (of 2(T-1)): for T = 8 (64 frames) their logits differ a little."""
    weight, bias = torch.randn(400, 1024, 1, 1, 1), torch.randn(400)
    model = meta_model("i3d", num_classes=400)
    load_classifier_only(model, tmp_path, {"logits.conv3d.weight": weight, "logits.conv3d.bias": bias})
    model, weight, bias = model.double(), weight.double(), bias.double()
    fmap = torch.randn(2, 1024, 8, 7, 7, dtype=torch.float64)
    ours = model.fc(model.head(fmap)["pooled"])
    torch.testing.assert_close(ours, F.conv3d(fmap, weight, bias).mean((2, 3, 4)), rtol=1e-12, atol=1e-12)
    ends_half = torch.tensor([1, 2, 2, 2, 2, 2, 2, 1], dtype=torch.float64) / 14
    weighted = (fmap.mean((3, 4)) * ends_half).sum(2)
    torch.testing.assert_close(piergiaj_logits(fmap, weight, bias), model.fc(weighted), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(ours, piergiaj_logits(fmap, weight, bias))


def test_i3d_with_51_classes_keeps_a_fresh_classifier_and_says_why(i3d_checkpoint, capsys):
    path, state = i3d_checkpoint
    torch.manual_seed(3)
    fresh = create("i3d", num_classes=51, frames=16, size=64)
    torch.manual_seed(3)
    model = create("i3d", num_classes=51, frames=16, size=64, pretrained=path)
    reason = "dropped: logits.conv3d.weight, logits.conv3d.bias (400 classes, the model has 51)"
    assert model.pretrained_report["classifier"] == reason
    assert capsys.readouterr().out.strip() == f"loaded {path}; classifier {reason}"
    assert torch.equal(model.fc.weight, fresh.fc.weight)
    assert torch.equal(model.backbone.Mixed_5c.b0.conv3d.weight, state["Mixed_5c.b0.conv3d.weight"])


# ------------------------------------------------------------------ SlowFast: head.projection
def test_slowfast_projection_reads_both_pathways_averaged_as_pyslowfast(tmp_path):
    weight, bias = torch.randn(400, 2304), torch.randn(400)
    model = meta_model("slowfast_r50", num_classes=400)
    report = load_classifier_only(model, tmp_path, {"head.projection.weight": weight, "head.projection.bias": bias})
    assert report["classifier"] == "loaded: head.projection.weight, head.projection.bias"
    model, weight, bias = model.double().eval(), weight.double(), bias.double()
    slow = torch.randn(2, 2048, 8, 7, 7, dtype=torch.float64)
    fast = torch.randn(2, 256, 32, 7, 7, dtype=torch.float64)
    ours = model.fc(model.dropout(model.head([slow, fast])["pooled"]))
    # PySlowFast's ResNetBasicHead: AvgPool3d over each whole pathway, concatenated, then the projection.
    pooled = torch.cat([F.avg_pool3d(slow, slow.shape[2:]), F.avg_pool3d(fast, fast.shape[2:])], 1).flatten(1)
    torch.testing.assert_close(ours, F.linear(pooled, weight, bias), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ Hara's ResNeXt: fc, end to end
@pytest.fixture(scope="module")
def hara_checkpoint(tmp_path_factory):
    """Hara's layout ({'state_dict': {'module.<key>'}}, 400-way fc) for the narrow ResNeXt."""
    torch.manual_seed(0)
    backbone = create("resnext3d_101", frames=16, **NARROW_3D).backbone.state_dict()
    state = {f"module.{k}": v for k, v in backbone.items()}
    state["module.fc.weight"] = torch.randn(400, 512) * 0.05
    state["module.fc.bias"] = torch.randn(400)
    path = tmp_path_factory.mktemp("hara") / "resnext-101-kinetics.pth"
    torch.save({"epoch": 200, "arch": "resnext-101", "state_dict": state}, path)
    return path, state


def test_hara_resnext_keeps_its_kinetics_fc(hara_checkpoint):
    path, state = hara_checkpoint
    model = create("resnext3d_101", num_classes=400, frames=16, pretrained=path, **NARROW_3D)
    assert model.pretrained_report["classifier"] == "loaded: fc.weight, fc.bias"
    model = model.double().eval()
    clip = torch.randn(2, 3, 16, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        ours = model(clip)
        # Hara's forward: AvgPool3d over the whole last map, flatten, fc.
        public = F.linear(model.backbone(clip).mean((2, 3, 4)), state["module.fc.weight"].double(),
                          state["module.fc.bias"].double())  # fmt: skip
    torch.testing.assert_close(ours, public, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("options", [{"num_classes": 51}, {"num_classes": 400, "head": "bert"}])
def test_hara_resnext_fc_is_dropped_for_other_classes_or_bert(hara_checkpoint, options):
    path, _ = hara_checkpoint
    torch.manual_seed(5)
    fresh = create("resnext3d_101", frames=16, **NARROW_3D, **options)
    torch.manual_seed(5)
    model = create("resnext3d_101", frames=16, pretrained=path, **NARROW_3D, **options)
    assert model.pretrained_report["classifier"].startswith("dropped: fc.weight, fc.bias (")
    assert torch.equal(model.fc.weight, fresh.fc.weight)


# ------------------------------------------------------------------ torchvision ResNet18: ImageNet fc
@pytest.fixture(scope="module")
def imagenet_resnet18(tmp_path_factory):
    torch.manual_seed(0)
    reference = tv_resnet18()
    for module in reference.modules():  # valid, non-trivial BN statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("tv") / "resnet18-f37072fd.pth"
    torch.save(reference.state_dict(), path)  # torchvision files are bare state dicts with fc.*
    return path, reference


def test_resnet18_keeps_the_imagenet_fc_and_averages_the_frames_predictions(imagenet_resnet18):
    path, reference = imagenet_resnet18
    model = create("resnet18", num_classes=1000, frames=2, pretrained=path)
    assert model.pretrained_report["classifier"] == "loaded: fc.weight, fc.bias"
    model, reference = model.double().eval(), reference.double().eval()
    clip = torch.randn(1, 3, 2, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        ours = model(clip)
        per_frame = torch.stack([reference(clip[:, :, t]) for t in range(2)], 1)
    torch.testing.assert_close(ours, per_frame.mean(1), rtol=1e-10, atol=1e-10)  # TSN's average of the frames


def test_resnet18_bert_drops_the_imagenet_fc_although_it_is_512_to_1000(imagenet_resnet18):
    path, _ = imagenet_resnet18
    model = create("resnet18", num_classes=1000, head="bert", frames=2, pretrained=path)
    assert model.fc.weight.shape == (1000, 512)
    reason = "dropped: fc.weight, fc.bias (the model's classifier reads its late temporal head, reduction or fusion)"
    assert model.pretrained_report["classifier"] == reason
