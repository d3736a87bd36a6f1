"""What a reader sees: one summary per thesis table, its files, figures, displays and sentences computed from
the numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import recipes, reference, stats, thesis
from ..engine.records import machine_summary
from ..paths import repo_root
from ..profiles import PROFILES
from ..recipes import CLAIMS, Recipe
from .controls import CLASS_GROUPS, CONTROL_CLASSES
from .execute import _correct
from .planner import Plan, plans


def _status(recipe: Recipe, planned: list[Plan], cfg) -> tuple[str, str]:
    """(status, what ran differently from the thesis) of a row under `cfg`."""
    reasons = [p.reason for p in planned if p.reason]
    if recipe.unsupported or reasons:
        where = "" if recipe.unsupported else f" under the {cfg.name} profile"
        return f"not run{where}: {recipe.unsupported or reasons[0]}", ""
    return "run", "; ".join(dict.fromkeys(c for p in planned for c in p.changes))


# The columns of every `summary` table, whatever the profile.
COLUMNS = (
    "table",
    "row",
    "ours",
    "dataset",
    "modality",
    "protocol",
    "n_runs",
    "videos",
    "top1",
    "top1_ci_low",
    "top1_ci_high",
    "top1_std",
    "top3",
    "reversed_pairs",
    "top1_appearance",
    "top1_reversed",
    "top1_speed",
    "train_top1",
    "thesis_dataset",
    "thesis_top1",
    "thesis_rank",
    "our_rank",
    "splits",
    "status",
    "ran_as",
    "note",
)


def summary(runs: pd.DataFrame, rows, cfg) -> pd.DataFrame:
    """One line per row (and protocol): mean Top-1 over its runs with the 95 % interval of a bootstrap over runs
    and test videos (`stats.accuracy_interval`), the spread over runs (blank for one run), Top-3, the reversed-pair
    accuracy and the Top-1 of each synthetic class group (`CLASS_GROUPS`), beside the thesis's Top-1 and both
    ranks; rows not run keep their reason in `status`.

    The columns are the same under every profile. There is no "ours - thesis" column: a synthetic number minus an
    HMDB51 one means nothing, and even on HMDB51 one difference without the thesis's spread says little; the ranks
    compare orderings and `claims` the thesis's comparisons.
    """

    thesis = pd.concat([reference.accuracy(t) for t in dict.fromkeys(r.table for r in rows)])
    out = []
    for recipe in rows:
        planned = plans(recipe, cfg)
        status, ran_as = _status(recipe, planned, cfg)
        match = recipes.thesis_line(recipe, thesis)
        base = {
            "table": recipe.table,
            "row": recipe.row,
            "ours": reference.is_ours(recipe.row),
            "dataset": cfg.dataset if cfg.synthetic is not None else recipe.dataset,
            "thesis_dataset": recipe.dataset,
            "thesis_top1": match["top1"].iloc[0] if len(match) else np.nan,
            "protocol": recipe.protocol,
            "status": status,
            "ran_as": ran_as,
            "note": recipes.POSE_NOTE if any(p.modality == "pose" for p in planned) else "",
        }
        mine = (
            runs[
                (runs["table"] == recipe.table)
                & (runs["row"] == recipe.row)
                & (runs["dataset"] == recipe.dataset)
                & (runs["protocol"] == recipe.protocol)
            ]
            if len(runs)
            else runs
        )
        if not len(mine):
            out.append(base)
            continue
        interval = stats.accuracy_interval(list(_correct(mine).values()))
        out.append(
            {
                **base,
                "modality": mine["modality"].iloc[0],
                "n_runs": interval["n_runs"],
                "videos": int(mine["videos"].iloc[0]),
                "top1": interval["top1"],
                "top1_ci_low": interval["top1_ci_low"],
                "top1_ci_high": interval["top1_ci_high"],
                "top1_std": interval["top1_std"],
                "top3": mine["top3"].mean(),
                "reversed_pairs": mine["reversed_pairs"].mean(),
                "train_top1": mine["train_top1"].mean(),
                **{f"top1_{g}": mine[f"top1_{g}"].mean() for g in CLASS_GROUPS if f"top1_{g}" in mine},
                "splits": ",".join(map(str, sorted(set(mine["split"])))),
            }
        )
    table = pd.DataFrame.from_records(out)
    for name, part in table.groupby("table", sort=False):
        reference.require_thesis_values(name, part["row"], part["thesis_top1"])
    for column in COLUMNS:
        if column not in table:
            table[column] = np.nan
    ranked = table["top1"].notna() & ~table["ours"]
    for name, rank_of in (("thesis_rank", "thesis_top1"), ("our_rank", "top1")):
        table[name] = table[ranked].groupby(["table", "protocol"])[rank_of].rank(ascending=False, method="min")
    for column in ("n_runs", "videos", "thesis_rank", "our_rank"):  # counts and ranks: integers, blank if missing
        table[column] = table[column].astype("Int64")
    table = table[list(COLUMNS)]
    table["table"] = "Table " + table["table"]  # a label, not a number ("3.9" would print as 3.90)
    return table


def table_of(summary_table: pd.DataFrame, table: str) -> pd.DataFrame:
    """One thesis table's lines of a `summary` (e.g. "3.3")."""
    return summary_table[summary_table["table"] == f"Table {table}"].reset_index(drop=True)


def save_table(df: pd.DataFrame, results: str | Path, name: str, floatfmt: str = ".2f", *, profile) -> Path:
    """Write `results/tables/<name>.csv` and its Markdown twin; returns the CSV path.

    Both carry the profile that made them (a `profile` column in the CSV, a `Profile: ...` line above the
    Markdown table): the tables of every profile look alike, and a test-profile table must not pass for a
    published one. `profile` is the notebook's resolved profile (`cfg`, whose device and dataset are stated
    too) or a profile name. Both name the machine too (a `machine` column, a `Machine: ...` line): the same
    code gives numbers a few points apart on another processor, which the intervals are there to cover.
    """
    cfg = PROFILES.get(profile) if isinstance(profile, str) else profile
    label = profile if isinstance(profile, str) else profile.name
    about = f" ({str(cfg.device).upper()}, {cfg.dataset} data)" if cfg is not None else ""
    folder = Path(results) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    machine = machine_summary()
    df.assign(profile=label, machine=machine).to_csv(csv, index=False)
    markdown = df.to_markdown(index=False, floatfmt=floatfmt)
    csv.with_suffix(".md").write_text(f"Profile: {label}{about}\nMachine: {machine}\n\n{markdown}\n")
    return csv


SHOWN = [
    "row",
    "modality",
    "protocol",
    "thesis_top1",
    "top1",
    "top1_ci_low",
    "top1_ci_high",
    "top1_std",
    "n_runs",
    "thesis_rank",
    "our_rank",
    "top3",
    "reversed_pairs",
    "status",
    "ran_as",
]


def show(table: pd.DataFrame, columns=SHOWN, figure: bool = True) -> None:
    """Display a summary as a reader wants it: what every row's run changed and why rows did not run, said once
    above the table; the informative columns with one decimal and blanks for what was not measured; its figure."""
    from IPython.display import Image, Markdown, display

    shown = table[[c for c in columns if c in table]].copy()
    notes = []
    if "ran_as" in shown:
        parts = [[p for p in str(r).split("; ") if p] if isinstance(r, str) else [] for r in shown["ran_as"]]
        ran = [p for p in parts if p]
        common = [p for p in ran[0] if all(p in other for other in ran)] if ran else []
        if common:
            notes.append("**Every row that ran:** " + "; ".join(common) + ".")
        shown["ran_as"] = ["; ".join(p for p in row if p not in common) for row in parts]
        if not shown["ran_as"].str.len().any():
            shown = shown.drop(columns="ran_as")
    if "status" in shown:
        reasons = shown.loc[shown["status"] != "run", ["row", "status"]]
        for reason, rows in reasons.groupby("status", sort=False)["row"]:
            notes.append(
                f"**{reason.split(': ', 1)[0].capitalize()}** ({', '.join(rows)}): {reason.split(': ', 1)[-1]}"
            )
        shown["status"] = shown["status"].str.split(":").str[0]
    if notes:
        display(Markdown("\n\n".join(notes)))
    display(shown.style.hide(axis="index").format(precision=1, na_rep=""))
    if figure and Path(table.attrs.get("figure", "")).is_file():
        display(Image(filename=table.attrs["figure"]))


CLAIM_SHOWN = [
    "claim",
    "classes",
    "thesis_difference",
    "difference",
    "ci_low",
    "ci_high",
    "n_runs",
    "n_videos",
    "verdict",
]


def show_claims(found: pd.DataFrame) -> None:
    """The claims' table as a reader wants it: the thesis's difference A - B beside ours with its interval."""
    from IPython.display import Markdown, display

    if not len(found):
        display(Markdown("*No claim of these tables ran under this profile.*"))
        return
    shown = found[CLAIM_SHOWN].rename(
        columns={
            "thesis_difference": "thesis A - B",
            "difference": "ours A - B",
            "ci_low": "95 % from",
            "ci_high": "to",
            "n_runs": "runs",
        }
    )
    display(shown.style.hide(axis="index").format(precision=1, na_rep=""))
    if found["difference"].notna().any():  # the figure run_notebook saved as NN_claims.png
        fig = plot_claims(found, "The thesis's claims: ours against the thesis's difference")
        display(fig)
        _close(fig)


def claim_sentences(found: pd.DataFrame) -> list[str]:
    """One sentence per claim, from the numbers: what the thesis found, what we found, and the verdict."""
    out = []
    for c in found.itertuples():
        side = c.row_a if c.thesis_difference > 0 else c.row_b
        thesis = "equal" if c.thesis_difference == 0 else f"{side} ahead by {abs(c.thesis_difference):.2f} points"
        if c.classes.startswith("control set: "):
            videos = f"{c.n_videos} test videos of the control set ({c.classes.split(': ', 1)[1]})"
        else:
            videos = f"{c.n_videos} test videos" + (
                "" if c.classes == "all" else f" of {c.classes.removesuffix(' only')} classes"
            )
        out.append(
            f"{c.claim}{'' if c.classes == 'all' else f' ({c.classes})'}: the thesis found {thesis}; here A - B = "
            f"{c.difference:+.1f} points (95 % interval {c.ci_low:+.1f} to {c.ci_high:+.1f}, {c.n_runs} run(s) of "
            f"{videos}): **{c.verdict}**."
        )
    return out


def teacher_sentences(runs: pd.DataFrame) -> list[str]:
    """One sentence per distillation claim: the teacher's own Top-1 beside the student's without distillation, on
    the same test videos and runs. Distillation can only pass on what the teacher knows: a teacher weaker than its
    student is not the setting the thesis tested."""
    if not len(runs) or "teacher_top1" not in runs:
        return []
    out = []
    for c in CLAIMS:
        mine = runs[runs["table"] == c.table]
        taught = mine[(mine["row"] == c.row_a) & mine["teacher_top1"].notna()]
        alone = mine[mine["row"] == c.row_b]
        if not len(taught) or not len(alone):
            continue
        teacher, student = taught["teacher_top1"].mean(), alone["top1"].mean()
        out.append(
            f"{c.name}: the teacher reached {teacher:.1f} % Top-1 on these test videos, the student without "
            f"distillation {student:.1f} % (means of {len(taught)} and {len(alone)} runs): the teacher was "
            f"{'stronger' if teacher > student else 'weaker'} than its student here."
        )
    return out


def readme_claims(tables_dir: str | Path) -> str:
    """The README's headline from the committed `NN_claims.csv` tables, in notebook order: one line per claim (all
    test videos, then its appearance-classes control), and one per claim tested on a control dataset. The README
    holds this text between `<!-- claims -->` markers and a test keeps the two equal: the headline is the table."""

    def cell(line) -> str:
        return f"{line.difference:+.1f} [{line.ci_low:+.1f}, {line.ci_high:+.1f}]"

    main = [
        "| claim (A against B) | table | thesis A - B | ours A - B [95 % interval] | verdict | "
        "appearance classes only | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    sets = [
        "| claim (A against B) | table | control dataset | ours A - B [95 % interval] | videos | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for csv in sorted(Path(tables_dir).glob("[0-9][0-9]_claims.csv")):
        found = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        for claim, lines in found.groupby("claim", sort=False):
            first = lines.iloc[0]
            table = first.table.removeprefix("Table ")
            control = lines[lines["classes"] == f"{CONTROL_CLASSES} only"]
            other = f"{cell(control.iloc[0])} | {control.iloc[0].verdict}" if len(control) else " | "
            main.append(
                f"| {claim} | {table} | {first.thesis_difference:+.2f} | {cell(first)} | {first.verdict} | {other} |"
            )
            for line in lines[lines["classes"].str.startswith("control set: ")].itertuples():
                sets.append(
                    f"| {claim} | {table} | {line.classes.removeprefix('control set: ')} | {cell(line)} | "
                    f"{line.n_videos} | {line.verdict} |"
                )
    return "\n".join(main) + ("\n\n" + "\n".join(sets) if len(sets) > 2 else "") + "\n"


def ordering_note(table: pd.DataFrame, name: str) -> str:
    """One sentence on a table: our best row with its interval, the thesis's best, and which rows our interval
    cannot tell apart from our best (with one run on a small test set, most of them)."""
    ran = table[(table["status"] == "run") & ~table["ours"].astype(bool)].dropna(subset=["top1"])
    if not len(ran) and len(table):
        return f"{name}: no row ran under this profile: {str(table['status'].iloc[0]).split(': ', 1)[-1]}."
    if len(ran) < 2:
        return ""
    best = ran.loc[ran["top1"].idxmax()]
    thesis_best = ran.loc[ran["thesis_top1"].idxmax()]
    tied = ran[(ran["top1_ci_high"] >= best["top1_ci_low"]) & (ran["row"] != best["row"])]
    same = (
        "the same row"
        if best["row"] == thesis_best["row"]
        else f"{thesis_best['row']} ({thesis_best['thesis_top1']:.2f} %)"
    )
    return (
        f"{name}: best here {best['row']} ({best['top1']:.1f} %, 95 % interval {best['top1_ci_low']:.0f}-"
        f"{best['top1_ci_high']:.0f}, {int(best['n_runs'])} run(s)); the thesis's best of these rows: {same}. "
        f"{len(tied)} of the other {len(ran) - 1} rows have intervals that overlap it: "
        + ("the ordering is not established here." if len(tied) else "it is ahead of all of them here.")
    )


def with_complexity(table: pd.DataFrame, results: str | Path | None = None) -> pd.DataFrame:
    """`table` (a summary) with the parameters and operations of each row's network(s), ours beside the thesis's
    (`results/tables/complexity.csv`, counted at full size whatever the profile)."""
    ids = {r.row: recipes.complexity_id(r) for r in recipes.RECIPES if f"Table {r.table}" in set(table["table"])}
    wanted = [i for i in dict.fromkeys(ids.values()) if i]
    counts = complexity_rows(wanted, results).set_index("id") if wanted else pd.DataFrame()
    out = table.copy()
    out["complexity_id"] = out["row"].map(ids)
    for column in ("params_m", "thesis_params_m", "ops_g", "thesis_ops_g"):
        out[column] = out["complexity_id"].map(counts[column]) if len(counts) else np.nan
    return out


def complexity_rows(ids, results: str | Path | None = None) -> pd.DataFrame:
    """Our parameter and operation counts for spec ids, read from `results/tables/complexity.csv`.

    That table is regenerated by `actionlib complexity --out results/tables/complexity.csv` (`make reproduce`
    runs it first); ids missing from it are counted now, at full size (slow for the large 3D models).
    """
    table = Path(results or repo_root() / "results") / "tables" / "complexity.csv"
    known = pd.read_csv(table) if table.is_file() else pd.DataFrame(columns=["id"])
    missing = [i for i in ids if i not in set(known["id"])]
    if missing:
        known = pd.concat([known, thesis.complexity_table(reference.COMPLEXITY, missing)], ignore_index=True)
    return known.set_index("id").loc[list(ids)].reset_index()


def per_split(runs: pd.DataFrame, table: str) -> pd.DataFrame:
    """Top-1 of each row on each split beside the thesis's per-split values (Appendix C.3/C.4)."""
    thesis = reference.accuracy(table)
    thesis = thesis[thesis["split"].astype(str) != "avg3"].assign(split=lambda d: d["split"].astype(int))
    thesis = thesis.rename(columns={"top1": "thesis_top1"})[["row", "split", "thesis_top1"]]
    mine = runs[runs["table"] == table] if len(runs) else runs
    ours = (
        mine.groupby(["row", "split"], as_index=False)["top1"].mean()
        if len(mine)
        else pd.DataFrame(columns=["row", "split", "top1"])
    )
    return thesis.merge(ours, on=["row", "split"], how="left")


def plot_table(table: pd.DataFrame, title: str, path: str | Path | None = None):
    """Our Top-1 (with its 95 % interval) beside the thesis's, one bar pair per row; where the data have class
    groups (synthetic), the reversed-pair accuracy and the Top-1 per class group beside it. Axes start at zero,
    legends sit outside the bars. Returns the figure (saved to `path` if given)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    shown = table.dropna(subset=["top1"])
    pairs = shown["reversed_pairs"].notna().any()
    groups = [g for g in CLASS_GROUPS if f"top1_{g}" in shown and shown[f"top1_{g}"].notna().any()]
    panels = 1 + bool(pairs) + bool(groups)
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(4 + 4 * panels, 0.45 * max(len(table), 3) + 2.2),
        squeeze=False,
        sharey=True,
        gridspec_kw={"width_ratios": [1.4] + [1] * (panels - 1)},
    )
    ax = axes[0, 0]
    y = np.arange(len(table))
    ax.barh(y - 0.2, table["thesis_top1"], height=0.4, color="tab:gray", label="thesis (HMDB51)")
    ours = table["top1"].to_numpy(dtype=float)
    errors = np.vstack(
        [ours - table["top1_ci_low"].to_numpy(dtype=float), table["top1_ci_high"].to_numpy(dtype=float) - ours]
    )
    ax.barh(y + 0.2, ours, height=0.4, xerr=np.nan_to_num(errors), color="tab:blue", label="ours (95 % interval)")
    labels = table["row"] if table["protocol"].nunique() <= 1 else table["row"] + " (" + table["protocol"] + ")"
    ax.set(yticks=y, yticklabels=labels, xlim=(0, 100), xlabel="Top-1 (%)")
    ax.invert_yaxis()
    below = {
        "loc": "upper left",
        "bbox_to_anchor": (0, -0.06 - 1.2 / (len(table) + 4)),
        "fontsize": 8,
        "frameon": False,
    }  # under the x-axis label, off the bars
    ax.legend(ncol=2, **below)
    panel = 1
    if pairs:
        ax2 = axes[0, panel]
        ax2.barh(y, table["reversed_pairs"], color="tab:orange")
        ax2.axvline(50, color="black", ls="--", lw=1)
        ax2.set(xlim=(0, 100), xlabel="reversed-pair accuracy (%; 50 = blind to order)")
        panel += 1
    if groups:
        ax3 = axes[0, panel]
        height = 0.8 / len(groups)
        for i, (group, color) in enumerate(zip(groups, ("tab:green", "tab:purple", "tab:olive"), strict=False)):
            ax3.barh(y - 0.4 + height * (i + 0.5), table[f"top1_{group}"], height=height, color=color, label=group)
        ax3.set(xlim=(0, 100), xlabel="ours: Top-1 per class group (%)")
        ax3.legend(ncol=len(groups), **below)
    fig.suptitle(title)
    return _finish(fig, path)


def plot_claims(found: pd.DataFrame, title: str, path: str | Path | None = None):
    """The claims as a forest plot: our paired difference A - B with its 95 % interval, coloured by verdict, and the
    thesis's difference beside it (a white diamond), around a line at zero. Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(13, 0.5 * max(len(found), 2) + 1.8))
    y = np.arange(len(found))
    colors = found["verdict"].map({"agrees": "tab:green", "disagrees": "tab:red"}).fillna("tab:gray")
    ours = found["difference"].to_numpy(dtype=float)
    errors = np.vstack([ours - found["ci_low"].to_numpy(dtype=float), found["ci_high"].to_numpy(dtype=float) - ours])
    for i, color in enumerate(colors):  # errorbar takes one colour per call
        ax.errorbar(
            ours[i], y[i], xerr=np.nan_to_num(errors[:, i : i + 1]), fmt="none", ecolor=color, elinewidth=2, capsize=3
        )
    ax.scatter(
        ours, y, c=list(colors), zorder=3, label="ours, 95 % interval (green agrees, red disagrees, grey within noise)"
    )
    ax.scatter(
        found["thesis_difference"],
        y,
        marker="D",
        facecolor="white",
        edgecolor="black",
        zorder=4,
        label="thesis (HMDB51)",
    )
    ax.axvline(0, color="black", lw=1)
    labels = found["claim"] + " (" + found["table"].astype(str) + ")"
    if "classes" in found:  # a control line: the same claim on one class group's videos
        labels = labels.where(found["classes"] == "all", "    ... " + found["classes"].astype(str))
    ax.set(yticks=y, yticklabels=labels, xlabel="Top-1 difference A - B (points)", title=title)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.1 - 0.6 / (len(found) + 3)), fontsize=8, frameon=False)
    return _finish(fig, path)


def _finish(fig, path: str | Path | None):
    """Lay the figure out and save it to `path` if given (the legends below the axes included)."""
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)
