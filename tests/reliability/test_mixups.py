"""Nothing joins two things that do not belong together without saying so: score files of different test videos,
another run's last.pt, two writers of one synthetic root or flow output, a video in both the train and the test list
of a split. And real limits end in one line: a file-size limit during `torch.save`, a checkpoint whose config asks
for a billion classes."""

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from actionlib.data import synthetic as synth
from actionlib.data.datasets import read_split
from actionlib.data.flow import LOCK_NAME
from actionlib.engine.checkpointing import load_checkpoint, save_checkpoint
from actionlib.engine.evaluate import evaluate_checkpoint
from actionlib.engine.fusion import save_scores, scored_videos
from actionlib.engine.records import RunFolderError, read_metrics
from actionlib.engine.train import fit
from tests.engine.conftest import TinyClips
from tests.engine.test_cli import train_args
from tests.engine.test_train import config, model, numbers
from tests.reliability.test_command_holes import ROOT, actionlib, read_until, refused, write_video
from tests.reliability.test_user_errors import copy_run, error_line, run, trained  # noqa: F401 (fixture)


# ------------------------------------------------------------------------------------ score files and fusion
@pytest.fixture(scope="module")
def two_splits(tmp_path_factory):
    """The 4 classes of the `synthetic` fixture with 2 splits: one test video per class in each, other videos."""
    root = tmp_path_factory.mktemp("two") / "synthetic"
    classes = ["sit_down", "stand_up", "wave", "clap"]
    synth.generate(root, classes=classes, videos_per_class=4, frames=16, size=(64, 48), splits=2, pose=False)
    return root


def scores_of(checkpoint: Path, root: Path, split: int, path: Path, split_dir=None) -> Path:
    """Test `checkpoint` on split `split` of `root` and save its scores with what they were computed on: the split
    and the name of each scored video."""
    overrides = {"root": str(root), "split": split, "split_dir": None if split_dir is None else str(split_dir)}
    _, out, values = evaluate_checkpoint(checkpoint, overrides=overrides, workers=0)
    test_set = SimpleNamespace(records=read_split(root, "synthetic", split, "test", split_dir))
    videos = scored_videos(test_set, out["indices"])
    meta = {"checkpoint": str(checkpoint), "protocol": "single-center"}
    return save_scores(path, out, values["class_names"], meta, split=split, videos=videos)


def test_score_files_of_different_splits_are_not_fused(trained, two_splits, tmp_path, capsys):  # noqa: F811
    best = trained / "best.pt"
    one, two = (scores_of(best, two_splits, k, tmp_path / f"split{k}.pt") for k in (1, 2))
    a, b = torch.load(one, weights_only=True), torch.load(two, weights_only=True)
    assert torch.equal(a["labels"], b["labels"])  # the labels alone cannot tell the splits apart
    assert a["videos"] != b["videos"] and (a["split"], b["split"]) == (1, 2)
    assert len(a["class_names"]) == 4

    assert run("evaluate", "--scores", one, "--scores", two) == 2
    error_line(capsys, f"error: {one} scored test split 1, {two} split 2: fuse only scores of one split")
    again = scores_of(best, two_splits, 1, tmp_path / "again.pt")
    assert run("evaluate", "--scores", one, "--scores", again) == 0  # the same split: fused
    assert "fusion (l2) of 2" in capsys.readouterr().out

    # split 1 again, from split files that test other videos: the same number, another list
    edited = tmp_path / "edited_splits"
    shutil.copytree(two_splits / synth.SPLITS_DIR, edited)
    for name in ("sit_down", "stand_up", "wave", "clap"):
        shutil.copy(edited / f"{name}_test_split2.txt", edited / f"{name}_test_split1.txt")
    other = scores_of(best, two_splits, 1, tmp_path / "other.pt", split_dir=edited)
    assert run("evaluate", "--scores", one, "--scores", other) == 2
    error_line(capsys, f"{one} and {other} scored different videos (video 0: ", "fuse only scores of the same split")


def test_a_score_file_that_does_not_say_what_it_scored_is_not_fused(trained, two_splits, tmp_path, capsys):  # noqa: F811
    one = scores_of(trained / "best.pt", two_splits, 1, tmp_path / "split1.pt")
    old = tmp_path / "old.pt"
    state = torch.load(one, weights_only=True)
    del state["videos"], state["split"]  # as score files were written before they recorded these
    torch.save(state, old)
    assert run("evaluate", "--scores", old) == 0  # reported on its own
    assert capsys.readouterr().out.startswith(f"{old} [single-center]: top-1 ")
    assert run("evaluate", "--scores", one, "--scores", old) == 2
    error_line(capsys, f"error: {old}: the scores file does not record which test videos it scored", "compute it again")


# ------------------------------------------------------------------------------------ another run's last.pt
def test_resume_with_another_runs_last_pt_is_refused(trained, synthetic, tmp_path, capsys):  # noqa: F811
    """A run folder whose last.pt was copied from another run (another --lr): resuming would add that run's epochs
    to this folder's metrics.jsonl."""
    out = tmp_path / "other"
    assert run(*train_args(synthetic, out, "--epochs", "1", "--max-batches", "1", "--lr", "0.5")) == 0
    shutil.copy(trained / "last.pt", out / "last.pt")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    resume = ["train", "--resume", "--out", out, "--epochs", "2", "--workers", "0", "--no-progress"]
    assert run(*resume) == 1
    line = error_line(capsys, f"error: --resume: {out / 'last.pt'} was written by another run than the one in {out}")
    assert "lr 0.0001 (0.5)" in line and "move it into a folder of its own and resume there" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing written, nothing removed

    # as the line says: in a folder of its own it resumes, and its metrics are its run's only
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(trained / "last.pt", own / "last.pt")
    assert run("train", "--resume", "--out", own, "--epochs", "2", "--workers", "0", "--no-progress") == 0
    assert [line["epoch"] for line in read_metrics(own)] == [0, 1]
    assert read_metrics(own)[0] == read_metrics(trained)[0]


def test_fit_refuses_a_resume_into_another_run_unless_overwrite(tmp_path):
    data = TinyClips(48), TinyClips(24, seed=1)
    fit(config(tmp_path, "a", epochs=1), model(), *data)
    fit(config(tmp_path, "b", epochs=1, lr=1e-3), model(), *data)
    b = tmp_path / "b"
    with pytest.raises(RunFolderError, match=r"other settings \(lr 0\.001 \(0\.01\), the checkpoint's in paren"):
        fit(config(tmp_path, "a", epochs=2, lr=1e-3, resume=True), model(), *data)
    shutil.copy(tmp_path / "a" / "last.pt", b / "last.pt")
    metrics = (b / "metrics.jsonl").read_text()
    with pytest.raises(RunFolderError, match=r"written by another run than the one in .*b \(lr 0\.01 \(0\.001\)"):
        fit(config(tmp_path, "b", epochs=2, resume=True), model(), *data)
    assert (b / "metrics.jsonl").read_text() == metrics

    # asked for (resume + overwrite): b's own run is removed and a's continues there, as it does in its own folder
    fit(config(tmp_path, "b", epochs=2, resume=True, overwrite=True), model(), *data)
    fit(config(tmp_path, "a", epochs=2, resume=True), model(), *data)
    assert numbers(b) == numbers(tmp_path / "a")
    assert json.loads((b / "config.json").read_text())["lr"] == 0.01


# ------------------------------------------------------------------------------------ two writers at once
# A command whose first unit of work waits, announced by "holding", for a line on its stdin: the test starts a
# second writer while the first one certainly holds its output, not at a guessed moment.
HOLDING = """
import sys
from actionlib.cli import main
from actionlib.data import {module} as target

original = target.{function}


def held(*args, **kwargs):
    if not getattr(held, "done", False):
        held.done = True
        print("holding", flush=True)
        sys.stdin.readline()
    return original(*args, **kwargs)


target.{function} = held
sys.exit(main(sys.argv[1:]))
"""


def started(module: str, function: str, *argv) -> subprocess.Popen:
    """`actionlib ARGV` in a child whose `module.function` holds at its first call until a line arrives on stdin."""
    script = HOLDING.format(module=module, function=function)
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, argv)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(child: subprocess.Popen) -> tuple[str, str]:
    """Let a held child go on; its output once it has ended."""
    try:
        return child.communicate("go\n", timeout=600)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_two_synth_runs_into_one_root(tmp_path):
    root = tmp_path / "data"
    argv = ["synth", root, "--classes", "wave,clap", "--videos-per-class", "2"]
    argv += ["--video-frames", "8", "--video-size", "32"]
    first = started("synthetic", "_make_video", *argv, "--seed", "1", "--quiet")
    try:
        read_until(first, "holding")
        lock = tmp_path / ".data.lock"
        assert json.loads(lock.read_text())["pid"] == first.pid  # the condition the second run meets
        listing = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        second = actionlib(*argv, "--seed", "2", "--quiet")
        refused(second, f"{root} is being written by process {first.pid} on ", f"remove {lock} if that process")
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == listing  # it touched nothing
    finally:
        out, err = finish(first)
    assert first.returncode == 0, err
    assert json.loads((root / synth.MANIFEST).read_text())["seed"] == 1
    assert not lock.exists() and not (tmp_path / ".data_pose.lock").exists()
    assert len(list(root.glob("*/*.avi"))) == 4


def test_two_flow_runs_into_one_output(tmp_path):
    if not hasattr(pytest.importorskip("cv2"), "optflow"):
        pytest.skip("OpenCV without contrib modules (pip install opencv-contrib-python-headless)")
    videos, out = tmp_path / "videos", tmp_path / "flow"
    (videos / "wave").mkdir(parents=True)
    for name in ("a", "b"):
        write_video(videos / "wave" / f"{name}.avi", 3)
    argv = ["flow", videos, "--out", out, "--fast", "--quiet"]
    first = started("flow", "extract_video_flow", *argv)
    try:
        read_until(first, "holding")
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == first.pid
        second = actionlib(*argv)
        line = refused(second, f"{out} is being written by process {first.pid} on ")
        assert "failed" not in second.stderr and second.stdout == "", line
    finally:
        stdout, err = finish(first)
    assert first.returncode == 0, err
    assert stdout.strip().endswith(f"{out}: 2 written, 0 already done, 0 failed") and "failed:" not in err
    assert not (out / LOCK_NAME).exists()


# ------------------------------------------------------------------------------------ real limits
def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return apply


def test_a_file_size_limit_during_the_checkpoint_save(trained, tmp_path):  # noqa: F811
    """`ulimit -f` smaller than a checkpoint: torch.save fails inside its zip writer ("unexpected pos"), which is
    one line naming last.pt; the last.pt of the epoch before is left as it was, and no temporary file."""
    out = copy_run(trained, tmp_path)
    before = hashlib.sha256((out / "last.pt").read_bytes()).hexdigest()
    resume = ["train", "--resume", "--out", out, "--epochs", "2", "--workers", "0", "--no-progress"]
    limit = (out / "last.pt").stat().st_size // 2
    done = actionlib(*resume, preexec_fn=_file_size_limit(limit))
    refused(done, f"error: {out / 'last.pt'}: file too large: a file-size limit was reached")
    assert hashlib.sha256((out / "last.pt").read_bytes()).hexdigest() == before
    assert [line["epoch"] for line in read_metrics(out)] == [0]
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"num_classes": 10**9}, "its config says num_classes=1000000000 but names 4 classes"),
        (
            {"num_classes": 10**9, "class_names": None},
            "its config's num_classes must be a whole number within 1..100000",
        ),
        ({"num_classes": "4"}, "its config's num_classes must be a whole number within 1..100000, got '4'"),
        ({"options": {"head": "bert", "frames": 10**9}}, "its config's option 'frames' must be"),
    ],
)
def test_absurd_sizes_in_a_checkpoints_config(trained, synthetic, tmp_path, capsys, change, why):  # noqa: F811
    """Refused before a model is built from them (a billion classes would allocate gigabytes first)."""
    state = load_checkpoint(trained / "best.pt")
    state["config"].update(change)
    edited = save_checkpoint(state, tmp_path / "edited.pt")
    video = synthetic / "wave" / "wave_000.avi"
    for argv in (["predict", video, "--checkpoint", edited], ["evaluate", "--checkpoint", edited, "--workers", "0"]):
        assert run(*argv) == 2
        error_line(capsys, f"error: {edited}: {why}", "was the file edited or damaged?")


# ------------------------------------------------------------------------------------ a leak in the split files
def test_train_refuses_a_video_in_the_train_and_test_lists_of_a_split(synthetic, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(synthetic, root)
    split_file = root / synth.SPLITS_DIR / "wave_test_split1.txt"
    lines = split_file.read_text().splitlines()
    number, test_line = next((n, line) for n, line in enumerate(lines, 1) if line.endswith(" 2"))
    video = test_line.split()[0]
    split_file.write_text("\n".join([*lines, f"{video} 1"]) + "\n")
    out = tmp_path / "run"
    assert run(*train_args(root, out)) == 2
    error_line(
        capsys,
        f"error: {split_file}:{number}: wave/{video} is a test video of split 1, and a training video in "
        f"{split_file}:{len(lines) + 1}",
        "`actionlib check-data` lists every such video",
    )
    assert not out.exists()
