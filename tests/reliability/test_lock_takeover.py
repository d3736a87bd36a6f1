"""Taking over a stale lock (its writer dead) is one step for everyone else: the takeover re-reads the dead writer's
lock and removes it under a guard, so a writer that takes the lock meanwhile never loses it, and writers racing to
take over one stale lock end with exactly one holder.

Real processes, driven by lines on their stdin and stdout: every test waits for what a process says, never for a
time, and holds whatever order the processes happen to run in."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from actionlib.engine.records import RunFolderError, RunLock
from tests.reliability.test_run_folder import ROOT, _dead_pid, _read_until

# A process that tries to take the lock of `folder` each time it reads "go", says "won" or "refused <why>" (after
# any "... taking over ..." line), and releases the lock on "release". With `pause`, its first takeover stops where
# it has re-read the stale lock and not yet removed it, says "re-read", and goes on when a line arrives.
RACER = """
import sys
sys.path.insert(0, {root!r})
from actionlib.engine.records import RunFolderError, RunLock
from actionlib.locks import FolderLock

if {pause!r}:
    take_over, age = FolderLock._take_over, FolderLock._age

    def pausing_age(self):  # called right after the re-read, before the removal
        FolderLock._age = age
        print("re-read", flush=True)
        sys.stdin.readline()
        return age(self)

    def pausing_take_over(self, other):
        FolderLock._take_over = take_over
        FolderLock._age = pausing_age
        try:
            take_over(self, other)
        finally:
            FolderLock._age = age

    FolderLock._take_over = pausing_take_over

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


def _start(folder, pause=False):
    script = RACER.format(root=ROOT, folder=str(folder), pause=pause)
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _read_until(process, "ready")
    return process


def _send(process, line):
    process.stdin.write(line + "\n")
    process.stdin.flush()


def _answer(process):
    """The process's answer to "go" ("won" or "refused ..."), and the takeover lines it printed before it."""
    said = []
    for line in iter(process.stdout.readline, ""):
        if line == "won\n" or line.startswith("refused "):
            return line, said
        said.append(line)
    raise AssertionError(f"the process ended (exit code {process.wait()}) without answering")


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.stdin.close()
    for process in processes:
        process.wait(timeout=60)


def _stale_lock(folder):
    """A lock as a writer killed mid-run leaves it: its pid is gone."""
    owner = {"pid": _dead_pid(), "host": socket.gethostname(), "started": "2024-01-01T00:00:00+0000"}
    (folder / "run.lock").write_text(json.dumps(owner))
    return owner


def _one_holder(folder, racers, answers, said, dead):
    """Exactly one racer holds the lock, the others name it, and the dead writer's lock was removed once."""
    (winner,) = [racer for racer, (answer, _) in zip(racers, answers, strict=True) if answer == "won\n"]
    refused = f"refused {folder} is being written by process {winner.pid} on {socket.gethostname()}: "
    assert all(answer == "won\n" or answer.startswith(refused) for answer, _ in answers), answers
    assert json.loads((folder / "run.lock").read_text())["pid"] == winner.pid
    takeovers = [line for lines in said for line in lines]
    assert takeovers == [f"{folder / 'run.lock'}: taking over the lock of process {dead['pid']}, which is gone\n"]
    return winner


def _release(folder, winner):
    _send(winner, "release")
    _read_until(winner, "released")
    assert list(folder.iterdir()) == []  # no lock, no takeover guard, no temporary left


def test_three_processes_taking_over_one_stale_lock_end_with_one_holder(tmp_path):
    racers = [_start(tmp_path) for _ in range(3)]
    try:
        for _ in range(10):
            dead = _stale_lock(tmp_path)
            for racer in racers:
                _send(racer, "go")
            answers = [_answer(racer) for racer in racers]
            winner = _one_holder(tmp_path, racers, answers, [lines for _, lines in answers], dead)
            _release(tmp_path, winner)
    finally:
        _stop(racers)


def test_a_lock_taken_while_a_takeover_rereads_the_stale_one_is_never_removed(tmp_path):
    """The first racer stops between re-reading the dead writer's lock and removing it, while two others try: had
    one of them taken the lock in that gap, the removal would take it from it, and two processes would write."""
    paused = _start(tmp_path, pause=True)
    others = [_start(tmp_path) for _ in range(2)]
    racers = [paused, *others]
    try:
        dead = _stale_lock(tmp_path)
        _send(paused, "go")
        _read_until(paused, "re-read")
        for racer in others:
            _send(racer, "go")
        _send(paused, "on")
        answers = [_answer(racer) for racer in racers]
        winner = _one_holder(tmp_path, racers, answers, [lines for _, lines in answers], dead)
        _release(tmp_path, winner)
    finally:
        _stop(racers)


def test_a_takeover_killed_midway_leaves_nothing_that_blocks_the_next(tmp_path, capsys):
    paused = _start(tmp_path, pause=True)
    try:
        dead = _stale_lock(tmp_path)
        _send(paused, "go")
        _read_until(paused, "re-read")  # it holds the takeover guard now
        paused.send_signal(signal.SIGKILL)
        paused.wait(timeout=60)
    finally:
        if paused.poll() is None:
            paused.kill()
            paused.wait()
    assert sorted(path.name for path in tmp_path.iterdir()) == [".run.lock.takeover", "run.lock"]
    with RunLock(tmp_path) as lock:
        assert json.loads((tmp_path / "run.lock").read_text()) == lock.owner
    assert f"taking over the lock of process {dead['pid']}, which is gone" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_a_live_lock_found_by_a_takeover_is_left_to_its_writer(tmp_path, monkeypatch):
    """A takeover that finds the stale lock replaced by a live writer's leaves that lock alone and names its writer."""
    dead = _stale_lock(tmp_path)
    live = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2024-01-01T00:00:01+0000"}  # alive
    take_over = RunLock._take_over

    def replaced_meanwhile(self, other):
        assert other == dead
        (tmp_path / "run.lock").write_text(json.dumps(live))
        take_over(self, other)

    monkeypatch.setattr(RunLock, "_take_over", replaced_meanwhile)
    with pytest.raises(RunFolderError, match=f"being written by process {live['pid']} on "):
        RunLock(tmp_path).acquire()
    assert json.loads((tmp_path / "run.lock").read_text()) == live
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run.lock"]
