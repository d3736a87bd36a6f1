"""Smoke test of benchmarks/bench_models.py: one small model, one pass of each kind, all three outputs."""

import pandas as pd
import torch

from actionlib.thesis import Config
from benchmarks import bench_models as bench


def test_bench_models_small(tmp_path, one_thread):
    device = torch.device("cpu")
    ceiling = bench.matmul_rate(device, size=256, repeats=2)
    assert ceiling["median"] > 0
    small = dict(frames=16, size=32)
    tgap = bench.Bench(Config("resnext3d_101", small), "16x32x32", ["t4.1/avg"], [bench.LATE_GROUP])
    bert = bench.Bench(
        Config("resnext3d_101", {**small, "head": "bert", "reduction": "frmb"}),
        "16x32x32",
        ["t4.1/bert_frmb"],
        [bench.LATE_GROUP],
    )
    records = [
        bench.run_bench(tgap, 1, 0, None, 0.0, ceiling["median"], device, batch=2),
        bench.run_bench(bert, 1, 0, False, 0.0, ceiling["median"], device, batch=2),
    ]
    df = bench.to_frame(records)
    assert df.loc[0, "train_vs_tgap"] == 1.0 and df.loc[0, "gmacs"] > 0
    assert 0 < df.loc[0, "infer_pct_matmul"] < 1000 and 0 < df.loc[0, "train_pct_matmul"] < 1000
    assert pd.isna(df.loc[1, "train_s"]) and "training skipped" in df.loc[1, "note"]

    bench.write_outputs(df, bench.describe(bench.machine(), ceiling, 1, 0), tmp_path / "models")
    assert "t4.1/bert_frmb" in (tmp_path / "models.md").read_text()
    assert len(pd.read_csv(tmp_path / "models.csv")) == 2
    assert (tmp_path / "models.png").stat().st_size > 0


def test_plan_reads_the_spec(tmp_path):
    spec = tmp_path / "spec.csv"
    spec.write_text(
        "id,clip,thesis_params_m,thesis_ops_g\n"
        "t4.3/rgb,64x112x112,47.63,38.56\nt4.1/avg,64x112x112,47.63,38.56\n"
        "t4.3/both,64x112x112,95.23,72.72\nt3.3/avg,16x224x224,11.2,1.82\n"
    )
    (only,) = bench.plan(spec)
    assert only.ids == ["t4.3/rgb", "t4.1/avg"] and len(only.groups) == 2
