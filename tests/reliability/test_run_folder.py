"""A run folder belongs to one run: a new run never silently replaces or appends to an old one, two writers never
share a folder, and a killed writer's leftovers (lock, temporary files) do not block or pollute the next run."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from actionlib.cli import main as actionlib_main
from actionlib.engine.checkpointing import load_checkpoint
from actionlib.engine.records import RunFolderError, RunLock, read_metrics
from actionlib.engine.train import TrainConfig, fit, resolve
from tests.engine.conftest import TinyClips
from tests.engine.test_cli import train_args
from tests.engine.test_train import config, model, numbers, slow_run_script


def data():
    return TinyClips(48), TinyClips(24, seed=1)


def test_training_into_a_run_is_refused_unless_resume_or_overwrite(tmp_path):
    fit(config(tmp_path, epochs=1), model(), *data())
    before = (tmp_path / "run" / "metrics.jsonl").read_text()
    message = f"{tmp_path / 'run'} holds a run already: pass --resume to continue it or --overwrite to replace it"
    with pytest.raises(RunFolderError, match=message):
        fit(config(tmp_path, epochs=2, lr=1e-3), model(), *data())
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == before
    assert not (tmp_path / "run" / "run.lock").exists()

    # --overwrite replaces the run: the same numbers as a run in a fresh folder, nothing of the old one left
    fit(config(tmp_path, epochs=2, lr=1e-3, overwrite=True), model(), *data())
    fit(config(tmp_path, "fresh", epochs=2, lr=1e-3), model(), *data())
    assert numbers(tmp_path / "run") == numbers(tmp_path / "fresh")
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["lr"] == 1e-3


def test_command_line_refuses_then_overwrites(synthetic, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text(json.dumps({"epoch": 0, "val_top1": 50.0}) + "\n")
    (out / "config.json").write_text("{}\n")
    args = [str(a) for a in train_args(synthetic, out, "--epochs", "1")]
    assert actionlib_main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {out} holds a run already: pass --resume to continue it or --overwrite to replace it"
    assert (out / "config.json").read_text() == "{}\n"
    assert actionlib_main([*args, "--overwrite"]) == 0
    assert [line["epoch"] for line in read_metrics(out)] == [0] and "val_top3" in read_metrics(out)[0]
    assert actionlib_main([*args, "--overwrite", "--resume"]) == 2  # contradictory


@pytest.mark.parametrize("option", ["--epochs", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_epochs_and_batch_size_below_one_are_refused_before_any_work(tmp_path, capsys, option, value):
    out = tmp_path / "run"
    args = ["train", "--model", "resnet18", "--root", str(tmp_path / "nowhere"), "--out", str(out), option, value]
    assert actionlib_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {option} must be at least 1 (got {value})"
    assert not out.exists()
    with pytest.raises(ValueError, match="at least 1"):
        resolve(TrainConfig(**{option[2:].replace("-", "_"): int(value)}))


def test_default_folder_names_tell_runs_apart():
    def name(**values):
        return resolve(TrainConfig(model="resnet18", batch_size=8, **values)).name

    base = name()
    assert base.startswith("resnet18_rgb_hmdb51_s1_seed0_") and len(base.rsplit("_", 1)[1]) == 8
    for changed in ({"lr": 0.5}, {"epochs": 3}, {"options": {"width": 16}}, {"optimizer": "sgd"}, {"seed": 1}):
        assert name(**changed) != base, changed
    # where and how a run is executed does not make it another run
    assert name(workers=0, progress=False, device="cpu", checkpoint_every=5, tensorboard=False) == base
    assert resolve(TrainConfig(model="resnet18", batch_size=8), world_size=2).name == base
    assert resolve(TrainConfig(model="resnet18", name="mine")).out == os.path.join("runs", "mine")


def _dead_pid():
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def test_a_second_writer_is_refused_while_the_lock_is_held(tmp_path, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = tmp_path / "run"
        out.mkdir()
        (out / "run.lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        with pytest.raises(RunFolderError, match=f"being written by process {holder.pid} on "):
            fit(config(tmp_path), model(), *data())
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"]  # nothing written, the lock left alone
    finally:
        holder.kill()
        holder.wait()
    # its process is gone: the lock is stale and taken over, and released at the end
    fit(config(tmp_path, epochs=1), model(), *data())
    assert "taking over the lock of process" in capsys.readouterr().out
    assert [line["epoch"] for line in read_metrics(tmp_path / "run")] == [0]
    assert not (tmp_path / "run" / "run.lock").exists()


def test_lock_of_another_host_or_this_process_is_never_taken_over(tmp_path):
    for owner in ({"pid": _dead_pid(), "host": "elsewhere"}, {"pid": os.getpid(), "host": socket.gethostname()}):
        (tmp_path / "run.lock").write_text(json.dumps(owner))
        with pytest.raises(RunFolderError, match=f"process {owner['pid']} on {owner['host']}"):
            RunLock(tmp_path).acquire()
    (tmp_path / "run.lock").unlink()
    with RunLock(tmp_path):
        with pytest.raises(RunFolderError):
            RunLock(tmp_path).acquire()
    assert not (tmp_path / "run.lock").exists()


def test_two_processes_never_write_one_folder(tmp_path):
    root = str(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    writer = subprocess.Popen([sys.executable, "-c", slow_run_script(root, tmp_path, "epochs=1")], cwd=root)
    try:
        lock = tmp_path / "run" / "run.lock"
        while writer.poll() is None and not lock.exists():
            time.sleep(0.005)
        assert writer.poll() is None, "the first run ended before the second could start"
        with pytest.raises(RunFolderError, match=f"process {writer.pid} "):
            fit(config(tmp_path, epochs=1, resume=True), model(), *data())
    finally:
        assert writer.wait(timeout=120) == 0
    assert [line["epoch"] for line in read_metrics(tmp_path / "run")] == [0]
    assert not lock.exists()


def test_stale_temporary_files_are_removed_when_a_run_starts(tmp_path):
    fit(config(tmp_path, epochs=1), model(), *data())
    out = tmp_path / "run"
    stale = [out / ".last.pt.tmp", out / ".last.pt.999999.0badcafe.tmp", out / ".metrics.jsonl.1.ab.tmp"]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    (out / "notes.tmp").write_text("not ours")  # only the hidden temporaries a writer makes are removed
    fit(config(tmp_path, epochs=2, resume=True), model(), *data())
    assert not any(path.exists() for path in stale) and (out / "notes.tmp").exists()
    assert not list(out.glob(".*.tmp"))
