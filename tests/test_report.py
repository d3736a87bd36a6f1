"""What a page shows of a thesis table (actionlib.study.report): a compact view that fits the text column, the rows
that did not run folded into one line, tables without `nan`, figures for one column, the training log in a file."""

from __future__ import annotations

import base64
import itertools
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_output

from actionlib import study
from actionlib.study import report

matplotlib.use("Agg")

COMMON = (
    "pose frames for rgb; best epoch chosen on training videos held out for validation, not on the test split; "
    "narrow ResNet18 (width 16) pretrained on a disjoint synthetic set (other videos of the same classes), frozen"
)
SMOKE = (
    "not run under the smoke profile: the default CPU run keeps three runs of the rows the thesis's claims compare "
    "and the tables that reuse their networks; `--profile cpu` runs this table too"
)
I3D = "not run under the smoke profile: i3d: the CPU profiles have one small 3D network"


def summary_fixture(table: str = "3.3", ran: int = 4, not_run: int = 8) -> pd.DataFrame:
    """A `study.summary` of one table: every column, `ran` rows with a Top-1 of ours, then `not_run` rows without
    (two reasons), long row names and a `ran_as` shared by the rows that ran but one change."""
    lines = []
    for i in range(ran + not_run):
        done = i < ran
        lines.append(
            {
                "table": f"Table {table}",
                "row": f"ResNet18 head {i} with a long descriptive name",
                "ours": False,
                "dataset": "synthetic",
                "modality": "pose" if done else np.nan,
                "protocol": "single-ten",
                "n_runs": 3 if done else pd.NA,
                "videos": 144 if done else pd.NA,
                "top1": 40.0 + i if done else np.nan,
                "top1_ci_low": 33.0 + i if done else np.nan,
                "top1_ci_high": 47.0 + i if done else np.nan,
                "top1_std": 2.5 if done else np.nan,
                "top3": 70.0 if done else np.nan,
                "reversed_pairs": 60.0 + i if done else np.nan,
                "top1_appearance": 70.0 if done else np.nan,
                "top1_reversed": 50.0 if done else np.nan,
                "top1_speed": 20.0 if done else np.nan,
                "train_top1": 90.0 if done else np.nan,
                "thesis_dataset": "hmdb51",
                "thesis_top1": 44.31 + i,
                "splits": "1" if done else np.nan,
                "status": "run" if done else (SMOKE if i % 2 else I3D),
                "ran_as": f"{COMMON}; {'1 segment' if i == 0 else '8 segments'}" if done else "",
                "note": "pose: MediaPipe (one person per frame), where the thesis used OpenPose (everyone in the frame)",
            }
        )
    out = pd.DataFrame(lines)
    for column in study.COLUMNS:
        if column not in out:
            out[column] = np.nan
    for column in ("n_runs", "videos", "thesis_rank", "our_rank"):
        out[column] = out[column].astype("Int64")
    return out[list(study.COLUMNS)]


def displayed(function, *args, **kwargs) -> list:
    """What `function` displays, as notebook outputs (as a kernel would store them), without a kernel."""
    shown = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("IPython.display.display", lambda *objs, **_: shown.extend(objs))
        function(*args, **kwargs)
    outputs = []
    for obj in shown:
        if isinstance(obj, dict):  # a mime bundle displayed with raw=True
            outputs.append(new_output("display_data", data=obj))
            continue
        data = {"text/plain": repr(obj)}
        for mime, method in (("text/markdown", "_repr_markdown_"), ("text/html", "_repr_html_")):
            if getattr(obj, method, lambda: None)() is not None:
                data[mime] = getattr(obj, method)()
        if hasattr(obj, "_repr_png_"):
            png = obj._repr_png_()
            png = png[0] if isinstance(png, tuple) else png  # (data, metadata) where a size is set
            data["image/png"] = png if isinstance(png, str) else base64.b64encode(png).decode()
        outputs.append(new_output("display_data", data=data))
    return outputs


def test_compact_view_has_one_cell_for_ours_and_drops_what_is_empty():
    table = summary_fixture()
    view = study.report.compact(table[table["top1"].notna()])
    assert list(view.columns) == ["row", "thesis", "ours [95 % interval]", "runs", "reversed pairs", "also changed"]
    first = view.iloc[0]
    assert (first["thesis"], first["ours [95 % interval]"], first["runs"]) == ("44.31", "40.0 [33.0, 47.0]", "3")
    assert view["also changed"].tolist() == ["1 segment", "8 segments", "8 segments", "8 segments"]
    assert not view.map(lambda v: "nan" in v or "<NA>" in v).any().any()
    wide = study.report.compact(table, ["split", "params_m"])  # asked for, but empty: left out
    assert "split" not in wide and "params (M)" not in wide and (wide["ours [95 % interval]"] == "").sum() == 8


def test_rows_that_did_not_run_fold_into_one_line_with_each_reason_once():
    table = summary_fixture()
    line = study.report.not_run(table)
    assert line.startswith("**Table 3.3**: 8 of 12 rows not run under the smoke profile: ResNet18 head 4 ")
    assert line.count("`--profile cpu` runs this table too") == 1 and line.count("one small 3D network") == 1
    assert "\n" not in line and line.endswith(".")
    nothing = summary_fixture("3.4", ran=0, not_run=5).assign(status=SMOKE)
    assert study.report.not_run(nothing) == (
        "**Table 3.4**: 5 rows not run under the smoke profile: the default CPU run keeps three runs of the rows the "
        "thesis's claims compare and the tables that reuse their networks; `--profile cpu` runs this table too."
    )
    assert study.report.not_run(table[table["top1"].notna()]) == ""


def test_show_says_each_status_once_links_the_csv_and_draws_no_figure_where_nothing_ran(tmp_path):
    table = summary_fixture()
    study.save_table(table, tmp_path, "01_table3.3_pooling", profile="smoke")
    figure = tmp_path / "figures" / "01_table3.3_pooling.png"
    report._close(study.plot_table(table, "Table 3.3", figure))
    table.attrs["figure"] = str(figure)
    outputs = displayed(study.show, table)
    assert [sorted(o.data) for o in outputs] == [
        ["text/markdown", "text/plain"],  # what every row that ran changed
        ["text/html", "text/plain"],  # the compact table
        ["text/markdown", "text/plain"],  # the rows' notes, each once
        ["text/markdown", "text/plain"],  # the rows not run, the link to the CSV
        ["image/png", "text/html"],  # the figure, folded, linking to its file
    ]
    assert outputs[0].data["text/markdown"] == f"**Every row that ran:** {COMMON}."
    html = outputs[1].data["text/html"]
    assert (
        len(re.findall("<th[ >]", html)) == 6
        and html.count("<tr") == 5
        and "nan" not in html
        and "single-ten" not in html
    )
    assert "(../tables/01_table3.3_pooling.csv)" in outputs[3].data["text/markdown"]
    assert outputs[2].data["text/markdown"] == f"- every row: {summary_fixture()['note'][0]}."
    figure_html = outputs[4].data["text/html"]  # folded under a line; a click on it opens the file
    assert figure_html.startswith("<details><summary>Figure: ") and 'href="../figures/01_table3.3_pooling.png"' in (
        figure_html
    )
    text = "".join(o.data.get("text/markdown", "") + o.data.get("text/html", "") for o in outputs[:4])
    assert text.count("one small 3D network") == 1 and text.count(COMMON) == 1  # said once, not per cell

    nothing = summary_fixture("3.4", ran=0, not_run=5)
    nothing.attrs["figure"] = str(figure)  # an older figure on disk: not shown for a table that did not run
    outputs = displayed(study.show, nothing)
    assert len(outputs) == 1 and outputs[0].data["text/markdown"].startswith("**Table 3.4**: 5 rows not run")
    assert study.plot_table(nothing, "Table 3.4", figure) is None and not figure.exists()


def test_a_table_whose_rows_are_not_runs_keeps_them(tmp_path):
    counts = summary_fixture(ran=2, not_run=3).assign(params_m=25.25, ops_g=38.57, counts_equal=True)
    outputs = displayed(study.show, counts, ["params_m", "ops_g", "counts_equal"], figure=False, fold=False)
    html = next(o.data["text/html"] for o in outputs if "text/html" in o.data)
    assert html.count("<tr") == 6 and "params (M)" in html and "38.6" in html and ">yes<" in html
    assert not any("rows not run" in o.data.get("text/markdown", "") for o in outputs)


def test_table_files_print_blanks_for_missing_values(tmp_path):
    csv = study.save_table(summary_fixture(), tmp_path, "01_table3.3_pooling", profile="smoke")
    markdown = csv.with_suffix(".md").read_text()
    assert not re.search(r"\bnan\b|<NA>", markdown)
    assert "| ResNet18 head 4 with a long descriptive name" in markdown
    assert pd.read_csv(csv)["top1"].isna().sum() == 8  # the CSV keeps them missing


def test_figures_are_one_column_wide_with_panels_stacked(tmp_path):
    fig = study.plot_table(summary_fixture(), "Table 3.3", tmp_path / "t.png")
    assert fig.get_figwidth() == pytest.approx(6.8)
    top1, pairs, groups = fig.axes
    assert top1.get_position().x0 == pairs.get_position().x0 == groups.get_position().x0  # one column of panels
    assert top1.get_position().y0 > pairs.get_position().y1 and pairs.get_position().y0 > groups.get_position().y1
    assert len(top1.get_yticklabels()) == 4  # the rows that ran
    report._close(fig)


def test_the_cost_figure_labels_every_point_once_and_nothing_overlaps(tmp_path):
    counts = pd.DataFrame(
        {
            "row": ["TSM-50 224x224 8f", "TSM-50 224x224 8x8f", "TSM-50 224x224 8x8f (segment pre-training)",
                    "ResNeXt101 112x112 64f", "MARS ResNext101 112x112 64f", "Modified ResNet50 224x224 32x2f",
                    "Modified ResNet50 Non-local 224x224 32x2f", "I3D 224x224 64f"],
            "thesis_top1": [66.8, 72.03, 73.79, 73.07, 80.72, 71.44, 72.88, 74.9],
            "ops_g": [32.96, 32.96, 32.96, 38.57, 38.57, 33.05, 38.22, 111.33],
            "params_m": [23.6, 23.6, 23.6, 47.6, 47.6, 27.3, 34.7, 12.3],
        }
    )  # fmt: skip
    fig = study.report.plot_cost(counts, "Table 3.10", tmp_path / "cost.png")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    numbers = [t for t in ax.texts]
    assert sorted(t.get_text() for t in numbers) == sorted(str(i) for i in range(1, 9))
    boxes = [t.get_window_extent(renderer) for t in numbers]
    frame = ax.get_window_extent(renderer)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    keys = [t.get_text() for t in ax.get_legend().get_texts()]
    assert keys[:3] == [
        "1. TSM-50 8f (23.6 M)",
        "2. TSM-50 8x8f (23.6 M)",
        "3. TSM-50 8x8f (segment pre-training) (23.6 M)",
    ]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["50", "100"]
    assert (tmp_path / "cost.png").stat().st_size > 0
    report._close(fig)


def test_the_training_log_goes_to_a_file_and_the_rest_stays_under_the_cell(tmp_path, capsys):
    with study.report.training_log("01", tmp_path, "test") as log:
        print("epoch 3: train loss 1.2345 top1 50.00 | val loss 1.0 top1 40.00 top3 70.00 | lr 1.00e-03 | best 40.00")
        print("a table's caption")
        print(f"--resume: no checkpoint at {study.report.repo_root()}/runs/x/last.pt; starting a new run")
    assert capsys.readouterr().out == "a table's caption\n"
    assert log == tmp_path / "logs" / "01.log"
    lines = log.read_text().splitlines()
    assert lines[0].startswith("epoch 3: train loss") and lines[1] == (
        "--resume: no checkpoint at <repo>/runs/x/last.pt; starting a new run"
    )
    with study.report.training_log("02", tmp_path, "test") as log:
        print("nothing trained: every run was cached")
    assert not log.exists() and capsys.readouterr().out == "nothing trained: every run was cached\n"


def test_claims_show_the_claims_and_fold_their_controls():
    """A page's claims table holds a line per claim (all test videos); the control lines fold under one line."""
    classes = ["all", "appearance only", "control set: no reversed pairs", "control set: order only", "all"]
    found = pd.DataFrame(
        {
            "claim": ["BERT against average pooling"] * 4 + ["BERT against concatenation"],
            "table": "Table 3.3",
            "classes": classes,
            "thesis_difference": 2.07,
            "difference": [1.0, 0.5, -0.2, 30.0, -3.0],
            "ci_low": [-2.0, -1.0, -3.0, 20.0, -6.0],
            "ci_high": [4.0, 2.0, 2.5, 40.0, 0.5],
            "n_runs": 5,
            "seed_ci_low": np.nan,
            "seed_ci_high": np.nan,
            "mde": 3.0,
            "verdict": ["within noise", "within noise", "within noise", "agrees", "cannot resolve"],
        }
    )
    outputs = displayed(study.show_claims, found)
    claims, controls = outputs[0].data["text/html"], outputs[1].data["text/html"]
    assert claims.count("<tr") == 3 and "control set" not in claims  # a heading and the two claims
    assert controls.startswith(
        "<details><summary>Controls: the same claims on the appearance classes' videos and 2 control datasets "
        "(3 lines)</summary>"
    )
    assert controls.count("<tr") == 4 and "order only" in controls
    assert outputs[2].data["text/plain"].startswith("<Figure")  # the forest plot of the two claims
