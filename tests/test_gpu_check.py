"""The plumbing of benchmarks/gpu_check.py, in its quick CPU mode: every section runs and writes its tables.

The GPU run itself is rare; these tests make sure it does not fail on something a CPU could have caught.
"""

import pandas as pd
import pytest
import torch

from benchmarks import gpu_check

TABLES = ["3.2", "3.10", "4.7", "5.2"]  # a few of the thesis tables gpu_hours.csv must have, and "all"


@pytest.fixture
def restore_torch():
    """gpu_check sets one torch thread and cuDNN autotuning for the whole process: put them back."""
    threads, benchmark = torch.get_num_threads(), torch.backends.cudnn.benchmark
    yield
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = benchmark


def run_quick(out, *extra):
    assert gpu_check.main(["--device", "cpu", "--quick", "--out", str(out), *extra]) == 0
    csv = pd.read_csv(out / "gpu.csv")
    hours = pd.read_csv(out / "gpu_hours.csv", dtype={"table": str})
    md = (out / "gpu.md").read_text()
    assert list(csv.columns) == gpu_check.CSV_COLUMNS
    assert list(hours.columns) == gpu_check.HOURS_COLUMNS
    assert md.startswith(f"# GPU check: {gpu_check.cpu_name()}") and "Quick mode" in md
    for heading in ("## Training step", "## Inference", "## Data loader", "## DDP", "## What a full reproduction"):
        assert heading in md
    assert set(TABLES + ["all"]) <= set(hours["table"])
    return csv, hours, md


def test_quick_two_architectures(tmp_path, restore_torch):
    """Two architectures, one worker count: every section, in seconds."""
    csv, hours, md = run_quick(tmp_path, "--only", "t4.1/avg,t3.3/avg", "--workers", "0", "--videos", "2")
    train = csv[csv["section"] == "train"]
    assert set(train["arch"]) == {"ResNeXt101-3D TGAP", "ResNet18 TSN"}
    ok = train[train["status"] == "ok"]
    assert len(ok) == 6  # fp32 in both layouts for both, bf16 on CPU for the first only; fp16 skipped on CPU
    assert (ok["clips_per_s"] > 0).all() and (ok["accumulation"] * ok["batch"] == 128).all()
    fp32 = ok[(ok["precision"] == "fp32") & ~ok["channels_last"].astype(bool)]
    assert len(fp32) == 2 and (fp32["speedup_vs_fp32"] == 1).all()
    assert (train[train["precision"] == "fp16"]["status"] == "skipped").all()
    assert (csv[csv["section"] == "infer"]["status"] == "ok").sum() == 2
    loader = csv[csv["section"].isin(["loader", "loader_vs_train"])]
    assert (loader["status"] == "ok").all() and set(loader["keeps_up"].dropna()) <= {"yes", "no"}
    (ddp,) = csv[csv["section"] == "ddp"].to_dict("records")
    assert ddp["status"] == "ok" and "gloo" in ddp["note"]
    # the 2D tables are timed by ResNet18 (measured); ResNet34/50/101 and the 3D tables partly lack a rate
    row = hours.set_index("table").loc["3.3"]
    assert row["runs"] == 30 and row["gpu_hours"] > 0 and pd.isna(row["note"])  # 10 streams (2 of ours) x 3 splits
    assert "no rate measured" in hours.set_index("table").loc["4.4", "note"]
    assert (csv["status"] != "error").all(), csv[csv["status"] == "error"]["note"].tolist()


@pytest.mark.slow
def test_quick_every_architecture(tmp_path, restore_torch):
    """The whole quick run: every architecture of the GPU run, on tiny stand-ins."""
    csv, hours, md = run_quick(tmp_path)
    train = csv[(csv["section"] == "train") & (csv["status"] == "ok")]
    assert set(train["id"]) == set(gpu_check.ARCHS)
    assert (csv["status"] != "error").all(), csv[csv["status"] == "error"]["note"].tolist()
    assert hours["note"].isna().all() and (hours["gpu_hours"] > 0).all()
    total = hours.set_index("table").loc["all"]
    assert total["runs"] < hours[hours["table"] != "all"]["runs"].sum()  # shared runs count once
