"""A notebook in one call: its profile resolved, its tables run, written and tested, everything it shows
returned (`Notebook`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import paths, profiles, recipes
from ..recipes import CLAIMS, TABLES
from .execute import run
from .planner import STAND_INS, runs_dir_for, write_stand_in_weights
from .report import (
    _close,
    plot_claims,
    plot_table,
    save_table,
    show,
    show_claims,
    summary,
    table_of,
    training_log,
)
from .verdicts import CLAIM_COLUMNS, claims, control_claims, control_runs


def run_tables(cfg, tables, seed: int = 0, runs_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the rows of `tables` under `cfg`: (summary, every run). A tiny backbone's checkpoints in the public
    layout are written first (into the runs folder), so its runs read them as the published ones are read."""
    rows = recipes.recipes_for(tables)
    runs_dir = Path(runs_dir) if runs_dir is not None else runs_dir_for(cfg)
    if cfg.backbone in STAND_INS:
        weights = runs_dir / "stand_in_weights"
        write_stand_in_weights(weights, rows, cfg.backbone)
        cfg = dataclasses.replace(cfg, weights_dir=str(weights))
    runs = run(cfg, rows, runs_dir, seed)
    return summary(runs, rows, cfg), runs


def run_notebook(
    cfg, number: str, results: str | Path, tables=None, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """A notebook's tables (default: all of `recipes.NOTEBOOK_TABLES[number]`) run under `cfg`, each written as
    `<NN>_table<T>_<name>` (CSV, Markdown, figure) with every run in `<NN>_runs` and the thesis's claims on these
    tables tested in `<NN>_claims`: the same files under every profile. Returns ({table: its summary}, every run,
    the claims: empty where no claim uses these tables)."""
    tables = list(tables or recipes.NOTEBOOK_TABLES[number])
    summary_table, runs = run_tables(cfg, tables, seed)
    results = Path(results)
    by_table = {}
    for t in tables:
        by_table[t] = table = table_of(summary_table, t)
        name = f"{number}_table{t}_{TABLES[t].name}"
        save_table(table, results, name, profile=cfg)
        figure = results / "figures" / f"{name}.png"
        _close(plot_table(table, f"Table {t} ({cfg.dataset}, profile {cfg.name})", figure))
        table.attrs["figure"] = str(figure)  # `show` displays it under the table
    # "Table 3.2", a label: a bare "3.2" reads as a number and prints as 3.20
    save_table(
        runs.assign(table="Table " + runs["table"]) if len(runs) else runs, results, f"{number}_runs", profile=cfg
    )
    found = pd.DataFrame(columns=CLAIM_COLUMNS)
    if any(c.table in tables for c in CLAIMS):
        controls = control_runs(cfg, tables, seed)
        if len(controls):  # each head's own numbers on the control datasets, as `<NN>_runs` has them on the target
            save_table(
                controls.assign(table="Table " + controls["table"]), results, f"{number}_control_runs", profile=cfg
            )
        found = claims(runs, tables, control_claims(controls, tables))
        save_table(found, results, f"{number}_claims", profile=cfg)
        if found["difference"].notna().any():
            title = f"The thesis's claims ({cfg.dataset}, profile {cfg.name})"
            _close(plot_claims(found, title, results / "figures" / f"{number}_claims.png"))
    return by_table, runs, found


@dataclass
class Notebook:
    """Everything a notebook shows, computed once by `notebook`: its profile, results folder, one summary per thesis
    table, every run and the claims tested on them."""

    number: str
    cfg: object  # the resolved `profiles.Profile`
    results: Path
    tables: dict[str, pd.DataFrame]
    runs: pd.DataFrame
    claims: pd.DataFrame

    def show(self, table: str) -> None:
        show(self.tables[table])

    def show_claims(self) -> None:
        show_claims(self.claims)


def notebook(
    number: str,
    profile: str = "smoke",
    *,
    seed: int = 0,
    tables: str | None = None,
    results_dir: str | None = None,
    splits=None,
    **overrides,
) -> Notebook:
    """Set a notebook up in one call from its parameters: the profile resolved with `overrides` (None keeps the
    profile's value; `splits` as a parameter gives it, "1,3"), `tables` (a comma-separated subset of the notebook's
    thesis tables; None: all) run and written by `run_notebook` into `paths.results_dir(results_dir, profile)`.
    Every parameter is checked here, before any run, so that a wrong one (plain papermill checks only its name)
    fails with one message naming it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"parameter seed: {seed!r} is not a whole number >= 0 (papermill: -p seed 3)")
    cfg = profiles.resolve(profile, splits=profiles.parse_splits(splits), **overrides)
    chosen = None
    if tables is not None:
        chosen = profiles.parse_choices("tables", tables, recipes.NOTEBOOK_TABLES[number])
    results = paths.results_dir(results_dir, profile)
    with training_log(number, results_dir, profile):  # the epochs' lines go to <results>/logs/<number>.log
        by_table, runs, found = run_notebook(cfg, number, results, chosen, seed)
    return Notebook(number, cfg, results, by_table, runs, found)
