"""`actionlib reproduce`: regenerate every result by running the numbered notebooks in batch.

Each `notebooks/NN_name.py` (py:percent) is converted with jupytext to a temporary .ipynb and run by papermill
in a separate process (papermill's `cwd` is a process-wide chdir), with its folder as cwd. Per notebook it writes

- `results/executed/NN_name.ipynb`: the executed notebook, without volatile metadata (timestamps, durations);
- `results/html/NN_name.html`: the same rendered by nbconvert;
- `results/executed/NN_name.json`: status, duration, error, parameters: what the index is built from;

each written atomically, so a failing or killed run never leaves half a file and never touches the results of
notebooks that were not run. `results/README.md` indexes all notebooks with the tables (`results/tables/NN_*.md`)
and figures (`results/figures/NN_*.png`) they wrote.

Parameters (`-p NAME=VALUE`) are checked before any kernel starts: the name must be in the notebook's parameters
cell (papermill.inspect_notebook), the value must have the default's type, `profile` must be a profile of
actionlib.profiles, and a parameter commented `# allowed: a, b, c` must be one of those values. The `full`
profile first checks that the datasets, split files and checkpoints exist (actionlib.profiles.NEEDS).
"""

from __future__ import annotations

import argparse
import ast
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from . import profiles, recipes
from .paths import repo_root, results_dir

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


def check_parameters(notebook: str, declared: dict, params: dict) -> list[str]:
    """Problems of passing `params` to a notebook whose parameters cell declares `declared` (inspect_notebook)."""
    problems = []
    if "profile" not in declared:
        problems.append(f"{notebook}: has no `profile` parameter (see notebooks/_template.py)")
    for name, value in params.items():
        if name not in declared:
            problems.append(
                f"{notebook}: unknown parameter {name!r}; its parameters are {', '.join(declared) or '(none)'}"
            )
            continue
        if name == "profile" and value not in profiles.PROFILES:
            problems.append(f"{notebook}: profile={value!r} is not allowed; allowed: {', '.join(profiles.PROFILES)}")
            continue
        allowed = _allowed(declared[name].get("help", ""))
        if allowed is not None and value not in allowed:
            problems.append(f"{notebook}: {name}={value!r} is not allowed; allowed: {', '.join(map(repr, allowed))}")
            continue
        why = _type_problem(value, _default(declared[name]))
        if why:
            problems.append(f"{notebook}: {name}={value!r}: {why}")
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
        folder = Path(data_root) / profiles.DATASET_DIRS[dataset]
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
        needs, frames = profiles.NEEDS.get(name[:2]), set()
        if needs is None and name[:2] in recipes.NOTEBOOK_TABLES:
            chosen = recipes.recipes_for(recipes.NOTEBOOK_TABLES[name[:2]])
            needs, frames = profiles.Needs(*recipes.needs(chosen)), recipes.modalities(chosen) - {"rgb"}
            if value("stand_in", None) is not None:  # the stand-in's checkpoints come from write_stand_in_weights
                needs = profiles.Needs(needs.datasets)
        needs = needs or profiles.Needs()
        for dataset in needs.datasets or (cfg.dataset,):
            for line in missing_inputs(dataset, cfg.data_root, cfg.splits, cfg.weights_dir, needs.weights):
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


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive (Windows)
        return str(path)


def clean_notebook(nb, source: str, output: str):
    """Drop what changes on every run (timestamps, durations, random cell ids); keep outputs and parameters."""
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
    return nb


def _outputs(results: Path, number: str) -> list[Path]:
    return sorted((results / "tables").glob(f"{number}_*.md")) + sorted((results / "figures").glob(f"{number}_*.png"))


def _execute(task: dict) -> dict:
    """Run one notebook (in a worker process) and write its executed notebook, HTML page and status."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter
    from papermill.exceptions import PapermillExecutionError

    name, results = task["name"], Path(task["results"])
    executed, html = results / "executed" / f"{name}.ipynb", results / "html" / f"{name}.html"
    out = Path(task["build"]) / f"{name}.executed.ipynb"
    before = {p: p.stat().st_mtime_ns for p in _outputs(results, name[:2])}
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

    if out.is_file():
        nb = clean_notebook(nbformat.read(out, as_version=4), task["source"], _relative(executed, results))
        _write_atomic(executed, nbformat.writes(nb))
        _write_atomic(html, HTMLExporter().from_notebook_node(nb)[0])
    else:  # nothing ran: an older executed notebook would contradict the status
        executed.unlink(missing_ok=True)
        html.unlink(missing_ok=True)
    written = [p for p in _outputs(results, name[:2]) if before.get(p) != p.stat().st_mtime_ns]
    status = {
        "notebook": name,
        "source": task["source"],
        "profile": task["parameters"].get("profile"),
        "status": "failed" if error else "passed",
        "duration_s": round(duration, 1),
        "error": error,
        "parameters": task["parameters"],
        "written": [_relative(p, results) for p in written],
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
    return f"**failed**{where}: {_one_line(err.get('ename', ''))}: {_one_line(err.get('evalue', ''))}"


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
        "Generated by `actionlib reproduce` (do not edit): one row per notebook, as of its last run.",
        "",
        "| notebook | status | profile | duration | executed | html |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        status = statuses.get(name)
        executed, html = results / "executed" / f"{name}.ipynb", results / "html" / f"{name}.html"
        profile = status["profile"] if status else ""
        duration = f"{status['duration_s']:.1f} s" if status else ""
        link_nb = f"[ipynb](executed/{name}.ipynb)" if executed.is_file() else ""
        link_html = f"[html](html/{name}.html)" if html.is_file() else ""
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
    profile: str = "smoke",
    only: list[str] | None = None,
    params: dict | None = None,
    jobs: int = 1,
    notebooks_dir: str | os.PathLike | None = None,
    results: str | os.PathLike | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
) -> list[dict]:
    """Validate, then run the notebooks in worker processes; returns one status dict per notebook run.

    Raises ParameterError / MissingInputsError (and starts no kernel) when parameters or full-profile inputs
    are wrong. A failing notebook does not raise: its status says "failed".
    """
    import jupytext
    import papermill as pm
    from tqdm import tqdm

    notebooks_dir = Path(notebooks_dir).resolve() if notebooks_dir else repo_root() / "notebooks"
    explicit_results = results is not None
    results = Path(results).resolve() if explicit_results else results_dir()
    params = dict(params or {})
    if "profile" in params or "results_dir" in params:
        raise ParameterError("pass the profile with --profile and the results folder with --results, not -p")
    if profile not in profiles.PROFILES:
        raise ParameterError(f"profile {profile!r} is not allowed; allowed: {', '.join(profiles.PROFILES)}")
    for key, value in params.items():
        if key.endswith(_PATH_SUFFIXES) and isinstance(value, str) and value:
            params[key] = str(Path(value).expanduser().resolve())
    sources = find_notebooks(notebooks_dir, only)
    if timeout is None:
        timeout = profiles.PROFILES[profile].cell_timeout

    build = Path(tempfile.mkdtemp(prefix="actionlib-reproduce-"))
    try:
        tasks, problems, found = [], [], {}
        for source in sources:
            ipynb = build / f"{source.stem}.ipynb"
            nb = jupytext.read(source)
            # a .py without jupytext header has no kernelspec; papermill cannot inspect it then
            nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
            jupytext.write(nb, ipynb)
            declared = pm.inspect_notebook(str(ipynb))
            passed = {"profile": profile, **params}
            if explicit_results and "results_dir" in declared:
                passed["results_dir"] = str(results)
            problems += check_parameters(source.stem, declared, passed)
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
                    "cwd": str(source.parent),
                    "results": str(results),
                    "parameters": passed,
                    "kernel": kernel or os.environ.get(KERNEL_ENV, "python3"),
                    "timeout": timeout,
                }
            )
        if problems:
            raise ParameterError("invalid parameters (no notebook was started):\n  " + "\n  ".join(problems))
        if profile == "full":
            missing = _preflight(found, profile)
            if missing:
                raise MissingInputsError(
                    "the full profile's inputs are missing (no notebook was started):\n  - " + "\n  - ".join(missing)
                )
        statuses = _execute_all(tasks, jobs, tqdm)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    write_index(results, notebooks_dir)
    return statuses


def _execute_all(tasks: list[dict], jobs: int, tqdm) -> list[dict]:
    """Run the tasks in fresh worker processes (spawn: papermill's chdir must not be shared), report each."""
    statuses = []
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks))), mp_context=context) as pool,
        tqdm(total=len(tasks), unit="notebook", desc="reproduce", file=sys.stderr) as bar,
    ):
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
    order = [t["name"] for t in tasks]
    return sorted(statuses, key=lambda s: order.index(s["notebook"]))


def cmd_reproduce(args) -> int:
    """Exit code 0 when every notebook run passed, 1 otherwise."""
    results = run(
        profile=args.profile,
        only=args.only.split(",") if args.only else None,
        params=parse_assignments(args.param),
        jobs=args.jobs,
        notebooks_dir=args.notebooks,
        results=args.results,
        timeout=args.timeout,
        kernel=args.kernel,
    )
    failed = [s["notebook"] for s in results if s["status"] != "passed"]
    print(
        f"{len(results) - len(failed)}/{len(results)} notebooks passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `reproduce` on the `actionlib` command's subparsers."""
    p = subparsers.add_parser(
        "reproduce",
        help="run the numbered notebooks and regenerate results/",
        description="Run notebooks/NN_*.py with papermill, one process each, and write results/executed/, "
        "results/html/ and the index results/README.md. Exit code 1 when a notebook failed, 2 when parameters or "
        "(full profile) data/checkpoints are wrong, in which case no notebook is started.",
    )
    p.add_argument("--profile", default="smoke", choices=list(profiles.PROFILES), help="run profile (default: smoke)")
    p.add_argument("--only", help="comma-separated notebook numbers or names, e.g. 01,05")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time (default: 1)")
    p.add_argument("--notebooks", help="folder of the NN_*.py notebooks (default: <repo>/notebooks)")
    p.add_argument("--results", help="results folder (default: <repo>/results or $ACTIONLIB_RESULTS)")
    p.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="notebook parameter (repeatable)"
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
