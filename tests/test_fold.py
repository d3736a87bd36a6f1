"""Faster inference without other results: BatchNorm folded into convolutions (actionlib/models/fold.py) and I3D's
max pools without a padded copy (actionlib/models/i3d.py)."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actionlib.models import create
from actionlib.models.fold import conv_bn_pairs, fold_batchnorm
from actionlib.models.i3d import MaxPool3dSame, _pool_padding, _same_padding

# One small model of each family, and the clip it is run on.
FAMILIES = {
    "I3D": ("i3d", {"frames": 16}, (3, 16, 32, 32)),
    "I3D BERT": ("i3d", {"frames": 16, "head": "bert"}, (3, 16, 32, 32)),
    "SlowFast": ("slowfast_r50", {"frames": 16}, (3, 16, 32, 32)),
    "R(2+1)D": ("r2plus1d_34", {"frames": 8}, (3, 8, 32, 32)),
    "ResNeXt3D": ("resnext3d_101", {"frames": 16, "blocks": (1, 1, 1, 1), "width": 16}, (3, 16, 32, 32)),
    "I3D-ResNet50 non-local": ("i3d_r50", {"frames": 16, "nonlocal_blocks": True}, (3, 16, 32, 32)),
    "2D ResNet": ("resnet18", {"frames": 4}, (3, 4, 32, 32)),
}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def randomize_batchnorms(model: nn.Module, seed: int = 0) -> None:
    """Statistics and affine weights away from their initial 0/1, so that folding them is not the identity."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.empty(m.num_features).uniform_(-1, 1, generator=g))
            m.running_var.copy_(torch.empty(m.num_features).uniform_(0.5, 2, generator=g))
            if m.affine:
                m.weight.data.copy_(torch.empty(m.num_features).uniform_(0.5, 1.5, generator=g))
                m.bias.data.copy_(torch.empty(m.num_features).uniform_(-0.5, 0.5, generator=g))


def batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@pytest.mark.parametrize("family", list(FAMILIES))
def test_folding_keeps_the_outputs_in_float64(family):
    name, options, shape = FAMILIES[family]
    model = create(name, **options).double().eval()
    randomize_batchnorms(model)
    clip = torch.randn(2, *shape, dtype=torch.float64)
    folded = fold_batchnorm(model)
    with torch.no_grad():
        expected, got = model(clip), folded(clip)
    torch.testing.assert_close(got, expected, atol=1e-9, rtol=0)
    # every BatchNorm of these families follows a convolution
    assert batchnorms(folded) == 0 and folded.folded_batchnorms == batchnorms(model) > 0
    assert not folded.training


def test_the_original_model_is_left_alone():
    model = create("resnext3d_101", frames=4, blocks=(1, 1, 1, 1), width=16).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    assert model.training and batchnorms(model) == 17 and batchnorms(folded) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class Branches(nn.Module):
    """Convolutions followed by a BatchNorm directly and otherwise."""

    def __init__(self):
        super().__init__()
        self.conv_bias = nn.Conv3d(3, 4, 3, padding=1, bias=True)
        self.bn_bias = nn.BatchNorm3d(4)  # folded, into a conv that has a bias
        self.conv_relu = nn.Conv3d(4, 4, 1, bias=False)
        self.bn_after_relu = nn.BatchNorm3d(4)  # reads a ReLU, not the conv
        self.conv_shared = nn.Conv3d(4, 4, 1, bias=False)
        self.bn_shared = nn.BatchNorm3d(4)  # its input is also the residual: folding would change the residual
        self.bn_after_pool = nn.BatchNorm3d(4)
        self.conv_twice = nn.Conv3d(4, 4, 1, bias=False)
        self.bn_twice = nn.BatchNorm3d(4)  # called after conv_twice and after a pool: not a pair
        self.conv_pre = nn.Conv3d(4, 4, 1, bias=False)
        self.bn_pre = nn.BatchNorm3d(4)  # folded: shape queries of the conv output are not uses

    def forward(self, x):
        x = F.relu(self.bn_bias(self.conv_bias(x)))
        x = self.bn_after_relu(F.relu(self.conv_relu(x)))
        y = self.conv_shared(x)
        x = self.bn_shared(y) + y
        x = self.bn_after_pool(F.max_pool3d(x, 1))
        x = self.bn_twice(self.conv_twice(x)) + self.bn_twice(F.avg_pool3d(x, 1))
        y = self.conv_pre(x)
        assert y.shape[1] == 4 and y.dim() == 5
        return self.bn_pre(y)


def test_only_batchnorms_that_read_a_convolution_alone_are_folded():
    model = Branches().double().eval()
    randomize_batchnorms(model)
    assert conv_bn_pairs(model, torch.randn(1, 3, 2, 4, 4, dtype=torch.float64)) == [
        ("conv_bias", "bn_bias"),
        ("conv_pre", "bn_pre"),
    ]
    folded = fold_batchnorm(model, torch.zeros(1, 3, 2, 4, 4, dtype=torch.float64))
    assert isinstance(folded.bn_bias, nn.Identity) and isinstance(folded.bn_pre, nn.Identity)
    for name in ("bn_after_relu", "bn_shared", "bn_after_pool", "bn_twice"):
        assert isinstance(getattr(folded, name), nn.BatchNorm3d), name
    assert folded.conv_pre.bias is not None and model.conv_pre.bias is None  # a bias-free conv gains one
    clip = torch.randn(2, 3, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(folded(clip), model(clip), atol=1e-9, rtol=0)


def test_batchnorm_without_running_statistics_is_not_folded():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False)).eval()
    folded = fold_batchnorm(model, torch.randn(2, 3, 8, 8))
    assert isinstance(folded[1], nn.BatchNorm2d)


def test_folded_weights_stay_channels_last():
    from actionlib.engine.train import to_channels_last

    model = create("i3d", frames=8).eval()
    randomize_batchnorms(model)
    to_channels_last(model)
    folded = fold_batchnorm(model)
    weights = [m.weight for m in folded.modules() if isinstance(m, nn.Conv3d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last_3d) for w in weights)
    clip = torch.randn(1, 3, 8, 32, 32).contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        torch.testing.assert_close(folded(clip), model(clip), atol=1e-5, rtol=1e-5)


# I3D's "same" max pools: F.max_pool3d's own padding (or ceil_mode) instead of a zero-padded copy.
I3D_POOLS = [((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (2, 2, 2)), ((2, 2, 2), (2, 2, 2)), ((3, 3, 3), (1, 1, 1))]


@pytest.mark.parametrize("kernel, stride", I3D_POOLS)
def test_padding_free_pools_equal_the_padded_ones(kernel, stride):
    """On inputs >= 0 (I3D pools ReLU outputs), for odd and even sizes of every axis."""
    for size in itertools.product((1, 2, 3, 7, 8), (1, 4, 5, 14, 15), (2, 9)):
        assert _pool_padding(size, kernel, stride) is not None, size
        x = torch.rand(1, 3, *size)
        expected = F.max_pool3d(_same_padding(x, kernel, stride), kernel, stride)
        got = MaxPool3dSame(kernel, stride)(x)
        assert got.shape == expected.shape and torch.equal(got, expected), size
        assert torch.equal(MaxPool3dSame(kernel, stride, pad_inputs=True)(x), expected)


def test_a_pool_no_padding_matches_falls_back_to_the_padded_copy():
    # an even kernel at stride 1 pads one pixel more at the end than at the start: not max_pool3d's padding
    assert _pool_padding((5, 5, 5), (4, 4, 4), (1, 1, 1)) is None
    x = torch.rand(1, 2, 5, 5, 5)
    expected = F.max_pool3d(_same_padding(x, (4, 4, 4), (1, 1, 1)), (4, 4, 4), (1, 1, 1))
    assert torch.equal(MaxPool3dSame((4, 4, 4), (1, 1, 1))(x), expected)


def test_i3d_gives_the_same_outputs_with_padded_pools():
    model = create("i3d", frames=16).eval()
    randomize_batchnorms(model)
    clip = torch.randn(1, 3, 16, 48, 40)  # 48 and 40: even, then odd sizes down the network
    with torch.no_grad():
        got = model(clip)
        for m in model.modules():
            if isinstance(m, MaxPool3dSame):
                m.pad_inputs = True
        expected = model(clip)
    assert torch.equal(got, expected)


def spy_on_folding(monkeypatch) -> list:
    """Records each model `fold_batchnorm` returns (evaluate and predict import it when they run)."""
    from actionlib.models import fold

    folded, real = [], fold.fold_batchnorm

    def spy(model, *args, **kwargs):
        folded.append(real(model, *args, **kwargs))
        return folded[-1]

    monkeypatch.setattr(fold, "fold_batchnorm", spy)
    return folded


def test_evaluate_gives_the_same_results_folded(tmp_path, monkeypatch):
    from actionlib.data.synthetic import generate
    from actionlib.engine.checkpointing import save_checkpoint
    from actionlib.engine.evaluate import evaluate_checkpoint
    from actionlib.engine.train import TrainConfig

    options = {"blocks": (1, 1, 1, 1), "width": 16, "frames": 4, "size": 32}
    root = tmp_path / "synthetic"
    classes = ["sit_down", "stand_up"]
    generate(root, classes=classes, videos_per_class=3, frames=16, size=(64, 48), splits=1, pose=False)
    model = create("resnext3d_101", num_classes=2, **options)
    randomize_batchnorms(model)
    config = TrainConfig(
        model="resnext3d_101", options=options, dataset="synthetic", root=str(root), num_classes=2, class_names=classes
    )
    save_checkpoint({"model": model.state_dict(), "config": config.to_dict()}, tmp_path / "best.pt")
    folded = spy_on_folding(monkeypatch)
    report, scores, _ = evaluate_checkpoint(tmp_path / "best.pt", "multi-center", workers=0, device="cpu")
    plain_report, plain, _ = evaluate_checkpoint(
        tmp_path / "best.pt", "multi-center", workers=0, device="cpu", fold_bn=False
    )
    assert len(folded) == 1 and folded[0].folded_batchnorms == batchnorms(model)  # on by default
    assert report["top1"] == plain_report["top1"] and report["videos"] == plain_report["videos"] > 0
    torch.testing.assert_close(scores["scores"], plain["scores"], atol=1e-5, rtol=1e-5)


def test_predict_folds_unless_told_not_to(tmp_path, capsys, monkeypatch):
    import argparse
    import json

    from actionlib.engine.checkpointing import save_checkpoint
    from actionlib.engine.cli import add_parsers
    from actionlib.engine.train import TrainConfig
    from tests.engine.test_predict import OPTIONS, write_video

    model = create("resnext3d_101", num_classes=3, **OPTIONS)
    randomize_batchnorms(model)
    config = TrainConfig(model="resnext3d_101", options=OPTIONS, num_classes=3, class_names=["a", "b", "c"])
    save_checkpoint({"model": model.state_dict(), "config": config.to_dict()}, tmp_path / "best.pt")
    write_video(tmp_path / "clip.avi")
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"))
    folded, results = spy_on_folding(monkeypatch), []
    for extra in ([], ["--no-fold-bn"]):
        command = ["predict", str(tmp_path / "clip.avi"), "--checkpoint", str(tmp_path / "best.pt"), "--json"]
        args = parser.parse_args(command + extra)
        assert args.no_fold_bn == bool(extra) and args.func(args) == 0
        results.append(json.loads(capsys.readouterr().out)[0]["predictions"])
    assert len(folded) == 1  # the first run only
    folded, plain = results
    assert [p["class"] for p in folded] == [p["class"] for p in plain]
    for a, b in zip(folded, plain, strict=True):
        assert a["logit"] == pytest.approx(b["logit"], rel=1e-5, abs=1e-5)


def test_bench_models_times_folded_inference_and_profiles_operators(tmp_path):
    """benchmarks/bench_models.py's `--fold-bn` columns and `--profile` table, on a tiny clip."""
    import pandas as pd

    from actionlib.thesis import Config
    from benchmarks import bench_models as bench

    small = bench.Bench(Config("i3d", {"frames": 8, "size": 32}), "8x32x32", ["t3.10/i3d_64f"], ["3D"])
    record = bench.run_bench(small, 2, 0, False, 0.0, 50.0, torch.device("cpu"), channels_last=True, fold_bn=True)
    assert record["folded_batchnorms"] == 57 and record["infer_folded_s"] > 0 and record["fold_speedup"] > 0
    df = bench.to_frame([record])
    assert "fold speedup" in bench.markdown(df, "machine")

    rows = pd.DataFrame(bench.profile_ops("t3.10/i3d_64f", create("i3d", frames=8), (3, 8, 32, 32), 50.0))
    ops, total = rows.iloc[:-1], rows.iloc[-1]
    assert total["op"] == "whole pass (no profiler)" and ops["share_of_pass"].sum() == pytest.approx(1.0)
    # every convolution's multiply-adds are credited to the kernel under it: they add up to the model's count
    from actionlib.complexity import measure

    expected = measure(create("i3d", frames=8), (3, 8, 32, 32)).multiply_adds / 1e9
    convs = ops[ops["group"] == "convolution"]
    assert convs["gmacs"].sum() == pytest.approx(expected, rel=1e-3) == total["gmacs"]
    pool = ops[ops["op"] == "aten::max_pool3d_with_indices"].iloc[0]
    assert pool["args_gb_per_s"] > 0 and pd.isna(pool["gmacs"])
