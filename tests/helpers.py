"""Small shared helpers for the tests."""

from pathlib import Path


def forward_backward(model, clip):
    """One training step's worth of autograd: every parameter that should learn gets a gradient."""
    model.train()
    out = model.forward_features(clip)
    out["logits"].sum().backward()
    return out


def committed_tables() -> dict:
    """The committed run's tables (results/benchmarks/*.csv) in the order `bench_all.summary` takes them."""
    import pandas as pd
    import pytest

    from benchmarks import bench_all

    out = Path(bench_all.OUT)
    names = ["models", "heads", "end_to_end", "predict", "torchvision", "activation_checkpointing", "breakdown", "data"]
    if not all((out / f"{name}.csv").is_file() for name in names):
        pytest.skip("no committed benchmark tables")
    tables = {name: pd.read_csv(out / f"{name}.csv", keep_default_na=False, na_values=[""]) for name in names}
    tables["models"]["note"] = tables["models"]["note"].fillna("")
    return tables
