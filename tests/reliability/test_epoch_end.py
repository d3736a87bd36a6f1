"""A kill between any two writes at an epoch's end (last.pt, best.pt, the metrics line) loses nothing: the resumed
run has one metrics line per epoch, a best.pt of the best epoch it reports and the weights of an uninterrupted run."""

import shutil

import pytest
import torch

import actionlib.engine.train as train
from actionlib.engine.checkpointing import load_checkpoint
from actionlib.engine.records import RunRecorder, read_metrics
from actionlib.engine.train import fit
from tests.engine.conftest import TinyClips
from tests.engine.test_train import Killed, config, model, numbers

EPOCHS = 3


def data():
    return TinyClips(48), TinyClips(24, seed=1)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp, threads = tmp_path_factory.mktemp("uninterrupted"), torch.get_num_threads()
    torch.set_num_threads(1)  # as in every test (tests/engine/conftest.py)
    try:
        result = fit(config(tmp, epochs=EPOCHS), model(), *data())
    finally:
        torch.set_num_threads(threads)
    return tmp / "run", result


def kill_at(monkeypatch, where: str, epoch: int):
    """Make the end of `epoch` die at `where`: while writing last.pt (a torn temporary left behind), or just
    after last.pt, best.pt or the metrics line is written."""
    save, copy, log = train.save_checkpoint, train.copy_checkpoint, RunRecorder.log_epoch

    def save_checkpoint(state, path):
        at_the_end = state["step"] == 0 and state["epoch"] == epoch + 1
        if at_the_end and where == "writing last.pt":
            (path.parent / f".{path.name}.4242.deadbeef.tmp").write_bytes(b"torn")
            raise Killed
        save(state, path)
        if at_the_end and where == "after last.pt":
            raise Killed

    def copy_checkpoint(source, target):
        copy(source, target)
        if where == "after best.pt" and load_checkpoint(target)["epoch"] == epoch + 1:
            raise Killed

    def log_epoch(self, metrics):
        log(self, metrics)
        if where == "after the metrics line" and metrics["epoch"] == epoch:
            raise Killed

    monkeypatch.setattr(train, "save_checkpoint", save_checkpoint)
    monkeypatch.setattr(train, "copy_checkpoint", copy_checkpoint)
    monkeypatch.setattr(RunRecorder, "log_epoch", log_epoch)


# epoch 0 always improves (best.pt is written); epoch 2 is the last, whose end only a resume can finish
@pytest.mark.parametrize("epoch", [0, EPOCHS - 1])
@pytest.mark.parametrize("where", ["writing last.pt", "after last.pt", "after best.pt", "after the metrics line"])
def test_kill_at_an_epoch_end_then_resume(tmp_path, monkeypatch, uninterrupted, where, epoch):
    reference, expected = uninterrupted
    improved = [line["epoch"] for line in read_metrics(reference) if line["best_epoch"] == line["epoch"]]
    if where == "after best.pt" and epoch not in improved:
        pytest.skip("this epoch writes no best.pt")
    with monkeypatch.context() as patch:
        kill_at(patch, where, epoch)
        with pytest.raises(Killed):
            fit(config(tmp_path, epochs=EPOCHS), model(), *data())
    run = tmp_path / "run"
    assert not (run / "run.lock").exists()

    result = fit(config(tmp_path, epochs=EPOCHS, resume=True), model(), *data())
    assert [line["epoch"] for line in read_metrics(run)] == list(range(EPOCHS))
    assert numbers(run) == numbers(reference)
    assert (result["best_epoch"], result["best_top1"]) == (expected["best_epoch"], expected["best_top1"])
    best = load_checkpoint(run / "best.pt")
    assert best["best_epoch"] == best["epoch"] - 1 == result["best_epoch"]
    for name in ("last.pt", "best.pt"):
        ours, theirs = load_checkpoint(run / name)["model"], load_checkpoint(reference / name)["model"]
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs), name
    assert not list(run.glob(".*.tmp"))


def test_metrics_lines_beyond_last_pt_are_dropped(tmp_path, uninterrupted):
    """Lines of epochs after last.pt's (an older version wrote them before last.pt) are redone, not kept twice."""
    reference, _ = uninterrupted
    fit(config(tmp_path, epochs=1), model(), *data())
    run = tmp_path / "run"
    shutil.copyfile(run / "last.pt", tmp_path / "after_epoch_0.pt")
    fit(config(tmp_path, epochs=2, resume=True), model(), *data())
    shutil.copyfile(tmp_path / "after_epoch_0.pt", run / "last.pt")  # last.pt lost epoch 1; its line is there
    fit(config(tmp_path, epochs=EPOCHS, resume=True), model(), *data())
    assert numbers(run) == numbers(reference)


@pytest.mark.parametrize("where", ["writing best.pt", "writing last.pt"])
def test_a_run_that_writes_once_writes_what_an_epoch_by_epoch_run_writes(tmp_path, monkeypatch, uninterrupted, where):
    """`write_each_epoch=False` (heads of seconds): no file until the run ends, then the same best.pt, last.pt and
    metrics lines as a run writing every epoch; killed while writing them, it starts again to the same end."""
    reference, expected = uninterrupted
    saves, kill = [], [where.removeprefix("writing ")]
    save = train.save_checkpoint

    def save_checkpoint(state, path):
        saves.append(path.name)
        if path.name in kill:
            raise Killed
        return save(state, path)

    monkeypatch.setattr(train, "save_checkpoint", save_checkpoint)
    with pytest.raises(Killed):
        fit(config(tmp_path, epochs=EPOCHS, write_each_epoch=False), model(), *data())
    run = tmp_path / "run"
    assert not (run / "last.pt").exists() and not (run / "run.lock").exists()

    saves.clear(), kill.clear()
    result = fit(config(tmp_path, epochs=EPOCHS, write_each_epoch=False, resume=True), model(), *data())
    assert saves == ["best.pt", "last.pt"]  # once each, at the end
    assert numbers(run) == numbers(reference)
    assert (result["best_epoch"], result["best_top1"]) == (expected["best_epoch"], expected["best_top1"])
    for name in ("last.pt", "best.pt"):
        ours, theirs = load_checkpoint(run / name), load_checkpoint(reference / name)
        assert all(torch.equal(ours["model"][k], theirs["model"][k]) for k in theirs["model"]), name
        assert (ours["epoch"], ours["best_epoch"]) == (theirs["epoch"], theirs["best_epoch"]), name
