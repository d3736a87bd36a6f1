"""Does a fresh run agree with the committed one? (`actionlib reproduce --check`)

Bit-identical numbers across processors are not to be had (the same code trains to numbers a few points apart on
another CPU); what should survive a rerun is each number's place inside the committed 95 % interval and each
claim's verdict. This module compares two results folders table by table: every accuracy table's `top1` against
the committed `top1_ci_low`..`top1_ci_high`, every claims table's `verdict` against the committed one.

How many fresh numbers to expect inside: a 95 % interval of a mean holds an independent rerun's mean about 83 %
of the time (the rerun has its own noise), and a one-run row's interval covers only the sampling of test videos,
not the retraining, so its rerun falls outside more often. A verdict that changes is the finding that matters.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

NUMBER_COLUMNS = ["file", "table", "row", "protocol", "n_runs", "top1", "top1_ci_low", "top1_ci_high", "fresh_top1",
                  "fresh_n_runs", "inside"]  # fmt: skip
VERDICT_COLUMNS = ["file", "claim", "protocols", "classes", "difference", "ci_low", "ci_high", "verdict", "fresh_difference",
                   "fresh_verdict", "holds"]  # fmt: skip


def _tables(results: Path, kind: str) -> dict[str, pd.DataFrame]:
    """The CSV tables of one kind in `results/tables`: "accuracy" (they have top1 and its interval) or "claims"."""
    out = {}
    for csv in sorted((Path(results) / "tables").glob("*.csv")):
        df = pd.read_csv(csv)
        if kind == "claims" and csv.stem.endswith("_claims"):
            out[csv.name] = df
        elif kind == "accuracy" and {"row", "top1", "top1_ci_low", "top1_ci_high"} <= set(df.columns):
            out[csv.name] = df
    return out


def _key(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    present = [c for c in columns if c in df.columns]
    if not len(df) or not present:  # agg over no rows returns the frame itself, not an empty Series
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    cells = df[present].map(lambda v: "" if pd.isna(v) else str(v))  # an empty protocol is "", not NaN
    return cells.agg(" | ".join, axis=1)


def _matched(reference: Path, fresh: Path, kind: str, keys: list[str]):
    """(file name, committed line, the fresh line with the same `keys` or {}) for every committed line of `kind`."""
    fresh_tables = _tables(fresh, kind)
    for name, ref in _tables(reference, kind).items():
        new = fresh_tables.get(name, pd.DataFrame(columns=ref.columns))
        found = dict(zip(_key(new, keys), new.to_dict("records"), strict=True)) if len(new) else {}
        for key, line in zip(_key(ref, keys), ref.to_dict("records"), strict=True):
            yield name, line, found.get(key, {})


def _value(line: dict, column: str):
    """A cell of a fresh line, None where the line or its value is missing."""
    value = line.get(column)
    return None if value is None or pd.isna(value) else value


def compare_numbers(reference: Path, fresh: Path) -> pd.DataFrame:
    """One line per committed row that has a Top-1: the committed mean and interval, the fresh mean, and whether
    it falls inside (None where the fresh run has no such row or no number)."""
    lines = []
    # thesis_dataset: a row may stand for HMDB51 and UCF101 lines; split and seed: a runs table's line per run
    keys = ["table", "row", "protocol", "thesis_dataset", "split", "seed"]
    for name, line, other in _matched(reference, fresh, "accuracy", keys):
        if pd.isna(line["top1"]):
            continue
        value = _value(other, "top1")
        value = None if value is None else float(value)
        inside = None if value is None else bool(line["top1_ci_low"] <= value <= line["top1_ci_high"])
        lines.append({"file": name, "table": line.get("table"), "row": line["row"], "protocol": line.get("protocol"),
                      "n_runs": line.get("n_runs"), "top1": line["top1"], "top1_ci_low": line["top1_ci_low"],
                      "top1_ci_high": line["top1_ci_high"], "fresh_top1": value, "fresh_n_runs": other.get("n_runs"),
                      "inside": inside})  # fmt: skip
    return pd.DataFrame(lines, columns=NUMBER_COLUMNS)


def compare_verdicts(reference: Path, fresh: Path) -> pd.DataFrame:
    """One line per committed claim: its verdict then and now, and whether it holds (None where the fresh run
    has no verdict for it)."""
    lines = []
    for name, line, other in _matched(reference, fresh, "claims", ["claim", "protocols", "classes"]):
        verdict = _value(other, "verdict")
        lines.append({"file": name, "claim": line["claim"], "protocols": line.get("protocols"),
                      "classes": line.get("classes"), "difference": line["difference"], "ci_low": line["ci_low"],
                      "ci_high": line["ci_high"], "verdict": line["verdict"],
                      "fresh_difference": other.get("difference"), "fresh_verdict": verdict,
                      "holds": None if verdict is None else verdict == line["verdict"]})  # fmt: skip
    return pd.DataFrame(lines, columns=VERDICT_COLUMNS)


def run_seeds(results: Path) -> str:
    """The seeds the runs of a results folder used ("100-104", or a comma list), from its `NN_runs.csv`."""
    seeds = set()
    for csv in Path(results, "tables").glob("[0-9][0-9]_runs.csv"):
        runs = pd.read_csv(csv)
        if "seed" in runs:
            seeds |= {int(s) for s in runs["seed"].dropna()}
    ordered = sorted(seeds)
    if ordered and ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(map(str, ordered))


REPLICATION_COLUMNS = ["claim", "classes", "committed_verdict", "fresh_verdict", "fresh_difference", "holds",
                       "committed_seeds", "fresh_seeds"]  # fmt: skip


def replication(verdicts: pd.DataFrame, reference: Path, fresh: Path) -> pd.DataFrame:
    """The committed verdicts against a rerun's (`compare_verdicts`), with the seeds each used: on new seeds, a
    replication (the same seeds again on the same processor only shows determinism)."""
    return pd.DataFrame(
        {
            "claim": verdicts["claim"],
            "classes": verdicts["classes"],
            "committed_verdict": verdicts["verdict"],
            "fresh_verdict": verdicts["fresh_verdict"],
            "fresh_difference": verdicts["fresh_difference"],
            "holds": verdicts["holds"],
            "committed_seeds": run_seeds(reference),
            "fresh_seeds": run_seeds(fresh),
        },
        columns=REPLICATION_COLUMNS,
    )


def _classes(classes) -> str:
    return "" if classes is None or pd.isna(classes) or classes == "all" else f" ({classes})"


def summary_lines(numbers: pd.DataFrame, verdicts: pd.DataFrame) -> list[str]:
    """What the check found, in a few lines: verdicts first (they are what a rerun must keep)."""
    held = verdicts["holds"].eq(True).sum()
    changed = verdicts[verdicts["holds"].eq(False)]
    missing = verdicts["holds"].isna().sum()
    lines = [
        f"verdicts: {held} of {len(verdicts)} hold" + (f", {missing} not produced by the rerun" if missing else "")
    ]
    lines += [f"  changed: {c.claim}{_classes(c.classes)}: {c.verdict} -> {c.fresh_verdict} "
              f"({c.fresh_difference:+.1f} points, was {c.difference:+.1f})" for c in changed.itertuples()]  # fmt: skip
    compared = numbers[numbers["inside"].notna()]
    for label, part in (("rows run 3 or more times", compared[compared["n_runs"].fillna(1) >= 3]),
                        ("rows run once", compared[compared["n_runs"].fillna(1) < 3])):  # fmt: skip
        if len(part):
            inside = int(part["inside"].astype(bool).sum())
            lines.append(f"numbers ({label}): {inside} of {len(part)} inside the committed 95 % interval")
    if numbers["inside"].isna().any():
        lines.append(f"numbers: {int(numbers['inside'].isna().sum())} committed rows have no fresh number")
    return lines


def write_report(numbers: pd.DataFrame, verdicts: pd.DataFrame, out: Path, reference: Path, fresh: Path) -> Path:
    """`out/check.md` (the summary, then both tables) and the two tables as CSV beside it."""
    out.mkdir(parents=True, exist_ok=True)
    numbers.to_csv(out / "check_numbers.csv", index=False)
    verdicts.to_csv(out / "check_verdicts.csv", index=False)
    text = [
        "# Reproduction check",
        "",
        f"Committed results: `{reference}`; fresh run: `{fresh}`.",
        "",
        *[f"- {line.strip()}" for line in summary_lines(numbers, verdicts)],
        "",
        "An independent rerun's mean falls inside a 95 % interval about 83 % of the time; a one-run row's interval "
        "covers the test videos' sampling, not the retraining, so its reruns fall outside more often.",
        "",
        "## Verdicts",
        "",
        verdicts.to_markdown(index=False, floatfmt=".2f"),
        "",
        "## Numbers",
        "",
        numbers.to_markdown(index=False, floatfmt=".2f"),
        "",
    ]
    path = out / "check.md"
    path.write_text("\n".join(text))
    return path
