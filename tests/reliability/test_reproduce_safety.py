"""`actionlib reproduce` never damages the committed results: Ctrl-C stops everything it started, wrong
parameters are refused before any kernel, a failed run keeps the last passing pages and tables, only the default
profile run through reproduce writes into <repo>/results, and every table says which profile made it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import torch

from actionlib import paths, profiles, reproduce, study
from tests.test_reproduce import GOOD, HEADER, OTHER, _cli

REPO = Path(__file__).resolve().parents[2]

SLEEPY = (
    HEADER
    + """
# %% tags=["parameters"]
profile = "smoke"

# %%
import os
import re
import subprocess
import time

child = subprocess.Popen(["sleep", "300"])  # something the kernel started, which must not outlive it either
with open(os.environ["MARKER"], "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
time.sleep(300)
"""
)

FLAKY = (
    HEADER
    + """
# %% tags=["parameters"]
profile = "smoke"
fail = False
results_dir = None

# %%
from actionlib import paths

results = paths.results_dir(results_dir, profile)
(results / "tables").mkdir(exist_ok=True)
(results / "figures").mkdir(exist_ok=True)
(results / "tables" / "01_t.md").write_text(f"| fail |\\n|---|\\n| {fail} |\\n")
(results / "figures" / "01_f.png").write_bytes(f"not a png {fail}".encode())

# %%
assert not fail, "failed on purpose"
"""
)

NONE_DEFAULTS = (
    HEADER
    + """
# %% tags=["parameters"]
profile = "smoke"
splits = None  # comma-separated subset of 1,2,3; None: the profile's
data_root = None  # None: the profile's
epochs = None  # None: the profile's
frames = None  # type: int
head = None  # allowed: None, bert
results_dir = None

# %%
raise SystemExit("must never run")
"""
)

# The parameters cell of the study's notebooks: annotations and `# type: Optional[...]` comments.
TYPED = (
    HEADER
    + """
# %% tags=["parameters"]
profile: str = "smoke"
seed: int = 0
epochs = None  # type: Optional[int] None: the profile's
splits = None  # type: Optional[str] comma-separated subset of 1,2,3; None: the profile's
device = None  # type: Optional[str] None: the profile's

# %%
raise SystemExit("must never run")
"""
)

# Passes once the test creates $GO; it says on $MARKER that it is running.
PASSES_ON_GO = (
    HEADER
    + """
# %% tags=["parameters"]
profile = "smoke"

# %%
import os
import re
import time
from pathlib import Path

Path(os.environ["MARKER"]).write_text("running")
while not Path(os.environ["GO"]).exists():
    time.sleep(0.1)
"""
)

NEVER_ENDS = HEADER + '\n# %% tags=["parameters"]\nprofile = "smoke"\n\n# %%\nimport time\n\ntime.sleep(300)\n'


def _write(folder: Path, **notebooks: str) -> Path:
    folder.mkdir(parents=True)
    for name, text in notebooks.items():
        (folder / f"{name}.py").write_text(text)
    return folder


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # dead, waiting for a parent to reap it
    except psutil.NoSuchProcess:
        return True


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_kernels_cancels_the_rest_and_rewrites_the_index(tmp_path):
    notebooks = _write(tmp_path / "notebooks", **{"01_good": GOOD, "02_sleepy": SLEEPY, "03_other": OTHER})
    results, marker = tmp_path / "results", tmp_path / "marker"
    command = [sys.executable, "-m", "actionlib.reproduce", "--profile", "test"]
    command += ["--notebooks", str(notebooks), "--results", str(results)]
    # its own session, as a terminal's foreground job: Ctrl-C goes to the whole process group. A job started in the
    # background by a non-interactive shell (`make test &`, some CI runners) inherits SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler: a terminal's job has the default, so the child gets it back.
    proc = subprocess.Popen(command, env={**os.environ, "MARKER": str(marker)}, start_new_session=True,
                            preexec_fn=_default_sigint,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (marker.is_file() and marker.read_text()) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None and marker.is_file(), "notebook 02 did not start"
        kernel, child = map(int, marker.read_text().split())
        started = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        assert {kernel, child} <= started
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, output
    assert "interrupted: 1 notebook finished, 2 cancelled" in output
    assert "Traceback" not in output
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in started if not _gone(pid)] == []
    index = (results / "README.md").read_text()
    assert "| [01_good](#01_good) | passed |" in index
    assert "| [02_sleepy](#02_sleepy) | not run |" in index and "| [03_other](#03_other) | not run |" in index
    assert not (results / "executed" / "02_sleepy.json").exists()


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("splits=1,4", "error: splits: (1, 4): unknown value(s) 4; allowed: 1, 2, 3"),
        ("data_root=no/such/folder", "error: data_root: no such folder"),
        ("epochs=0", "error: epochs: 0 (a positive integer)"),
        ("frames=abc", "error: frames: 'abc': expects int"),  # its `# type: int` comment
        ("head=huge", "error: head: 'huge' is not allowed; allowed: None, 'bert'"),
    ],
)
def test_a_bad_value_for_a_none_default_is_refused_before_any_kernel(tmp_path, monkeypatch, param, expected):
    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(reproduce.execution, "_execute_all", no_kernel)
    notebooks = _write(tmp_path / "notebooks", **{"01_nones": NONE_DEFAULTS, "02_nones": NONE_DEFAULTS})
    code, log = _cli(notebooks, tmp_path / "results", "-p", param)
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, log
    assert errors[0].startswith(expected) and "(01_nones, 02_nones; no notebook was started)" in errors[0]
    assert not (tmp_path / "results" / "executed").exists()


def test_good_values_for_none_defaults_pass(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(reproduce.execution, "_execute_all", lambda tasks, jobs, tqdm: ran.extend(tasks) or [])
    notebooks = _write(tmp_path / "notebooks", **{"01_nones": NONE_DEFAULTS})
    params = {"splits": "1,3", "data_root": str(tmp_path), "epochs": 2, "frames": 8, "head": "bert"}
    reproduce.run(params=params, notebooks_dir=notebooks, results=tmp_path / "results")
    assert [t["parameters"] for t in ran] == [{"profile": "smoke", **params}]


def test_ctrl_c_counts_a_notebook_whose_status_was_written_but_not_yet_received(tmp_path):
    """The main process is stopped (SIGSTOP) while 01 passes, so the Ctrl-C reaches it before 01's result does."""
    notebooks = _write(tmp_path / "notebooks", **{"01_go": PASSES_ON_GO, "02_never": NEVER_ENDS})
    results, marker, go = tmp_path / "results", tmp_path / "marker", tmp_path / "go"
    command = [sys.executable, "-m", "actionlib.reproduce", "--profile", "test"]
    command += ["--notebooks", str(notebooks), "--results", str(results)]
    proc = subprocess.Popen(command, env={**os.environ, "MARKER": str(marker), "GO": str(go)}, start_new_session=True,
                            preexec_fn=_default_sigint,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    status = results / "executed" / "01_go.json"
    try:
        deadline = time.monotonic() + 120
        while not marker.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None and marker.is_file(), "notebook 01 did not start"
        os.kill(proc.pid, signal.SIGSTOP)  # its worker and kernel go on
        go.touch()
        deadline = time.monotonic() + 120
        while not status.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.is_file(), "notebook 01 did not finish"
        os.killpg(proc.pid, signal.SIGINT)  # pending until it runs again
        os.kill(proc.pid, signal.SIGCONT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, output  # 02 never ends: only Ctrl-C ends the batch
    assert "interrupted: 1 notebook finished, 1 cancelled" in output and "Traceback" not in output
    index = (results / "README.md").read_text()
    assert "| [01_go](#01_go) | passed |" in index and "| [02_never](#02_never) | not run |" in index


def _refused(tmp_path, monkeypatch, *args: str) -> str:
    """The one error line of a refused command (no kernel may start)."""

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(reproduce.execution, "_execute_all", no_kernel)
    notebooks = _write(tmp_path / "notebooks", **{"01_typed": TYPED})
    code, log = _cli(notebooks, tmp_path / "results", *args)
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in log, log
    assert errors[0].endswith("(01_typed; no notebook was started)")
    assert not (tmp_path / "results" / "executed").exists()
    return errors[0]


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("seed=None", "error: seed: None: expects int like its default 0; leave -p seed out to keep it"),
        ("splits=4", "error: splits: '4': unknown value(s) 4; allowed: 1, 2, 3"),  # 4 as text, then checked
        ("splits=1,4", "error: splits: '1,4': unknown value(s) 4; allowed: 1, 2, 3"),
        ("device=cuda:x", "error: device: 'cuda:x' (cpu, cuda or cuda:N) (01_typed; "),  # as profiles.resolve says
        ("device=gpu", "error: device: 'gpu' (cpu, cuda or cuda:N) (01_typed; "),
        pytest.param(
            "device=cuda",
            "error: device: 'cuda': this machine has no such device; available: cpu (",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA"),
        ),
    ],
)
def test_values_the_notebook_or_this_machine_cannot_take_are_refused(tmp_path, monkeypatch, param, expected):
    assert _refused(tmp_path, monkeypatch, "-p", param).startswith(expected)


@pytest.mark.parametrize("device", ["cuda:x", "cuda:", "cuda:-1", "cuda0", "CPU"])
def test_a_device_spelling_is_refused_alike_with_or_without_a_profile(tmp_path, monkeypatch, device):
    """profiles.resolve alone decides which device names exist: a profile given or not, the same line."""
    expected = f"error: device: {device!r} (cpu, cuda or cuda:N) (01_typed; no notebook was started)"
    assert _refused(tmp_path / "bare", monkeypatch, "-p", f"device={device}") == expected
    assert _refused(tmp_path / "smoke", monkeypatch, "--profile", "smoke", "-p", f"device={device}") == expected
    with pytest.raises(ValueError, match=re.escape(f"invalid device={device!r} (cpu, cuda or cuda:N)")):
        profiles.resolve("smoke", device=device)


def test_a_missing_cuda_device_names_what_this_machine_has(tmp_path, monkeypatch):
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    available = ", ".join(["cpu", *(["cuda"] if count else []), *(f"cuda:{i}" for i in range(count))])
    device = f"cuda:{max(7, count)}"  # past this machine's last
    line = _refused(tmp_path, monkeypatch, "--profile", "smoke", "-p", f"device={device}")
    assert line.startswith(f"error: device: '{device}': this machine has no such device; available: {available} (")


def test_command_line_spellings_reach_the_notebook_as_it_expects(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(reproduce.execution, "_execute_all", lambda tasks, jobs, tqdm: ran.extend(tasks) or [])
    notebooks = _write(tmp_path / "notebooks", **{"01_typed": TYPED})
    for args in (["splits=1", "epochs=None"], ["splits=1,3", "device=cpu"]):
        code, log = _cli(notebooks, tmp_path / "results", *(a for arg in args for a in ("-p", arg)))
        assert code == 0 and "error" not in log, log
    assert [t["parameters"] for t in ran] == [
        {"profile": "smoke", "splits": "1", "epochs": None},  # the notebook parses splits as text
        {"profile": "smoke", "splits": "1,3", "device": "cpu"},
    ]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_device_this_machine_has_passes(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(reproduce.execution, "_execute_all", lambda tasks, jobs, tqdm: ran.extend(tasks) or [])
    notebooks = _write(tmp_path / "notebooks", **{"01_typed": TYPED})
    last = f"cuda:{torch.cuda.device_count() - 1}"
    for device in ("cuda", last):
        reproduce.run(params={"device": device}, notebooks_dir=notebooks, results=tmp_path / "results")
    assert [t["parameters"]["device"] for t in ran] == ["cuda", last]


def _snapshot(results: Path) -> dict[str, bytes]:
    files = [*(results / "tables").iterdir(), *(results / "figures").iterdir()]
    files += [results / "executed" / "01_flaky.ipynb"]
    return {str(p.relative_to(results)): p.read_bytes() for p in files}


def test_a_failing_run_keeps_the_last_passing_pages_and_tables(tmp_path):
    notebooks = _write(tmp_path / "notebooks", **{"01_flaky": FLAKY})
    results = tmp_path / "results"
    code, log = _cli(notebooks, results, "--profile", "test")
    assert code == 0, log
    passing = _snapshot(results)
    assert passing["tables/01_t.md"] == b"| fail |\n|---|\n| False |\n"

    code, log = _cli(notebooks, results, "--profile", "test", "-p", "fail=True")
    assert code == 1 and "failed on purpose" in log
    assert _snapshot(results) == passing  # the failed run wrote a table and a figure: neither was kept
    assert "failed on purpose" in (results / "executed" / "failed" / "01_flaky.ipynb").read_text()
    status = json.loads((results / "executed" / "01_flaky.json").read_text())
    assert status["status"] == "failed" and status["written"] == []
    index = (results / "README.md").read_text()
    assert "**failed** (cell In [4]): AssertionError: failed on purpose" in index
    assert "[failed run](executed/failed/01_flaky.ipynb)" in index
    assert "[ipynb](executed/01_flaky.ipynb)" in index  # the last passing pages are still linked


def _repository_copy(root: Path) -> Path:
    """A git repository with notebook 04 and the committed results it touches: reproduce's world in small."""
    for rel in ("pyproject.toml", ".gitignore", "notebooks/04_3d_architectures.py", "results/README.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    for pattern in ("tables/complexity.*", "*/04_*"):
        for path in (REPO / "results").glob(pattern):
            (root / "results" / path.relative_to(REPO / "results")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / "results" / path.relative_to(REPO / "results"))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "results"]):
        subprocess.run([*git, *args], cwd=root, check=True)
    return root


def test_other_profiles_and_hand_runs_leave_the_committed_results_alone(tmp_path, monkeypatch):
    import jupytext
    import papermill as pm

    root = _repository_copy(tmp_path / "repo")
    monkeypatch.setenv(paths.ROOT_ENV, str(root))
    monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    log = io.StringIO()
    with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        code = reproduce.main(["--profile", "test", "--only", "04"])  # no --results: the default
    assert code == 0, log.getvalue()
    # a notebook run by hand (plain papermill, as JupyterLab), with the default profile
    (root / "notebooks" / "01_good.py").write_text(GOOD)
    jupytext.write(jupytext.read(root / "notebooks" / "01_good.py"), tmp_path / "01_good.ipynb")
    pm.execute_notebook(str(tmp_path / "01_good.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                        cwd=str(root / "notebooks"), progress_bar=False)  # fmt: skip
    (root / "notebooks" / "01_good.py").unlink()

    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    assert status.stdout == ""  # results/ untouched, and the scratch folder is ignored
    scratch = root / "scratch" / "results"
    table = scratch / "test" / "tables" / "04_table3.10_architectures.md"
    assert table.read_text().startswith("Profile: test (CPU, synthetic data)\n")
    assert (scratch / "test" / "README.md").is_file() and (
        scratch / "test" / "executed" / "04_3d_architectures.ipynb"
    ).is_file()
    assert (scratch / "smoke" / "tables" / "01_scores.md").is_file()


def test_results_dir_publishes_only_the_default_profile_through_reproduce(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    assert paths.results_dir(profile=paths.PUBLISHED_PROFILE, publish=True) == tmp_path / "results"
    assert paths.results_dir(profile="test", publish=True) == tmp_path / "scratch" / "results" / "test"
    assert paths.results_dir(None, paths.PUBLISHED_PROFILE) == tmp_path / "scratch" / "results" / "smoke"
    assert paths.results_dir("mine", "test") == tmp_path / "mine"
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path / "env"))
    assert paths.results_dir(None, "test") == paths.results_dir(profile="smoke", publish=True) == tmp_path / "env"


def test_tables_carry_their_profile(tmp_path):
    df = pd.DataFrame({"row": ["a", "b"], "top1": [1.0, 2.5]})
    csv = study.save_table(df, tmp_path, "01_x", profile=profiles.resolve("test"))
    table = pd.read_csv(csv)
    assert table.drop(columns="machine").to_dict("list") == {"row": ["a", "b"], "top1": [1.0, 2.5],
                                                             "profile": ["test", "test"]}  # fmt: skip
    machine = table["machine"][0]  # the processor, threads and versions the table was made with
    assert "threads" in machine and f"torch {torch.__version__}" in machine and table["machine"].nunique() == 1
    lines = csv.with_suffix(".md").read_text().splitlines()
    assert lines[:2] == ["Profile: test (CPU, synthetic data)", f"Machine: {machine}"] and lines[3].startswith("| row")
    study.save_table(df, tmp_path, "01_y", profile="full")  # a name is enough
    assert (tmp_path / "tables" / "01_y.md").read_text().startswith("Profile: full (CUDA, hmdb51 data)\n")
    with pytest.raises(TypeError):
        study.save_table(df, tmp_path, "01_z")  # the profile is required
