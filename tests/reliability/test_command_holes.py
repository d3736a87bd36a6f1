"""Input that would pass silently or end in a traceback: each command refuses it with one `error:` line naming the
thing and the fix, or says what it did (a short video's repeated frames); Ctrl-C ends in one line and exit code 130."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from actionlib.data.flow import MARKER_NAME
from actionlib.engine.checkpointing import load_checkpoint, save_checkpoint
from actionlib.engine.fusion import save_scores
from actionlib.engine.records import read_metrics
from tests.engine.test_cli import train_args
from tests.reliability.test_user_errors import error_line, run, trained  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def actionlib(*argv, **kwargs) -> subprocess.CompletedProcess:
    """`python -m actionlib ARGV` in a child process, as a user runs it."""
    command = [sys.executable, "-m", "actionlib", *map(str, argv)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, **kwargs)


def refused(done: subprocess.CompletedProcess, *parts) -> str:
    """The child's one `error:` line, last on stderr, naming every one of `parts`; exit code 2, no traceback (a
    library's warning may come before it)."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().split("\n")
    assert lines[-1].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    assert sum(line.startswith("error:") for line in lines) == 1, done.stderr
    for part in parts:
        assert str(part) in lines[-1], (part, lines[-1])
    return lines[-1]


# ------------------------------------------------------------------------------------- recipes --slurm
def test_recipes_never_replaces_a_script_it_did_not_write(tmp_path):
    slurm, runs = tmp_path / "slurm", tmp_path / "runs"
    slurm.mkdir()
    (slurm / "submit.sh").write_text("#!/bin/bash\nsbatch my_own_job.sbatch\n")
    recipes = ["recipes", "--tables", "5.1", "--runs", runs, "--slurm", slurm]
    done = actionlib(*recipes)
    refused(done, slurm / "submit.sh", "--overwrite")
    assert done.stdout == ""
    assert (slurm / "submit.sh").read_text() == "#!/bin/bash\nsbatch my_own_job.sbatch\n"
    assert list(slurm.iterdir()) == [slurm / "submit.sh"]  # nothing written beside it either

    assert actionlib(*recipes, "--overwrite").returncode == 0
    written = {path: path.read_text() for path in slurm.iterdir()}
    assert "sbatch --parsable" in written[slurm / "submit.sh"] and len(written) == 7
    assert actionlib(*recipes).returncode == 0  # its own scripts, unchanged: written again as they are
    assert {path: path.read_text() for path in slurm.iterdir()} == written

    edited = next(path for path in written if path.suffix == ".sbatch")
    edited.write_text(written[edited] + "echo my own last step\n")
    refused(actionlib(*recipes), edited, "--overwrite")
    assert edited.read_text().endswith("echo my own last step\n")

    refused(actionlib("recipes", "--tables", "5.1", "--overwrite"), "--overwrite needs --slurm")


# ------------------------------------------------------------------------------------------ score files
def scores_file(path: Path, **change) -> Path:
    """A scores file as `evaluate --out` writes it (4 videos, 3 classes), with some entries replaced."""
    entries = {
        "scores": torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [0.0, 2.0, 0.0]]),
        "labels": torch.tensor([0, 1, 2, 0]),
        "indices": torch.arange(4),
        "class_names": ["wave", "clap", "jump"],
        "meta": {"protocol": "single-center"},
    }
    entries.update(change)
    torch.save(entries, path)
    return path


NAN = torch.tensor([[float("nan")] * 3, [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [0.0, 2.0, 0.0]])


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"scores": NAN}, "the scores of 1 of 4 videos hold NaN or infinite values"),
        ({"scores": NAN.nan_to_num(posinf=0.0, nan=float("inf"))}, "1 of 4 videos hold NaN or infinite values"),
        ({"scores": [[1.0, 0.0, 0.0]] * 4}, "'scores' must be a 2-D float tensor (videos x classes), got list"),
        ({"scores": torch.zeros(4)}, "'scores' must be a 2-D float tensor (videos x classes), got a 1-D"),
        ({"scores": torch.zeros(4, 3, dtype=torch.long)}, "got a 2-D torch.int64 tensor"),
        ({"labels": torch.tensor([0, 1, 2])}, "'labels' must be a 1-D integer tensor of one entry per video (4)"),
        ({"labels": "0 1 2 0"}, "'labels' must be a 1-D integer tensor of one entry per video (4), got str"),
        ({"labels": torch.tensor([0, 1, 7, 0])}, "'labels' must be class numbers 0..2, got 0..7"),
        ({"indices": torch.zeros(4)}, "'indices' must be a 1-D integer tensor"),
        ({"indices": torch.tensor([0, 1, 1, 2])}, "'indices' name a video more than once"),
        ({"class_names": ["wave", "clap"]}, "'class_names' names 2 classes, the scores have 3"),
        ({"class_names": {"wave": 0}}, "'class_names' must be a list of strings, got dict"),
    ],
)
def test_malformed_or_nan_scores_are_refused_naming_the_file(tmp_path, capsys, change, why):
    bad = scores_file(tmp_path / "bad.pt", **change)
    assert run("evaluate", "--scores", bad) == 2
    error_line(capsys, bad, why)
    good = scores_file(tmp_path / "good.pt")
    assert run("evaluate", "--scores", good, "--scores", bad) == 2  # fusing it: the same refusal
    error_line(capsys, bad, why)


def test_a_file_without_the_entries_and_a_good_file(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    torch.save({"scores": torch.zeros(4, 3)}, bad)
    assert run("evaluate", "--scores", bad) == 2
    error_line(capsys, bad, "is not a scores file")
    good = save_scores(
        tmp_path / "good.pt", {"scores": torch.eye(3), "labels": torch.arange(3), "indices": torch.arange(3)}
    )
    assert run("evaluate", "--scores", good) == 0
    assert "top-1 100.00" in capsys.readouterr().out


def test_nan_scores_fail_in_a_child_process_without_a_traceback(tmp_path):
    bad = scores_file(tmp_path / "diverged.pt", scores=NAN)
    refused(actionlib("evaluate", "--scores", bad), bad, "NaN")


# ---------------------------------------------------------------------------------- what predict prints
def write_video(path: Path, frames: int) -> Path:
    """An MPEG-4 AVI of `frames` gray frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.height, stream.width, stream.pix_fmt = 48, 64, "yuv420p"
        for t in range(frames):
            image = np.full((48, 64, 3), 60 + 40 * t, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_escape_codes_in_class_names_are_printed_escaped(trained, synthetic, tmp_path, capsys):  # noqa: F811
    state = load_checkpoint(trained / "best.pt")
    state["config"]["class_names"] = [f"\x1b[31m{name}\x1b[0m" for name in state["config"]["class_names"]]
    checkpoint = save_checkpoint(state, tmp_path / "painted.pt")
    assert run("predict", synthetic / "wave" / "wave_000.avi", "--checkpoint", checkpoint, "--topk", "4") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert sum(line.endswith("\\x1b[0m") and "\\x1b[31m" in line for line in out.split("\n")) == 4


def test_predict_says_when_a_short_video_fills_the_clip_by_repeating(trained, synthetic, tmp_path, capsys):  # noqa: F811
    short = write_video(tmp_path / "short.avi", 2)
    full = synthetic / "wave" / "wave_000.avi"  # 16 frames, the model's clip 4
    assert run("predict", short, full, "--checkpoint", trained / "best.pt", "--topk", "2") == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[:2] == [str(short), "  note: the video has 2 frames; the 4 segments repeat them"]
    assert lines[4] == str(full) and not lines[5].strip().startswith("note:")
    assert run("predict", short, full, "--checkpoint", trained / "best.pt", "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["note"] == "the video has 2 frames; the 4 segments repeat them" and "note" not in results[1]


# ------------------------------------------------------------------------------------------- complexity
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--clip", "abc"], "error: --clip needs --model: without it complexity counts the thesis's rows"),
        (["--head", "bert"], "error: --head needs --model"),
        (["--model", "resnet18", "--out", "table.csv"], "error: --out has no effect with --model"),
        (["--model", "resnet18", "--clip", "0x0x0"], "error: --clip 0x0x0: give TxHxW or CxTxHxW in positive whole"),
        (["--model", "resnet18", "--clip", "4x-1x64"], "error: --clip 4x-1x64: give TxHxW or CxTxHxW in positive"),
        (["--model", "resnet18", "--clip", "2x4x64x64x1"], "error: --clip 2x4x64x64x1: give TxHxW or CxTxHxW"),
        (["--model", "resnet18", "--clip", "1x4x64x64"], "error: --clip 1x4x64x64: the model takes 3 channels, not 1"),
    ],
)
def test_complexity_refuses_bad_and_ignored_options(capsys, argv, message):
    assert run("complexity", *argv) == 2
    assert error_line(capsys).startswith(message)


def test_a_clip_too_small_for_the_model_is_one_line():
    refused(actionlib("complexity", "--model", "repflow_50", "--clip", "1x2x2"), "--clip 1x2x2", "larger clip")


# ---------------------------------------------------------------------------------------------- Ctrl-C
def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(command: list, **env) -> subprocess.Popen:
    """`command` as a terminal's foreground job: its own process group, SIGINT at its default (a job started in
    the background by a non-interactive shell inherits it ignored), unbuffered output read line by line."""
    return subprocess.Popen(
        [str(part) for part in command],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **env},
        start_new_session=True,
        preexec_fn=_default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(process: subprocess.Popen, starts: str) -> None:
    """Block until `process` prints a line starting with `starts` (fails if it ends first)."""
    for line in iter(process.stdout.readline, ""):
        if line.startswith(starts):
            return
    raise AssertionError(f"exit code {process.wait()} without a line {starts!r}: {process.stderr.read()}")


def ctrl_c(process: subprocess.Popen) -> str:
    """Ctrl-C as a terminal sends it (to the whole process group); its stderr once it has ended."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return err


def test_ctrl_c_to_train_keeps_the_run_and_says_how_to_go_on(synthetic, tmp_path):
    out = tmp_path / "run"
    args = train_args(synthetic, out)
    child = start([sys.executable, "-m", "actionlib", *args, "--epochs", "1000"])
    read_until(child, "epoch 0: ")  # epoch 0 is written; epoch 1 has begun
    err = ctrl_c(child)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().split("\n")[-1] == (
        "interrupted: the run folder keeps its last checkpoint (the last finished epoch, or a later "
        "--checkpoint-every step); the same command with --resume continues the run"
    )
    assert run(*args, "--resume") == 0  # its 2 epochs of train_args: one more at most
    assert [line["epoch"] for line in read_metrics(out)][:2] == [0, 1]


# A `flow` run whose second video is held until the first one is finished: the Ctrl-C then comes at a known point
# (one video kept, one under way), not at a guessed time.
HELD_VIDEO = """
import signal, time
from actionlib.data import flow

extract = flow.extract_video_flow


def held(video, out_dir, **kwargs):
    if video.stem == "held":
        first = out_dir.parent / "first"
        while not flow.is_complete(first):  # a condition, checked every 50 ms
            time.sleep(0.05)
        print("holding", flush=True)
        signal.pause()
    return extract(video, out_dir, **kwargs)
"""


@pytest.mark.parametrize("jobs", ["1", "2"])  # in the main process, and in worker processes
def test_ctrl_c_to_flow_keeps_the_finished_videos(tmp_path, jobs):
    if not hasattr(pytest.importorskip("cv2"), "optflow"):
        pytest.skip("OpenCV without contrib modules (pip install opencv-contrib-python-headless)")
    root, out = tmp_path / "videos", tmp_path / "flow"
    (root / "wave").mkdir(parents=True)
    write_video(root / "wave" / "first.avi", 3)
    write_video(root / "wave" / "held.avi", 3)
    (tmp_path / "held_video.py").write_text(HELD_VIDEO)
    script = (
        "import sys, held_video\n"
        "from actionlib.data import flow\n"
        "from actionlib.cli import main\n"
        "flow.extract_video_flow = held_video.held\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    flow_args = ["flow", root, "--out", out, "--fast", "--quiet"]
    child = start([sys.executable, "-c", script, *flow_args, "--jobs", jobs], PYTHONPATH=f"{tmp_path}:{ROOT}")
    read_until(child, "holding")
    err = ctrl_c(child)
    assert child.returncode == 130, err
    assert err.strip() == (
        f"interrupted: the videos finished so far are kept in {out}; the same command continues with the others "
        "(finished videos are skipped)"
    )
    assert (out / "wave" / "first" / MARKER_NAME).is_file() and not (out / "wave" / "held").exists()
    again = actionlib(*flow_args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{out}: 1 written, 1 already done, 0 failed"
