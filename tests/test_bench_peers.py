"""benchmarks/bench_peers.py at tiny clip sizes: the peers build the same networks as ours (equal multiply-adds and
parameters), one comparison runs end to end, and the tables and the suite's README lines are written."""

import argparse

import pandas as pd
import pytest
import torch

from actionlib.complexity import measure
from benchmarks import bench_peers
from tests.helpers import committed_tables

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def counts(model, shape):
    return measure(model, shape).multiply_adds, sum(p.numel() for p in model.parameters())


def arch(name):
    return next(a for a in bench_peers.architectures(quick=True) if a.name == name)


@pytest.mark.parametrize("name", ["SlowFast-R50 8x8", "Modified ResNet50"])
def test_pytorchvideo_builds_our_network(name):
    pytest.importorskip("pytorchvideo")
    a = arch(name)
    (peer,) = [p for p in a.peers if p.library == "pytorchvideo"]
    shape = (3, a.frames, a.size, a.size)
    ours, theirs = a.ours(a.frames, a.size).eval(), peer.build(a.frames, a.size).eval()
    assert counts(ours, shape) == counts(theirs, shape)
    with torch.no_grad():
        assert theirs(torch.randn(1, *shape)).shape == (1, bench_peers.CLASSES)


def test_torchvision_with_ig65m_widths_is_our_r2plus1d_34():
    a = arch("R(2+1)D-34")
    shape = (3, a.frames, a.size, a.size)
    ours = counts(a.ours(a.frames, a.size), shape)
    assert counts(bench_peers.torchvision_r2plus1d_34(a.frames, a.size, ig65m=True), shape) == ours
    shipped = counts(bench_peers.torchvision_r2plus1d_34(a.frames, a.size), shape)
    assert shipped[0] < ours[0] and shipped[1] < ours[1]  # narrower mid widths: not the same network


def test_every_architecture_says_which_peers_it_lacks():
    archs = bench_peers.architectures(authors_repo=None)
    assert all(any("authors" in s for s in a.skipped) for a in archs)
    assert [a.name for a in archs if not a.peers] == ["Modified ResNet50 Non-local", "I3D", "ResNeXt101-3D"]
    assert {(a.frames, a.size) for a in archs} == {(64, 224), (32, 224), (32, 112), (64, 112)}  # the thesis's


def test_a_directory_that_is_not_the_authors_checkout_is_a_note(tmp_path):
    peer = bench_peers.authors_builders(tmp_path)["I3D"]
    row = bench_peers.compare(arch("I3D"), peer, rounds=1, warmup=0, layout="channels_last")
    assert "not a checkout" in row["note"] and "infer_ratio" not in row


def test_compare_and_write(tmp_path):
    pytest.importorskip("pytorchvideo")
    a = arch("Modified ResNet50")
    (peer,) = [p for p in a.peers if p.library == "pytorchvideo"]
    row = bench_peers.compare(a, peer, rounds=1, warmup=0, layout="channels_last")
    assert row["same_network"] and row["ours_gmacs"] == row["peer_gmacs"] > 0
    for key in ("infer_ratio", "infer_folded_ratio", "train_ratio"):
        assert row[key] > 0 and row[f"{key}_min"] <= row[key] <= row[f"{key}_max"]
    assert row["infer_ratio"] == pytest.approx(row["infer_peer_s"] / row["infer_ours_s"])  # ours / peer clips/s
    rows = pd.DataFrame([row, {"architecture": "I3D", "peer": "authors", "layout": "channels_last", "note": "x"}])
    bench_peers.write(rows, ["I3D: none here"], tmp_path, {"cpu": "test"}, 1, 0)
    text = (tmp_path / "peers.md").read_text()
    assert "ours clips/s / peer clips/s" in text and "Modified ResNet50" in text and "I3D: none here" in text
    assert len(pd.read_csv(tmp_path / "peers.csv")) == 2
    measured, result = bench_peers.verdict(pd.read_csv(tmp_path / "peers.csv"))
    assert "Modified ResNet50 vs pytorchvideo" in measured and result.startswith(("met", "missed"))


def test_the_suite_reports_the_peers_goal():
    """bench_all's README from the committed tables plus a peers table and a profile."""

    from benchmarks import bench_all

    tables = committed_tables()
    peers = pd.DataFrame(
        [
            {
                "architecture": "SlowFast-R50 8x8",
                "clip": "64x224x224",
                "peer": "pytorchvideo",
                "layout": "channels_last",
                "same_network": True,
                "ours_gmacs": 50.3,
                "peer_gmacs": 50.3,
                **{
                    f"{k}{s}": v
                    for k, v in (("infer_ratio", 1.02), ("infer_folded_ratio", 1.06), ("train_ratio", 0.99))
                    for s in ("", "_min", "_max")
                },
                "note": "",
            }
        ]
    )
    nan = float("nan")
    profile = pd.DataFrame(
        {
            "op": ["aten::mkldnn_convolution", "aten::max_pool3d_with_indices", "whole pass (no profiler)"],
            "group": ["convolution", "pooling", "total"],
            "share_of_pass": [0.7, 0.3, 1.0],
            "seconds": [0.7, 0.3, 1.0],
            "pct_matmul": [90.0, nan, 63.0],
            "args_gb_per_s": [nan, 5.0, nan],
            "clip": ["64x224x224"] * 3,
        }
    )
    args = argparse.Namespace(repeats=3, warmup=1)
    ceiling = {"median": 90.0, "min": 89.0, "max": 91.0}
    text = bench_all.summary(
        {"cpu": "test"}, ceiling, args, *tables.values(), peers=peers, profiles={"t3.10/i3d_64f": profile}
    )
    assert "no architecture slower than any peer's build" in text and "training step 0.990" in text
    assert "missed: 1 % slower at worst" in text and "max_pool3d_with_indices 30 % moving 5.0 GB/s" in text
    assert "[profile_i3d_64f.csv](profile_i3d_64f.csv)" in text and "[peers.md](peers.md)" in text
