"""Smoke tests of the benchmark suite's parts (benchmarks/bench_speed.py, bench_e2e.py, bench_all.summary) on tiny
models; the real sizes run only under `make bench`."""

import pandas as pd
import pytest

from benchmarks import bench_e2e, bench_speed
from tests.helpers import committed_tables

SMALL = {"name": "resnext3d_101", "blocks": (1, 1, 1, 1), "width": 16, "frames": 16, "size": 64}
SHAPE = (3, 16, 64, 64)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_heads_are_paired_per_round():
    configs = {"t4.1/avg": SMALL, "t4.1/bert_frmb": {**SMALL, "head": "bert"}}
    rows = bench_speed.heads(configs, SHAPE, rounds=2, warmup=0)
    assert [r["id"] for r in rows] == list(configs)
    assert rows[0]["vs_tgap"] == rows[0]["vs_tgap_min"] == 1.0 and rows[1]["vs_tgap"] > 0


def test_torchvision_builder_matches_r2plus1d_18():
    from torchvision.models.video import r2plus1d_18

    ours = bench_speed.torchvision_r2plus1d((2, 2, 2, 2), num_classes=400)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in r2plus1d_18().parameters())
    (row,) = bench_speed.torchvision_comparison([("R(2+1)D-18", (2, 2, 2, 2), 4)], 1, 0, ("default",), size=32)
    assert row["time_ratio"] > 0 and row["ours_gmacs"] > 0


def test_checkpointing_and_breakdown():
    rows = bench_speed.activation_checkpointing(SMALL, SHAPE, batch=2, repeats=1, warmup=0)
    assert [r["activation_checkpointing"] for r in rows] == [False, True] and rows[1]["stages"]
    parts = pd.DataFrame(bench_speed.breakdown("x", SMALL, SHAPE, ceiling=50.0))
    convs = parts[parts["part"].str.startswith("conv ")]
    assert "conv 7x7x7 stem" in set(convs["part"]) and (convs["gmacs"] > 0).all()
    assert parts["part"].iloc[-1] == "whole pass (no hooks)"


@pytest.mark.slow
def test_end_to_end_predict_and_summary(tmp_path):
    root = bench_e2e.synthetic_dataset(tmp_path / "synthetic", classes=2, videos_per_class=2)
    e2e = bench_e2e.end_to_end(root, "small", SMALL, batch=2, batches=2, workers=1)
    assert e2e["bottleneck"] in ("loader", "model") and e2e["model_clips_per_s"] > 0
    predict = bench_e2e.predict_latency(tmp_path / "predict", "small", SMALL, repeats=1, warmup=0)
    assert predict["latency_s"] > predict["import_only_s"] > 0 and predict["peak_mb"] > 0


def test_summary_from_the_committed_tables():
    """README.md is generated from the CSVs of a run: regenerate it from the committed ones."""
    import argparse

    from benchmarks import bench_all

    tables = committed_tables()
    ceiling = {"median": 90.0, "min": 89.0, "max": 91.0}
    args = argparse.Namespace(repeats=3, warmup=1)
    text = bench_all.summary({"cpu": "test"}, ceiling, args, *tables.values())
    for goal in ("75 % of matmul", "BERT head adds", "torchvision", "data pipeline never the bottleneck"):
        assert goal in text
