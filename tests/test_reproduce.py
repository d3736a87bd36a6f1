"""`actionlib reproduce` on tiny notebooks written here (three kernel runs in the whole file)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

import pytest

from actionlib import profiles, recipes, reproduce

HEADER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""

GOOD = (
    HEADER
    + """
# %% [markdown]
# # A notebook that passes

# %% tags=["parameters"]
profile = "smoke"
seed = 0
head = "bert"  # allowed: bert, avg
data_root = None
weights_dir = None
results_dir = None

# %%
import base64

from actionlib import paths, profiles

cfg = profiles.resolve(profile, data_root=data_root, weights_dir=weights_dir)
results = paths.results_dir(results_dir, profile)
(results / "tables").mkdir(exist_ok=True)
(results / "figures").mkdir(exist_ok=True)
(results / "tables" / "01_scores.md").write_text(f"| head | frames |\\n|---|---|\\n| {head} | {cfg.frames} |\\n")
png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
(results / "figures" / "01_curve.png").write_bytes(base64.b64decode(png))
print("frames", cfg.frames, "seed", seed)
"""
)

BAD = (
    HEADER
    + """
# %% tags=["parameters"]
profile = "smoke"
seed = 0

# %%
x = 1

# %%
x / 0
"""
)

OTHER = HEADER + '\n# %% tags=["parameters"]\nprofile = "smoke"\n\n# %%\nraise SystemExit("must never run")\n'


def _notebooks(folder: Path) -> Path:
    folder.mkdir()
    (folder / "01_good.py").write_text(GOOD)
    (folder / "02_bad.py").write_text(BAD)
    (folder / "03_other.py").write_text(OTHER)
    (folder / "_template.py").write_text(OTHER)
    return folder


def _cli(notebooks: Path, results: Path, *args: str) -> tuple[int, str]:
    log = io.StringIO()  # per-notebook lines go to stdout, the bar and errors to stderr
    with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        code = reproduce.main(["--notebooks", str(notebooks), "--results", str(results), *args])
    return code, log.getvalue()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Run 01 (passes) and 02 (fails) together, then 01 alone: three notebook executions."""
    root = tmp_path_factory.mktemp("reproduce")
    notebooks, results = _notebooks(root / "notebooks"), root / "results"
    (results / "executed").mkdir(parents=True)
    (results / "tables").mkdir()
    (results / "executed" / "03_other.ipynb").write_text("{}")  # from an earlier run: must survive
    (results / "tables" / "03_t.md").write_text("| a |\n|---|\n| 1 |\n")
    first = _cli(notebooks, results, "--profile", "test", "--only", "01,02", "--jobs", "2", "-p", "seed=3")
    first_index = (results / "README.md").read_text()
    second = _cli(notebooks, results, "--profile", "test", "--only", "01", "-p", "head=avg")
    return {"results": results, "first": first, "first_index": first_index, "second": second}


def test_failure_is_reported_and_others_still_produce_outputs(batch):
    code, log = batch["first"]
    assert code == 1
    assert "passed  01_good" in log and "failed  02_bad" in log and "ZeroDivisionError" in log
    results = batch["results"]
    bad = json.loads((results / "executed" / "02_bad.json").read_text())
    assert bad["status"] == "failed" and bad["error"]["ename"] == "ZeroDivisionError" and bad["error"]["cell"] == 4
    assert (results / "executed" / "01_good.ipynb").is_file()
    assert not (results / "html").exists()  # the site renders the executed notebooks: no second HTML copy
    # a failed run's pages go to the side, where the index links them
    assert not (results / "executed" / "02_bad.ipynb").exists()
    assert (results / "executed" / "failed" / "02_bad.ipynb").is_file()
    assert "**failed** (cell In [4]): ZeroDivisionError: division by zero" in batch["first_index"]
    assert "([failed run](executed/failed/02_bad.ipynb))" in batch["first_index"]


def test_only_selects_and_other_results_are_kept(batch):
    code, log = batch["second"]
    assert code == 0 and "02_bad" not in log
    results = batch["results"]
    assert (results / "executed" / "03_other.ipynb").read_text() == "{}"
    assert not (results / "executed" / "03_other.json").exists()
    assert json.loads((results / "executed" / "02_bad.json").read_text())["status"] == "failed"
    index = (results / "README.md").read_text()
    assert "| [02_bad](#02_bad) | **failed**" in index  # still listed after a run without it
    assert "| [03_other](#03_other) | not run |" in index
    assert "_template" not in index


def test_executed_notebook_keeps_parameters_not_timestamps(batch):
    nb = json.loads((batch["results"] / "executed" / "01_good.ipynb").read_text())
    meta = nb["metadata"]["papermill"]
    assert meta["parameters"]["head"] == "avg" and meta["parameters"]["profile"] == "test"
    assert not {"start_time", "end_time", "duration"} & set(meta)
    for cell in nb["cells"]:
        assert "execution" not in cell["metadata"]
        assert "start_time" not in cell["metadata"].get("papermill", {})
    assert any("frames 4 seed 0" in "".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_index_lists_tables_figures_and_links(batch):
    index = (batch["results"] / "README.md").read_text()
    assert "| avg | 4 |" in index  # the table is embedded
    assert "![01_curve](figures/01_curve.png)" in index
    assert "[ipynb](executed/01_good.ipynb)" in index and "[html](site/notebooks/01_good.html)" in index
    assert "| 1 |" in index.split("## 03_other")[1]  # a not-run notebook's older table is still listed


def _no_kernels(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(reproduce.execution, "_execute_all", fail)  # where run() looks it up


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("typo=1", "error: typo: unknown parameter; its parameters are profile, seed, head"),
        ("head=lstm", "error: head: 'lstm' is not allowed; allowed: 'bert', 'avg'"),
        ("seed=abc", "error: seed: 'abc': expects int"),
    ],
)
def test_parameters_are_checked_before_any_kernel(tmp_path, monkeypatch, param, expected):
    _no_kernels(monkeypatch)
    notebooks = _notebooks(tmp_path / "notebooks")
    code, log = _cli(notebooks, tmp_path / "results", "--only", "01", "-p", param)
    assert code == 2 and expected in log and "(01_good; no notebook was started)" in log
    assert not (tmp_path / "results" / "executed").exists()


def test_bad_profile_and_only_are_rejected(tmp_path, monkeypatch):
    _no_kernels(monkeypatch)
    notebooks = _notebooks(tmp_path / "notebooks")
    with pytest.raises(reproduce.ParameterError, match="allowed: test, smoke, cpu, full"):
        reproduce.run(profile="gpu", notebooks_dir=notebooks, results=tmp_path / "r")
    with pytest.raises(reproduce.ParameterError, match="--profile"):
        reproduce.run(params={"profile": "full"}, notebooks_dir=notebooks, results=tmp_path / "r")
    with pytest.raises(reproduce.ParameterError, match="09: no such notebook.*available: 01_good, 02_bad, 03_other"):
        reproduce.run(only=["09"], notebooks_dir=notebooks, results=tmp_path / "r")
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        reproduce.main(["--profile", "gpu"])  # argparse choices


def test_full_profile_names_missing_data_and_weights(tmp_path, monkeypatch):
    _no_kernels(monkeypatch)
    monkeypatch.setitem(recipes.NOTEBOOK_TABLES, "01", ("4.7",))  # rows on HMDB51 and UCF101
    notebooks = _notebooks(tmp_path / "notebooks")
    data, weights = tmp_path / "data", tmp_path / "weights"
    (data / "hmdb51" / "brush_hair").mkdir(parents=True)
    (data / "hmdb51" / "climb").mkdir()
    splits = data / "testTrainMulti_7030_splits"  # beside the dataset, where the archive unpacks it
    splits.mkdir()
    for k in (1, 2, 3):
        (splits / f"brush_hair_test_split{k}.txt").write_text("")
    (splits / "climb_test_split1.txt").write_text("")
    weights.mkdir()
    with pytest.raises(reproduce.MissingInputsError) as err:
        reproduce.run(
            profile="full",
            only=["01"],
            params={"data_root": str(data), "weights_dir": str(weights)},
            notebooks_dir=notebooks,
            results=tmp_path / "results",
        )
    message = str(err.value)
    assert "split 2 files" in message and "climb_test_split2.txt" in message and "climb_test_split3.txt" in message
    assert "brush_hair_test_split" not in message
    assert f"ucf101: dataset folder {data / 'UCF-101'}" in message
    assert "ucf101: split folder" in message
    assert f"checkpoints in {weights}: resnext-101-64f-kinetics.pth" in message
    assert "(needed by 01_good)" in message and "no notebook was started" in message


def test_profiles_resolve():
    smoke = profiles.resolve("smoke", epochs=5, frames=None, splits=2)
    assert smoke.epochs == 5 and smoke.frames == profiles.PROFILES["smoke"].frames and smoke.splits == (2,)
    assert profiles.resolve("full", data_root="/d").data_root == "/d"
    assert Path(profiles.resolve("full", weights_dir="w").weights_dir).is_absolute()
    with pytest.raises(ValueError, match="unknown profile 'gpu'; choose one of test, smoke, cpu, full"):
        profiles.resolve("gpu")
    with pytest.raises(ValueError, match="unknown profile field.*epoch;"):
        profiles.resolve("test", epoch=3)
    with pytest.raises(ValueError, match="dataset='kinetics'.*batch_size=0"):
        profiles.resolve("test", dataset="kinetics", batch_size=0)


def test_add_parser_and_values():
    parser = argparse.ArgumentParser()
    reproduce.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["reproduce", "--only", "01,05", "-p", "seed=1", "-p", "lr=0.5", "--jobs", "2"])
    assert args.func is reproduce.cmd_reproduce and args.profile == "smoke" and args.jobs == 2
    assert reproduce.parse_assignments(args.param) == {"seed": 1, "lr": 0.5}
    assert reproduce.parse_assignments(["a=true", "b=none", "c=[1, 2]", "d=bert"]) == {
        "a": True,
        "b": None,
        "c": [1, 2],
        "d": "bert",
    }
    with pytest.raises(reproduce.ParameterError, match="NAME=VALUE"):
        reproduce.parse_assignments(["seed"])


def test_full_profile_needs_come_from_the_notebooks_recipes(tmp_path, monkeypatch):
    _no_kernels(monkeypatch)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    source = reproduce.repo_root() / "notebooks" / "07_distillation.py"
    (notebooks / source.name).write_text(source.read_text())
    data = tmp_path / "data"
    (data / "hmdb51" / "brush_hair").mkdir(parents=True)
    (tmp_path / "w").mkdir()  # an empty weights folder (one that does not exist is a parameter error)
    with pytest.raises(reproduce.MissingInputsError) as err:
        reproduce.run(profile="full", params={"data_root": str(data), "weights_dir": str(tmp_path / "w")},
                      notebooks_dir=notebooks, results=tmp_path / "results")  # fmt: skip
    message = str(err.value)
    assert "Flow_Kinetics_64f.pth" in message and "resnext-101-64f-kinetics.pth" in message  # teacher and student
    assert f"hmdb51: flow frame folders {data / 'hmdb51_flow'}" in message
    with pytest.raises(reproduce.MissingInputsError) as err:  # the tiny networks' checkpoints are written by the study
        reproduce.run(profile="tiny", params={"data_root": str(data)},
                      notebooks_dir=notebooks, results=tmp_path / "results")  # fmt: skip
    assert ".pth" not in str(err.value) and "flow frame folders" in str(err.value)
    split_dir = data / "hmdb51" / "testTrainMulti_7030_splits"
    split_dir.mkdir()
    (split_dir / "brush_hair_test_split1.txt").write_text("")
    with pytest.raises(reproduce.MissingInputsError) as err:  # splits as the notebooks take them
        reproduce.run(profile="full", params={"data_root": str(data), "splits": "2"},
                      notebooks_dir=notebooks, results=tmp_path / "results")  # fmt: skip
    assert "split 2 files" in str(err.value) and "split 1 files" not in str(err.value)


def test_parse_splits_takes_every_form_a_parameter_arrives_in():
    assert profiles.parse_splits(None) is None
    assert profiles.parse_splits("1, 3") == profiles.parse_splits((1, 3)) == (1, 3)
    assert profiles.parse_splits(2) == (2,)
    with pytest.raises(ValueError, match="parameter splits: unknown value.*4; allowed: 1, 2, 3"):
        profiles.parse_splits("1,4")
