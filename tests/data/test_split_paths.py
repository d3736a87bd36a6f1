"""Split files name videos inside the dataset root only: a line, a class index or a split file's name that reaches
outside (absolute, `..`) is refused naming its file and line, never read; and check-data reports a video listed for
both training and testing in one split."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from actionlib.data.check import check_dataset
from actionlib.data.datasets import ClipDataset, SplitFileError, class_names, read_split
from actionlib.data.sampling import FrameSampler
from actionlib.data.transforms import ClipTransform

from .test_check import parse
from .test_video import write_video

ROOT = Path(__file__).resolve().parents[2]


def tiny_hmdb(root: Path) -> Path:
    """clap/ and wave/ with two 8-frame videos each; split 1 trains on the first of each and tests on the second."""
    split_dir = root / "testTrainMulti_7030_splits"
    split_dir.mkdir(parents=True)
    for name in ("clap", "wave"):
        for i in range(2):
            write_video(root / name / f"{name}_{i:03d}.avi", 8)
        (split_dir / f"{name}_test_split1.txt").write_text(f"{name}_000.avi 1\n{name}_001.avi 2\n")
    return root


def tiny_ucf(root: Path) -> Path:
    """UCF-101/{Archery,Basketball}/ with two videos each and ucfTrainTestlist/ beside it."""
    videos, lists = root / "UCF-101", root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 Archery\n2 Basketball\n")
    train, test = [], []
    for label, name in enumerate(("Archery", "Basketball"), start=1):
        for group in (1, 2):
            write_video(videos / name / f"v_{name}_g0{group}_c01.avi", 8)
        train.append(f"{name}/v_{name}_g01_c01.avi {label}\n")
        test.append(f"{name}/v_{name}_g02_c01.avi\n")
    (lists / "trainlist01.txt").write_text("".join(train))
    (lists / "testlist01.txt").write_text("".join(test))
    return videos


def append(path: Path, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("../wave/wave_000.avi 1", "a '..' component"),
        ("..\\wave\\wave_000.avi 1", "a '..' component"),
        ("/etc/passwd 1", "an absolute path"),
    ],
)
def test_an_hmdb_line_outside_its_class_folder_is_refused(tmp_path, line, why):
    root = tiny_hmdb(tmp_path / "hmdb")
    split_file = root / "testTrainMulti_7030_splits" / "clap_test_split1.txt"
    append(split_file, line)
    message = f"{split_file}:3: {line!r} names a video outside clap/ ({why}); list the file names in clap/"
    with pytest.raises(SplitFileError) as refused:
        read_split(root, "hmdb51", 1, "train")
    assert str(refused.value) == message
    report = check_dataset(root, "hmdb51", min_frames=4)
    assert report.malformed == [(split_file, 3, line)] and not report.ok


def test_the_command_line_refuses_a_line_outside_the_root_in_one_line(tmp_path):
    """A real `python -m actionlib train`: one error line naming the file and line, exit code 2, nothing trained."""
    root = tiny_hmdb(tmp_path / "hmdb")
    split_file = root / "testTrainMulti_7030_splits" / "clap_test_split1.txt"
    append(split_file, "../wave/wave_000.avi 1")
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "actionlib",
        "train",
        "--dataset",
        "hmdb51",
        "--root",
        str(root),
        "--out",
        str(out),
    ]
    command += ["--model", "resnet18", "--epochs", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"error: {split_file}:3: '../wave/wave_000.avi 1' names a video outside clap/ (a '..' component); "
        "list the file names in clap/\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("name", ["..", "."])
def test_a_split_file_naming_no_class_folder_is_refused(tmp_path, name):
    root = tiny_hmdb(tmp_path / "hmdb")
    split_file = root / "testTrainMulti_7030_splits" / f"{name}_test_split1.txt"
    split_file.write_text("wave/wave_000.avi 1\n")
    message = f"{split_file}: its class {name!r} is not a folder of the dataset root"
    with pytest.raises(SplitFileError, match=re.escape(message)):
        class_names(root, "hmdb51")
    with pytest.raises(SplitFileError, match="is not a folder of the dataset root"):
        read_split(root, "hmdb51", 1, "train")
    args = parse(["check-data", str(root), "--dataset", "hmdb51", "--quiet"])
    with pytest.raises(SplitFileError, match="is not a folder of the dataset root"):
        args.func(args)


@pytest.mark.parametrize(
    ("file_name", "line", "why"),
    [
        ("trainlist01.txt", "Archery/../Basketball/v_Basketball_g01_c01.avi 1", "a '..' component"),
        ("testlist01.txt", "Archery/../Basketball/v_Basketball_g02_c01.avi", "a '..' component"),
        ("trainlist01.txt", "Archery\\..\\Basketball\\v_Basketball_g01_c01.avi 1", "a '..' component"),
        ("trainlist01.txt", "/etc/passwd 1", "an absolute path"),
        ("trainlist01.txt", "./v_Archery_g01_c01.avi 1", "'.' is no class"),
    ],
)
def test_a_ucf_line_outside_its_class_folder_is_refused(tmp_path, file_name, line, why):
    root = tiny_ucf(tmp_path)
    split_file = tmp_path / "ucfTrainTestlist" / file_name
    append(split_file, line)
    subset = "train" if file_name.startswith("train") else "test"
    with pytest.raises(SplitFileError) as refused:
        read_split(root, "ucf101", 1, subset)
    assert str(refused.value) == (
        f"{split_file}:3: {line!r} names a video outside its class folder ({why}); expected '<Class>/<video file>' "
        "with the folder of the video's class"
    )
    assert check_dataset(root, "ucf101", min_frames=4).malformed == [(split_file, 3, line)]


@pytest.mark.parametrize("name", ["..", ".", "../Basketball", "/tmp"])
def test_a_class_index_naming_no_folder_is_refused(tmp_path, name):
    root = tiny_ucf(tmp_path)
    class_index = tmp_path / "ucfTrainTestlist" / "classInd.txt"
    append(class_index, f"3 {name}")
    message = f"{class_index}:3: bad line '3 {name}'; expected '<number> <ClassName>'"
    with pytest.raises(SplitFileError, match="^" + re.escape(message)):
        class_names(root, "ucf101")


def test_symlinks_placed_in_the_tree_are_followed(tmp_path):
    """A video or a class folder that is a symlink to elsewhere is the user's choice: the path as written stays
    inside the root, so it is read like any other."""
    root = tiny_hmdb(tmp_path / "hmdb")
    elsewhere = write_video(tmp_path / "elsewhere" / "far_away.avi", 8)
    os.symlink(elsewhere, root / "clap" / "linked.avi")
    os.symlink(root / "wave", root / "wave_again")
    split_dir = root / "testTrainMulti_7030_splits"
    append(split_dir / "clap_test_split1.txt", "linked.avi 1")
    (split_dir / "wave_again_test_split1.txt").write_text("wave_000.avi 2\n")

    train = read_split(root, "hmdb51", 1, "train")
    assert [(r.class_name, r.name) for r in train] == [
        ("clap", "clap_000.avi"),
        ("clap", "linked.avi"),
        ("wave", "wave_000.avi"),
    ]
    (again,) = [r for r in read_split(root, "hmdb51", 1, "test") if r.class_name == "wave_again"]
    assert again.path == root / "wave_again" / "wave_000.avi"
    transform = ClipTransform(16, mode="center", resize=(20, 26), normalization=None)
    dataset = ClipDataset([train[1], again], FrameSampler.clip(4, mode="center"), transform)
    assert all(dataset[i] is not None for i in range(2)) and dataset.skipped == []
    report = check_dataset(root, "hmdb51", min_frames=4)
    assert report.malformed == [] and report.missing == [] and report.leaked == []


def test_check_data_reports_a_video_in_train_and_test_of_one_split(tmp_path, capsys):
    root = tiny_hmdb(tmp_path / "hmdb")
    split_dir = root / "testTrainMulti_7030_splits"
    append(split_dir / "clap_test_split1.txt", "clap_001.avi 1")  # line 2 lists it for testing
    for name in ("clap", "wave"):  # split 2 swaps train and test: another split, no leak
        (split_dir / f"{name}_test_split2.txt").write_text(f"{name}_000.avi 2\n{name}_001.avi 1\n")
    report = check_dataset(root, "hmdb51", min_frames=4)
    clap = split_dir / "clap_test_split1.txt"
    assert report.leaked == [(1, "clap/clap_001.avi", (clap, 3), (clap, 2))] and not report.ok
    args = parse(["check-data", str(root), "--dataset", "hmdb51", "--min-frames", "4", "--quiet"])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "videos in both train and test of a split: 1" in out
    where = "testTrainMulti_7030_splits/clap_test_split1.txt"
    assert f"split 1: clap/clap_001.avi: train in {where}:3, test in {where}:2" in out

    ucf = tiny_ucf(tmp_path / "ucf")
    lists = tmp_path / "ucf" / "ucfTrainTestlist"
    append(lists / "testlist01.txt", "Archery/v_Archery_g01_c01.avi")
    report = check_dataset(ucf, "ucf101", min_frames=4)
    leak = (1, "Archery/v_Archery_g01_c01.avi", (lists / "trainlist01.txt", 1), (lists / "testlist01.txt", 3))
    assert report.leaked == [leak]
    assert f"train in {lists / 'trainlist01.txt'}:1, test in {lists / 'testlist01.txt'}:3" in report.render()
