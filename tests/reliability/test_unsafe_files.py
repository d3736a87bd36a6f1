"""A checkpoint, scores file or teacher whose unpickling would run code is refused by every entry point, naming
the file, and the code never runs; our own files (also those of older versions) still load."""

import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from actionlib.cli import main as actionlib_main
from actionlib.engine.checkpointing import load_checkpoint, load_model, save_checkpoint
from actionlib.engine.fusion import load_scores
from actionlib.engine.repro import set_rng_state
from actionlib.engine.train import fit
from tests.engine.test_cli import main, train_args
from tests.engine.test_train import config, model

REPO = Path(__file__).resolve().parents[2]


class RunsCode:
    """Unpickling this calls os.system: what a hostile checkpoint does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.fixture
def planted(tmp_path):
    """A file shaped like one of our checkpoints / score files, with a code-running object inside."""
    marker = tmp_path / "pwned"
    payload = RunsCode(f"touch {marker}")
    path = tmp_path / "evil.pt"
    torch.save({"model": payload, "config": {"model": "tiny"}, "scores": payload, "labels": 0, "indices": 0}, path)
    yield path
    assert not marker.exists(), "the planted pickle ran its code"


def refused(path):
    return pytest.raises(ValueError, match=re.escape(f"refused to load {path}: it is not a plain"))


def test_library_loaders_refuse(planted):
    with refused(planted):
        load_checkpoint(planted)
    with refused(planted):
        load_model(planted)
    with refused(planted):
        load_scores(planted)


def test_resume_from_a_planted_last_pt_is_refused(planted, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    last = run / "last.pt"
    planted.rename(last)
    with refused(last):
        fit(config(tmp_path, "run", resume=True), model(), *_tiny())
    with refused(last):
        main(["train", "--resume", "--out", run, "--workers", "0", "--no-progress"])


def test_command_line_entry_points_refuse(planted, tmp_path):
    video = tmp_path / "clip.avi"
    with refused(planted):
        main(["predict", video, "--checkpoint", planted])
    with refused(planted):
        main(["evaluate", "--checkpoint", planted, "--workers", "0"])
    with refused(planted):
        main(["evaluate", "--scores", planted])


def test_the_refusal_is_one_error_line(planted, capsys):
    assert actionlib_main(["evaluate", "--scores", str(planted)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: refused to load {planted}") and "\n" not in err


def test_distillation_teacher_is_refused(planted, synthetic, tmp_path):
    out = tmp_path / "student"
    with refused(planted):
        main(train_args(synthetic, out, "--distill", "bert", "--teacher", planted, "--epochs", "1"))
    assert not (out / "last.pt").exists()


def test_our_files_load_with_weights_only(tmp_path):
    fit(config(tmp_path, epochs=1), model(), *_tiny())
    for name in ("last.pt", "best.pt"):
        state = torch.load(tmp_path / "run" / name, weights_only=True)
        assert state["epoch"] == 1 and state["record"]["epoch"] == 0


def test_checkpoints_of_older_versions_still_resume(tmp_path):
    """Before RNG states were stored as lists, a checkpoint held NumPy's state as an array (and tuples)."""
    np.random.seed(7)
    random.seed(7)
    old = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    save_checkpoint({"rng": [old], "config": {"out": str(tmp_path)}}, tmp_path / "old.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    state = load_checkpoint(tmp_path / "old.pt")
    set_rng_state(state["rng"][0])
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


def test_no_unsafe_load_is_left_in_the_repository():
    unsafe = "weights_only=" + "False"
    found = []
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in ("runs", "__pycache__")]
        for name in files:
            path = Path(folder, name)
            if path.suffix in (".py", ".md", ".ipynb", ".toml", ".cfg", ".txt") and unsafe in path.read_text(
                errors="replace"
            ):
                found.append(str(path.relative_to(REPO)))
    assert not found


def _tiny():
    from tests.engine.conftest import TinyClips

    return TinyClips(48), TinyClips(24, seed=1)
