"""The thesis's claims tested on runs: paired differences with intervals and verdicts, and their controls (the
appearance classes alone, and the control datasets, trained as any other runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths, recipes, reference, stats
from ..data.datasets import class_names
from ..data.synthetic import get_class
from ..recipes import CLAIMS
from .controls import CONTROL_CLASSES, CONTROL_SETS
from .execute import _letters, _vector, run
from .features import synthetic_root
from .planner import runs_dir_for


def claims(runs: pd.DataFrame, tables, controls: pd.DataFrame | None = None) -> pd.DataFrame:
    """The claims of `tables` (`CLAIMS`) tested on `runs` by `stats.claims_table`: the thesis's values and
    difference, ours with its paired 95 % interval over runs and test videos (and over runs alone), the smallest
    difference the design detects, and a `verdict` (`stats.verdict`: `agrees`, `disagrees`, `within noise` or
    `cannot resolve`, against the thesis's direction). A claim whose rows did not both run is left out.

    `classes` says which test videos a line is computed on: "all", or, where the data have class groups, a second
    line per claim on the `CONTROL_CLASSES` videos only; then the lines of `controls` (`control_claims`: the
    control datasets), each under its claim."""
    found = _claims(runs, tables)
    groups = runs["video_groups"].fillna("") if "video_groups" in runs else pd.Series([""])
    extra = [controls] if controls is not None and len(controls) else []
    if len(found) and groups.str.contains(CONTROL_CLASSES[0], regex=False).all():  # not the `test` profile's four
        extra.insert(0, _claims(runs, tables, CONTROL_CLASSES))
    if not len(found) or not extra:
        return found
    control = pd.concat(extra, ignore_index=True)
    lines = []
    for _, line in found.iterrows():  # each claim, then its control
        lines += [line, *(c for _, c in control[control["claim"] == line["claim"]].iterrows())]
    return pd.DataFrame(lines).reset_index(drop=True)[CLAIM_COLUMNS]


def control_runs(cfg, tables, seed: int = 0, runs_dir: str | Path | None = None) -> pd.DataFrame:
    """Every run of the rows of the claims of `tables` marked `control_sets` (`recipes.Claim`), trained and tested
    on each control dataset of `CONTROL_SETS` (a generated synthetic set; a set needs two classes), as `run` lines
    with `classes` "control set: <name>"; empty where none applies. Runs are cached in `runs_dir` (default: the CPU
    heads' folder, `runs_dir_for`), so a second call only reads them."""
    chosen = [c for c in CLAIMS if c.control_sets and c.table in tables]
    if cfg.synthetic is None or not chosen:  # the dataset's files have no class groups
        return pd.DataFrame()
    runs_dir, root = Path(runs_dir or runs_dir_for(cfg)).resolve(), synthetic_root(cfg)
    rows = [
        r
        for r in recipes.recipes_for(tables)
        if any(r.table == c.table and r.row in (c.row_a, c.row_b) for c in chosen)
    ]
    names = class_names(root, "synthetic")
    parts = []
    for name, groups in CONTROL_SETS.items():
        classes = tuple(c for c in names if get_class(c).group in groups)
        if len(classes) >= 2:
            parts.append(run(cfg, rows, runs_dir, seed, classes=(name, classes)).assign(classes=f"control set: {name}"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def control_claims(control: pd.DataFrame, tables) -> pd.DataFrame:
    """The claims of `tables` marked `control_sets` tested on `control_runs`, as `claims` lines whose `classes`
    names the control set; empty where none applies."""
    chosen = [c.name for c in CLAIMS if c.control_sets and c.table in tables]
    if not len(control) or not chosen:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    lines = []
    for name, runs in control.groupby("classes", sort=False):
        found = _claims(runs, tables)
        lines.append(found[found["claim"].isin(chosen)].assign(classes=name))
    return pd.concat(lines, ignore_index=True)


def _claims(runs: pd.DataFrame, tables, group: str | None = None) -> pd.DataFrame:
    chosen, sides = [], []
    by_name = {c.name: c for c in CLAIMS}
    for claim in CLAIMS:
        if claim.table not in tables or not len(runs):
            continue
        keys, values = _thesis_values(claim)
        if claim.direction_of:
            _, values = _thesis_values(by_name[claim.direction_of])
        mine = runs.assign(key=runs["table"] + " | " + runs["row"] + " | " + runs["protocol"])
        if claim.row_b_choices:
            keys[1], picked = _better_on_validation(mine, claim)
            mine = pd.concat([mine, picked], ignore_index=True)
        if set(keys) <= set(mine["key"]):
            chosen.append((claim.name, claim.table, claim.protocols, *keys, *values))
            sides.append(mine[mine["key"].isin(keys)])
    if not chosen:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    long = pd.concat(sides).drop_duplicates(["key", "split", "seed"])
    vectors = [_vector(text) for text in long["correct"]]
    if group is not None:  # the videos of one class group (the same positions in every run of a split)
        vectors = [v[_letters(g) == ord(group[0])] for v, g in zip(vectors, long["video_groups"], strict=True)]
    long = long.assign(run=long["split"].astype(str) + "/" + long["seed"].astype(str), correct=vectors)
    # runs of one split are tested on the same videos in the same order: the bootstrap draws them once for all
    found = stats.claims_table(
        [(n, a, b, ta, tb) for n, _, _, a, b, ta, tb in chosen],
        long,
        row_column="key",
        run_column="run",
        population_column="split",
    )
    found["evidence"] = [_evidence(long[long["key"].isin([a, b])]) for _, _, _, a, b, *_ in chosen]
    found.insert(1, "table", [f"Table {t}" for _, t, *_ in chosen])
    found["row_a"] = found["row_a"].str.split(" | ", regex=False).str[1]
    found["row_b"] = found["row_b"].str.split(" | ", regex=False).str[1]
    found.insert(4, "protocols", [" vs ".join(p) if p else "" for _, _, p, *_ in chosen])
    found.insert(5, "classes", "all" if group is None else f"{group} only")
    return found[CLAIM_COLUMNS]


def _better_on_validation(runs: pd.DataFrame, claim: recipes.Claim) -> tuple[str, pd.DataFrame]:
    """(its key, the runs of) claim's row B chosen per run: of `claim.row_b_choices`, the row with the higher
    validation Top-1 in that run (the first of a tie), so the choice never looks at the test videos."""
    choices = runs[(runs["table"] == claim.table) & runs["row"].isin(claim.row_b_choices)]
    label = "the better on validation of " + " and ".join(claim.row_b_choices)
    key = f"{claim.table} | {label} | {choices['protocol'].iloc[0] if len(choices) else ''}"
    if not len(choices) or set(choices["row"]) != set(claim.row_b_choices):
        return key, choices.iloc[:0]
    order = {row: i for i, row in enumerate(claim.row_b_choices)}
    ranked = choices.assign(_order=choices["row"].map(order)).sort_values(
        ["split", "seed", "val_top1", "_order"], ascending=[True, True, False, True], kind="stable"
    )
    picked = ranked.drop_duplicates(["split", "seed"]).drop(columns="_order")
    return key, picked.assign(key=key, row=label)


def _evidence(runs: pd.DataFrame) -> str:
    """A short name for the run folders a claim line reads: two claims with the same one (Table 4.1's BERT against
    TGAP and Table 4.3's RGB stream train the same heads) are one piece of evidence, counted once by `holm_p`."""
    return paths.cache_key(runs=sorted(";".join(sorted(runs["runs"].astype(str))).split(";")))


def all_claims(tables_dir: str | Path) -> pd.DataFrame:
    """Every line of the notebooks' `NN_claims.csv` in `tables_dir`, in notebook order, with `holm_p`: Holm's
    adjustment of `p_value` across the profile's claims on all test videos (the family the headline reads), each
    piece of evidence counted once (`same_runs_as` names the claim whose runs a line repeats); controls get none,
    they qualify a claim rather than test one."""
    parts = [
        pd.read_csv(csv, keep_default_na=False, na_values=[""])
        for csv in sorted(Path(tables_dir).glob("[0-9][0-9]_claims.csv"))
    ]
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CLAIM_COLUMNS)
    found["same_runs_as"] = ""
    found["holm_p"] = np.nan
    if not len(found) or "p_value" not in found:
        return found
    main = found[found["classes"] == "all"]
    first = main.drop_duplicates("evidence")
    adjusted = pd.Series(stats.holm(first["p_value"].to_numpy()), index=first["evidence"].to_numpy())
    found.loc[main.index, "holm_p"] = main["evidence"].map(adjusted).to_numpy()
    named = first.set_index("evidence")["claim"]
    repeats = main[~main.index.isin(first.index)]
    found.loc[repeats.index, "same_runs_as"] = repeats["evidence"].map(named).to_numpy()
    return found


def write_all_claims(results: str | Path) -> Path | None:
    """`all_claims` of `results`/tables written as `claims.csv` (and a Markdown twin); None when no notebook tested
    a claim."""
    tables = Path(results) / "tables"
    found = all_claims(tables)
    if not len(found):
        return None
    path = tables / "claims.csv"
    found.to_csv(path, index=False)
    path.with_suffix(".md").write_text(found.drop(columns=["evidence"]).to_markdown(index=False, floatfmt=".3g") + "\n")
    return path


def _thesis_values(claim: recipes.Claim) -> tuple[list[str], list[float]]:
    """(run keys "table | row | protocol", thesis Top-1 or NaN) of a claim's two rows."""
    thesis, keys, values = reference.accuracy(claim.table), [], []
    for row, protocol in zip((claim.row_a, claim.row_b), claim.protocols or (None, None), strict=True):
        recipe = next(r for r in recipes.recipes_for([claim.table]) if r.row == row and protocol in (None, r.protocol))
        match = recipes.thesis_line(recipe, thesis)
        values.append(match["top1"].iloc[0] if len(match) else np.nan)
        keys.append(f"{claim.table} | {row} | {recipe.protocol}")
    return keys, values


CLAIM_COLUMNS = [
    "claim",
    "table",
    "row_a",
    "row_b",
    "protocols",
    "classes",
    "thesis_a",
    "thesis_b",
    "thesis_difference",
    "difference",
    "ci_low",
    "ci_high",
    "seed_ci_low",
    "seed_ci_high",
    "mde",
    "n_runs",
    "n_videos",
    "p_value",
    "mcnemar_p",
    "verdict",
    "evidence",
]
