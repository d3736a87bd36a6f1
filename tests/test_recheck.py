"""`actionlib reproduce --check`: a fresh run compared with the committed one, number by number, verdict by verdict."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from actionlib import paths, recheck, reproduce
from tests.test_reproduce import _cli


def _results(folder: Path, pooling_top1: list[float], verdict: str) -> Path:
    tables = folder / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame({
        "table": ["Table 3.3", "Table 3.3", "Table 3.3"],
        "row": ["BERT", "Average Pooling", "LSTM"],
        "protocol": ["single-ten"] * 3,
        "n_runs": [3, 3, 1],
        "top1": pooling_top1,
        "top1_ci_low": [60.0, 40.0, 70.0],
        "top1_ci_high": [75.0, 55.0, 85.0],
        "status": ["run"] * 3,
    }).to_csv(tables / "01_table3.3_pooling.csv", index=False)  # fmt: skip
    pd.DataFrame({
        "claim": ["BERT against average pooling"], "protocols": [None], "difference": [20.0], "ci_low": [14.0],
        "ci_high": [26.0], "verdict": [verdict],
    }).to_csv(tables / "01_claims.csv", index=False)  # fmt: skip
    pd.DataFrame({"id": ["x"], "params_m": [1.0]}).to_csv(tables / "complexity.csv", index=False)  # no Top-1
    pd.DataFrame(
        {
            "table": ["Table 3.2"],
            "row": ["SGD"],
            "protocol": ["single-ten"],
            "top1": [None],
            "top1_ci_low": [None],
            "top1_ci_high": [None],
            "status": ["not run under the smoke profile"],
        },
    ).to_csv(tables / "01_table3.2_optimizers.csv", index=False)  # a table none of whose rows ran
    return folder


def test_numbers_inside_and_outside_the_committed_interval(tmp_path):
    reference = _results(tmp_path / "committed", [68.0, 47.0, 77.0], "agrees")
    fresh = _results(tmp_path / "fresh", [70.5, 58.0, float("nan")], "agrees")
    numbers = recheck.compare_numbers(reference, fresh)
    assert list(numbers.columns) == recheck.NUMBER_COLUMNS and len(numbers) == 3
    assert numbers.set_index("row")["inside"].to_dict() == {"BERT": True, "Average Pooling": False, "LSTM": None}
    verdicts = recheck.compare_verdicts(reference, fresh)
    assert verdicts["holds"].tolist() == [True]
    lines = recheck.summary_lines(numbers, verdicts)
    assert lines[0] == "verdicts: 1 of 1 hold"
    assert "numbers (rows run 3 or more times): 1 of 2 inside the committed 95 % interval" in lines
    assert "numbers: 1 committed rows have no fresh number" in lines


def test_a_runs_table_is_compared_run_by_run(tmp_path):
    def runs(folder, top1):
        (folder / "tables").mkdir(parents=True)
        pd.DataFrame({"table": ["Table 3.3"] * 2, "row": ["BERT"] * 2, "protocol": ["single-ten"] * 2,
                      "split": [1, 1], "seed": [0, 1], "top1": top1, "top1_ci_low": [40.0, 60.0],
                      "top1_ci_high": [50.0, 70.0]}).to_csv(folder / "tables" / "01_runs.csv", index=False)  # fmt: skip
        return folder

    numbers = recheck.compare_numbers(runs(tmp_path / "a", [45.0, 65.0]), runs(tmp_path / "b", [46.0, 64.0]))
    assert numbers["inside"].tolist() == [True, True] and numbers["fresh_top1"].tolist() == [46.0, 64.0]


def test_a_changed_verdict_is_named(tmp_path):
    reference = _results(tmp_path / "committed", [68.0, 47.0, 77.0], "agrees")
    fresh = _results(tmp_path / "fresh", [60.0, 57.0, 77.0], "within noise")
    verdicts = recheck.compare_verdicts(reference, fresh)
    assert verdicts["holds"].tolist() == [False]
    lines = recheck.summary_lines(recheck.compare_numbers(reference, fresh), verdicts)
    assert lines[1].startswith("  changed: BERT against average pooling: agrees -> within noise")
    report = recheck.write_report(recheck.compare_numbers(reference, fresh), verdicts, tmp_path / "r", reference, fresh)
    assert report.read_text().startswith("# Reproduction check") and (tmp_path / "r" / "check_verdicts.csv").is_file()


def test_check_reruns_into_its_own_folders_and_leaves_the_committed_results_alone(tmp_path, monkeypatch):
    """The rerun writes its runs and results under scratch/check/<time>/ (runs through $ACTIONLIB_RUNS, which the
    kernels inherit), never into the committed folder; the exit code follows the verdicts."""
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(paths.RUNS_ENV, raising=False)
    committed = _results(tmp_path / "results", [68.0, 47.0, 77.0], "agrees")
    before = {p: p.read_bytes() for p in committed.rglob("*") if p.is_file()}
    seen = {}

    def fake_run(profile, results, **options):
        seen.update(profile=profile, results=results, runs=os.environ[paths.RUNS_ENV])
        _results(Path(results), [70.0, 50.0, 90.0], "disagrees")
        return [{"notebook": "01_x", "status": "passed", "duration_s": 1.0}]

    monkeypatch.setattr(reproduce.checking, "run", fake_run)  # the run() that check() calls
    code, log = _cli(tmp_path / "notebooks", committed, "--check")
    assert code == 1, log  # the verdict changed
    assert seen["profile"] == "smoke" and Path(seen["runs"]).parent == Path(seen["results"]).parent
    assert Path(seen["results"]).is_relative_to(tmp_path / "scratch" / "check")
    assert paths.RUNS_ENV not in os.environ  # restored
    assert "changed: BERT against average pooling: agrees -> disagrees" in log and "check: " in log
    assert {p: p.read_bytes() for p in committed.rglob("*") if p.is_file()} == before
    # a second check gets a folder of its own
    _cli(tmp_path / "notebooks", committed, "--check")
    assert len(list((tmp_path / "scratch" / "check").iterdir())) == 2


def test_check_without_committed_results_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    code, log = _cli(tmp_path / "notebooks", tmp_path / "nothing", "--check")
    assert code == 2 and "no results tables to check against" in log
