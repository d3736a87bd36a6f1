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
annotation or `# type:` comment names; an int or ints given to a str parameter become its text, `-p splits=1,3`
is "1,3"), None only where the default is None or the type Optional, `profile` must be a profile of
actionlib.profiles, a parameter commented `# allowed: a, b, c` must be one of those values, `splits` and the
profile's fields must be valid for actionlib.profiles, `device` must exist on this machine, and a `_root`/`_dir`
input must be an existing folder. A profile that reads the dataset's files (`full`, `tiny`) then checks that the
datasets, split files and checkpoints that the notebook's rows read exist (actionlib.recipes.needs).

Ctrl-C cancels the notebooks not started, kills the running kernels and everything they started, rewrites the
index from the notebooks that finished and exits with 130, counting the notebooks whose status this run wrote.

The package, one module per job: `parameters` (what is checked before any kernel starts), `execution` (run(): the
notebooks in worker processes, Ctrl-C, timeouts, statuses), `rendering` (cleaned executed notebooks, files installed
atomically, the index, the site), `checking` (`--check`: a rerun compared with the committed results) and `cli` (the
command). The names below are re-exported here: `from actionlib import reproduce; reproduce.run(...)`.
"""

from __future__ import annotations

from ..paths import repo_root
from . import checking, cli, execution, parameters, rendering
from .checking import check
from .cli import add_parser, cmd_reproduce, main
from .execution import KERNEL_ENV, Interrupted, run
from .parameters import (
    NOTEBOOK_GLOB,
    MissingInputsError,
    ParameterError,
    check_parameters,
    find_notebooks,
    missing_inputs,
    parse_assignments,
    parse_value,
)
from .rendering import build_site, clean_notebook, clean_outputs, drop_progress, hide_paths, machine_roots, write_index

__all__ = [
    "KERNEL_ENV",
    "NOTEBOOK_GLOB",
    "Interrupted",
    "MissingInputsError",
    "ParameterError",
    "add_parser",
    "build_site",
    "check",
    "check_parameters",
    "checking",
    "clean_notebook",
    "clean_outputs",
    "cli",
    "cmd_reproduce",
    "drop_progress",
    "execution",
    "find_notebooks",
    "hide_paths",
    "machine_roots",
    "main",
    "missing_inputs",
    "parameters",
    "parse_assignments",
    "parse_value",
    "rendering",
    "repo_root",
    "run",
    "write_index",
]
