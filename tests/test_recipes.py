"""The full profile's recipes: every thesis row is covered, and the protocol runs end to end at tiny scale on
trees in the published layouts (HMDB51 videos + split files, flow and pose frame folders, UCF101 lists)."""

import shutil

import pandas as pd
import pytest
import torch

from actionlib import profiles, recipes, reference, study
from actionlib.study import planner, training

from .data.test_video import write_flow_folder


def test_every_thesis_row_has_a_recipe_or_says_why_not():
    thesis = reference.accuracy()
    thesis = thesis[thesis["by"] == "thesis"]
    wanted = set(zip(thesis["table"], thesis["row"], thesis["dataset"], strict=True))  # Appendix C included
    have = {(r.table, r.row, r.dataset) for r in recipes.RECIPES if not reference.is_ours(r.row)}
    assert wanted == have
    assert all(r.streams or r.unsupported for r in recipes.RECIPES)
    assert {k for r in recipes.RECIPES for k in r.streams} <= set(recipes.STREAMS)
    assert set(recipes.NOTEBOOK_TABLES.values().__iter__().__next__()) <= {r.table for r in recipes.RECIPES}
    assert sorted(t for ts in recipes.NOTEBOOK_TABLES.values() for t in ts) == sorted(
        {r.table for r in recipes.RECIPES}
    )


@pytest.mark.slow
def test_every_stream_builds_at_full_size():
    from actionlib.models import create

    for key, stream in recipes.STREAMS.items():
        with torch.device("meta"):
            model = create(stream.model, modality=stream.modality, **stream.options)
        assert model.modality == stream.modality, key


def test_needs_lists_teachers_checkpoints_and_datasets():
    datasets, weights = recipes.needs(recipes.recipes_for("5.2"))
    assert datasets == ("hmdb51",)
    assert "Flow_Kinetics_64f.pth" in weights  # the teacher's initialisation, though no row shows the teacher
    assert "r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth" in weights
    assert recipes.needs(recipes.recipes_for("4.7"))[0] == ("hmdb51", "ucf101")
    with pytest.raises(ValueError, match="no recipes for table"):
        recipes.recipes_for(["9.9"])


def test_stand_in_keeps_head_modality_and_teacher():
    stream = planner.stand_in_stream(recipes.STREAMS["rx101_frab_from_r2plus1d"], "tiny")
    assert stream.model == "resnext3d_101" and stream.options["head"] == "bert" and "reduction" not in stream.options
    assert stream.teacher == "r2plus1d_32x2f_bert" and stream.train["distill"] == "bert"
    single = planner.stand_in_stream(recipes.STREAMS["r18_single_frame"], "tiny")
    assert single.model == "resnet18" and single.options["frames"] == 1
    with pytest.raises(ValueError, match="allowed: tiny"):
        planner.stand_in_stream(recipes.STREAMS["rx101_rgb"], "huge")


CLASSES = ["sit_down", "stand_up", "wave", "clap"]


def build_full_tree(data_root, ucf: bool = False):
    """`data_root` as the full profile expects it, from synthetic videos: hmdb51/ (+ split files), hmdb51_flow/,
    hmdb51_pose/, and with `ucf` UCF-101/ + ucfTrainTestlist/ and ucf101_flow/."""
    from actionlib.data.datasets import read_split
    from actionlib.data.synthetic import generate

    hmdb = data_root / "hmdb51"
    generate(
        hmdb,
        classes=CLASSES,
        videos_per_class=3,
        frames=20,
        size=(64, 48),
        splits=3,
        pose_out=data_root / "hmdb51_pose",
    )
    records = [r for subset in ("train", "test") for r in read_split(hmdb, "hmdb51", 1, subset)]
    for r in records:
        write_flow_folder(data_root / "hmdb51_flow" / r.class_name / r.stem, 19)
    if ucf:
        lists = data_root / "ucfTrainTestlist"
        lists.mkdir()
        (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
        for k in (1, 2, 3):
            train, test = [], []
            for r in records:
                name = f"{r.class_name}/v_{r.class_name}_g0{len(train) + len(test)}_c01.avi"
                target = data_root / "UCF-101" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(r.path, target)
                write_flow_folder(data_root / "ucf101_flow" / r.class_name / target.stem, 19)
                (train if r.subset == "train" else test).append((name, CLASSES.index(r.class_name) + 1))
            (lists / f"trainlist0{k}.txt").write_text("".join(f"{n} {lab}\n" for n, lab in train))
            (lists / f"testlist0{k}.txt").write_text("".join(f"{n}\n" for n, _ in test))
    return data_root


@pytest.fixture(scope="module")
def full_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    data = build_full_tree(root / "data")
    weights = root / "weights"
    planner.write_stand_in_weights(weights, recipes.RECIPES)
    return profiles.resolve("tiny", data_root=str(data), weights_dir=str(weights)), root


def test_stand_in_runs_fusion_distillation_and_resumes(full_tree):
    cfg, root = full_tree
    chosen = [r for r in recipes.recipes_for(["4.3", "5.2"]) if r.row in (
        "ResNeXt101 Two-stream BERT (FRMB)", "RGB-ResNeXt101-BERT-FRAB <- Flow-ResNeXt101-BERT-FRMB")]  # fmt: skip
    runs = study.run(cfg, chosen, root / "runs")
    assert list(runs["row"]) == [r.row for r in chosen]
    assert runs["top1"].between(0, 100).all() and (runs["videos"] > 0).all()
    teacher = root / "runs" / "rx101_flow_bert_frmb_hmdb51_s1_seed0" / "best.pt"
    assert teacher.is_file()  # trained once, for the fusion row and as the student's teacher
    student = torch.load(root / "runs" / "rx101_frab_from_flow_hmdb51_s1_seed0" / "best.pt", weights_only=True)
    assert student["config"]["distill"] == "bert" and student["config"]["teacher"] == str(teacher)
    stamp = teacher.stat().st_mtime
    again = study.run(cfg, chosen, root / "runs")
    assert teacher.stat().st_mtime == stamp  # finished runs and their scores are reused
    pd.testing.assert_frame_equal(runs, again)
    table = study.summary(runs, chosen, cfg)
    assert list(table.columns) == list(study.COLUMNS) and "difference" not in table
    assert table["ran_as"].str.startswith("the 'tiny' stand-in network").all()


def test_train_command_describes_the_same_run(tmp_path):
    """`actionlib recipes` prints commands that train exactly the run the notebooks would (so that runs made on
    a GPU cluster with torchrun are picked up)."""
    import argparse
    import shlex

    from actionlib.engine.cli import add_parsers, config_from_args

    cfg = profiles.resolve("full", data_root=str(tmp_path / "data"), weights_dir=str(tmp_path / "w"))
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"))
    for key in ("rx101_frab_from_r2plus1d", "i3dr50_nl_32x2f", "r18_pose_concat_triple", "r18_bert_swats"):
        command = training.train_command(cfg, key, "hmdb51", 2, 0, tmp_path / "runs", gpus=4)
        words = shlex.split(command)
        assert words[:4] == ["torchrun", "--nproc_per_node=4", "-m", "actionlib"]
        parsed = config_from_args(parser.parse_args(words[4:]))
        stream = recipes.STREAMS[key]
        teacher = None
        if stream.teacher:
            teacher = str(tmp_path / "runs" / f"{stream.teacher}_hmdb51_s2_seed0" / "best.pt")
        expected = training.files_config(cfg, key, stream, "hmdb51", 2, 0, tmp_path / "runs", teacher)
        for name in ("model", "options", "modality", "pretrained", "root", "split", "frame_roots", "stride",
                     "optimizer", "lr", "distill", "distill_weight", "teacher", "out", "epochs", "batch_size"):  # fmt: skip
            assert getattr(parsed, name) == getattr(expected, name), (key, name)


def test_slurm_scripts_chain_teachers_and_print_gpu_hour_estimates(tmp_path, capsys, monkeypatch):
    from actionlib.cli import main

    estimates = tmp_path / "gpu_runs.csv"
    pd.DataFrame(
        [{"stream": k, "dataset": "hmdb51", "device": "NVIDIA H200", "hours_per_run": 2.0} for k in recipes.STREAMS]
    ).to_csv(estimates, index=False)
    read = recipes.gpu_hours
    monkeypatch.setattr(recipes, "gpu_hours", lambda path=None: read(estimates))
    assert main(["recipes", "--tables", "5.1", "--slurm", str(tmp_path / "slurm"), "--gpus", "2",
                 "--runs", str(tmp_path / "runs")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "about 2.0 GPU-hours on NVIDIA H200" in out and "# total: about 12 GPU-hours for 6 runs" in out
    submit = (tmp_path / "slurm" / "submit.sh").read_text().splitlines()
    teacher = next(i for i, line in enumerate(submit) if line.startswith("job_rx101_flow_bert_frmb_hmdb51_s1_seed0="))
    student = next(i for i, line in enumerate(submit) if line.startswith("job_rx101_frmb_from_flow_25k_hmdb51_s1"))
    assert teacher < student and "--dependency=afterok:${job_rx101_flow_bert_frmb_hmdb51_s1_seed0}" in submit[student]
    script = (tmp_path / "slurm" / "rx101_frmb_from_flow_25k_hmdb51_s1_seed0.sbatch").read_text()
    assert "#SBATCH --gres=gpu:2" in script and "#SBATCH --time=2:00:00" in script
    assert "torchrun --nproc_per_node=2 -m actionlib train" in script


def test_one_record_per_thesis_table():
    """What Table 4.1 is, who runs it and which claims use it: one record, every other list derived from it."""
    assert set(recipes.TABLES) == {r.table for r in recipes.RECIPES}
    table = recipes.TABLES["4.1"]
    assert (table.name, table.notebook, table.default, table.compares_networks) == ("pooling_3d", "05", True, False)
    assert [c.table for c in table.claims] == ["4.1", "4.1", "4.1"] and table.claims[0].control_sets
    assert recipes.NOTEBOOK_TABLES["05"] == ("4.1", "4.2")
    assert profiles.PROFILES["smoke"].tables == tuple(t for t, r in recipes.TABLES.items() if r.default)
    assert recipes.CLAIMS == tuple(c for t in recipes.TABLES.values() for c in t.claims)
