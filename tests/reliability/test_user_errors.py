"""Every mistake a user can make on the command line ends in one `error: <what>: <why>` line and a non-zero exit,
before any expensive work, or in the right behaviour; a real bug keeps its traceback."""

import errno
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import actionlib.engine.train as train
from actionlib.cli import main
from actionlib.data import synthetic as synth
from actionlib.engine.checkpointing import load_checkpoint, save_checkpoint
from tests.engine.test_cli import train_args

URL_FIX = "URLs are not supported: download the data and pass a local path"


def run(*argv) -> int:
    return main([str(a) for a in argv])


def error_line(capsys, *parts) -> str:
    """The one `error:` line the command printed last on stderr (after a progress bar it clears, if any); it names
    every one of `parts`."""
    err = capsys.readouterr().err
    lines = re.split(r"[\r\n]", err.rstrip("\n"))
    line = lines[-1]
    assert line.startswith("error: "), err
    assert sum(text.startswith("error:") for text in lines) == 1, err
    for part in parts:
        assert str(part) in line, (part, line)
    return line


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if the command gets as far as building the model and reading the data."""

    def refuse(config):
        raise AssertionError("the command should have stopped before training")

    monkeypatch.setattr(train, "run", refuse)


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    root = tmp_path_factory.mktemp("three") / "synthetic"
    synth.generate(root, classes=["wave", "clap", "jump"], videos_per_class=2, frames=8, size=32, splits=1, pose=False)
    return root


@pytest.fixture(scope="module")
def trained(synthetic, tmp_path_factory):
    """A run of one batch on the 4-class synthetic set (resnet18 + BERT, 4 frames of 32 x 32)."""
    out, threads = tmp_path_factory.mktemp("trained") / "run", torch.get_num_threads()
    torch.set_num_threads(1)  # as in every test (tests/engine/conftest.py)
    try:
        assert run(*train_args(synthetic, out, "--epochs", "1", "--max-batches", "1")) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def copy_run(trained, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    return out


def evaluate(checkpoint, *extra):
    return run("evaluate", "--checkpoint", checkpoint, "--workers", "0", *extra)


# --------------------------------------------------------------------------------- silent wrong answers
def test_a_checkpoint_is_not_tested_on_other_classes(trained, three_classes, synthetic, tmp_path, capsys):
    assert evaluate(trained / "best.pt", "--root", three_classes) == 2
    error_line(capsys, "best.pt", "its 4 classes are not the 3 classes", "'sit_down'", "'jump'", three_classes)

    # the other way round: 3 classes in the checkpoint, 4 in the data (used to end in an IndexError)
    state = load_checkpoint(trained / "best.pt")
    config = {**state["config"], "class_names": ["clap", "jump", "wave"], "num_classes": 3}
    from actionlib.models import create

    model = create(config["model"], num_classes=3, **config["options"])
    save_checkpoint({"model": model.state_dict(), "config": config}, tmp_path / "three.pt")
    assert evaluate(tmp_path / "three.pt", "--root", synthetic) == 2
    error_line(capsys, "its 3 classes are not the 4 classes", "class 1: 'jump' in the checkpoint, 'sit_down'")


def unreadable_test_videos(source, target) -> int:
    """A copy of a dataset whose test videos are all empty files; returns how many."""
    shutil.copytree(source, target)
    count = 0
    for split_file in (target / synth.SPLITS_DIR).glob("*_test_split1.txt"):
        action = split_file.name.split("_test_split")[0]
        for line in split_file.read_text().split("\n"):
            if line.endswith(" 2"):
                (target / action / line.split()[0]).write_bytes(b"")
                count += 1
    return count


def test_no_readable_test_videos_is_no_result(trained, synthetic, tmp_path, capsys):
    root = tmp_path / "broken"
    count = unreadable_test_videos(synthetic, root)
    with pytest.warns(UserWarning):
        assert evaluate(trained / "best.pt", "--root", root) == 2
    assert error_line(capsys) == f"error: {root}: no readable test videos ({count} skipped as unreadable)"

    out = tmp_path / "run"
    with pytest.warns(UserWarning):
        assert run(*train_args(root, out, "--epochs", "1", "--max-batches", "1")) == 2
    assert error_line(capsys) == f"error: {root}: no readable test videos ({count} skipped as unreadable)"
    assert not (out / "last.pt").exists()


@pytest.mark.parametrize("kind", ["png", "gif"])
def test_predict_refuses_still_images(trained, tmp_path, capsys, kind):
    image = tmp_path / f"photo.{kind}"
    Image.fromarray(np.full((48, 64, 3), 128, dtype=np.uint8)).save(image)
    assert run("predict", image, "--checkpoint", trained / "best.pt") == 2
    error_line(capsys, f"{image}: not a video (a ", "predict classifies video files")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--size", "0"], "error: --size must be at least 1 (got 0)"),
        (["--frames", "-1"], "error: --frames must be at least 1 (got -1)"),
        (["--option", "width=0"], "error: option 'width' must be at least 1, got 0"),
        (["--batch-size", "0"], "error: --batch-size must be at least 1 (got 0)"),
        (["--option", "width=abc"], "error: option 'width': resnet18 wants an integer, got 'abc'"),
        (["--option", "dropout=high"], "error: option 'dropout': resnet18 wants a number, got 'high'"),
    ],
)
def test_bad_sizes_and_option_types_are_refused_before_any_work(
    synthetic, tmp_path, capsys, no_training, argv, message
):
    out = tmp_path / "run"
    assert run(*train_args(synthetic, out), *argv) == 2
    assert error_line(capsys) == message
    assert not out.exists()


def test_unknown_option_lists_the_accepted_ones(synthetic, tmp_path, capsys, no_training):
    assert run(*train_args(synthetic, tmp_path / "run"), "--option", "foo=1") == 2
    line = error_line(capsys, "option 'foo': resnet18 with head 'bert' does not take it; its options: ")
    assert "keep_prob" in line and "width" in line and "frames" in line


@pytest.mark.parametrize("topk", ["0", "-2"])
def test_topk_below_one(trained, synthetic, capsys, topk):
    video = synthetic / "wave" / "wave_000.avi"
    assert run("predict", video, "--checkpoint", trained / "best.pt", "--topk", topk) == 2
    assert error_line(capsys) == f"error: --topk must be at least 1 (got {topk})"


def test_one_scores_file_is_reported_not_fused(trained, tmp_path, capsys):
    assert evaluate(trained / "best.pt", "--out", tmp_path / "eval", "--json") == 0
    measured = json.loads(capsys.readouterr().out)[0]
    (scores,) = (tmp_path / "eval").glob("scores_*.pt")
    assert run("evaluate", "--scores", scores) == 0
    out = capsys.readouterr().out.strip().split("\n")
    assert len(out) >= 1 and out[0].startswith(f"{scores} [single-center]: top-1 {measured['top1']:.2f}")
    assert f"top-3 {measured['top3']:.2f}" in out[0]


# ------------------------------------------------------------------ operating-system errors in one line
def denied(monkeypatch, method: str, target: Path, code=errno.EACCES):
    """Make `Path.<method>` fail on `target` as the file system would."""
    original = getattr(Path, method)

    def fail(self, *args, **kwargs):
        if Path(self) == target:
            raise OSError(code, os.strerror(code), str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, fail)


def test_permission_denied_on_a_split_file(synthetic, monkeypatch, capsys):
    split_file = synthetic / synth.SPLITS_DIR / "wave_test_split1.txt"
    denied(monkeypatch, "read_bytes", split_file)
    assert run("check-data", synthetic, "--dataset", "synthetic") == 2
    assert error_line(capsys) == (
        f"error: {split_file}: permission denied: check its permissions or choose another location"
    )


def test_permission_denied_on_a_class_folder(synthetic, monkeypatch, capsys):
    denied(monkeypatch, "iterdir", synthetic / "clap")
    assert run("check-data", synthetic, "--dataset", "synthetic") == 2
    error_line(capsys, f"{synthetic / 'clap'}: permission denied")


@pytest.mark.parametrize(
    ("code", "wording"),
    [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system")],
)
def test_an_output_folder_that_cannot_be_written_fails_first(
    synthetic, tmp_path, monkeypatch, capsys, no_training, code, wording
):
    out = tmp_path / "runs" / "run"
    real_open = os.open

    def refusing_open(path, *args, **kwargs):
        if Path(path).parent == out:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    assert run(*train_args(synthetic, out)) == 2
    error_line(capsys, f"error: {out}: {wording}")
    assert not (tmp_path / "runs").exists()  # the folders made for the test are gone


def test_an_output_folder_under_a_file(synthetic, tmp_path, capsys, no_training):
    (tmp_path / "file").write_text("")
    assert run(*train_args(synthetic, tmp_path / "file" / "run")) == 2
    error_line(capsys, f"{tmp_path / 'file'}")


def full_disk(monkeypatch):
    """torch.save writes part of the file, then the disk is full."""

    def save(obj, f, *args, **kwargs):
        f.write(b"the first bytes")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save)


def test_a_full_disk_leaves_no_partial_file(trained, synthetic, tmp_path, monkeypatch, capsys):
    full_disk(monkeypatch)
    out = tmp_path / "eval"
    assert evaluate(trained / "best.pt", "--out", out) == 2
    error_line(capsys, f"error: {out}/scores_0_", "no space left on device")
    assert list(out.iterdir()) == []

    out = tmp_path / "run"
    assert run(*train_args(synthetic, out, "--epochs", "1", "--max-batches", "1")) == 2
    error_line(capsys, f"error: {out / 'last.pt'}: no space left on device")
    assert not [p.name for p in out.iterdir() if p.suffix in (".pt", ".tmp")]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "not a checkpoint: the file is empty"),
        (b"resnet18 weights, see the README\n", "not a checkpoint: not a file torch.save writes"),
        (None, "not a readable checkpoint (truncated or damaged?"),
    ],
)
def test_pretrained_files_that_are_not_checkpoints(synthetic, tmp_path, capsys, content, why):
    path = tmp_path / "weights.pth"
    if content is None:  # a download cut short
        torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    assert run(*train_args(synthetic, tmp_path / "run", "--pretrained", path)) == 2
    assert error_line(capsys).startswith(f"error: {path}: {why}")


@pytest.mark.parametrize("change", [{"num_classes": 5}, {"model": "resnet34"}])
def test_a_checkpoint_whose_weights_do_not_fit_its_config(trained, synthetic, tmp_path, capsys, change):
    state = load_checkpoint(trained / "best.pt")
    state["config"].update(change)
    if "num_classes" in change:
        state["config"]["class_names"] = [*state["config"]["class_names"], "extra"]
    edited = tmp_path / "edited.pt"
    save_checkpoint(state, edited)
    video = synthetic / "wave" / "wave_000.avi"
    for argv in (["predict", video, "--checkpoint", edited], ["evaluate", "--checkpoint", edited]):
        assert run(*argv) == 2
        error_line(capsys, f"error: {edited}: its weights do not fit the model its config describes")


def test_a_real_bug_keeps_its_traceback(synthetic, tmp_path, monkeypatch):
    def bug(config):
        raise RuntimeError("a bug in the library")

    monkeypatch.setattr(train, "run", bug)
    with pytest.raises(RuntimeError, match="a bug in the library"):
        run(*train_args(synthetic, tmp_path / "run"))


# ------------------------------------------------------------------------------------------- smaller
def test_a_killed_synth_is_finished_by_a_rerun(tmp_path, monkeypatch, capsys):
    out = tmp_path / "data"
    argv = ["synth", out, "--classes", "wave,clap", "--videos-per-class", "2"]
    argv += ["--video-frames", "8", "--video-size", "32"]
    make_video, made = synth._make_video, []

    def killed_after_one(job):
        if made:
            raise KeyboardInterrupt
        made.append(job)
        return make_video(job)

    monkeypatch.setattr(synth, "_make_video", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        run(*argv)
    assert not (out / synth.MANIFEST).exists()
    monkeypatch.setattr(synth, "_make_video", make_video)

    assert run(*argv) == 0  # a rerun writes it again
    assert "unfinished `actionlib synth` output" in capsys.readouterr().err
    assert (out / synth.MANIFEST).exists() and not (out / synth.PARTIAL).exists()
    assert len(list(out.glob("*/*.avi"))) == 4
    assert run(*argv) == 2  # finished now: replacing it needs --overwrite
    error_line(capsys, "--overwrite")
    assert run(*argv, "--overwrite") == 0


def test_control_characters_in_names_are_escaped(three_classes, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(three_classes, root)
    shutil.copy(root / "wave" / "wave_000.avi", root / "wave" / "sneaky\nOK: no problems found.avi")
    assert run("check-data", root, "--dataset", "synthetic", "--min-frames", "1") == 1
    out = capsys.readouterr().out
    assert "sneaky\\nOK: no problems found.avi" in out
    assert "OK: no problems found" not in out.split("\n") and out.rstrip().endswith("NOT OK: see the problems above")

    assert run("evaluate", "--scores", tmp_path / "bad\nname.pt") == 2
    error_line(capsys, "bad\\nname.pt")


def test_check_data_lists_every_malformed_split_line(three_classes, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(three_classes, root)
    splits = root / synth.SPLITS_DIR
    with open(splits / "wave_test_split1.txt", "a") as f:
        f.write("no code here\n")
    with open(splits / "clap_test_split1.txt", "a") as f:
        f.write("clap_000.avi 7\n")
    assert run("check-data", root, "--dataset", "synthetic", "--min-frames", "1") == 1
    out = capsys.readouterr().out
    assert "malformed split lines: 2" in out
    assert f"{synth.SPLITS_DIR}/wave_test_split1.txt:3: no code here" in out
    assert f"{synth.SPLITS_DIR}/clap_test_split1.txt:3: clap_000.avi 7" in out


def test_urls_are_not_paths(trained, synthetic, tmp_path, capsys, no_training):
    url = "https://example.org/hmdb51"
    assert run(*train_args(url, tmp_path / "run")) == 2
    assert error_line(capsys) == f"error: --root {url}: {URL_FIX}"
    assert run("check-data", url, "--dataset", "hmdb51") == 2
    assert error_line(capsys) == f"error: ROOT {url}: {URL_FIX}"
    assert run("predict", f"{url}/video.avi", "--checkpoint", trained / "best.pt") == 2
    assert error_line(capsys) == f"error: video {url}/video.avi: {URL_FIX}"
    assert evaluate(trained / "best.pt", "--root", url) == 2
    assert error_line(capsys) == f"error: --root {url}: {URL_FIX}"


def test_resume_refuses_changed_settings(trained, tmp_path, capsys, no_training):
    lr = load_checkpoint(trained / "last.pt")["config"]["lr"]
    resume = ["train", "--resume", "--out", trained, "--workers", "0", "--no-progress"]
    assert run(*resume, "--lr", "0.5", "--seed", "7") == 2
    error_line(capsys, f"--lr 0.5 (the run's: {lr}); --seed 7 (the run's: 0)", "drop these options")
    assert run(*resume, "--head", "lstm") == 2
    error_line(capsys, "--head lstm (the run's: bert)")
    with pytest.raises(AssertionError, match="before training"):  # the run's own values are fine
        run(*resume, "--lr", str(lr), "--seed", "0", "--head", "bert", "--epochs", "2")


def test_resume_from_moved_data_notes_it_and_keeps_the_first_command(
    trained, synthetic, three_classes, tmp_path, capsys
):
    out = copy_run(trained, tmp_path)
    resume = ["train", "--resume", "--out", out, "--workers", "0", "--no-progress", "--epochs", "2"]
    assert run(*resume, "--root", three_classes) == 2  # moved to other data: refused
    error_line(capsys, "its 4 classes are not the 3 classes")

    moved = tmp_path / "moved"
    shutil.copytree(synthetic, moved)
    assert run(*resume, "--root", moved) == 0
    assert f"note: --root: the run read {synthetic}; continuing with {moved}" in capsys.readouterr().err
    env = json.loads((out / "environment.json").read_text())
    assert len(env["invocations"]) == 2 and env["command"] == env["invocations"][0]["command"]
    assert load_checkpoint(out / "last.pt")["config"]["root"] == str(moved)
