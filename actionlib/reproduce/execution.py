"""Running the notebooks of `actionlib reproduce`: run() validates, then papermill runs each notebook in a worker
process of its own (spawn), against a staging folder whose files are published only when it passed; Ctrl-C and
SIGTERM stop the kernels' whole process trees, a cell timeout or a dead kernel fails that notebook, not the batch.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import psutil
from tqdm import tqdm

from .. import profiles
from ..choices import KERNEL_ENV
from ..command_line import sigint_ignored
from ..paths import PUBLISHED_PROFILE, RESULTS_ENV, repo_root, results_dir
from .parameters import (
    _PATH_SUFFIXES,
    MissingInputsError,
    ParameterError,
    _preflight,
    as_declared,
    check_parameters,
    find_notebooks,
)
from .rendering import _install, _one_line, _relative, _write_atomic, build_site, clean_notebook, write_index


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch: `finished` holds the statuses of the notebooks that ran to the end."""

    def __init__(self, finished: list[dict], cancelled: int):
        super().__init__(f"{len(finished)} finished, {cancelled} cancelled")
        self.finished, self.cancelled = finished, cancelled


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
        text = json.dumps(status, indent=1, default=str) + "\n"
        _write_atomic(results / "executed" / f"{name}.json", text)
        _write_atomic(_status_copy(task), text)  # this run's own record of it (see _finished)
    return status


def _status_copy(task: dict) -> Path:
    return Path(task["build"]) / f"{task['name']}.status.json"


def _finished(tasks: list[dict], reported: list[dict]) -> list[dict]:
    """The statuses of the notebooks that finished in this run, in task order: those whose results came back, and
    those whose worker wrote its status before a Ctrl-C stopped this process from receiving it (the index shows
    them)."""
    by_name = {s["notebook"]: s for s in reported}
    for task in tasks:
        if task["name"] not in by_name and _status_copy(task).is_file():
            by_name[task["name"]] = json.loads(_status_copy(task).read_text(encoding="utf-8"))
    return [by_name[t["name"]] for t in tasks if t["name"] in by_name]


def run(
    profile: str = PUBLISHED_PROFILE,
    only: list[str] | None = None,
    params: dict | None = None,
    jobs: int = 1,
    notebooks_dir: str | os.PathLike | None = None,
    results: str | os.PathLike | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Validate, then run the notebooks in worker processes; returns one status dict per notebook run (`progress`:
    the bar over notebooks; each notebook's status line is printed either way).

    `results` defaults to paths.results_dir for the publishing run: <repo>/results only for the default
    profile. Raises ParameterError / MissingInputsError (and starts no kernel) when parameters or full-profile
    inputs are wrong. A failing notebook does not raise: its status says "failed". Ctrl-C raises Interrupted
    once the kernels are stopped and the index is rewritten.
    """
    import jupytext
    import papermill as pm

    notebooks_dir = Path(notebooks_dir).resolve() if notebooks_dir else repo_root() / "notebooks"
    params = dict(params or {})
    if "profile" in params or "results_dir" in params:
        raise ParameterError("pass the profile with --profile and the results folder with --results, not -p")
    if profile not in profiles.PROFILES:
        raise ParameterError(f"profile {profile!r} is not allowed; allowed: {', '.join(profiles.PROFILES)}")
    results = Path(results).resolve() if results not in (None, "") else results_dir(profile=profile, publish=True)
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
            passed = as_declared(declared, {"profile": profile, **params})
            for key, value in passed.items():
                if key.endswith(_PATH_SUFFIXES) and isinstance(value, str) and value:
                    passed[key] = str(Path(value).expanduser().resolve())
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
            statuses = _execute_all(tasks, jobs, functools.partial(tqdm, disable=not progress))
        except Interrupted as stop:
            finished = _finished(tasks, stop.finished)
            raise Interrupted(finished, len(tasks) - len(finished)) from None
        finally:  # also after Ctrl-C (Interrupted): the index then shows the notebooks that finished
            with sigint_ignored():  # a second Ctrl-C must not cut the clean-up short
                from ..study.verdicts import write_all_claims  # torch; the kernels have run by now

                write_all_claims(results)
                write_index(results, notebooks_dir)
        print(build_site(results))
    except KeyboardInterrupt as stop:
        if isinstance(stop, Interrupted):
            raise
        raise Interrupted([], len(sources)) from None  # before any kernel started
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return statuses


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
            with sigint_ignored():  # a second Ctrl-C must not cut the clean-up short
                _stop_workers(pool)
            raise Interrupted(statuses, len(tasks) - len(statuses)) from None
    order = [t["name"] for t in tasks]
    return sorted(statuses, key=lambda s: order.index(s["notebook"]))
