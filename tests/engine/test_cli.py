"""End to end on a tiny synthetic dataset: train, resume, evaluate, fuse and predict through the CLI."""

import argparse
import json

import pytest
import torch

from actionlib.engine.cli import add_parsers
from actionlib.engine.records import read_metrics

TIMING = ("clips_per_s", "epoch_time_s")


def main(argv):
    parser = argparse.ArgumentParser(prog="actionlib")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from actionlib.data.synthetic import generate

    root = tmp_path_factory.mktemp("data") / "synthetic"
    generate(
        root,
        classes=["sit_down", "stand_up", "wave", "clap"],
        videos_per_class=4,
        frames=16,
        size=(64, 48),
        splits=1,
        pose=True,
    )
    return root


def train_args(root, out, *extra):
    return [
        "train",
        "--model",
        "resnet18",
        "--head",
        "bert",
        "--frames",
        "4",
        "--size",
        "32",
        "--data-option",
        "resize=48x64",
        "--dataset",
        "synthetic",
        "--root",
        root,
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--effective-batch",
        "8",
        "--workers",
        "0",
        "--out",
        out,
        "--no-progress",
        "--no-tensorboard",
        *extra,
    ]


def test_train_resume_evaluate_predict(synthetic, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(synthetic, run)) == 0
    lines = read_metrics(run)
    assert [line["epoch"] for line in lines] == [0, 1]
    assert set(lines[0]["val_pairwise"]) == {"sit_down|stand_up", "mean"}
    env = json.loads((run / "environment.json").read_text())
    assert len(env["dataset_manifest_sha256"]) == 64
    config = json.loads((run / "config.json").read_text())
    assert config["class_names"] == ["clap", "sit_down", "stand_up", "wave"]
    assert (config["optimizer"], config["lr"], config["accumulation"]) == ("adamw", 1e-4, 2)

    # the same seed with a DataLoader worker: the same numbers (augmentation is seeded per sample)
    assert main(train_args(synthetic, tmp_path / "again", "--epochs", "1", "--workers", "1")) == 0
    strip = [{k: v for k, v in line.items() if k not in TIMING} for line in read_metrics(tmp_path / "again")]
    assert strip == [{k: v for k, v in lines[0].items() if k not in TIMING}]

    assert main(["train", "--resume", "--out", run, "--epochs", "3", "--workers", "0", "--no-progress"]) == 0
    assert [line["epoch"] for line in read_metrics(run)] == [0, 1, 2]

    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                run / "best.pt",
                "--checkpoint",
                run / "last.pt",
                "--protocol",
                "all",
                "--workers",
                "0",
                "--out",
                tmp_path / "eval",
                "--json",
            ]
        )
        == 0
    )
    reports = json.loads(capsys.readouterr().out)
    assert [r["protocol"] for r in reports].count("multi-ten") == 3  # two runs + their fusion
    assert all(r["videos"] == 4 and "confusion_matrix" in r for r in reports)
    files = sorted((tmp_path / "eval").glob("scores_*multi-ten.pt"))
    assert len(list((tmp_path / "eval").glob("scores_*.pt"))) == 8 and len(files) == 2
    assert main(["evaluate", "--scores", files[0], "--scores", files[1], "--fusion", "softmax", "--json"]) == 0
    fused = json.loads(capsys.readouterr().out)
    assert len(fused) == 1 and fused[0]["videos"] == 4 and fused[0]["name"].startswith("fusion (softmax)")

    video = synthetic / "wave" / "wave_000.avi"
    assert main(["predict", video, "--checkpoint", run / "best.pt", "--topk", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["video"] == str(video) and len(result[0]["predictions"]) == 2
    assert result[0]["predictions"][0]["class"] in config["class_names"]
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"")
    with pytest.warns(UserWarning, match="broken.avi"):
        assert main(["predict", broken, video, "--checkpoint", run / "best.pt", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result[0] == {"video": str(broken), "error": "could not be decoded"} and "predictions" in result[1]


def test_distillation_from_a_trained_teacher(synthetic, tmp_path):
    """Chapter 5 through the CLI; the teacher here is a pose stream (the synthetic set has no flow)."""
    from actionlib.data.synthetic import pose_root_for

    pose = ["--pose-frames", pose_root_for(synthetic), "--epochs", "1"]
    assert main(train_args(synthetic, tmp_path / "teacher", "--modality", "pose", *pose)) == 0
    teacher = tmp_path / "teacher" / "best.pt"
    assert main(train_args(synthetic, tmp_path / "student", "--distill", "bert", "--teacher", teacher, *pose)) == 0
    line = read_metrics(tmp_path / "student")[0]
    assert line["train_mse"] > 0 and line["train_loss"] == pytest.approx(line["train_ce"] + 1e5 * line["train_mse"])


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        main(train_args(tmp_path / "nowhere", tmp_path / "run"))
    with pytest.raises(ValueError, match="available: .*resnet18"):
        main(train_args(tmp_path, tmp_path / "run") + ["--model", "resnet_9000"])
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        main(["predict", tmp_path / "v.avi", "--checkpoint", tmp_path / "missing.pt"])
    with pytest.raises(FileNotFoundError, match="no checkpoint .*run/last.pt"):
        main(["train", "--resume", "--out", tmp_path / "run"])


def test_help_explains_every_option(capsys):
    for command in ("train", "evaluate", "predict"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "--" in text
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    for action in parser._subparsers._group_actions[0].choices.values():
        for option in action._actions:
            assert option.help, f"{action.prog} {option.option_strings} has no help"


def test_out_of_memory_suggests_smaller_batches(monkeypatch, capsys, tmp_path):
    import actionlib.engine.train as train

    def boom(config):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train, "run", boom)
    assert main(train_args(tmp_path, tmp_path / "run")) == 1
    err = capsys.readouterr().err
    assert "--batch-size (now 4)" in err and "--accumulation" in err


def test_a_command_written_to_resume_starts_its_run_the_first_time(synthetic, tmp_path, capsys):
    """`actionlib recipes` prints every run with --resume, so that a killed job continues when launched again: its
    first launch, with no checkpoint yet, starts the run."""
    out = tmp_path / "run"
    assert main(train_args(synthetic, out, "--resume")) == 0
    assert "no checkpoint" in capsys.readouterr().out and (out / "last.pt").is_file()
    assert main(train_args(synthetic, out, "--resume")) == 0  # launched again: the finished run is continued
