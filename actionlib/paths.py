"""Where the repository and its results are, independent of the current directory.

Notebooks run with their own folder as cwd (papermill `cwd=notebooks/`, JupyterLab likewise), the CLI runs
wherever the user is: both find files from the repository root instead of relative paths.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

ROOT_ENV = "ACTIONLIB_ROOT"
RESULTS_ENV = "ACTIONLIB_RESULTS"
RUNS_ENV = "ACTIONLIB_RUNS"
# The profile whose results are committed in <repo>/results (`make reproduce`); the others go to SCRATCH_RESULTS.
PUBLISHED_PROFILE = "smoke"
SCRATCH_RESULTS = "scratch/results"


# Folder of each dataset under a profile's `data_root` (the layouts documented in actionlib/data/datasets.py).
DATASET_DIRS = {"synthetic": "synthetic", "hmdb51": "hmdb51", "ucf101": "UCF-101"}


def _is_root(folder: Path) -> bool:
    """A folder whose pyproject.toml is actionlib's (another project's pyproject.toml does not count)."""
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    return 'name = "actionlib"' in pyproject.read_text(encoding="utf-8", errors="replace")


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The repository root: $ACTIONLIB_ROOT, else the first parent with actionlib's pyproject.toml.

    Parents of `start` are searched; without `start`, those of this package (an editable install lives in
    the repository) and then those of the current directory.
    """
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    starts = [Path(start)] if start is not None else [Path(__file__).parent, Path.cwd()]
    for first in starts:
        first = first.resolve()
        for folder in (first, *first.parents):
            if _is_root(folder):
                return folder
    raise FileNotFoundError(
        f"no actionlib pyproject.toml above {', '.join(str(s) for s in starts)}; run from inside the repository "
        f"or set {ROOT_ENV}"
    )


def resolve_path(path: str | os.PathLike) -> Path:
    """An absolute path: relative paths are taken from the repository root, not from the cwd."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else repo_root() / path


def results_dir(override: str | os.PathLike | None = None, profile: str | None = None, publish: bool = False) -> Path:
    """The results folder (created if missing): `override`, else $ACTIONLIB_RESULTS, else <repo>/results for
    the publishing run, else <repo>/scratch/results/<profile>.

    <repo>/results holds the committed results, those of the default profile as `make reproduce` made them. Only
    that run (`actionlib reproduce`, which passes `publish=True`, with the default profile) writes there
    unasked: a notebook run by hand (JupyterLab, plain papermill) or under another profile writes to the
    scratch folder, which git ignores, so that it cannot replace the committed results by accident.
    """
    if override not in (None, ""):
        chosen = override
    elif os.environ.get(RESULTS_ENV):
        chosen = os.environ[RESULTS_ENV]
    elif publish and profile == PUBLISHED_PROFILE:
        chosen = "results"
    else:
        chosen = Path(SCRATCH_RESULTS, profile) if profile else SCRATCH_RESULTS
    folder = resolve_path(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def runs_dir() -> Path:
    """Where training runs are kept: $ACTIONLIB_RUNS, else <repo>/runs."""
    return resolve_path(os.environ.get(RUNS_ENV) or "runs")


def cache_key(**parts) -> str:
    """A short hash of settings, the name of the folder a run with them is kept in: equal settings, one folder."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]
