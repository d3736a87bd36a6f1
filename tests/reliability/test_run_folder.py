"""A run folder belongs to one run: a new run never silently replaces or appends to an old one, two writers never
share a folder, and a killed writer's leftovers (lock, temporary files) do not block or pollute the next run."""

import json
import os
import re
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
from tests.engine.test_train import config, model, numbers


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


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A real training process that stops at its first clip, its run folder locked, says "holding" and goes on when a line
# arrives on its stdin: the test races it at a moment it knows, not one it guesses.
HOLDING_RUN = """
import sys, torch
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
from pathlib import Path
from tests.engine.conftest import TinyClips, tiny_model
from tests.engine.test_train import config
from actionlib.engine.train import fit

class Held(TinyClips):
    waited = False

    def __getitem__(self, index):
        if not Held.waited:
            Held.waited = True
            print("holding", flush=True)
            sys.stdin.readline()
        return super().__getitem__(index)

fit(config(Path({tmp!r}), epochs=1), tiny_model(), Held(48), TinyClips(24, seed=1))
"""


def _read_until(process, expected: str) -> None:
    """Block until `process` prints the line `expected` (fails if it ends first)."""
    for line in iter(process.stdout.readline, ""):
        if line == expected + "\n":
            return
    raise AssertionError(f"the process ended (exit code {process.wait()}) without printing {expected!r}")


def test_two_processes_never_write_one_folder(tmp_path):
    script = HOLDING_RUN.format(root=ROOT, tmp=str(tmp_path))
    writer = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        _read_until(writer, "holding")
        with pytest.raises(RunFolderError, match=f"process {writer.pid} "):
            fit(config(tmp_path, epochs=1, resume=True), model(), *data())
        writer.communicate("go\n", timeout=300)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == 0
    assert [line["epoch"] for line in read_metrics(tmp_path / "run")] == [0]
    assert not (tmp_path / "run" / "run.lock").exists()


# A process that tries to take the lock of `folder` each time it reads "go", says "won" or "refused <why>", and
# releases it on "release".
RACER = """
import sys
sys.path.insert(0, {root!r})
from actionlib.engine.records import RunFolderError, RunLock

print("ready", flush=True)
for line in sys.stdin:
    if line == "go\\n":
        try:
            lock = RunLock({folder!r}).acquire()
        except RunFolderError as err:
            print("refused", err, flush=True)
        else:
            print("won", flush=True)
    elif line == "release\\n":
        lock.release()
        print("released", flush=True)
"""


def test_writers_racing_for_a_lock_one_wins_and_the_others_name_it(tmp_path):
    """Started at once, round after round: one writer wins, and every other one reads the winner's pid from the lock
    (never a lock still empty)."""
    script = RACER.format(root=ROOT, folder=str(tmp_path))
    racers = [
        subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    try:
        for racer in racers:
            _read_until(racer, "ready")
        for _ in range(10):
            for racer in racers:
                racer.stdin.write("go\n")
                racer.stdin.flush()
            answers = [racer.stdout.readline() for racer in racers]
            (winner,) = [racer for racer, answer in zip(racers, answers, strict=True) if answer == "won\n"]
            refused = f"refused {tmp_path} is being written by process {winner.pid} on {socket.gethostname()}: "
            assert all(answer == "won\n" or answer.startswith(refused) for answer in answers), answers
            winner.stdin.write("release\n")
            winner.stdin.flush()
            _read_until(winner, "released")
            assert list(tmp_path.iterdir()) == []  # no lock, no temporary left
    finally:
        for racer in racers:
            racer.stdin.close()
            racer.wait(timeout=60)


@pytest.fixture
def young_for_an_hour(monkeypatch):
    """A lock naming no owner counts as young for an hour: a slow machine never turns a just-written one stale."""
    monkeypatch.setattr(RunLock, "UNREADABLE_STALE_S", 3600.0)


def _date_back(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_an_empty_lock_is_held_while_young_and_taken_over_when_old(synthetic, tmp_path, capsys, young_for_an_hour):
    """An empty lock is what an older version left when it was killed between creating and filling its lock, or
    when the disk was full: young, its writer may be filling it in; old, its writer is gone."""
    out = tmp_path / "run"
    out.mkdir()
    lock = out / "run.lock"
    lock.touch()
    args = [str(a) for a in train_args(synthetic, out, "--epochs", "1")]
    assert actionlib_main(args) == 1
    err = capsys.readouterr().err
    young = rf"\({re.escape(str(lock))} exists, \d+ s old, with no owner yet\)"
    assert re.fullmatch(
        rf"error: {re.escape(str(out))} is being written by another process {young}: try again in a few seconds, "
        r"or remove it if no run is writing\n",
        err,
    ), err
    assert sorted(p.name for p in out.iterdir()) == ["run.lock"]

    _date_back(lock, 7200)
    assert actionlib_main(args) == 0
    taken = rf"{re.escape(str(lock))}: taking over a lock that names no owner, 7\d\d\d s old \(its writer is gone\)"
    assert re.search(taken, capsys.readouterr().out)
    assert [line["epoch"] for line in read_metrics(out)] == [0]
    assert not lock.exists()


def test_train_takes_over_an_empty_lock_a_minute_old(synthetic, tmp_path):
    """A real `python -m actionlib train` into a folder whose lock an older version left empty a minute ago."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.lock").touch()
    _date_back(out / "run.lock", 60)
    command = [sys.executable, "-m", "actionlib", *[str(a) for a in train_args(synthetic, out, "--epochs", "1")]]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"run\.lock: taking over a lock that names no owner, \d+ s old \(its writer is gone\)", done.stdout
    )
    assert [line["epoch"] for line in read_metrics(out)] == [0]
    assert not (out / "run.lock").exists()


@pytest.mark.parametrize(
    "content",
    [b'{"pid": 12', b"\xff\xfe\x00garbage", b'["pid", 12]', b'{"host": "vm"}'],
    ids=["torn", "binary", "list", "no-pid"],
)
def test_a_lock_that_names_no_owner_is_judged_by_its_age(tmp_path, content, young_for_an_hour):
    lock = tmp_path / "run.lock"
    lock.write_bytes(content)
    with pytest.raises(RunFolderError, match=r"being written by another process \(.* with no owner yet\)"):
        RunLock(tmp_path).acquire()
    assert lock.read_bytes() == content
    _date_back(lock, 7200)
    with RunLock(tmp_path) as taken:
        assert json.loads(lock.read_text()) == taken.owner
        assert taken.owner["pid"] == os.getpid() and taken.owner["started"]
    assert list(tmp_path.iterdir()) == []


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
