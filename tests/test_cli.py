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
