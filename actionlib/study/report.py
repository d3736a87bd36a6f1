"""What a reader sees: one summary per thesis table, its files, figures, displays and sentences computed from
the numbers."""

from __future__ import annotations

import contextlib
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from .. import recipes, reference, stats, thesis
from ..engine.records import machine_summary
from ..models.classifier import MODALITY_DROPOUT
from ..paths import repo_root
from ..profiles import PROFILES
from ..recipes import CLAIMS, Recipe
from .controls import CLASS_GROUPS, CONTROL_CLASSES
from .execute import _correct
from .planner import Plan, plans
from .verdicts import all_claims


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
    """One line per row (and protocol): mean Top-1 over the runs every row of its table has (`_shared_runs`) with
    the 95 % interval of a bootstrap over runs and test videos (`stats.accuracy_interval`), the spread over runs (blank for one run), Top-3, the reversed-pair
    accuracy and the Top-1 of each synthetic class group (`CLASS_GROUPS`), beside the thesis's Top-1 and both
    ranks; rows not run keep their reason in `status`.

    The columns are the same under every profile. There is no "ours - thesis" column: a synthetic number minus an
    HMDB51 one means nothing, and even on HMDB51 one difference without the thesis's spread says little; the ranks
    compare orderings and `claims` the thesis's comparisons.
    """

    thesis = pd.concat([reference.accuracy(t) for t in dict.fromkeys(r.table for r in rows)])
    shared = _shared_runs(runs)
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
            # the generated set renders its pose frames itself: MediaPipe runs on the dataset's files only
            "note": recipes.POSE_NOTE if cfg.synthetic is None and any(p.modality == "pose" for p in planned) else "",
        }
        mine = (
            runs[
                (runs["table"] == recipe.table)
                & (runs["row"] == recipe.row)
                & (runs["thesis_dataset" if "thesis_dataset" in runs else "dataset"] == recipe.dataset)
                & (runs["protocol"] == recipe.protocol)
            ]
            if len(runs)
            else runs
        )
        if not len(mine):
            out.append(base)
            continue
        common = shared.get(recipe.table)
        if common:  # the runs every row of the table has: a mean over five seeds beside one over seed 0 ranks seeds
            mine = mine[[(s, e) in common for s, e in zip(mine["split"], mine["seed"], strict=True)]]
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
                "note": "; ".join(n for n in (base["note"], _under_probe(mine, interval["top1"], planned)) if n),
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


UNDER_PROBE = 5.0
"""Points of test Top-1 under the linear probe on the same frozen features (`features.probe`) beyond which a
row's `note` says so: a head that cannot reach what a logistic regression on its pooled features reaches is not
trained to its best, and a comparison against it says little about its pooling."""


def _under_probe(mine: pd.DataFrame, top1: float, planned: list[Plan]) -> str:
    """The `note` of a head row testing more than `UNDER_PROBE` points under its probe: by how much, and the
    dropout before its classifier where it is the thesis's heavy one (a head trained with dropout 0.8 on a few
    hundred videos keeps a low training Top-1, measured with the dropout on); "" otherwise."""
    probe = mine["probe_top1"].mean() if "probe_top1" in mine else np.nan
    if not probe - top1 > UNDER_PROBE or len(planned) != 1:
        return ""
    note = f"{probe - top1:.1f} points under a linear probe on the same frozen features ({probe:.1f} %)"
    dropout = planned[0].options.get("dropout", MODALITY_DROPOUT.get(planned[0].modality, 0.0))
    if dropout >= 0.5:
        note += f", with the thesis's dropout {dropout:g} before its classifier"
    return note


def _shared_runs(runs: pd.DataFrame) -> dict[str, set]:
    """Per table, the (split, seed) runs that every row of it that ran has (empty where they share none: then each
    row keeps its own, and `n_runs` and `splits` say so). The rows a claim compares run more seeds; the claims use
    all of them, a table only what all its rows share."""
    if not len(runs):
        return {}
    out = {}
    for table, part in runs.groupby("table", sort=False):
        sets = [set(zip(g["split"], g["seed"], strict=True)) for _, g in part.groupby(["row", "protocol"])]
        out[table] = set.intersection(*sets)
    return out


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
    A missing value is a blank in the Markdown, as on the pages (not `nan`); `df.attrs["csv"]` keeps the path
    for `show`, which links the full table.
    """
    cfg = PROFILES.get(profile) if isinstance(profile, str) else profile
    label = profile if isinstance(profile, str) else profile.name
    about = f" ({str(cfg.device).upper()}, {cfg.dataset} data)" if cfg is not None else ""
    folder = Path(results) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    machine = machine_summary()
    df.assign(profile=label, machine=machine).to_csv(csv, index=False)
    blanked = df.astype(object).where(df.notna(), None)  # tabulate prints None as `missingval`
    markdown = blanked.to_markdown(index=False, floatfmt=floatfmt, missingval="")
    csv.with_suffix(".md").write_text(f"Profile: {label}{about}\nMachine: {machine}\n\n{markdown}\n")
    df.attrs["csv"] = str(csv)
    return csv


# The summary columns a page shows (`compact`), and the headings it gives them and a few others.
SHOWN = ["row", "protocol", "thesis_top1", "top1", "n_runs", "reversed_pairs", "verdict", "ran_as"]
HEADINGS = {
    "thesis_top1": "thesis",
    "top1": "ours [95 % interval]",
    "n_runs": "runs",
    "reversed_pairs": "reversed pairs",
    "ran_as": "also changed",
    "params_m": "params (M)",
    "ops_g": "ops (G)",
    "counts_equal": "counts = thesis",
}


def _text(value, decimals: int = 1) -> str:
    """A cell as a page prints it: blank when missing, `decimals` for fractions, yes/no for booleans."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{decimals}f}"
    return str(value)


def _ours(row: dict) -> str:
    """Our Top-1 and its 95 % interval in one cell: "48.6 [41.0, 56.2]"."""
    top1, low, high = row.get("top1"), row.get("top1_ci_low"), row.get("top1_ci_high")
    if _text(top1) == "":
        return ""
    return f"{top1:.1f}" if _text(low) == "" else f"{top1:.1f} [{low:.1f}, {high:.1f}]"


def _labels(table: pd.DataFrame, keys=("thesis_dataset", "split")) -> pd.Series:
    """Each row's name, with those of `keys` that differ between the rows (a table can have a row per dataset
    or split)."""
    varying = [k for k in keys if k in table and table[k].nunique() > 1]
    extra = table[varying].astype(str).apply(", ".join, axis=1) if varying and len(table) else None
    names = table["row"].astype(str)
    if "thesis_dataset" in varying:
        extra = extra.str.upper()
    return names if extra is None else names + " (" + extra + ")"


def _ran(table: pd.DataFrame) -> pd.Series:
    """The rows with a Top-1 of ours (every row of a table without that column)."""
    return table["top1"].notna() if "top1" in table else pd.Series(True, index=table.index)


def _changes(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(what every row that ran did differently from the thesis, what each row did besides), from `ran_as`."""
    values = table["ran_as"] if "ran_as" in table else [""] * len(table)
    parts = [[p for p in r.split("; ") if p] if isinstance(r, str) else [] for r in values]
    ran = [p for p in parts if p]
    common = [p for p in ran[0] if all(p in other for other in ran)] if ran else []
    return common, [[p for p in row if p not in common] for row in parts]


def compact(table: pd.DataFrame, columns=()) -> pd.DataFrame:
    """`table`'s rows as a page shows them, in text: the row (and its protocol where there are several), the
    thesis's Top-1, ours with its 95 % interval in one cell, the runs, the reversed-pair accuracy, the verdict,
    `columns`, and what the row changed besides what every row changed. Empty columns are left out: a summary
    has 26 columns, a page's text column room for about six."""
    out = {"row": _labels(table, ("thesis_dataset",))}
    if "protocol" in table and table["protocol"].nunique() > 1:
        out["protocol"] = table["protocol"].map(_text)
    if "thesis_top1" in table:
        out[HEADINGS["thesis_top1"]] = table["thesis_top1"].map(lambda v: _text(v, 2))  # the thesis's precision
    if "top1" in table:
        out[HEADINGS["top1"]] = [_ours(r) for r in table.to_dict("records")]
    for column in dict.fromkeys(("n_runs", "reversed_pairs", "verdict", *columns)):
        if column in table and column not in ("row", "protocol", "thesis_top1", "top1", "ran_as"):
            decimals = 0 if column == "n_runs" else 1
            out[HEADINGS.get(column, column)] = [_text(v, decimals) for v in table[column]]
    out[HEADINGS["ran_as"]] = ["; ".join(p) for p in _changes(table)[1]]
    view = pd.DataFrame(out).reset_index(drop=True)
    return view[[c for c in view if c == "row" or (view[c] != "").any()]]


def not_run(table: pd.DataFrame) -> str:
    """One line for the rows of `table` without a Top-1 of ours: how many, which (where others ran and they are
    few) and why, each reason once (their `status`); "" when every row ran."""
    missing = table[~_ran(table)]
    if not len(missing):
        return ""
    statuses = missing["status"].fillna("not run") if "status" in missing else pd.Series("not run", missing.index)
    labels = _labels(missing)
    named = len(missing) < len(table) and labels.nunique() <= 8
    heads, parts = set(), []
    for status, names in labels.groupby(statuses, sort=False):
        head, _, reason = str(status).partition(": ")
        heads.add(head)
        names = ", ".join(dict.fromkeys(names)) if named else ""
        parts.append(f"{names} ({reason.rstrip('.')})" if names and reason else names or reason.rstrip("."))
    head = heads.pop() if len(heads) == 1 else "not run"
    count = f"{len(missing)} of {len(table)} rows" if len(missing) < len(table) else f"{len(missing)} rows"
    name = f"**{table['table'].iloc[0]}**: " if "table" in table and table["table"].nunique() == 1 else ""
    parts = [p for p in parts if p]
    return f"{name}{count} {head}" + (": " + "; ".join(parts) if parts else "") + "."


def _csv_link(table: pd.DataFrame) -> str:
    """A link to the table's CSV (`save_table`), relative to the executed notebook and to its page alike."""
    csv = table.attrs.get("csv")
    if not csv:
        return ""
    name = Path(csv).name
    return f"Every row and column: [{name}](../tables/{name})."


def show(table: pd.DataFrame, columns=(), figure: bool = True, fold: bool = True) -> None:
    """Display a summary as a reader wants it (`compact`, which fits a page's column): what every row that ran
    changed, said once above the table; the rows that did not run folded into one line below it (`not_run`), a
    link to the full table, and the figure where a row ran. `columns` adds columns (e.g. "params_m");
    `fold=False` keeps the rows that did not run (a table whose point is not the runs, e.g. the counts)."""
    from IPython.display import Markdown, display

    ran = _ran(table)
    shown = table[ran] if fold else table
    if len(shown):
        common, _ = _changes(table[ran])
        if common:
            display(Markdown("**Every row that ran:** " + "; ".join(common) + "."))
        view = compact(shown, columns)
        ours = [c for c in view if c == HEADINGS["top1"]]
        display(view.style.hide(axis="index").set_properties(subset=ours, **{"white-space": "nowrap"}))
    if "note" in shown and len(notes := _notes(shown)):
        display(Markdown(notes))
    below = " ".join(line for line in (not_run(table) if fold else "", _csv_link(table)) if line)
    if below:
        display(Markdown(below))
    path = table.attrs.get("figure", "")
    if figure and ran.any() and path and Path(path).is_file():
        display_folded_figure(path, "Figure: ours against the thesis, row by row")


def _notes(shown: pd.DataFrame) -> str:
    """The rows' notes below their table, each note once with the rows it is about ("every row" where all)."""
    lines = []
    notes = shown["note"].fillna("")
    for note, labels in _labels(shown).groupby(notes, sort=False):
        if note:
            which = "every row" if len(labels) == len(shown) else ", ".join(dict.fromkeys(labels))
            lines.append(f"- {which}: {note}.")
    return "\n".join(lines)


def folded(summary: str, html: str) -> str:
    """`html` folded under a one-line `summary` a reader opens with a click: a page keeps its tables in view
    (a notebook page was 6,000-9,000 px tall at 1280 px with every figure and control line open)."""
    return f"<details><summary>{summary}</summary>\n{html}\n</details>"


def display_folded_figure(path: str | Path, summary: str) -> None:
    """Display the figure at `path` folded (`folded`), as wide as the text column, linking to the file itself
    (click to enlarge): `../figures/<name>` from an executed notebook (results/executed/) and from a site page
    alike. The image is embedded, so the notebook shows it wherever it is opened; viewers without HTML get the
    PNG."""
    import base64

    from IPython.display import display

    name = Path(path).name
    encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    image = f'<img src="data:image/png;base64,{encoded}" alt="{Path(name).stem}" style="width: 100%">'
    html = folded(summary, f'<a href="../figures/{name}">{image}</a>')
    display({"text/html": html, "image/png": encoded}, raw=True)


class _LogLines:
    """A stdout that writes the lines `pattern` matches to `log` (through `clean`) and passes the others on, whole
    lines only."""

    def __init__(self, out, log, pattern, clean):
        self.out, self.log, self.pattern, self.clean, self.pending = out, log, pattern, clean, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if self.pattern.match(line):
                self.log.write(self.clean(line) + "\n")
            else:
                self.out.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        self.out.flush()

    def __getattr__(self, name):
        return getattr(self.out, name)


@contextlib.contextmanager
def training_log(number: str, results_dir=None, profile: str | None = None):
    """Within the block, the training's log lines (each epoch's metrics, the `--resume` notes:
    `reproduce.rendering.LOG_LINE`) go to `<results>/logs/<number>.log` instead of under the cell, where hundreds of
    them buried the tables: JupyterLab shows the progress bar, the page links the log. The results folder is the
    notebook's (`paths.results_dir(results_dir, profile)`); other output passes through. The log names this
    machine's folders as the pages do (`<repo>/runs/...`)."""
    from ..paths import results_dir as results_folder
    from ..reproduce.rendering import LOG_LINE, hide_paths, machine_roots

    path = results_folder(results_dir, profile) / "logs" / f"{number}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    out = sys.stdout
    with open(path, "w", encoding="utf-8") as log:
        roots = machine_roots()
        sys.stdout = lines = _LogLines(out, log, LOG_LINE, lambda line: hide_paths(line, roots))
        try:
            yield path
        finally:
            sys.stdout = out
            if lines.pending:
                out.write(lines.pending)
    if not path.stat().st_size:  # nothing trained: no empty file to link
        path.unlink()


def _claims_view(found: pd.DataFrame) -> pd.DataFrame:
    """The claims as the pages show them: one cell for our difference and its interval, one for the interval over
    runs alone, the smallest difference the design detects, the verdict."""

    def signed(value) -> str:
        return "" if pd.isna(value) else f"{value:+.1f}"

    return pd.DataFrame(
        {
            "claim": found["claim"],
            "videos": found["classes"],
            "thesis A - B": found["thesis_difference"].map(lambda v: f"{v:+.2f}"),
            "ours A - B [95 %]": [
                f"{signed(d)} [{signed(lo)}, {signed(hi)}]"
                for d, lo, hi in zip(found["difference"], found["ci_low"], found["ci_high"], strict=True)
            ],
            "runs [over runs]": [
                f"{n}" if pd.isna(lo) else f"{n} [{signed(lo)}, {signed(hi)}]"
                for n, lo, hi in zip(
                    found["n_runs"], found.get("seed_ci_low", np.nan), found.get("seed_ci_high", np.nan), strict=False
                )
            ],
            "detectable": found["mde"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}") if "mde" in found else "",
            "verdict": found["verdict"],
        }
    )


def show_claims(found: pd.DataFrame) -> None:
    """The claims' table as a reader wants it: the thesis's difference A - B beside ours with its interval."""
    from IPython.display import HTML, Markdown, display

    if not len(found):
        display(Markdown("*No claim of these tables ran under this profile.*"))
        return
    main = found["classes"] == "all" if "classes" in found else pd.Series(True, index=found.index)
    display(_claims_view(found[main]).style.hide(axis="index"))
    controls = found[~main]
    if len(controls):
        table = _claims_view(controls).style.hide(axis="index").to_html()
        display(HTML(folded(f"Controls: the same claims on {_control_names(controls)} ({len(controls)} lines)", table)))
    shown = found[main & found["difference"].notna()]
    if len(shown):  # NN_claims.png (run_notebook) has the control lines too
        fig = plot_claims(shown, "The thesis's claims: ours against the thesis's difference")
        display(fig)
        _close(fig)


def _control_names(controls: pd.DataFrame) -> str:
    """The control lines' videos in words: "the appearance classes' videos and 2 control datasets"."""
    sets = controls["classes"].str.startswith("control set: ")
    parts = []
    if (~sets).any():
        groups = controls.loc[~sets, "classes"].str.removesuffix(" only").unique()
        parts.append(" and ".join(f"the {g} classes' videos" for g in groups))
    if sets.any():
        count = controls.loc[sets, "classes"].nunique()
        parts.append("one control dataset" if count == 1 else f"{count} control datasets")
    return " and ".join(parts)


def claim_sentences(found: pd.DataFrame) -> list[str]:
    """One sentence per claim on all test videos, from the numbers: what the thesis found, what we found, and the
    verdict (the control lines are in `show_claims`'s folded table)."""
    out = []
    if "classes" in found:
        found = found[found["classes"] == "all"]
    for c in found.itertuples():
        side = c.row_a if c.thesis_difference > 0 else c.row_b
        thesis = "equal" if c.thesis_difference == 0 else f"{side} ahead by {abs(c.thesis_difference):.2f} points"
        if c.classes.startswith("control set: "):
            videos = f"{c.n_videos} test videos of the control set ({c.classes.split(': ', 1)[1]})"
        else:
            videos = f"{c.n_videos} test videos" + (
                "" if c.classes == "all" else f" of {c.classes.removesuffix(' only')} classes"
            )
        power = ""
        if hasattr(c, "mde") and not pd.isna(c.mde):
            power = f"; this design detects about {c.mde:.1f} points"
        out.append(
            f"{c.claim}{'' if c.classes == 'all' else f' ({c.classes})'}: the thesis found {thesis}; here A - B = "
            f"{c.difference:+.1f} points (95 % interval {c.ci_low:+.1f} to {c.ci_high:+.1f}, {c.n_runs} run(s) of "
            f"{videos}{power}): **{c.verdict}**."
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
    """The README's headline from the committed `NN_claims.csv` tables (`verdicts.all_claims`), in notebook order:
    one line per claim (all test videos, with the interval over runs alone, the smallest difference the design
    detects and Holm's p across the claims, then its appearance-classes control), and one per claim tested on a
    control dataset. The README holds this text between `<!-- claims -->` markers and a test keeps the two equal:
    the headline is the table."""

    def cell(line) -> str:
        return f"{line.difference:+.1f} [{line.ci_low:+.1f}, {line.ci_high:+.1f}]"

    def runs_cell(line) -> str:
        if pd.isna(line.seed_ci_low):
            return f"{line.n_runs}"
        return f"{line.n_runs}: [{line.seed_ci_low:+.1f}, {line.seed_ci_high:+.1f}]"

    main = [
        "| claim (A against B) | table | thesis A - B | ours A - B [95 % interval] | runs: interval over runs | "
        "detectable | Holm p | verdict | appearance classes only | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    sets = [
        "| claim (A against B) | table | control dataset | ours A - B [95 % interval] | videos | verdict |",
        "|---|---|---|---|---|---|",
    ]
    found = all_claims(tables_dir)
    for claim, lines in found.groupby("claim", sort=False):
        first = lines.iloc[0]
        table = first.table.removeprefix("Table ")
        control = lines[lines["classes"] == f"{CONTROL_CLASSES} only"]
        other = f"{cell(control.iloc[0])} | {control.iloc[0].verdict}" if len(control) else " | "
        holm = f"{first.holm_p:.3g}" + (f" (the runs of: {first.same_runs_as})" if first.same_runs_as else "")
        main.append(
            f"| {claim} | {table} | {first.thesis_difference:+.2f} | {cell(first)} | {runs_cell(first)} | "
            f"{first.mde:.1f} | {holm} | {first.verdict} | {other} |"
        )
        for line in lines[lines["classes"].str.startswith("control set: ")].itertuples():
            sets.append(
                f"| {claim} | {table} | {line.classes.removeprefix('control set: ')} | {cell(line)} | "
                f"{line.n_videos} | {line.verdict} |"
            )
    return "\n".join(main) + ("\n\n" + "\n".join(sets) if len(sets) > 2 else "") + "\n"


def reversed_pairs_table(runs: pd.DataFrame, table: str) -> pd.DataFrame:
    """Each row of `table`: its pairwise accuracy on the reversed pairs (50 % = blind to frame order), the mean of
    its runs with a t interval over them (the run as the unit; blank for one run) and whether that interval lies
    above chance. Empty where the data have no reversed pairs."""
    mine = runs[runs["table"] == table].dropna(subset=["reversed_pairs"]) if len(runs) else runs
    lines = []
    for row, ran in mine.groupby("row", sort=False):
        low, high = stats.seed_interval(ran["reversed_pairs"])
        lines.append({
            "row": row, "modality": ran["modality"].iloc[0], "runs": len(ran),
            "reversed_pairs": ran["reversed_pairs"].mean(), "ci_low": low, "ci_high": high,
            "above_chance": bool(low > 50) if not np.isnan(low) else None,
        })  # fmt: skip
    return pd.DataFrame(lines)


def reversed_pairs_sentences(pairs: pd.DataFrame) -> list[str]:
    """One sentence per row of `reversed_pairs_table`: its accuracy on the reversed pairs and whether the interval
    over runs lies above chance."""
    out = []
    for p in pairs.itertuples():
        interval = ""
        if not np.isnan(p.ci_low):
            side = "above" if p.above_chance else "not above"
            interval = f" (95 % interval over runs {p.ci_low:.1f} to {p.ci_high:.1f}: {side} chance)"
        out.append(f"{p.row}: {p.reversed_pairs:.1f} % on the reversed pairs, {p.runs} run(s){interval}.")
    return out


def ordering_note(table: pd.DataFrame, name: str) -> str:
    """One sentence on a table: our best row with its interval, the thesis's best, and which rows our interval
    cannot tell apart from our best (with one run on a small test set, most of them); "" where fewer than two rows
    ran (why a row did not run is said once, under its table: `not_run`)."""
    ran = table[(table["status"] == "run") & ~table["ours"].astype(bool)].dropna(subset=["top1"])
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
    """Our Top-1 (with its 95 % interval) beside the thesis's for each row that ran; where the data have class
    groups (synthetic), the reversed-pair accuracy and the Top-1 per class group in panels below, on the same
    rows. One column of panels, 6.8 in wide: a page's text column shows it at its size. Axes start at zero,
    legends sit above their panel. A table where no row ran has no figure (thesis bars beside an empty "ours"
    say nothing): returns None and removes an older one at `path`."""
    import textwrap

    import matplotlib.pyplot as plt
    import seaborn as sns

    shown = table.dropna(subset=["top1"]).reset_index(drop=True)
    if not len(shown):
        if path is not None:
            Path(path).unlink(missing_ok=True)
        return None
    pairs = shown["reversed_pairs"].notna().any()
    groups = [g for g in CLASS_GROUPS if f"top1_{g}" in shown and shown[f"top1_{g}"].notna().any()]
    labels = [textwrap.fill(label, 30, break_on_hyphens=False) for label in _labels(shown) + _protocols(shown)]
    lines = sum(label.count("\n") + 1 for label in labels)
    height = max(2.0, 0.9 + 0.18 * lines + 0.1 * len(shown))  # a panel, inches: axis, legend, rows, label lines
    sns.set_theme(style="whitegrid")
    panels = 1 + bool(pairs) + bool(groups)
    fig, axes = plt.subplots(panels, 1, figsize=(6.8, 0.5 + panels * height), squeeze=False, sharey=True)
    axes = list(axes[:, 0])
    y = np.arange(len(shown))
    ax = axes[0]
    dataset = "/".join(d.upper() for d in dict.fromkeys(shown.get("thesis_dataset", pd.Series(["hmdb51"])).dropna()))
    ax.barh(y - 0.2, shown["thesis_top1"], height=0.4, color="tab:gray", label=f"thesis ({dataset or 'HMDB51'})")
    ours = shown["top1"].to_numpy(dtype=float)
    low, high = (shown.get(c, shown["top1"]).to_numpy(dtype=float) for c in ("top1_ci_low", "top1_ci_high"))
    ax.barh(y + 0.2, ours, height=0.4, xerr=np.nan_to_num(np.vstack([ours - low, high - ours])), color="tab:blue",
            label="ours (95 % interval)")  # fmt: skip
    ax.set(yticks=y, xlim=(0, 100), xlabel="Top-1 (%)")
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    above = {"loc": "lower left", "bbox_to_anchor": (0, 1.0), "fontsize": 9, "frameon": False}  # off the bars
    ax.legend(ncol=2, **above)
    if pairs:
        ax = axes[1]
        ax.barh(y, shown["reversed_pairs"], color="tab:orange")
        ax.axvline(50, color="black", ls="--", lw=1)
        ax.set(xlim=(0, 100), xlabel="ours: reversed-pair accuracy (%; 50 = blind to frame order)")
    if groups:
        ax = axes[-1]
        step = 0.8 / len(groups)
        colors = dict(zip(CLASS_GROUPS, ("tab:green", "tab:purple", "tab:olive"), strict=False))  # the same in all
        for i, group in enumerate(groups):
            ax.barh(y - 0.4 + step * (i + 0.5), shown[f"top1_{group}"], height=step, color=colors[group], label=group)
        ax.set(xlim=(0, 100), xlabel="ours: Top-1 per class group (%)")
        ax.legend(ncol=len(groups), **above)
    for ax in axes:
        ax.tick_params(labelsize=9)
        ax.xaxis.label.set_size(10)
        ax.yaxis.set_tick_params(labelleft=True)
    fig.suptitle(title, fontsize=11)
    return _finish(fig, path)


def _protocols(table: pd.DataFrame) -> pd.Series:
    """ " (protocol)" after each row where a table has several, else nothing."""
    if "protocol" not in table or table["protocol"].nunique() <= 1:
        return pd.Series("", index=table.index)
    return " (" + table["protocol"].astype(str) + ")"


def plot_cost(counts: pd.DataFrame, title: str, path: str | Path | None = None):
    """The thesis's Top-1 against the operations counted here (log axis), one numbered point per row, and a key
    below: each number's row with its frames and parameters. Names beside the points would collide (rows share a
    network, and so its count); the numbers are placed where they cover no other number, point or edge
    (`_place_labels`). Returns the figure (saved to `path` if given)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib import ticker

    data = counts.dropna(subset=["ops_g", "thesis_top1"]).reset_index(drop=True)
    names = data["row"].str.replace(r" \d{3}x\d{3}\b", "", regex=True)  # the frame size, not the frames
    keys = [
        f"{i + 1}. {name} ({params:.1f} M)"
        for i, (name, params) in enumerate(zip(names, data["params_m"], strict=True))
    ]
    sns.set_theme(style="whitegrid")
    key_lines = (len(keys) + 1) // 2
    fig, ax = plt.subplots(figsize=(6.8, 3.6 + 0.2 * key_lines))
    ax.scatter(data["ops_g"], data["thesis_top1"], s=14, color="tab:blue", zorder=3)
    ax.set_xscale("log")
    low, high = data["ops_g"].min() / 1.3, data["ops_g"].max() * 1.3
    ax.set_xlim(low, high)
    spread = data["thesis_top1"].max() - data["thesis_top1"].min()
    ax.set_ylim(data["thesis_top1"].min() - 0.08 * spread - 0.5, data["thesis_top1"].max() + 0.08 * spread + 0.5)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000) if low <= t <= high]
    ax.xaxis.set_major_locator(ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("operations per clip (G, counted here; log scale)", fontsize=9)
    ax.set_ylabel("thesis Top-1 (%)", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    handles = [plt.Line2D([], [], linestyle="none") for _ in keys]
    ax.legend(handles, keys, loc="upper left", bbox_to_anchor=(0, -0.16), ncol=2, fontsize=8, frameon=False,
              handlelength=0, handletextpad=0, columnspacing=1.2, title="rows (parameters, millions)",
              title_fontsize=8, alignment="left")  # fmt: skip
    fig.tight_layout()
    numbers = [str(i + 1) for i in range(len(data))]
    offsets = _place_labels(ax, data["ops_g"].to_numpy(), data["thesis_top1"].to_numpy(), numbers, fontsize=8)
    for number, x, y, offset in zip(numbers, data["ops_g"], data["thesis_top1"], offsets, strict=True):
        ax.annotate(number, (x, y), xytext=offset, textcoords="offset points", fontsize=8, ha="center", va="center")
    return _finish(fig, path, layout=False)


def _place_labels(ax, xs, ys, texts, fontsize: float = 8) -> list[tuple[float, float]]:
    """Offsets (in points) that put each text beside its point, covering no other text, no point and no edge of
    the axes where one of 16 places around the point allows it (else the least covered): the crowded points
    first, each taking the first free place. Call it once the axes have their final size."""
    to_px = ax.figure.dpi / 72
    points = ax.transData.transform(np.column_stack([xs, ys]))
    frame = ax.get_window_extent()
    marker = 3.5 * to_px  # a point's half-width

    def covered(a, b) -> float:
        return max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)

    dots = [(x - marker, y - marker, x + marker, y + marker) for x, y in points]
    places = [(r * dx, r * dy) for r in (7, 12) for dx, dy in
              ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))]  # fmt: skip
    crowd = [(np.hypot(*(points - p).T) < 25 * to_px).sum() for p in points]
    taken, offsets = [], [(0.0, 0.0)] * len(texts)
    for i in sorted(range(len(texts)), key=lambda i: -crowd[i]):
        width, height = (0.62 * fontsize * len(texts[i]) + 2) * to_px, (fontsize + 2) * to_px
        best = None
        for dx, dy in places:
            x, y = points[i] + np.array([dx, dy]) * to_px
            box = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
            cost = sum(covered(box, other) for other in taken + dots)
            cost += 10 * (width * height - covered(box, (frame.x0, frame.y0, frame.x1, frame.y1)))
            if best is None or cost < best[0]:
                best = (cost, (dx, dy), box)
            if cost == 0:
                break
        taken.append(best[2])
        offsets[i] = best[1]
    return offsets


VERDICT_COLOURS = {"agrees": "tab:green", "disagrees": "tab:red", "cannot resolve": "tab:orange"}


def plot_claims(found: pd.DataFrame, title: str, path: str | Path | None = None):
    """The claims as a forest plot: our paired difference A - B with its 95 % interval, coloured by verdict, and the
    thesis's difference beside it (a white diamond), around a line at zero. Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", font_scale=0.75)
    # the text column's width (6.8 in at 150 dpi); claim names wrap on the left
    fig, ax = plt.subplots(figsize=(6.8, 0.42 * max(len(found), 2) + 1.6))
    y = np.arange(len(found))
    colors = found["verdict"].map(VERDICT_COLOURS).fillna("tab:gray")
    ours = found["difference"].to_numpy(dtype=float)
    errors = np.vstack([ours - found["ci_low"].to_numpy(dtype=float), found["ci_high"].to_numpy(dtype=float) - ours])
    for i, color in enumerate(colors):  # errorbar takes one colour per call
        ax.errorbar(
            ours[i], y[i], xerr=np.nan_to_num(errors[:, i : i + 1]), fmt="none", ecolor=color, elinewidth=2, capsize=3
        )
    ax.scatter(
        ours,
        y,
        c=list(colors),
        zorder=3,
        label="ours, 95 % interval: green agrees, red disagrees,\ngrey within noise, orange cannot resolve",
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
        labels = labels.where(found["classes"] == "all", "... " + found["classes"].astype(str))
    labels = [textwrap.fill(text, 32, max_lines=3, placeholder=" ...") for text in labels]
    ax.set(yticks=y, yticklabels=labels, xlabel="Top-1 difference A - B (points)")
    ax.set_title(textwrap.fill(title, 60))
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.08 - 1.0 / (len(found) + 3)), fontsize=7, frameon=False)
    return _finish(fig, path)


def _finish(fig, path: str | Path | None, layout: bool = True):
    """Lay the figure out (unless done already) and save it to `path` if given, legends outside the axes
    included, at 150 dpi: 6.8 in make about 1000 pixels, which a page shows at its column's width."""
    if layout:
        fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)
