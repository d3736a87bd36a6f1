import subprocess
import sys

from actionlib.cli import main


def test_complexity_of_one_configuration(capsys):
    assert main(["complexity", "--model", "resnet18", "--head", "bert", "--frames", "4", "--clip", "4x64x64"]) == 0
    out = capsys.readouterr().out
    assert "14,364,275" not in out  # BERT length 4, not the thesis's 16
    assert "parameters" in out and "per frame" in out


def test_unknown_model_exits_2_and_lists_models(capsys):
    assert main(["complexity", "--model", "nope"]) == 2
    assert "available: " in capsys.readouterr().err


def test_bad_clip_is_explained(capsys):
    assert main(["complexity", "--model", "resnet18", "--clip", "big"]) == 2
    assert "TxHxW" in capsys.readouterr().err


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "actionlib", "complexity", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--spec" in out.stdout


def test_top_level_help_and_version_import_no_torch():
    """`actionlib --help` answers without importing torch, pandas or the data tools (measured: 0.05 s of CPU,
    where building every parser took 5-6 s)."""
    code = (
        "import sys\n"
        "from actionlib.cli import main\n"
        "for argv in (['--help'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in ('torch', 'pandas', 'numpy', 'cv2', 'av') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "reproduce" in out and "actionlib 0." in out


def test_lazy_help_lines_are_the_modules_own():
    """The help line each lazily loaded command shows in `actionlib --help` is the one its module declares."""
    from actionlib.cli import LAZY_COMMANDS, build_parser

    full = build_parser()  # every module's parsers
    (subcommands,) = [a for a in full._actions if a.dest == "command"]
    declared = {c.dest: c.help for c in subcommands._choices_actions}
    assert {name: line for name, (_, _, line) in LAZY_COMMANDS.items()} == {n: declared[n] for n in LAZY_COMMANDS}
