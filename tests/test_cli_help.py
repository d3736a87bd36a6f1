"""The command line's edges: every command's --help is quick, a mistyped option shows the command's own usage, an
option name means one kind of thing, options that would be ignored are refused, lists of errors stay readable."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from actionlib.cli import LAZY_COMMANDS, build_parser, main

COMMANDS = ["complexity", "models", *LAZY_COMMANDS]
# what each command needs besides the mistyped option, so that argparse gets as far as the typo
REQUIRED = {
    "predict": ["video.avi", "--checkpoint", "best.pt"],
    "check-data": ["--dataset", "hmdb51"],
    "flow": ["--flow-frames", "flow"],
    "pose": ["--pose-frames", "pose"],
}


def _cpu_seconds(command: list[str]) -> tuple[float, str]:
    """CPU time (user + system) of a child process running `command`, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_commands_help_is_quick_and_imports_no_torch(command):
    """The parsers are built from modules that import neither torch nor pandas (measured: 0.06-0.3 s of CPU,
    where train/evaluate/predict took 2.1-2.5 s and check-data/flow/pose 3.8-4.4 s)."""
    code = (
        "import sys\n"
        "from actionlib.cli import main\n"
        "try:\n"
        f"    main([{command!r}, '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'torchvision', 'pandas', 'cv2') if m in sys.modules))\n"
    )
    seconds, out = _cpu_seconds([sys.executable, "-c", code])
    assert f"usage: actionlib {command}" in out and "HEAVY []" in out, out
    assert seconds < 0.5, f"actionlib {command} --help took {seconds:.2f} s of CPU"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_mistyped_option_shows_the_commands_usage(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, *REQUIRED.get(command, []), "--modle", "x"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: actionlib {command} ") or err.startswith(f"usage: actionlib {command}\n"), err
    # (a command taking a positional ROOT takes "x" as its root)
    assert err.splitlines()[-1].startswith(f"actionlib {command}: error: unrecognized arguments: --modle"), err


def test_python_m_actionlib_reproduce_shows_its_usage_too(capsys):
    from actionlib.reproduce.cli import main as reproduce_main

    with pytest.raises(SystemExit):
        reproduce_main(["--modle"])
    err = capsys.readouterr().err
    assert err.startswith("usage: actionlib reproduce ") and "unrecognized arguments: --modle" in err


# The options renamed so that a name means one kind of thing in every command; the old spelling still works.
RENAMED = [
    ("train", "--run", "--out", "run", []),
    ("evaluate", "--report", "--out", "report", []),
    ("evaluate", "--score-fusion", "--fusion", "score_fusion", []),
    ("flow", "--flow-frames", "--out", "out", ["root"]),
    ("flow", "--video-size", "--size", "size", ["root", "--flow-frames", "f"]),
    ("pose", "--pose-frames", "--out", "out", ["root"]),
    # `--frames` and `--size` are a clip's length and crop (train, complexity), `--pose-frames` a pose frame root
    ("synth", "--video-frames", "--frames", "frames", ["root"]),
    ("synth", "--video-size", "--size", "size", ["root"]),
    ("synth", "--pose-frames", "--pose-out", "pose_out", ["root"]),
]
# a value each option takes, and what it parses to, where "x" is not one
VALUES = {"--score-fusion": ("softmax", "softmax"), "--video-frames": ("16", 16), "--video-size": ("64x48", (64, 48))}


@pytest.mark.parametrize(("command", "name", "old", "dest", "extra"), RENAMED)
def test_renamed_options_keep_their_old_spelling_out_of_the_help(command, name, old, dest, extra):
    parser = build_parser([command])
    value, parsed = VALUES.get(name, ("x", "x"))

    def given(option):
        got = getattr(parser.parse_args([command, *extra, option, value]), dest)
        return str(got) if isinstance(got, Path) else got

    assert given(name) == parsed
    assert given(old) == parsed
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    text = commands.choices[command].format_help()
    assert f" {name} " in text and f"  {old} " not in text and f"[{old} " not in text


def test_no_command_lists_out_any_more():
    """`--out` meant a run folder, a report folder, an output root or a CSV file: each command now names which."""
    parser = build_parser()  # every command
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, command in commands.choices.items():
        shown = {s for action in command._actions if action.help != "==SUPPRESS==" for s in action.option_strings}
        assert "--out" not in shown, name


def test_size_and_frames_mean_a_clip_wherever_they_are_shown():
    """`--size` and `--frames` are a model's crop and clip length; a video's own size and frame count are
    `--video-size` and `--video-frames`; `--pose-frames` is a pose frame root (synth's was `--pose-out`)."""
    parser = build_parser()  # every command
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, command in commands.choices.items():
        shown = {s for action in command._actions if action.help != "==SUPPRESS==" for s in action.option_strings}
        if {"--size", "--frames"} & shown:
            assert name in ("train", "complexity"), name
        assert "--pose-out" not in shown, name


def test_complexity_csv_and_its_old_name(tmp_path, capsys):
    assert main(["complexity", "--model", "resnet18", "--csv", "t.csv"]) == 2
    assert capsys.readouterr().err.startswith("error: --csv has no effect with --model")
    assert main(["complexity", "--csv", "a.csv", "--out", "b.csv"]) == 2
    assert "--out is the old name of --csv" in capsys.readouterr().err


def test_complexity_quiet_turns_the_progress_bar_off(tmp_path, monkeypatch):
    import pandas as pd

    import actionlib.thesis as thesis

    seen = {}

    def table(spec, ids=None, progress=True):
        seen["progress"] = progress
        return pd.DataFrame({"match": pd.Series([], dtype=bool)})

    monkeypatch.setattr(thesis, "complexity_table", table)
    assert main(["complexity", "--only", "none", "--quiet"]) == 0
    assert seen == {"progress": False}


def test_evaluate_quiet_turns_the_progress_bars_off(monkeypatch, capsys):
    import importlib

    evaluate = importlib.import_module("actionlib.engine.evaluate")  # the package's `evaluate` is the function
    seen = {}

    def evaluate_checkpoint(checkpoint, protocol, overrides, batch_size, workers, device, progress=False):
        seen.update(progress=progress, batch_size=batch_size, workers=workers)
        return {"top1": 50.0, "top3": 100.0, "videos": 2}, {}, {"name": "run", "class_names": ["a", "b"]}

    monkeypatch.setattr(evaluate, "evaluate_checkpoint", evaluate_checkpoint)
    assert main(["evaluate", "--checkpoint", "best.pt", "--quiet"]) == 0
    assert seen == {"progress": False, "batch_size": 4, "workers": 4}  # the defaults, filled in by the command
    assert main(["evaluate", "--checkpoint", "best.pt"]) == 0 and seen["progress"] is True
    assert "run [None]: top-1 50.00" in capsys.readouterr().out  # (the fake report names no protocol)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--scores", "a.pt", "--protocol", "all"], "error: --protocol needs --checkpoint"),
        (["evaluate", "--scores", "a.pt", "--scores", "b.pt", "--workers", "0"], "error: --workers needs --checkpoint"),
        (["evaluate", "--checkpoint", "a.pt", "--weights", "1"], "error: --weights needs two or more"),
        (["evaluate", "--scores", "a.pt", "--fusion", "softmax"], "error: --score-fusion needs two or more"),
        (["train", "--model", "resnet18", "--teacher", "t.pt"], "error: --teacher needs --distill"),
        (["train", "--model", "resnet18", "--distill", "mars", "--teacher-features", "tokens"], "error: --teacher-f"),
        (["train", "--model", "resnet18", "--effective-batch", "8", "--accumulation", "2"], "error: --effective-b"),
        (["train", "--model", "resnet18", "--momentum", "0.5"], "error: --momentum has no effect with the adamw"),
        (["train", "--model", "i3d", "--optimizer", "adam", "--dampening", "0"], "error: --dampening has no effect"),
        (["recipes", "--json", "--gpus", "2"], "error: --gpus has no effect with --json"),
        (["recipes", "--notebook", "06", "--tables", "4.3"], "error: --tables has no effect with --notebook"),
    ],
)
def test_options_that_would_have_no_effect_are_refused(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def test_sgd_settings_are_taken_where_sgd_runs(monkeypatch):
    """--momentum is refused only where it would be ignored: i3d's default optimizer is SGD."""
    import actionlib.engine.cli as engine_cli

    monkeypatch.setattr(engine_cli, "check_writable", lambda folder: (_ for _ in ()).throw(RuntimeError("checked")))
    with pytest.raises(RuntimeError, match="checked"):  # past the option checks, stopped before any work
        main(["train", "--model", "i3d", "--momentum", "0.5", "--run", "x"])


def test_a_list_of_missing_inputs_is_printed_one_item_per_line(monkeypatch, capsys):
    import actionlib.reproduce.cli as reproduce_cli
    from actionlib.reproduce import MissingInputsError

    def run(**options):
        raise MissingInputsError(
            "the full profile's inputs are missing (no notebook was started):\n  - hmdb51: dataset folder "
            "data/hmdb51 (needed by 02_x)\n  - checkpoints in weights: a.pth (needed by 02_x)"
        )

    monkeypatch.setattr(reproduce_cli, "run", run)
    assert main(["reproduce", "--profile", "full"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: the full profile's inputs are missing (no notebook was started):",
        "  - hmdb51: dataset folder data/hmdb51 (needed by 02_x)",
        "  - checkpoints in weights: a.pth (needed by 02_x)",
    ]


def test_the_copied_choices_match_their_modules():
    """actionlib.choices repeats a few names of modules that import torch or pandas; they must agree."""
    from actionlib import choices, profiles
    from actionlib.data import datasets
    from actionlib.engine import fusion, inputs, optim
    from actionlib.reproduce import execution

    assert choices.FUSION_METHODS == fusion.FUSION_METHODS
    assert choices.PROFILES == tuple(profiles.PROFILES)
    assert choices.KERNEL_ENV == execution.KERNEL_ENV
    assert datasets.DATASETS is choices.DATASETS and inputs.PROTOCOLS is choices.PROTOCOLS
    assert optim.OPTIMIZERS is choices.OPTIMIZERS
