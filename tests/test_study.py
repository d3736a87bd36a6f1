"""One study on every profile: a profile scales a thesis row (visibly), it never picks other code."""

import pandas as pd
import pytest

from actionlib import profiles, recipes, study


def _row(table, name):
    return next(r for r in recipes.recipes_for(table) if r.row == name)


@pytest.mark.parametrize("name", ["smoke", "test"])
def test_cpu_profiles_scale_every_row_and_say_how(name):
    cfg = profiles.resolve(name)
    for recipe in recipes.RECIPES:
        for plan in study.plans(recipe, cfg):
            if plan.reason is not None:
                assert plan.reason.split(":")[0] in (recipes.STREAMS[plan.key].model, "its teacher r2plus1d_34")
                continue
            assert plan.changes, (recipe.row, plan)
            if recipe.table in study.NETWORK_TABLES:  # rows that are networks: each trained end to end
                assert plan.how == "fine-tune" and plan.model in study.CPU_3D
            else:  # rows that are heads: trained on the frozen features of the profile's network
                assert plan.how == "head" and plan.model in ("resnet18", "resnext3d_101"), (recipe.row, plan)
                assert plan.options["head"] and plan.options["optimizer"] in ("adam", "adamw", "sgd", "swats")


def test_cpu_plan_keeps_the_rows_head_fusion_and_optimizer():
    cfg = profiles.resolve("smoke")
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
            assert (plan.how, plan.model, plan.modality, plan.changes, plan.reason) == (
                "fine-tune", stream.model, stream.modality, (), None)  # fmt: skip


def test_summary_has_the_same_columns_under_every_profile_and_blanks_what_one_run_cannot_say():
    rows = recipes.recipes_for("3.3")[:2]
    runs = pd.DataFrame([
        {"table": "3.3", "row": rows[0].row, "dataset": "hmdb51", "split": 1, "seed": 0, "protocol": "single-ten",
         "top1": 50.0, "top3": 80.0, "videos": 144, "reversed_pairs": 60.0, "modality": "pose", "train_top1": 90.0,
         "streams": "x", "runs": "r"},
    ])  # fmt: skip
    tables = {name: study.summary(runs, rows, profiles.resolve(name)) for name in ("test", "smoke", "full")}
    assert len({tuple(t.columns) for t in tables.values()}) == 1
    smoke, full = tables["smoke"], tables["full"]
    assert pd.isna(smoke.loc[0, "difference"])  # a synthetic number minus an HMDB51 one means nothing
    assert full.loc[0, "difference"] == pytest.approx(50.0 - full.loc[0, "thesis_top1"])
    assert pd.isna(smoke.loc[0, "top1_std"]) and smoke.loc[0, "runs"] == 1  # one run has no spread
    assert smoke.loc[0, "top1_low"] < 50 < smoke.loc[0, "top1_high"]
    assert smoke.loc[1, "status"] == "run" and pd.isna(smoke.loc[1, "top1"])  # in the plan, not in these runs
