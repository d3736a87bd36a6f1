"""Every notebook runs under papermill with the tiny `test` profile (slow: one kernel per notebook)."""

import json

import pytest

from actionlib import reproduce

pytestmark = pytest.mark.slow


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
        assert (tmp_path / "html" / f"{notebook.stem}.html").is_file()
        number = notebook.name[:2]
        assert list((tmp_path / "tables").glob(f"{number}_*.md")), f"{notebook.name} wrote no table"
        assert list((tmp_path / "figures").glob(f"{number}_*.png")), f"{notebook.name} wrote no figure"
