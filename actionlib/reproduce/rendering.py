"""What `actionlib reproduce` writes, and how: executed notebooks cleaned of volatile metadata, progress bars and
machine paths (clean_notebook, clean_outputs), files staged and installed atomically (_write_atomic, _install), the
results index results/README.md (write_index) and the call that builds the site results/site/ (build_site).
"""

from __future__ import annotations

import contextlib
import html as htmllib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..paths import repo_root
from .parameters import NOTEBOOK_GLOB


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
# A training run's log line (engine.fit prints them): each epoch's metrics and the notes on resuming. They belong
# in a log file (study.report.training_log), not on a page.
LOG_LINE = re.compile(
    r"epoch \d+: train loss |--resume: no checkpoint at |resuming \S.* at epoch \d+ batch \d+$"
    r"|completing the end of epoch \d+ "
)


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


def split_log(text: str) -> tuple[str, list[str]]:
    """(`text` without the training's log lines, those lines): see LOG_LINE."""
    kept, log = [], []
    for line in text.split("\n"):
        (log if LOG_LINE.match(line) else kept).append(line)
    return "\n".join(kept), log


def clean_outputs(nb, roots: dict[str, str] | None = None, log: list[str] | None = None):
    """Remove progress bars (stderr streams, tqdm widgets) and machine paths from every output; with a `log`
    list, move the training's log lines (LOG_LINE) from the streams into it too (the site does: a page shows
    results, its log is a file beside it).

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
                if log is not None:
                    text, lines = split_log(text)
                    log += hide(lines)
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
