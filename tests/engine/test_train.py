import json

import pytest
import torch

from actionlib.engine.checkpointing import load_checkpoint
from actionlib.engine.records import read_metrics
from actionlib.engine.train import NonFiniteLossError, TrainConfig, fit, resolve

from .conftest import TinyClips, tiny_model

TIMING = ("clips_per_s", "epoch_time_s")


def config(tmp_path, name="run", **overrides):
    values = dict(
        model="tiny",
        epochs=2,
        batch_size=8,
        effective_batch=16,
        optimizer="adamw",
        lr=1e-2,
        workers=0,
        out=str(tmp_path / name),
        progress=False,
        tensorboard=False,
        seed=3,
    )
    values.update(overrides)
    return resolve(TrainConfig(**values))


def model(seed=0):
    """Model initialisation is the caller's business (`run` seeds before `create`)."""
    torch.manual_seed(seed)
    return tiny_model()


def numbers(path):
    return [{k: v for k, v in line.items() if k not in TIMING} for line in read_metrics(path)]


def test_resolve_thesis_defaults():
    c = resolve(TrainConfig(model="resnext3d_101", options={"head": "bert"}, batch_size=8))
    assert (c.optimizer, c.lr, c.accumulation) == ("adamw", 1e-5, 16)
    c = resolve(TrainConfig(model="i3d", batch_size=8), world_size=2)
    assert (c.optimizer, c.lr, c.accumulation) == ("sgd", 1e-1, 8)
    c = resolve(TrainConfig(model="repflow_50", batch_size=8))
    assert (c.effective_batch, c.accumulation) == (24, 3)  # the authors' Rep-Flow batch
    with pytest.raises(ValueError, match="multiple of batch size 12"):
        resolve(TrainConfig(batch_size=12))


def test_writes_run_directory_and_learns(tmp_path):
    result = fit(config(tmp_path, epochs=3), model(), TinyClips(48), TinyClips(24, seed=1))
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} >= {
        "config.json",
        "config.yaml",
        "environment.json",
        "metrics.jsonl",
        "last.pt",
        "best.pt",
    }
    lines = read_metrics(out)
    assert [line["epoch"] for line in lines] == [0, 1, 2]
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    assert {"val_top1", "val_top3", "lr", "clips_per_s", "skipped_train", "skipped_val"} <= set(lines[0])
    env = json.loads((out / "environment.json").read_text())
    assert env["seed"] == 3 and env["dataset_manifest_sha256"] and "commit" in env["git"]
    assert env["packages"]["torch"] == torch.__version__.split("+")[0]
    state = load_checkpoint(out / "last.pt")
    assert state["epoch"] == 3 and state["step"] == 0 and state["config"]["accumulation"] == 2
    best = load_checkpoint(out / "best.pt")
    assert best["epoch"] - 1 == result["best_epoch"] and best["best_top1"] == result["best_top1"]


def test_same_seed_same_numbers(tmp_path):
    for name in ("a", "b"):
        fit(config(tmp_path, name), model(), TinyClips(48), TinyClips(24, seed=1))
    assert numbers(tmp_path / "a") == numbers(tmp_path / "b")


class Killed(Exception):
    pass


class KillOnce(TinyClips):
    """Raises the first time sample `index` of epoch `epoch` is loaded: a killed process."""

    def __init__(self, at, **kwargs):
        super().__init__(**kwargs)
        self.at, self.loads = at, 0

    def __getitem__(self, index):
        self.loads += 1
        if self.loads == self.at:
            raise Killed
        return super().__getitem__(index)


def test_resume_mid_epoch_gives_the_same_run(tmp_path):
    fit(config(tmp_path, "full", checkpoint_every=1), model(), TinyClips(48), TinyClips(24, seed=1))
    # 6 batches per epoch, a checkpoint after every 2: die while loading batch 5 of epoch 1 (sample 48+8*4+3).
    c = config(tmp_path, "killed", checkpoint_every=1)
    with pytest.raises(Killed):
        fit(c, model(), KillOnce(at=48 + 35, n=48), TinyClips(24, seed=1))
    state = load_checkpoint(tmp_path / "killed" / "last.pt")
    assert (state["epoch"], state["step"]) == (1, 4)
    torch.manual_seed(123)  # a different process state: everything must come from the checkpoint
    c.resume = True
    fit(c, model(), TinyClips(48), TinyClips(24, seed=1))
    assert numbers(tmp_path / "killed") == numbers(tmp_path / "full")
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "killed" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_skipped_videos_are_counted(tmp_path):
    fit(config(tmp_path, epochs=1), model(), TinyClips(48, bad=(0, 5)), TinyClips(24, seed=1, bad=(3,)))
    line = read_metrics(tmp_path / "run")[0]
    assert (line["skipped_train"], line["skipped_val"], line["train_clips"]) == (2, 1, 46)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    fit(config(tmp_path, epochs=1), model(), TinyClips(48), TinyClips(24, seed=1))
    good = load_checkpoint(tmp_path / "run" / "last.pt")
    bad = TinyClips(48)
    bad.base[:] = float("nan")
    c = config(tmp_path, epochs=2, resume=True)
    with pytest.raises(NonFiniteLossError, match="last good checkpoint is .*last.pt"):
        fit(c, tiny_model(), bad, TinyClips(24, seed=1))
    kept = load_checkpoint(tmp_path / "run" / "last.pt")
    assert kept["epoch"] == good["epoch"] == 1
    assert all(torch.equal(kept["model"][k], good["model"][k]) for k in good["model"])


def slow_run_script(root: str, tmp, config_arguments: str) -> str:
    """Python source of a real training process whose clips load in 20 ms each (time to kill it or to race it);
    `config_arguments` follow the path in `config(Path(tmp), ...)`."""
    return f"""
import sys, time, torch
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
from pathlib import Path
from tests.engine.conftest import TinyClips, tiny_model
from tests.engine.test_train import config
from actionlib.engine.train import fit

class Slow(TinyClips):
    def __getitem__(self, index):
        time.sleep(0.02)
        return super().__getitem__(index)

torch.manual_seed(0)
fit(config(Path({str(tmp)!r}), {config_arguments}), tiny_model(), Slow(48), TinyClips(24, seed=1))
"""


def test_sigkill_mid_epoch_then_resume(tmp_path):
    """A real `kill -9` while the run is writing checkpoints: last.pt stays readable and resuming
    gives the uninterrupted run's metrics and weights."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = slow_run_script(root, tmp_path, '"killed", checkpoint_every=1')
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=root)
    last, killed_at = tmp_path / "killed" / "last.pt", None
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if last.exists():
            state = load_checkpoint(last)
            if state["step"] > 0 and state["epoch"] == 1:
                proc.send_signal(signal.SIGKILL)
                killed_at = (state["epoch"], state["step"])
                break
        time.sleep(0.005)
    proc.wait()
    assert killed_at is not None, "the run ended before it could be killed"
    c = config(tmp_path, "killed", checkpoint_every=1, resume=True)
    fit(c, model(), TinyClips(48), TinyClips(24, seed=1))
    fit(config(tmp_path, "full", checkpoint_every=1), model(), TinyClips(48), TinyClips(24, seed=1))
    assert numbers(tmp_path / "killed") == numbers(tmp_path / "full")
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(last)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_seeded_dataset_skips_reseeding_for_datasets_without_random_augmentation():
    import random

    from actionlib.engine.repro import SeededDataset

    class Draws:
        random_augmentation = True

        def __len__(self):
            return 4

        def __getitem__(self, index):
            return random.random()

    seeded = SeededDataset(Draws(), seed=3)
    assert seeded[(1, 2)] == seeded[(1, 2)] != seeded[(2, 2)]  # a pure function of (seed, epoch, index)
    Draws.random_augmentation = False  # e.g. cached features: served as they are, the global stream advances
    random.seed(0)
    first = seeded[(1, 2)]
    assert seeded[(1, 2)] != first
