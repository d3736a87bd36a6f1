"""One study on every profile: a profile scales a thesis row (visibly), it never picks other code."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actionlib import profiles, recipes, study
from actionlib.study import execute, planner


def _row(table, name):
    return next(r for r in recipes.recipes_for(table) if r.row == name)


@pytest.mark.parametrize("name", ["cpu", "smoke", "test"])
def test_cpu_profiles_scale_every_row_and_say_how(name):
    cfg = profiles.resolve(name)
    for recipe in recipes.RECIPES:
        for plan in study.plans(recipe, cfg):
            if cfg.tables is not None and recipe.table not in cfg.tables:  # the default's breadth, said why
                assert plan.reason == study.NOT_ON_CPU["breadth"]
                continue
            if not cfg.breadth and not planner.made_of_compared_runs(recipe, cfg.breadth):
                assert plan.reason in (study.NOT_ON_CPU["rows"], None) or ":" in plan.reason
                continue
            if plan.reason is not None:
                assert plan.reason.split(":")[0] in (recipes.STREAMS[plan.key].model, "its teacher r2plus1d_34")
                continue
            assert plan.changes, (recipe.row, plan)
            if recipes.TABLES[recipe.table].compares_networks:  # rows that are networks: each trained end to end
                assert plan.how == "fine-tune" and plan.model in planner.CPU_3D
            else:  # rows that are heads: trained on the frozen features of the profile's network
                assert plan.how == "head" and plan.model in ("resnet18", "resnext3d_101"), (recipe.row, plan)
                assert plan.options["head"] and plan.options["optimizer"] in ("adam", "adamw", "sgd", "swats")


def test_cpu_plan_keeps_the_rows_head_fusion_and_optimizer():
    cfg = profiles.resolve("cpu")
    (sgd,) = study.plans(_row("3.2", "RGB-ResNet18-BERT SGD ten-crop"), cfg)
    assert sgd.options["head"] == "bert" and sgd.options["optimizer"] == "sgd" and sgd.options["lr"] == 1e-2
    assert sgd.modality == "pose" and "pose frames for rgb" in sgd.changes
    (triple,) = study.plans(_row("3.4", "ResNet18 concat Triple Fusion"), cfg)
    assert triple.options["fusion"] == "triple" and triple.frames == cfg.frames
    (single,) = study.plans(_row("3.3", "ResNet18 No Pooling"), cfg)
    assert single.options["frames"] == 1 and _row("3.3", "ResNet18 No Pooling").test_frames == 16
    rgb, flow, pose = study.plans(_row("3.7", "ResNet18 Three-Stream (+ Pose BERT)"), cfg)
    assert (rgb.modality, flow.modality, pose.modality) == ("rgb", "flow", "pose")  # RGB stays RGB beside pose
    (deep,) = study.plans(_row("3.5", "ResNet50 concat + triple fusion"), cfg)
    assert deep.reason and "deeper narrow network is worse" in deep.reason
    (frmb,) = study.plans(_row("4.1", "ResNeXt101 BERT pooling FRMB"), cfg)
    assert "without reduction=frmb" in frmb.changes  # the label says what did not run
    (slowfast,) = study.plans(_row("4.5", "SlowFast-50"), cfg)
    assert slowfast.reason
    (mars,) = study.plans(_row("5.2", "RGB-ResNeXt101 MARS <- Flow-ResNeXt101 (Kinetics)"), cfg)
    assert "MARS distils into the backbone" in mars.reason
    (ucf,) = study.plans(next(r for r in recipes.recipes_for("4.7") if r.dataset == "ucf101"), cfg)[:1]
    assert "one dataset" in ucf.reason
    (long,) = study.plans(_row("3.8", "3D ResNeXt101 64f (16f pre-trained)"), cfg)
    assert (
        long.how == "fine-tune"
        and long.init == "rx101_16f"
        and "started from the CPU rx101_16f network" in long.changes
    )


def test_full_profile_runs_the_rows_as_they_are():
    cfg = profiles.resolve("full")
    for recipe in recipes.RECIPES:
        for plan in study.plans(recipe, cfg):
            stream = recipes.STREAMS[plan.key]
            assert (plan.how, plan.model, plan.modality, plan.changes, plan.reason, plan.source) == (
                "fine-tune", stream.model, stream.modality, (study.FULL_SELECTION,), None, "files")  # fmt: skip


def test_the_tiny_profile_runs_the_full_protocol_on_tiny_networks():
    cfg = profiles.resolve("tiny")
    (single,) = study.plans(_row("3.3", "ResNet18 No Pooling"), cfg)
    assert single.source == "files" and single.how == "fine-tune" and single.test_frames == 4
    assert single.changes[0] == "the 'tiny' stand-in network, not the thesis's"
    (rgb,) = study.plans(_row("4.3", "ResNeXt101 RGB"), cfg)
    assert rgb.options["width"] == 16 and rgb.frames == 8 and study.FULL_SELECTION in rgb.changes


def test_a_profile_is_its_values_not_its_name():
    """`cpu` is `smoke` with every table and every row: the rows both run are planned alike and share their runs."""
    smoke, cpu = profiles.resolve("smoke"), profiles.resolve("cpu")
    same = dataclasses.replace(cpu, name="smoke", tables=smoke.tables, cell_timeout=smoke.cell_timeout, breadth=False)
    assert same == smoke
    renamed = dataclasses.replace(smoke, name="anything")
    ran = 0
    for recipe in recipes.recipes_for(smoke.tables):
        if any(p.reason for p in study.plans(recipe, smoke)):
            continue
        ran += 1
        assert study.plans(recipe, cpu) == study.plans(recipe, smoke) == study.plans(recipe, renamed), recipe.row
    assert ran > 20
    assert study.runs_dir_for(cpu) == study.runs_dir_for(smoke)


def _runs(rows, correct_by_seed, table="3.3"):
    return pd.DataFrame([
        {"table": table, "row": row.row, "dataset": "hmdb51", "split": 1, "seed": seed, "protocol": row.protocol,
         "top1": 100 * correct.count("1") / len(correct), "top3": 80.0, "videos": len(correct),
         "reversed_pairs": 60.0, "modality": "pose", "train_top1": 90.0, "streams": "x", "runs": "r",
         "correct": correct.replace("1", "+").replace("0", "-")}
        for row, by_seed in zip(rows, correct_by_seed, strict=True) for seed, correct in enumerate(by_seed)
    ])  # fmt: skip


def test_summary_has_the_same_columns_under_every_profile_and_blanks_what_one_run_cannot_say():
    rows = recipes.recipes_for("3.3")[:2]
    runs = _runs(rows[:1], [["1" * 72 + "0" * 72]])
    tables = {name: study.summary(runs, rows, profiles.resolve(name)) for name in ("test", "smoke", "full")}
    assert len({tuple(t.columns) for t in tables.values()}) == 1
    smoke = tables["smoke"]
    assert list(smoke.columns) == list(study.COLUMNS) and "difference" not in smoke
    assert pd.isna(smoke.loc[0, "top1_std"]) and smoke.loc[0, "n_runs"] == 1  # one run has no spread
    assert smoke.loc[0, "top1"] == 50 and smoke.loc[0, "top1_ci_low"] < 50 < smoke.loc[0, "top1_ci_high"]
    assert smoke.loc[1, "status"] == "run" and pd.isna(smoke.loc[1, "top1"])  # in the plan, not in these runs


def test_a_head_far_under_its_probe_says_so_in_the_table():
    """A head testing more than UNDER_PROBE points under the linear probe on its features is not at its best: the
    row's note gives the gap, and the thesis's dropout where the head has it."""
    avg, free = (r for r in recipes.recipes_for("3.3") if r.row.startswith("ResNet18 Average Pooling"))
    runs = _runs([avg, free], [["1" * 72 + "0" * 72] * 2, ["1" * 90 + "0" * 54] * 2]).assign(probe_top1=62.5)
    notes = study.summary(runs, [avg, free], profiles.resolve("smoke"))["note"].tolist()
    assert notes[0] == (
        "12.5 points under a linear probe on the same frozen features (62.5 %), with the thesis's dropout 0.8 "
        "before its classifier"
    )
    assert notes[1] == ""  # 62.5 % tested: at the probe


def test_a_table_shows_every_row_on_the_runs_they_all_have():
    """The compared rows run five seeds for the claims; their table shows the seed every row has, so that it
    ranks rows and not seeds."""
    rows = recipes.recipes_for("3.3")[:2]
    runs = _runs(rows, [["1" * 144, "0" * 144, "0" * 144], ["1" * 100 + "0" * 44]])
    table = study.summary(runs, rows, profiles.resolve("smoke"))
    assert table["n_runs"].tolist() == [1, 1] and table.loc[0, "top1"] == 100.0


def test_summary_pools_runs_into_one_interval_with_their_spread():
    rows = recipes.recipes_for("3.3")[:1]
    runs = _runs(rows, [["1" * 70 + "0" * 74, "1" * 80 + "0" * 64, "1" * 90 + "0" * 54]])
    line = study.summary(runs, rows, profiles.resolve("smoke")).iloc[0]
    assert line["n_runs"] == 3 and line["top1"] == pytest.approx(100 * 80 / 144)
    assert line["top1_std"] > 0 and line["top1_ci_low"] < line["top1"] < line["top1_ci_high"]


def test_accuracy_per_class_group_separates_order_from_appearance():
    names = ["sit_down", "stand_up", "walk", "run", "wave"]  # reversed pair, speed pair, appearance
    labels = np.array([0, 1, 2, 3, 4, 4])
    correct = np.array([1, 0, 1, 1, 1, 0])
    assert execute._video_groups(labels, names) == "rrssaa"
    groups = execute._group_accuracy(correct, execute._video_groups(labels, names))
    assert groups == {"top1_appearance": 50.0, "top1_reversed": 50.0, "top1_speed": 100.0}
    hmdb51 = execute._video_groups(labels, ["brush_hair", "cartwheel", "catch", "chew", "clap"])
    other = execute._group_accuracy(correct, hmdb51)
    assert all(np.isnan(v) for v in other.values())  # HMDB51's classes have no groups
    runs = _runs(recipes.recipes_for("3.3")[:1], [["1" * 72 + "0" * 72, "1" * 144]]).assign(top1_speed=[40.0, 60.0])
    assert study.summary(runs, recipes.recipes_for("3.3")[:1], profiles.resolve("smoke"))["top1_speed"][0] == 50.0


def test_claim_rows_run_five_times_on_the_cpu_default_and_once_elsewhere():
    smoke, full = profiles.resolve("smoke"), profiles.resolve("full")
    bert, no_pooling = _row("3.3", "ResNet18 BERT"), _row("3.3", "ResNet18 No Pooling")
    assert study.runs_of(bert, smoke) == [(1, s) for s in range(5)]  # seeds retrain the backbone too
    assert study.runs_of(no_pooling, smoke) == [(1, 0)]
    assert study.runs_of(bert, full) == [(1, 0), (2, 0), (3, 0)]  # the thesis's three splits are the runs
    for claim in recipes.CLAIMS:  # every claim names rows of its table, which the default runs
        for row, protocol in zip((claim.row_a, claim.row_b), claim.protocols or (None, None), strict=True):
            assert any(r.row == row and protocol in (None, r.protocol) for r in recipes.recipes_for(claim.table)), row
        assert claim.table in smoke.tables


def test_claims_are_paired_differences_with_a_verdict_in_the_thesis_direction():
    bert, avg = _row("3.3", "ResNet18 BERT"), _row("3.3", "ResNet18 Average Pooling")
    better = ["1" * 100 + "0" * 44] * 3
    worse = ["1" * 60 + "0" * 84] * 3
    found = study.claims(_runs([bert, avg], [better, worse]), ["3.3"])
    line = found.set_index("claim").loc["BERT against average pooling on ResNet18"]
    assert line["thesis_difference"] > 0 and line["difference"] == pytest.approx(100 * 40 / 144)
    assert line["ci_low"] > 0 and line["verdict"] == "agrees" and line["n_runs"] == 3
    assert (line["row_a"], line["row_b"], line["table"]) == (bert.row, avg.row, "Table 3.3")
    found = study.claims(_runs([bert, avg], [worse, better]), ["3.3"])
    assert found.set_index("claim").loc["BERT against average pooling on ResNet18", "verdict"] == "disagrees"
    assert list(found.columns) == study.CLAIM_COLUMNS and len(found) == 1  # the other 3.3 claim did not run


def test_each_claim_is_tested_again_on_the_appearance_classes_alone():
    """The control: where one frame tells the class (no reversed or speed pairs), does the claim still hold?"""
    bert, avg = _row("3.3", "ResNet18 BERT"), _row("3.3", "ResNet18 Average Pooling")
    groups = "a" * 54 + "r" * 72 + "s" * 18
    # BERT wins only on the reversed pairs; on the appearance videos both are right on the same 40
    bert_runs = ["1" * 40 + "0" * 14 + "1" * 72 + "0" * 18] * 3
    avg_runs = ["1" * 40 + "0" * 14 + "1" * 30 + "0" * 42 + "0" * 18] * 3
    runs = _runs([bert, avg], [bert_runs, avg_runs]).assign(video_groups=groups)
    found = study.claims(runs, ["3.3"])
    assert list(found.columns) == study.CLAIM_COLUMNS
    assert found["classes"].tolist() == ["all", "appearance only"]  # the claim, then its control
    everything, control = found.itertuples()
    assert everything.verdict == "agrees" and everything.n_videos == 144
    assert control.difference == 0 and control.n_videos == 54 and control.verdict == "within noise"
    sentences = study.claim_sentences(found)  # the claim in words; its control is a line of the folded table
    assert len(sentences) == 1 and sentences[0].startswith("BERT against average pooling on ResNet18: the thesis")
    assert study.claims(runs.assign(video_groups=""), ["3.3"])["classes"].tolist() == ["all"]  # no groups: no control
    no_appearance = runs.assign(video_groups="r" * 126 + "s" * 18)  # the test profile's four classes
    assert study.claims(no_appearance, ["3.3"])["classes"].tolist() == ["all"]


def test_figures_show_the_thesis_beside_ours_with_intervals_and_legends_outside(tmp_path):
    rows = recipes.recipes_for("3.3")[:2]
    runs = _runs(rows, [["1" * 100 + "0" * 44] * 3, ["1" * 60 + "0" * 84] * 3])
    runs = runs.assign(top1_appearance=70.0, top1_reversed=50.0, top1_speed=20.0)
    table = study.summary(runs, rows, profiles.resolve("smoke"))
    fig = study.plot_table(table, "Table 3.3", tmp_path / "t.png")
    ax, *others = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["thesis (HMDB51)", "ours (95 % interval)"]
    assert ax.get_legend().get_bbox_to_anchor().y0 >= ax.get_window_extent().y1 - 1  # above the bars, not on them
    assert ax.get_xlim() == (0, 100) and len(others) == 2  # reversed pairs, then class groups
    assert (tmp_path / "t.png").stat().st_size > 0
    found = pd.DataFrame({"claim": ["A against B"], "table": ["Table 3.3"], "difference": [5.0], "ci_low": [-1.0],
                          "ci_high": [11.0], "thesis_difference": [2.07], "verdict": ["within noise"]})  # fmt: skip
    fig = study.plot_claims(found, "claims", tmp_path / "c.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[1] == "thesis (HMDB51)" and (tmp_path / "c.png").stat().st_size > 0


def test_the_teacher_is_compared_with_its_student():
    c = recipes.TABLES["5.2"].claims[0]
    claim, table, row_a, row_b = c.name, c.table, c.row_a, c.row_b
    runs = pd.DataFrame({"table": [table] * 4, "row": [row_a, row_a, row_b, row_b], "top1": [40.0, 38.0, 45.0, 44.0],
                         "teacher_top1": [25.0, 26.0, np.nan, np.nan]})  # fmt: skip
    (sentence,) = study.teacher_sentences(runs)
    assert sentence.startswith(claim) and "teacher reached 25.5 %" in sentence and "44.5 %" in sentence
    assert sentence.endswith("the teacher was weaker than its student here.")
    assert study.teacher_sentences(runs.drop(columns="teacher_top1")) == []


def test_the_cpu_3d_heads_are_sized_to_berts_parameters_and_bert_sees_four_tokens():
    """Section 4.2.3: LSTM, concatenation + FC and non-local + concatenation + FC as large as BERT."""
    cfg = profiles.resolve("cpu")
    net = planner.small_3d(cfg)
    channels, steps = planner.feature_shape(net["model"], net["frames"], blocks=net["blocks"],
                                                width=net["width"], layer4_time_stride=net["layer4_time_stride"])  # fmt: skip
    assert (channels, steps) == (512, 4)  # the thesis's FRMB width and its 4 tokens at 64 frames
    bert = planner.head_parameters("bert", channels, steps)
    for row in ("ResNeXt101 LSTM FRMB", "ResNeXt101 Concatenation + FC FRMB",
                "ResNeXt101 Non-local + Concatenation + FC FRMB"):  # fmt: skip
        (plan,) = study.plans(_row("4.1", row), cfg)
        size = planner.head_parameters(plan.options["head"], channels, steps, hidden=plan.options["hidden"])
        assert abs(size - bert) / bert < 0.01, row
        assert any("as many parameters as the BERT head" in c for c in plan.changes)
    (tgap,) = study.plans(_row("4.1", "ResNeXt101 Average Pooling (baseline) SGD"), cfg)
    assert "hidden" not in tgap.options  # nothing to size
    (r18,) = study.plans(_row("3.3", "ResNet18 LSTM"), cfg)  # Chapter 3 kept its own sizes, scaled by width
    assert r18.options["hidden"] == 512 * cfg.width // 64


def test_cpu_backbones_of_heads_are_pretrained_on_a_disjoint_set():
    cfg = profiles.resolve("smoke")
    for table, row in (("3.3", "ResNet18 BERT"), ("C.1", "ResNeXt101 Two-stream 112x112 64f"),
                       ("3.9", "ResNeXt101 Two-Stream"), ("4.3", "ResNeXt101 RGB")):  # fmt: skip
        for plan in study.plans(_row(table, row), cfg):
            assert plan.how == "head" and any(planner.PRETRAINED in c for c in plan.changes), (table, row)


def test_a_claim_the_thesis_did_not_test_takes_the_direction_of_the_one_it_did():
    """Distillation the other way (RGB teaching flow) is expected to help as the thesis's flow-into-RGB did."""
    claim = next(c for c in recipes.CLAIMS if c.direction_of and c.table == "5.2")
    name = claim.name
    rows = [_row("5.2", claim.row_a), _row("5.2", claim.row_b)]
    found = study.claims(_runs(rows, [["1" * 80 + "0" * 64] * 3, ["1" * 60 + "0" * 84] * 3], table="5.2"), ["5.2"])
    line = found.set_index("claim").loc[name]
    assert (line["thesis_a"], line["thesis_b"]) == (78.30, 77.49)  # the thesis's flow-into-RGB rows
    assert line["verdict"] == "agrees"


def test_a_notebook_trains_each_control_set_once_and_returns_the_claims_it_wrote(monkeypatch, tmp_path):
    from actionlib.study import notebooks, verdicts

    bert, avg = _row("3.3", "ResNet18 BERT"), _row("3.3", "ResNet18 Average Pooling")
    asked = []

    def fake_run(cfg, rows, runs_dir, seed=0, classes=None):
        asked.append((classes[0], len(classes[1]), [r.row for r in rows]) if classes else ("all", len(rows)))
        return _runs([bert, avg], [["1" * 100 + "0" * 44] * 3, ["1" * 60 + "0" * 84] * 3])

    names = ["sit_down", "stand_up", "walk", "run", "wave", "clap"]
    monkeypatch.setenv("ACTIONLIB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(notebooks, "run", fake_run)
    monkeypatch.setattr(verdicts, "run", fake_run)
    monkeypatch.setattr(verdicts, "class_names", lambda root, dataset: names)
    monkeypatch.setattr(verdicts, "synthetic_root", lambda cfg, pretraining=False: tmp_path / "synthetic")
    nb = study.notebook("01", "smoke", tables="3.3", results_dir=str(tmp_path / "results"))
    nodrop = "ResNet18 Average Pooling, no dropout (not in the thesis)"
    assert asked == [("all", len(recipes.recipes_for("3.3"))), ("no reversed pairs", 4, [avg.row, bert.row, nodrop]),
                     ("order only", 2, [avg.row, bert.row, nodrop])]  # fmt: skip
    controls = nb.claims[nb.claims["classes"].str.startswith("control set: ")]
    assert controls["classes"].tolist() == ["control set: no reversed pairs", "control set: order only"]
    assert (controls["verdict"] == "agrees").all() and (controls["claim"] == recipes.CLAIMS[0].name).all()
    written = pd.read_csv(tmp_path / "results" / "tables" / "01_claims.csv")
    assert written["classes"].tolist() == nb.claims["classes"].tolist()  # the notebook shows what was written
    control_runs = pd.read_csv(tmp_path / "results" / "tables" / "01_control_runs.csv")  # each head's own numbers
    assert sorted(set(control_runs["classes"])) == ["control set: no reversed pairs", "control set: order only"]
    assert list(nb.tables) == ["3.3"] and nb.cfg == profiles.resolve("smoke")
    assert study.control_runs(profiles.resolve("full"), ["3.3"]).empty  # no control sets on real datasets


def test_a_row_gives_the_same_number_under_any_profile_name(tmp_path, monkeypatch):
    """What `cpu` gives for a row `smoke` also runs: the same run, not a second one with another number."""
    monkeypatch.setenv("ACTIONLIB_RUNS", str(tmp_path / "runs"))
    test = profiles.resolve("test")
    every_table = dataclasses.replace(test, name="test with every table", tables=None)
    row = [_row("3.3", "ResNet18 Average Pooling")]
    first = study.run(test, row, study.runs_dir_for(test))
    second = study.run(every_table, row, study.runs_dir_for(every_table))
    assert first["runs"].tolist() == second["runs"].tolist()  # the run folder, found again
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"seed": "abc"}, "parameter seed: 'abc' is not a whole number"),
        ({"epochs": 0}, "invalid epochs=0"),
        ({"splits": "1,4"}, "parameter splits: unknown value(s) 4"),
        ({"tables": "3.3,9.9"}, "parameter tables: unknown value(s) 9.9"),
    ],
)
def test_a_notebooks_parameters_are_checked_before_any_run(monkeypatch, parameters, message):
    monkeypatch.setattr(study.notebooks, "run_notebook", lambda *a, **k: pytest.fail("ran with a bad parameter"))
    with pytest.raises(ValueError) as err:
        study.notebook("01", "test", **parameters)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_better_single_stream_is_chosen_on_validation_in_each_run():
    """Two streams against the better single stream: in each run the stream with the higher validation Top-1, never
    the one the test videos favour, and never a stream chosen by name."""
    claim = next(c for c in recipes.CLAIMS if c.row_b_choices)
    both, rgb, flow = (_row("4.3", name) for name in (claim.row_a, *claim.row_b_choices))
    runs = _runs([both, rgb, flow], [["1" * 100 + "0" * 44] * 2, ["1" * 90 + "0" * 54] * 2, ["1" * 40 + "0" * 104] * 2])
    runs = runs.assign(table="4.3")
    # seed 0: flow better on validation (though worse on test); seed 1: RGB
    runs["val_top1"] = [50.0, 50.0, 30.0, 60.0, 40.0, 20.0]  # rows by seed: two streams, RGB, flow
    line = study.claims(runs, ["4.3"]).set_index("claim").loc[claim.name]
    line = line[line["classes"] == "all"].iloc[0] if isinstance(line, pd.DataFrame) else line
    assert line["row_b"].startswith("the better on validation of")
    per_run = [(100 - 40) / 144 * 100, (100 - 90) / 144 * 100]  # seed 0 against flow, seed 1 against RGB
    assert line["difference"] == pytest.approx(np.mean(per_run))
    assert line["thesis_b"] == pytest.approx(82.03)  # the thesis's better stream (flow) gives row B's value


def test_later_runs_and_control_sets_train_at_the_rate_the_first_run_chose(monkeypatch):
    """The grid is searched once per head, on its first run on the whole dataset: later runs, a distilled head's
    teacher and the heads of the control datasets train at that rate."""
    from types import SimpleNamespace

    cfg = profiles.resolve("smoke")
    whole = execute._CpuStreams(cfg, Path("runs"), None, tune_seed=0)
    control = execute._CpuStreams(cfg, Path("runs"), ("order only", ("sit_down", "stand_up")), tune_seed=0)
    asked = []

    def first_run(self, p, recipe, split, seed, protocol):
        asked.append((self.classes, seed))
        return {"lr": 3e-3}

    monkeypatch.setattr(execute._CpuStreams, "head_run", first_run)
    head, row = SimpleNamespace(key="r18_bert_adamw"), SimpleNamespace(table="3.3", row="ResNet18 BERT")
    assert whole._tuned_lr(head, row, 1, 0, "single-ten") is None  # the first run searches the grid
    assert whole._tuned_lr(head, row, 1, 3, "single-ten") == (3e-3,)
    assert control._tuned_lr(head, row, 1, 0, "single-ten") == (3e-3,)  # even the control's first run
    assert asked == [(None, 0), (None, 0)]  # the whole dataset's first run, once per instance
