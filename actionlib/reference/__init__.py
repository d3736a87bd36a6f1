"""The thesis's reported numbers, shipped with the package (transcribed from the thesis, checked, owned here).

- `complexity.csv`: every '# Parameters' / '# Operations' row (54 configurations; rows the thesis prints twice
  for one configuration, such as the SGD and AdamW baselines of Table 4.1, are counted once), with the clip it
  was counted on. `actionlib.thesis` maps each `id` to model configurations.
- `accuracy.csv`: every reported Top-1 / Top-3, one line per table, row, dataset, split and test protocol:

  ==============  =====================================================================================
  table           the thesis table it comes from ("3.3", "4.7", "C.1", ...)
  row             the row as the thesis names it (our tables use these names to find it)
  dataset, split  hmdb51 / ucf101; 1, 2, 3 or avg3 (the mean over the three splits)
  protocol        the test protocol where the table prints it (Table 3.2: ten-crop / one-crop;
                  Tables C.1, C.2: multi-ten, multi-center, single-ten, single-center as in
                  `actionlib.engine.evaluate.PROTOCOLS`); blank where the table does not say
  kind            test, or validation (Table 3.2's "One Crop Validation" line)
  by              thesis: one of its experiments; "cited [n]": a published result Table 4.7 quotes
  top1, top3      as printed (percent); top3 blank where the table has none
  also_printed    other values the thesis prints for the same configuration elsewhere, and where
  note            what else a reader needs to know about the row
  ==============  =====================================================================================

A row is always compared with the value its own table prints; `also_printed` says where the thesis disagrees
with itself (e.g. Table 4.3's split-1 baselines 74.38 / 79.48 / 82.09 against 73.07 / 79.80 / 82.35 in
Tables 3.9, C.1 and C.3), so that a reader can see how large the thesis's own variation is.

Nothing here imports torch: the command-line parser and the notebooks read these files cheaply.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
ACCURACY = FOLDER / "accuracy.csv"
COMPLEXITY = FOLDER / "complexity.csv"
# Our rows that the thesis does not have carry this in their name; every other row must find its thesis value.
NOT_IN_THESIS = "(not in the thesis)"


def accuracy(table: str | None = None, kind: str = "test"):
    """The thesis's reported Top-1/Top-3 (pandas DataFrame): one table's rows, or all with `table=None`.

    `kind="validation"` gives Table 3.2's one-crop validation line instead of the test results; `kind=None`
    gives both. An unknown table is an error (a typo would otherwise compare with nothing).
    """
    import pandas as pd

    df = pd.read_csv(
        ACCURACY, dtype={"table": str, "split": str}, keep_default_na=False, na_values={"top1": [""], "top3": [""]}
    )
    if table is not None:
        if table not in set(df["table"]):
            raise ValueError(
                f"the thesis has no accuracy table {table!r}; tables: {', '.join(dict.fromkeys(df['table']))}"
            )
        df = df[df["table"] == table]
    if kind is not None:
        df = df[df["kind"] == kind]
    return df.reset_index(drop=True)


def is_ours(row: str) -> bool:
    """True for a row that we added and the thesis does not have (its name says so)."""
    return NOT_IN_THESIS in row


def require_thesis_values(table: str, rows, values) -> None:
    """Raise naming every row (other than ours) whose thesis value is missing: never a silent NaN."""
    import pandas as pd

    missing = [r for r, v in zip(rows, values, strict=True) if pd.isna(v) and not is_ours(str(r))]
    if missing:
        raise ValueError(
            f"Table {table}: no thesis value for the rows {missing}; name them as in {ACCURACY.name} "
            f"(actionlib/reference/) or, for rows the thesis does not have, put {NOT_IN_THESIS!r} in the name"
        )
