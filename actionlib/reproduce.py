"""`actionlib reproduce`: regenerate every result by running the numbered notebooks in batch.

Each `notebooks/NN_name.py` (py:percent) is converted with jupytext to a temporary .ipynb and run by papermill
in a separate process (papermill's `cwd` is a process-wide chdir), with its folder as cwd. The results folder is
`--results`, else $ACTIONLIB_RESULTS, else `<repo>/results` for the default profile (the committed results) and
`<repo>/scratch/results/<profile>` for the others (paths.results_dir). Per notebook it writes

- `results/executed/NN_name.ipynb`: the executed notebook, without volatile metadata (timestamps, durations);
- `results/executed/NN_name.json`: status, duration, error, parameters: what the index is built from.

The executed notebooks keep no progress bars and no machine paths (clean_outputs). At the end, with the `docs`
extra installed, `results/site/` is rebuilt from them: the documentation site (docs/site/build.py), where each
notebook is a page (`results/site/notebooks/NN_name.html`).

A notebook writes its tables and figures into a staging folder (the kernel's $ACTIONLIB_RESULTS); they, and its
pages, are moved into the results folder only when it passed, each file atomically. A failed run leaves the last
passing run's pages and tables as they were: its own executed notebook goes to `results/executed/failed/`, and
its status says it failed. `results/README.md` indexes all notebooks with the tables
(`results/tables/NN_*.md`) and figures (`results/figures/NN_*.png`) they wrote.

Parameters (`-p NAME=VALUE`) are checked before any kernel starts: the name must be in the notebook's parameters
cell (papermill.inspect_notebook), the value must have the default's type (for a None default: the type its
annotation or `# type:` comment names), `profile` must be a profile of actionlib.profiles, a parameter commented
`# allowed: a, b, c` must be one of those values, `splits` and the profile's fields must be valid for
actionlib.profiles, and a `_root`/`_dir` input must be an existing folder. A profile that reads the dataset's
files (`full`, `tiny`) then checks that the datasets, split files and checkpoints that the notebook's rows read exist (actionlib.recipes.needs).

Ctrl-C cancels the notebooks not started, kills the running kernels and everything they started, rewrites the
index from the notebooks that finished and exits with 130.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import html as htmllib
import importlib.util
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from . import profiles, recipes
from .paths import DATASET_DIRS, PUBLISHED_PROFILE, RESULTS_ENV, RUNS_ENV, repo_root, results_dir

NOTEBOOK_GLOB = "[0-9][0-9]_*.py"
KERNEL_ENV = "ACTIONLIB_KERNEL"
# Parameters holding paths: a relative value given on the command line is taken from the caller's cwd (the
# kernel's cwd is the notebooks folder).
_PATH_SUFFIXES = ("_root", "_dir", "_path", "_file")
# Split folders, as in actionlib/data/datasets.py (not imported: that would import torch before every run).
_SPLIT_DIRS = {
    "synthetic": "testTrainMulti_7030_splits",
    "hmdb51": "testTrainMulti_7030_splits",
    "ucf101": "ucfTrainTestlist",
}


class ParameterError(ValueError):
    """Parameters that the notebooks would not accept; raised before any kernel starts."""


class MissingInputsError(FileNotFoundError):
    """The full profile's data or checkpoints are missing; raised before any kernel starts."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch: `finished` holds the statuses of the notebooks that ran to the end."""

    def __init__(self, finished: list[dict], cancelled: int):
        super().__init__(f"{len(finished)} finished, {cancelled} cancelled")
        self.finished, self.cancelled = finished, cancelled


def parse_value(text: str):
    """A command-line value as a Python literal (1, 0.5, True, "x", [1, 2]); anything else is a string."""
    if text.lower() in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_assignments(pairs: list[str]) -> dict:
    """["seed=1", "head=bert"] -> {"seed": 1, "head": "bert"}."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ParameterError(f"parameters are NAME=VALUE, got {pair!r}")
        params[name.strip()] = parse_value(value)
    return params


def find_notebooks(folder: str | os.PathLike, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks `NN_*.py` in order; `only` selects by number ("05") or by name ("05_heads")."""
    found = sorted(Path(folder).glob(NOTEBOOK_GLOB))
    if not only:
        if not found:
            raise FileNotFoundError(f"no notebooks {NOTEBOOK_GLOB} in {folder}")
        return found
    wanted = [w.strip().removesuffix(".py") for w in only if w.strip()]
    unknown = [w for w in wanted if not any(p.stem == w or p.stem[:2] == w for p in found)]
    if unknown:
        raise ParameterError(
            f"--only {', '.join(unknown)}: no such notebook in {folder}; "
            f"available: {', '.join(p.stem for p in found) or '(none)'}"
        )
    return [p for p in found if p.stem in wanted or p.stem[:2] in wanted]


def _allowed(help_text: str):
    """The values of a `# allowed: a, b, c` comment (literals, or bare words as strings), or None."""
    match = re.match(r"\s*allowed\s*:\s*(.*)$", help_text or "", re.IGNORECASE)
    if not match:
        return None
    return [parse_value(item.strip()) for item in match.group(1).split(",") if item.strip()]


def _default(declared: dict):
    """The parameter's default as a Python value, or None when it is not a literal."""
    try:
        return ast.literal_eval(declared.get("default", "None"))
    except (ValueError, SyntaxError):
        return None


def _type_problem(value, default) -> str | None:
    """Why `value` cannot replace `default` (a None default accepts anything)."""
    if default is None or value is None:
        return None
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float))
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    return None if ok else f"expects {type(default).__name__} like its default {default!r}"


# An example value of each type an annotation or `# type:` comment may name, for _type_problem.
_TYPE_EXAMPLES = {"int": 0, "float": 0.0, "str": "", "bool": False, "list": [], "tuple": ()}
# `_root`/`_dir` parameters the notebook writes to rather than reads.
_OUTPUT_DIRS = ("results_dir", "runs_dir", "out_dir", "output_dir")
_PROFILE_FIELDS = {f.name for f in dataclasses.fields(profiles.Profile)} - {"name"}


def _declared_type(declared: dict) -> str | None:
    """The type named by the parameter's annotation or `# type:` comment (Optional[...] unwrapped), if known."""
    name = str(declared.get("inferred_type_name") or "None").strip()
    name = re.sub(r"^Optional\[(.*)\]$", r"\1", name).strip()
    return name if name in _TYPE_EXAMPLES else None


def _value_problem(name: str, value, declared: dict, profile) -> str | None:
    """Why the notebook would refuse `name=value`; a None default is checked by its type comment and by name."""
    if value is None:
        return None  # keeps the notebook's (or the profile's) own value
    allowed = _allowed(declared.get("help", ""))
    if allowed is not None:
        return None if value in allowed else f"{value!r} is not allowed; allowed: {', '.join(map(repr, allowed))}"
    default, declared_type = _default(declared), _declared_type(declared)
    if default is None and declared_type:
        if _type_problem(value, _TYPE_EXAMPLES[declared_type]):
            return f"{value!r}: expects {declared_type}"
    elif _type_problem(value, default):
        return f"{value!r}: {_type_problem(value, default)}"
    if name == "splits":
        try:
            profiles.parse_splits(value)
        except (ValueError, TypeError) as err:
            return f"{value!r}: {str(err).removeprefix('parameter splits: ')}"
    elif name in _PROFILE_FIELDS and profile in profiles.PROFILES:
        try:
            profiles.resolve(profile, **{name: value})
        except (ValueError, TypeError) as err:
            return re.sub(rf"^profile '[^']*': invalid {re.escape(name)}=", "", str(err))
    if name.endswith(("_root", "_dir")) and name not in _OUTPUT_DIRS:
        if not isinstance(value, str):
            return f"{value!r}: expects a folder name"
        if not Path(value).is_dir():
            return f"no such folder {value}"
    return None


def check_parameters(notebook: str, declared: dict, params: dict) -> list[str]:
    """Problems of passing `params` to a notebook whose parameters cell declares `declared` (inspect_notebook),
    one `<parameter>: <why>` each."""
    problems = []
    if "profile" not in declared:
        problems.append(f"profile: {notebook} has no `profile` parameter (see notebooks/_template.py)")
    profile = params.get("profile")
    for name, value in params.items():
        if name not in declared:
            problems.append(f"{name}: unknown parameter; its parameters are {', '.join(declared) or '(none)'}")
        elif name == "profile" and value not in profiles.PROFILES:
            problems.append(f"profile: {value!r} is not allowed; allowed: {', '.join(profiles.PROFILES)}")
        else:
            why = _value_problem(name, value, declared[name], profile)
            if why:
                problems.append(f"{name}: {why}")
    return problems


def _first_missing(paths: list[Path], shown: int = 5) -> str:
    names = ", ".join(p.name for p in paths[:shown])
    return names + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def missing_inputs(dataset: str, data_root, splits, weights_dir, weights) -> list[str]:
    """What of a dataset (class folders, split files) and of the checkpoints is missing, one line each."""
    missing = []
    if data_root is None:
        missing.append("data_root is not set (set $ACTIONLIB_DATA or pass -p data_root=DIR)")
    else:
        folder = Path(data_root) / DATASET_DIRS[dataset]
        classes = sorted(d.name for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
        split_name = _SPLIT_DIRS[dataset]
        split_dir = next((d for d in (folder / split_name, folder.parent / split_name) if d.is_dir()), None)
        classes = [c for c in classes if c != split_name]
        if not classes:
            missing.append(f"{dataset}: dataset folder {folder} (one folder of videos per class)")
        if split_dir is None:
            missing.append(f"{dataset}: split folder {folder / split_name} (or {folder.parent / split_name})")
        else:
            for k in splits:
                if dataset == "ucf101":
                    files = [split_dir / n for n in ("classInd.txt", f"trainlist0{k}.txt", f"testlist0{k}.txt")]
                else:
                    files = [split_dir / f"{c}_test_split{k}.txt" for c in classes]
                    if not classes and not list(split_dir.glob(f"*_test_split{k}.txt")):
                        files = [split_dir / f"<class>_test_split{k}.txt"]
                absent = [f for f in files if not f.is_file()]
                if absent:
                    missing.append(f"{dataset}: split {k} files in {split_dir}: {_first_missing(absent)}")
    if weights:
        if weights_dir is None:
            missing.append("weights_dir is not set (set $ACTIONLIB_WEIGHTS or pass -p weights_dir=DIR)")
        else:
            absent = [Path(weights_dir) / w for w in weights if not (Path(weights_dir) / w).is_file()]
            if absent:
                missing.append(f"checkpoints in {weights_dir}: {', '.join(p.name for p in absent)}")
    return missing


def _preflight(notebooks: dict[str, tuple[dict, dict]], profile: str) -> list[str]:
    """Missing data/checkpoints of the full profile for {name: (declared, params)}, naming the notebooks."""
    by_problem: dict[str, list[str]] = {}
    for name, (declared, params) in notebooks.items():

        def value(key, fallback, declared=declared, params=params):
            if params.get(key) is not None:
                return params[key]
            if key in declared and _default(declared[key]) is not None:
                return _default(declared[key])
            return fallback

        try:
            cfg = profiles.resolve(
                profile,
                dataset=value("dataset", None),
                splits=profiles.parse_splits(value("splits", None)),
                data_root=value("data_root", None),
                weights_dir=value("weights_dir", None),
            )
        except ValueError as err:
            by_problem.setdefault(str(err), []).append(name)
            continue
        chosen = recipes.recipes_for(recipes.NOTEBOOK_TABLES.get(name[:2], ()))
        datasets, weights = recipes.needs(chosen)
        frames = recipes.modalities(chosen) - {"rgb"}
        if cfg.backbone != "published":  # the tiny networks' checkpoints are written by the study itself
            weights = ()
        for dataset in datasets or (cfg.dataset,):
            for line in missing_inputs(dataset, cfg.data_root, cfg.splits, cfg.weights_dir, weights):
                by_problem.setdefault(line, []).append(name)
            for modality in sorted(frames):
                folder = recipes.frame_root(cfg.data_root, dataset, modality) if cfg.data_root else None
                if folder is not None and not folder.is_dir():
                    line = f"{dataset}: {modality} frame folders {folder} (<class>/<video>/...; README, 'Full profile')"
                    by_problem.setdefault(line, []).append(name)
    return [f"{line} (needed by {', '.join(names)})" for line, names in by_problem.items()]


def _write_atomic(path: Path, data: str) -> None:
    """Write a file so that readers see the old or the new version, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _install(source: Path, path: Path) -> None:
    """Copy a staged file into place atomically (a copy, then a rename: the stage may be on another disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive (Windows)
        return str(path)


def clean_notebook(nb, source: str, output: str, roots: dict[str, str] | None = None):
    """Drop what changes on every run (timestamps, durations, random cell ids), progress bars and machine
    paths (clean_outputs); keep outputs and parameters."""
    meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration"):
        meta.pop(key, None)
    meta["input_path"], meta["output_path"] = source, output
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
        if "id" in cell:
            cell["id"] = f"cell-{i}"
    return clean_outputs(nb, roots)


# A tqdm bar or one of its redraws: "desc:  40%|████      | 2/5 [00:00<00:01, 16.7it/s]", "5it [00:01, 3.2it/s]".
_PROGRESS_BAR = re.compile(r"\d+%\||\[\d+:\d\d(?::\d\d)?(?:<[\d:?]+)?, ")
# Kernel chatter that says nothing about the results: tqdm.auto's warning when ipywidgets is missing.
_KERNEL_NOISE = re.compile(r"TqdmWarning: IProgress not found|^\s+from \.autonotebook import tqdm")
# Where an absolute path may start: not inside a word, another path, a URL or after a placeholder, but right after
# a colour code of a traceback ("\x1b[0;32m/home/...").
_PATH_START = r"(?:(?<![\w.~:/-])(?<!<repo>)(?<!<tmp>)(?<!<python>)(?<!&gt;)|(?<=\dm))"
# Folders of this repository that a path may run into; they give away a clone's root where the notebook was run
# on another machine (the committed pages were), so its prefix becomes <repo> too.
_CLONE_PATH = re.compile(_PATH_START + r"(?:/[\w.+@-]+)+?(?=/(?:\.venv|runs|scratch|results|notebooks)/)")
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def machine_roots() -> dict[str, str]:
    """{absolute folder: placeholder} for the folders that differ between machines, longest first."""
    roots = {}
    with contextlib.suppress(FileNotFoundError):
        roots[str(repo_root())] = "<repo>"
    if not any(sys.prefix.startswith(root + os.sep) for root in roots):  # a venv outside the clone
        roots[sys.prefix] = "<python>"
    for temp in (tempfile.gettempdir(), str(Path(tempfile.gettempdir()).resolve())):
        roots.setdefault(temp, "<tmp>")
    roots.setdefault(str(Path.home()), "~")
    roots = {k.rstrip("/"): v for k, v in roots.items() if len(k.rstrip("/")) > 1}  # never "/" itself
    return dict(sorted(roots.items(), key=lambda kv: -len(kv[0])))


def hide_paths(text: str, roots: dict[str, str], html: bool = False) -> str:
    """`text` with every root (machine_roots) replaced by its placeholder, then any other clone's root; in HTML
    the placeholders are escaped (a bare <repo> would be taken for a tag)."""
    for root, placeholder in roots.items():
        placeholder = htmllib.escape(placeholder) if html else placeholder
        text = re.sub(rf"{_PATH_START}{re.escape(root)}(?![\w.+@-])", placeholder, text)
    return _CLONE_PATH.sub("&lt;repo&gt;" if html else "<repo>", text)


def drop_progress(text: str) -> str:
    """A stderr stream without its progress bars, their redraws and blanking, and the kernel's noise."""
    kept = []
    for line in text.split("\n"):
        if _KERNEL_NOISE.search(line):
            continue
        if "\r" not in line and "\x1b[" not in line and not _PROGRESS_BAR.search(line):
            kept.append(line)
            continue
        parts = [p for p in line.replace("\x1b[A", "").split("\r") if p.strip() and not _PROGRESS_BAR.search(p)]
        if parts:
            kept.append(parts[-1])  # what a terminal would show at the end of the line
    return "\n".join(kept)


def _is_progress_widget(output) -> bool:
    """tqdm.auto's widget bar (ipywidgets installed): only its first state is stored, as text/plain."""
    data = output.get("data", {})
    return _WIDGET_VIEW in data and bool(_PROGRESS_BAR.search(str(data.get("text/plain", ""))))


def clean_outputs(nb, roots: dict[str, str] | None = None):
    """Remove progress bars (stderr streams, tqdm widgets) and machine paths from every output.

    Pages must read the same wherever they were run: a bar's hundred redraws and `/home/someone/...` say
    nothing about the results. Paths under `roots` (default machine_roots: the repository, the Python
    environment, the temporary folder, the home folder) become placeholders, in outputs, in the parameters cell
    papermill injected and in the recorded parameters.
    """
    roots = machine_roots() if roots is None else roots

    def hide(value, html=False):
        if isinstance(value, str):
            return hide_paths(value, roots, html)
        if isinstance(value, list):
            return [hide(v, html) for v in value]
        if isinstance(value, dict):
            return {k: hide(v, html) for k, v in value.items()}
        return value

    widgets_left = False
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = hide(cell.source)
        outputs = []
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                text = drop_progress(output.text) if output.get("name") == "stderr" else output.text
                if not text.strip():
                    continue
                output.text = hide(text)
            elif kind == "error":
                output.evalue, output.traceback = hide(output.evalue), hide(output.traceback)
            elif kind in ("display_data", "execute_result"):
                if _is_progress_widget(output):
                    continue
                widgets_left |= _WIDGET_VIEW in output.data
                for mime, value in output.data.items():
                    if not mime.startswith("image/") or mime == "image/svg+xml":
                        output.data[mime] = hide(value, html=mime in ("text/html", "image/svg+xml"))
            outputs.append(output)
        cell.outputs = outputs
    if not widgets_left:
        nb.metadata.pop("widgets", None)  # the state of the bars just removed
    papermill = nb.metadata.get("papermill", {})
    if "parameters" in papermill:
        papermill["parameters"] = hide(papermill["parameters"])
    return nb


def _outputs(results: Path, number: str) -> list[Path]:
    return sorted((results / "tables").glob(f"{number}_*.md")) + sorted((results / "figures").glob(f"{number}_*.png"))


# Set while a worker moves a passed notebook's files into place: a stop request then waits for the end of it,
# so that an interrupted batch never leaves a notebook's tables half replaced.
_committing = False
_stop_requested = False


def _worker_init() -> None:
    """Ctrl-C is the main process's to handle (it reaches the whole terminal process group); SIGTERM stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


def _stop_worker(signum=signal.SIGTERM, frame=None) -> None:
    """Kill this worker's kernel and everything it started, then exit: nothing of the run is written.

    The kernel runs in its own session (jupyter_client), out of reach of the terminal's Ctrl-C and of a
    process-group kill, hence the walk over the process tree.
    """
    global _stop_requested
    if _committing:
        _stop_requested = True
        return
    import psutil  # installed with IPython, which every kernel needs

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=5)
    os._exit(128 + signum)


@contextlib.contextmanager
def _committing_files():
    """Defer a stop request until the files are in place (see _stop_worker)."""
    global _committing
    _committing = True
    try:
        yield
    finally:
        _committing = False
        if _stop_requested:
            _stop_worker()


def _execute(task: dict) -> dict:
    """Run one notebook (in a worker process) against its staging folder; publish its files only if it passed.

    Passed: its tables, figures and executed notebook replace the previous ones, file by file (the site, built at
    the end, renders the executed notebook). Failed: the previous ones stay; its executed notebook goes to
    `executed/failed/`.
    """
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    name, results, stage = task["name"], Path(task["results"]), Path(task["stage"])
    executed = results / "executed" / f"{name}.ipynb"
    failed_executed = executed.parent / "failed" / executed.name
    out = Path(task["build"]) / f"{name}.executed.ipynb"
    stage.mkdir(parents=True, exist_ok=True)
    os.environ[RESULTS_ENV] = str(stage)  # the kernel inherits it: paths.results_dir() is the stage
    error = None
    # The kernel inherits this process's stderr: keep its chatter (TCP warning) out of the progress lines, but
    # show its end when the kernel itself failed.
    log = Path(task["build"]) / f"{name}.stderr.log"
    saved_stderr = os.dup(2)
    start = time.perf_counter()
    try:
        with open(log, "w") as sink:
            os.dup2(sink.fileno(), 2)
        pm.execute_notebook(
            task["input"],
            str(out),
            parameters=task["parameters"],
            kernel_name=task["kernel"],
            language="python",
            cwd=task["cwd"],
            progress_bar=False,
            log_output=False,
            execution_timeout=task["timeout"],
        )
    except PapermillExecutionError as err:
        error = {"ename": err.ename, "evalue": err.evalue, "cell": err.exec_count}
    except Exception as err:  # kernel died, cell timeout, no such kernel: this notebook failed, not the batch
        tail = log.read_text(errors="replace").strip().splitlines()[-10:] if log.is_file() else []
        error = {"ename": type(err).__name__, "evalue": str(err), "cell": None, "stderr": "\n".join(tail)}
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
    duration = time.perf_counter() - start

    page = None
    if out.is_file():
        page_path = failed_executed if error else executed
        page = nbformat.writes(clean_notebook(nbformat.read(out, as_version=4), task["source"],
                                              _relative(page_path, results)))  # fmt: skip
    written = []
    with _committing_files():
        if error is None:
            for path in sorted(p for p in stage.rglob("*") if p.is_file()):
                _install(path, results / path.relative_to(stage))
                written.append(path.relative_to(stage).as_posix())
            if page:
                _write_atomic(executed, page)
            failed_executed.unlink(missing_ok=True)
        elif page:
            _write_atomic(failed_executed, page)
        status = {
            "notebook": name,
            "source": task["source"],
            "profile": task["parameters"].get("profile"),
            "status": "failed" if error else "passed",
            "duration_s": round(duration, 1),
            "error": error,
            "parameters": task["parameters"],
            "written": written,
            "failed_copy": _relative(failed_executed, results) if error and page else None,
        }
        _write_atomic(results / "executed" / f"{name}.json", json.dumps(status, indent=1, default=str) + "\n")
    return status


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status_cell(status: dict | None) -> str:
    if status is None:
        return "not run"
    if status["status"] == "passed":
        return "passed"
    err = status.get("error") or {}
    where = f" (cell In [{err['cell']}])" if err.get("cell") is not None else ""
    copy = f" ([failed run]({status['failed_copy']}))" if status.get("failed_copy") else ""
    return f"**failed**{where}: {_one_line(err.get('ename', ''))}: {_one_line(err.get('evalue', ''))}{copy}"


def write_index(results: str | os.PathLike, notebooks_dir: str | os.PathLike | None = None) -> Path:
    """Write results/README.md: per notebook its status, duration, tables, figures and links."""
    results = Path(results)
    statuses = {}
    for path in sorted((results / "executed").glob("*.json")):
        try:
            statuses[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    names = set(statuses)
    if notebooks_dir is not None:
        names |= {p.stem for p in Path(notebooks_dir).glob(NOTEBOOK_GLOB)}
    names = sorted(names)

    lines = [
        "# Results",
        "",
        "Generated by `actionlib reproduce` (do not edit): one row per notebook, as of its last run. A failed run"
        " keeps the pages and tables of the last passing one; its own executed notebook is under executed/failed/.",
        "",
        "| notebook | status | profile | duration | executed | page |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        status = statuses.get(name)
        executed = results / "executed" / f"{name}.ipynb"
        profile = status["profile"] if status else ""
        duration = f"{status['duration_s']:.1f} s" if status else ""
        link_nb = f"[ipynb](executed/{name}.ipynb)" if executed.is_file() else ""
        # the site's page of it, built at the end of the run (or by `make docs`)
        link_html = f"[html](site/notebooks/{name}.html)" if executed.is_file() else ""
        lines.append(
            f"| [{name}](#{name}) | {_status_cell(status)} | {profile} | {duration} | {link_nb} | {link_html} |"
        )
    for name in names:
        status = statuses.get(name) or {}
        written = set(status.get("written", []))
        lines += ["", f"## {name}", "", f"Status: {_status_cell(statuses.get(name))}."]
        if status.get("parameters"):
            shown = ", ".join(f"`{k}={v!r}`" for k, v in status["parameters"].items())
            lines += ["", f"Parameters: {shown}."]
        for path in _outputs(results, name[:2]):
            rel = _relative(path, results)
            stale = "" if rel in written or not status else " (not rewritten by the last run)"
            if path.suffix == ".md":
                csv = path.with_suffix(".csv")
                also = f" ([csv]({_relative(csv, results)}))" if csv.is_file() else ""
                lines += ["", f"### [{path.stem}]({rel}){also}{stale}", "", path.read_text(encoding="utf-8").strip()]
            else:
                lines += ["", f"### {path.stem}{stale}", "", f"![{path.stem}]({rel})"]
    other = [p for p in sorted((results / "tables").glob("*.md")) if not re.match(r"\d\d_", p.name)]
    if other:
        lines += ["", "## Other tables", ""] + [f"- [{p.name}]({_relative(p, results)})" for p in other]
    index = results / "README.md"
    _write_atomic(index, "\n".join(lines) + "\n")
    return index


def run(
    profile: str = PUBLISHED_PROFILE,
    only: list[str] | None = None,
    params: dict | None = None,
    jobs: int = 1,
    notebooks_dir: str | os.PathLike | None = None,
    results: str | os.PathLike | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
) -> list[dict]:
    """Validate, then run the notebooks in worker processes; returns one status dict per notebook run.

    `results` defaults to paths.results_dir for the publishing run: <repo>/results only for the default
    profile. Raises ParameterError / MissingInputsError (and starts no kernel) when parameters or full-profile
    inputs are wrong. A failing notebook does not raise: its status says "failed". Ctrl-C raises Interrupted
    once the kernels are stopped and the index is rewritten.
    """
    import jupytext
    import papermill as pm
    from tqdm import tqdm

    notebooks_dir = Path(notebooks_dir).resolve() if notebooks_dir else repo_root() / "notebooks"
    params = dict(params or {})
    if "profile" in params or "results_dir" in params:
        raise ParameterError("pass the profile with --profile and the results folder with --results, not -p")
    if profile not in profiles.PROFILES:
        raise ParameterError(f"profile {profile!r} is not allowed; allowed: {', '.join(profiles.PROFILES)}")
    results = Path(results).resolve() if results not in (None, "") else results_dir(profile=profile, publish=True)
    for key, value in params.items():
        if key.endswith(_PATH_SUFFIXES) and isinstance(value, str) and value:
            params[key] = str(Path(value).expanduser().resolve())
    sources = find_notebooks(notebooks_dir, only)
    if timeout is None:
        timeout = profiles.PROFILES[profile].cell_timeout

    build = Path(tempfile.mkdtemp(prefix="actionlib-reproduce-"))
    try:
        tasks, problems, found = [], {}, {}
        for source in sources:
            ipynb = build / f"{source.stem}.ipynb"
            nb = jupytext.read(source)
            # a .py without jupytext header has no kernelspec; papermill cannot inspect it then
            nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
            jupytext.write(nb, ipynb)
            declared = pm.inspect_notebook(str(ipynb))
            passed = {"profile": profile, **params}
            for problem in check_parameters(source.stem, declared, passed):
                problems.setdefault(problem, []).append(source.stem)
            found[source.stem] = (declared, passed)
            try:
                rel_source = _relative(source, repo_root(source.parent))
            except FileNotFoundError:
                rel_source = source.name
            tasks.append(
                {
                    "name": source.stem,
                    "source": rel_source,
                    "input": str(ipynb),
                    "build": str(build),
                    "stage": str(build / f"{source.stem}.results"),
                    "cwd": str(source.parent),
                    "results": str(results),
                    "parameters": passed,
                    "kernel": kernel or os.environ.get(KERNEL_ENV, "python3"),
                    "timeout": timeout,
                }
            )
        if problems:
            raise ParameterError(
                "\n".join(f"{line} ({', '.join(names)}; no notebook was started)" for line, names in problems.items())
            )
        if profiles.PROFILES[profile].synthetic is None:  # the dataset's files: they must be there
            missing = _preflight(found, profile)
            if missing:
                raise MissingInputsError(
                    f"the {profile} profile's inputs are missing (no notebook was started):\n  - "
                    + "\n  - ".join(missing)
                )
        try:
            statuses = _execute_all(tasks, jobs, tqdm)
        finally:  # also after Ctrl-C (Interrupted): the index then shows the notebooks that finished
            with _sigint_ignored():
                write_index(results, notebooks_dir)
        print(build_site(results))
    except KeyboardInterrupt as stop:
        if isinstance(stop, Interrupted):
            raise
        raise Interrupted([], len(sources)) from None  # before any kernel started
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return statuses


def build_site(results: Path) -> str:
    """Build `<results>/site/` from the executed notebooks (docs/site/build.py, no kernel runs); returns one line
    saying where it is or why it was not built. Never fails the batch: the site is a view of results/."""
    try:
        builder = repo_root() / "docs" / "site" / "build.py"
    except FileNotFoundError:
        return "site: not built (no docs/site/ outside a clone of the repository)"
    if not builder.is_file():
        return "site: not built (no docs/site/ outside a clone of the repository)"
    if not all(importlib.util.find_spec(m) for m in ("sphinx", "myst_nb", "sphinx_book_theme")):
        return 'site: not built (needs the docs extra: pip install -e ".[docs]", then make docs)'
    try:
        done = subprocess.run(
            [sys.executable, str(builder), "--results", str(results), "--quiet"], capture_output=True, text=True
        )
    except KeyboardInterrupt:
        return "site: not built (interrupted; make docs builds it)"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["sphinx-build failed"])[-1].removeprefix("error: ")
        return f"site: not built ({_one_line(last, 160)}; make docs shows why)"
    index = results / "site" / "index.html"
    return f"site: {index.relative_to(Path.cwd()) if index.is_relative_to(Path.cwd()) else index}"


@contextlib.contextmanager
def _sigint_ignored():
    """A second Ctrl-C must not cut the clean-up short (only the main thread may change signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the notebooks not started and stop the running ones: SIGTERM makes a worker kill its kernel's
    process tree (_stop_worker); a worker that has not exited after 10 s is killed."""
    workers = list((pool._processes or {}).values())  # the executor has no public handle on its processes
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(10)
        if worker.is_alive():
            worker.kill()
            worker.join()


def _execute_all(tasks: list[dict], jobs: int, tqdm) -> list[dict]:
    """Run the tasks in fresh worker processes (spawn: papermill's chdir must not be shared), report each.

    Ctrl-C (KeyboardInterrupt) stops the workers and raises Interrupted with the statuses of those finished.
    """
    statuses = []
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks))), mp_context=context, initializer=_worker_init)
    with pool, tqdm(total=len(tasks), unit="notebook", desc="reproduce", file=sys.stderr) as bar:
        try:
            futures = {pool.submit(_execute, task): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    status = future.result()
                except Exception as err:  # the worker process itself died
                    status = {
                        "notebook": task["name"],
                        "status": "failed",
                        "duration_s": 0.0,
                        "error": {"ename": type(err).__name__, "evalue": str(err), "cell": None},
                    }
                err = status.get("error")
                detail = f"  {err['ename']}: {_one_line(err['evalue'], 120)}" if err else ""
                bar.write(f"{status['status']:6}  {task['name']}  {status['duration_s']:.1f} s{detail}")
                bar.update()
                statuses.append(status)
        except KeyboardInterrupt:
            with _sigint_ignored():
                _stop_workers(pool)
            raise Interrupted(statuses, len(tasks) - len(statuses)) from None
    order = [t["name"] for t in tasks]
    return sorted(statuses, key=lambda s: order.index(s["notebook"]))


def check(profile: str = PUBLISHED_PROFILE, reference: str | os.PathLike | None = None, **run_options):
    """Rerun `profile` from scratch and compare it with `reference` (default: the folder `run` publishes the
    profile to, <repo>/results for the default one): returns (statuses, report path, summary lines, whether every
    committed verdict held).

    The rerun gets a folder of its own, <repo>/scratch/check/<time>/, with its own runs (nothing cached is
    reused: every network and head trains again) and results; the committed ones are only read. The generated
    data (<repo>/data) is shared: it is made by seeded code, and the check is about training.
    """
    from . import recheck

    reference = Path(reference).resolve() if reference not in (None, "") else results_dir(profile=profile, publish=True)
    if not any((reference / "tables").glob("*.csv")):
        raise ParameterError(f"{reference}: no results tables to check against; run `actionlib reproduce` first "
                             "or pass the folder with --results")  # fmt: skip
    base = repo_root() / "scratch" / "check"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    scratch = base / stamp
    for n in range(2, 100):
        if not scratch.exists():
            break
        scratch = base / f"{stamp}-{n}"
    scratch.mkdir(parents=True)
    before = os.environ.get(RUNS_ENV)
    os.environ[RUNS_ENV] = str(scratch / "runs")  # the kernels inherit it (paths.runs_dir)
    try:
        statuses = run(profile, results=scratch / "results", **run_options)
    finally:
        if before is None:
            os.environ.pop(RUNS_ENV, None)
        else:
            os.environ[RUNS_ENV] = before
    numbers = recheck.compare_numbers(reference, scratch / "results")
    verdicts = recheck.compare_verdicts(reference, scratch / "results")
    report = recheck.write_report(numbers, verdicts, scratch, reference, scratch / "results")
    return statuses, report, recheck.summary_lines(numbers, verdicts), bool(verdicts["holds"].eq(True).all())


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def cmd_reproduce(args) -> int:
    """Exit code 0 when every notebook run passed (and, with --check, every verdict held), 1 otherwise, 2 for
    wrong parameters, 130 after Ctrl-C."""
    options = {
        "only": args.only.split(",") if args.only else None,
        "params": parse_assignments(args.param),
        "jobs": args.jobs,
        "notebooks_dir": args.notebooks,
        "timeout": args.timeout,
        "kernel": args.kernel,
    }
    try:
        if args.check:
            results, report, summary, held = check(args.profile, args.results, **options)
        else:
            results = run(profile=args.profile, results=args.results, **options)
    except ParameterError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"interrupted: {_count(len(stop.finished), 'notebook')} finished, {stop.cancelled} cancelled")
        return 130
    failed = [s["notebook"] for s in results if s["status"] != "passed"]
    print(
        f"{len(results) - len(failed)}/{len(results)} notebooks passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if args.check:
        print("\n".join(summary))
        print(f"check: {_relative(report, Path.cwd()) if report.is_relative_to(Path.cwd()) else report}")
        return 1 if failed or not held else 0
    return 1 if failed else 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `reproduce` on the `actionlib` command's subparsers."""
    p = subparsers.add_parser(
        "reproduce",
        help="run the numbered notebooks and regenerate results/",
        description="Run notebooks/NN_*.py with papermill, one process each, and write results/executed/, "
        "the index results/README.md and the site results/site/. Exit code 1 when a notebook failed, 2 when parameters or "
        "(full profile) data/checkpoints are wrong, in which case no notebook is started, 130 after Ctrl-C (the "
        "running kernels are stopped, the index shows the notebooks that finished).",
    )
    p.add_argument(
        "--profile",
        default=PUBLISHED_PROFILE,
        choices=list(profiles.PROFILES),
        help=f"run profile (default: {PUBLISHED_PROFILE}, the one written to <repo>/results)",
    )
    p.add_argument("--only", help="comma-separated notebook numbers or names, e.g. 01,05")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time (default: 1)")
    p.add_argument("--notebooks", help="folder of the NN_*.py notebooks (default: <repo>/notebooks)")
    p.add_argument(
        "--results",
        help="results folder (default: $ACTIONLIB_RESULTS, else <repo>/results for the default profile and "
        "<repo>/scratch/results/<profile> for the others)",
    )
    p.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="notebook parameter (repeatable)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="rerun the profile from scratch into <repo>/scratch/check/<time>/ (its own runs; nothing cached is "
        "reused) and report, table by table, whether each fresh Top-1 falls inside the committed 95 %% interval "
        "and whether every claim's verdict holds; --results names the committed folder to compare with",
    )
    p.add_argument("--timeout", type=float, help="seconds a cell may run (default: the profile's cell_timeout)")
    p.add_argument("--kernel", help=f"Jupyter kernel name (default: ${KERNEL_ENV} or python3)")
    p.set_defaults(func=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionlib")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["reproduce", *(argv if argv is not None else sys.argv[1:])])
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
