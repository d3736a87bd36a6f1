"""The thesis's numbers shipped in `actionlib.reference`: complete, self-consistent, and never silently missing."""

import re

import pandas as pd
import pytest

from actionlib import reference

TABLES = ["3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6",
          "4.7", "5.1", "5.2", "C.1", "C.2", "C.3", "C.4"]  # fmt: skip


def test_every_accuracy_table_of_the_thesis_is_shipped():
    df = reference.accuracy(kind=None)
    assert list(dict.fromkeys(df["table"])) == TABLES
    assert df["top1"].between(0, 100).all() and df["top3"].dropna().between(0, 100).all()
    assert not df.duplicated(["table", "row", "dataset", "split", "protocol", "kind"]).any()
    assert set(df["kind"]) == {"test", "validation"} and set(df[df["kind"] == "validation"]["table"]) == {"3.2"}
    # Tables C.1 and C.2: every row under the four test protocols
    four = df[df["table"].isin(["C.1", "C.2"])].groupby(["table", "row"])["protocol"].apply(frozenset)
    assert set(four) == {frozenset({"multi-ten", "multi-center", "single-ten", "single-center"})}
    assert len(four) == 6 + 15


def test_the_files_are_package_data():
    from importlib.resources import files

    assert files("actionlib.reference").joinpath("accuracy.csv").is_file()
    assert files("actionlib.reference").joinpath("complexity.csv").is_file()
    assert reference.ACCURACY.parent == reference.COMPLEXITY.parent == reference.FOLDER


def test_three_split_averages_are_the_mean_of_the_splits():
    """A transcription check: Tables C.3 and C.4 print each split and their average."""
    df = reference.accuracy()
    for table in ("C.3", "C.4"):
        for row, rows in df[df["table"] == table].groupby("row"):
            by_split = rows.set_index("split")
            for metric in ("top1", "top3"):
                mean = by_split.loc[["1", "2", "3"], metric].mean()
                assert by_split.loc["avg3", metric] == pytest.approx(mean, abs=0.011), (table, row, metric)


def test_where_the_thesis_prints_two_values_both_are_recorded():
    df = reference.accuracy().set_index(["table", "row", "dataset"])
    also = df["also_printed"]
    assert (
        df.loc[("4.3", "ResNeXt101 RGB", "hmdb51"), "top1"] == 74.38
        and "73.07" in also["4.3", "ResNeXt101 RGB", "hmdb51"]
    )
    assert (
        "79.80" in also["4.3", "ResNeXt101 Flow", "hmdb51"]
        and "82.35" in also["4.3", "ResNeXt101 Two-stream", "hmdb51"]
    )
    assert (
        "81.76" in also["4.6", "R(2+1)D-34", "hmdb51"]
        and "82.81" in also["3.10", "R(2+1)D ResNet34 112x112 32f", "hmdb51"]
    )
    assert "81.22" in also["4.7", "R(2+1)D (32f) IG65M", "hmdb51"]


def test_every_value_named_in_also_printed_is_in_the_tables_it_names():
    df = reference.accuracy(kind=None)
    checked = 0
    for _, row in df[df["also_printed"] != ""].iterrows():
        values_part, tables_part = row["also_printed"].split(" in ", 1)
        numbers = re.findall(r"\d+\.\d\d", values_part)
        tables = re.findall(r"\b(\d\.\d+|C\.\d)\b", tables_part)
        assert numbers and tables, row["also_printed"]
        values = df[df["table"].isin(tables) & (df["dataset"] == row["dataset"])][["top1", "top3"]].to_numpy()
        for number in numbers:
            assert (values == float(number)).any(), (row["table"], row["row"], number, tables)
            checked += 1
    assert checked > 30


def test_a_row_without_thesis_value_is_an_error_that_names_it():
    import dataclasses

    from actionlib import profiles, recipes, study

    (known,) = [r for r in recipes.recipes_for("3.3") if r.row == "ResNet18 Average Pooling"]
    renamed = dataclasses.replace(known, row="ResNet18 Avg Pooling")
    cfg = profiles.resolve("smoke")
    with pytest.raises(ValueError, match=r"Table 3.3: no thesis value for the rows \['ResNet18 Avg Pooling'\]"):
        study.summary(pd.DataFrame(), [known, renamed], cfg)
    mine = dataclasses.replace(known, row=f"ResNet18 mine {reference.NOT_IN_THESIS}")
    table = study.summary(pd.DataFrame(), [known, mine], cfg)
    assert table["thesis_top1"].isna().tolist() == [False, True]


def test_an_unknown_table_is_an_error():
    with pytest.raises(ValueError, match="no accuracy table '3.11'"):
        reference.accuracy("3.11")


def test_the_complexity_command_needs_no_spec(tmp_path, capsys):
    from actionlib.cli import main

    assert main(["complexity", "--only", "t3.3/bert,t3.5/r18", "--out", str(tmp_path / "c.csv")]) == 0
    assert pd.read_csv(tmp_path / "c.csv")["id"].tolist() == ["t3.3/bert", "t3.5/r18"]
