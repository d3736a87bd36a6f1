"""Every notebook runs under papermill with the tiny `test` profile (slow: one kernel per notebook)."""

import json

import pandas as pd
import pytest

from actionlib import recipes, reproduce, stats, study

pytestmark = pytest.mark.slow


def _summaries(results, number):
    """The thesis-table summaries a notebook wrote: one file per table, named alike under every profile."""
    files = [
        results / "tables" / f"{number}_table{t}_{recipes.TABLES[t].name}.csv" for t in recipes.NOTEBOOK_TABLES[number]
    ]
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def test_every_notebook_runs_with_the_test_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTIONLIB_RESULTS", str(tmp_path))
    code = reproduce.main(["--profile", "test", "--results", str(tmp_path)])
    index = (tmp_path / "README.md").read_text()
    assert code == 0, index
    notebooks = reproduce.find_notebooks(reproduce.repo_root() / "notebooks")
    assert len(notebooks) >= 3
    for notebook in notebooks:
        executed = tmp_path / "executed" / f"{notebook.stem}.ipynb"
        cells = json.loads(executed.read_text())["cells"]
        assert not any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", [])), notebook
        number = notebook.name[:2]
        assert list((tmp_path / "tables").glob(f"{number}_*.md")), f"{notebook.name} wrote no table"
        assert list((tmp_path / "figures").glob(f"{number}_*.png")), f"{notebook.name} wrote no figure"
        # the same table files, with the same columns, as the full profile writes (see the next test)
        summaries = _summaries(tmp_path, number)
        assert list(summaries.columns) == [*study.COLUMNS, "profile", "machine"], number
        assert set(summaries["table"]) == {f"Table {t}" for t in recipes.NOTEBOOK_TABLES[number]}
        runs = pd.read_csv(tmp_path / "tables" / f"{number}_runs.csv")
        assert not runs["runs"].str.contains(r"(^|;)/").any(), number  # no machine's paths in the tables
        assert runs["correct"].str.fullmatch("[+-]+").all() and {"top1_ci_low", "top1_ci_high"} <= set(runs)
        if any(c.table in recipes.NOTEBOOK_TABLES[number] for c in recipes.CLAIMS):  # the thesis's claims, tested
            claims = pd.read_csv(tmp_path / "tables" / f"{number}_claims.csv")
            assert list(claims.columns) == [*study.CLAIM_COLUMNS, "profile", "machine"] and len(claims), number
            assert set(claims["verdict"]) <= set(stats.VERDICTS)


def test_every_notebook_runs_the_full_profile_on_the_stand_in(tmp_path, monkeypatch):
    """The full profile's path through every notebook: published layouts (fixture trees), checkpoints in the
    public layout, training, resuming, the test protocols, fusion and distillation, on the tiny stand-in."""
    from .test_recipes import build_full_tree

    data = build_full_tree(tmp_path / "data", ucf=True)
    monkeypatch.setenv("ACTIONLIB_RUNS", str(tmp_path / "runs"))
    results = tmp_path / "results"
    args = ["--profile", "tiny", "-p", f"data_root={data}", "--results", str(results)]
    code = reproduce.main(args)
    assert code == 0, (results / "README.md").read_text()
    for number, tables in recipes.NOTEBOOK_TABLES.items():
        table = _summaries(results, number)
        assert set(table["table"]) == {f"Table {t}" for t in tables}
        ran = table[table["status"] == "run"]
        assert ran["ran_as"].str.startswith("the 'tiny' stand-in network").all(), number
        assert len(ran) and ran["top1"].between(0, 100).all(), number
        assert ran.loc[~ran["ours"], "thesis_top1"].notna().all(), number
        assert list((results / "figures").glob(f"{number}_*.png")), number
        assert list(table.columns) == [*study.COLUMNS, "profile", "machine"], number  # as under the CPU profiles
    assert "ucf101" in set(_summaries(results, "08").query("status == 'run'")["dataset"])
