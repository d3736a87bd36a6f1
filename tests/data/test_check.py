"""`check_dataset` / `actionlib check-data` name every problem of a dataset root."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from actionlib.data.check import add_parser, check_dataset, probe_video

from .test_datasets import build_hmdb, build_ucf
from .test_video import write_video


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="actionlib")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def names(items) -> set[str]:
    return {Path(item[0] if isinstance(item, tuple) else item).name for item in items}


@pytest.fixture(scope="module")
def broken_hmdb(tmp_path_factory) -> Path:
    return build_hmdb(tmp_path_factory.mktemp("check") / "hmdb51 (copy) & more")


def test_every_hmdb_problem_is_reported_by_name(broken_hmdb):
    report = check_dataset(broken_hmdb, "hmdb51", min_frames=16)
    assert not report.ok
    assert report.classes == ["brush_hair", "fall_floor", "pick"]
    assert report.missing == [(1, "fall_floor/Gone missing_fall_floor_f_cm_np1_ba_bad_2.avi")]
    assert names(report.unlisted) == {"Nobody listed me_pick_f_cm_np1_fr_med_2.avi"}
    assert names(report.unreadable) == {"Zero byte!_fall_floor_f_cm_np1_ba_bad_1.avi"}
    assert names(report.truncated) == {"Truncated #3_pick_f_cm_np1_fr_med_0.avi"}
    assert names(report.too_short) >= {"short'n sweet_pick_f_cm_np1_fr_med_1.avi"}
    assert report.per_split[1] == {"train": 4, "test": 3, "unused": 1}
    assert report.per_class["brush_hair"]["disk"] == 3 and report.per_class["pick"]["split1/test"] == 1
    assert report.videos_on_disk == 8
    assert report.missing_split_files == []

    text = report.render()
    for expected in (
        "split entries with no file: 1",
        "Gone missing_fall_floor_f_cm_np1_ba_bad_2.avi",
        "files in no split: 1",
        "Nobody listed me_pick_f_cm_np1_fr_med_2.avi",
        "unreadable: 1",
        "Zero byte!_fall_floor_f_cm_np1_ba_bad_1.avi: empty file",
        "truncated: 1",
        "Truncated #3_pick_f_cm_np1_fr_med_0.avi",
        "fewer than 16 frames",
        "short'n sweet_pick_f_cm_np1_fr_med_1.avi: 6 frames",
        "split 1: 4 train, 3 test, 1 unused",
        "NOT OK",
    ):
        assert expected in text, expected


def test_parallel_jobs_give_the_same_report(broken_hmdb):
    one = check_dataset(broken_hmdb, "hmdb51", min_frames=16)
    two = check_dataset(broken_hmdb, "hmdb51", min_frames=16, jobs=2)
    assert two.render() == one.render()


def test_clean_dataset_is_ok_and_exits_zero(tmp_path, capsys):
    root = build_hmdb(tmp_path / "clean", broken=False, splits=(1, 2, 3))
    report = check_dataset(root, "synthetic", min_frames=16)
    assert report.ok, report.render()
    assert sorted(report.per_split) == [1, 2, 3]
    args = parse(["check-data", str(root), "--dataset", "synthetic", "--min-frames", "16"])
    assert args.func(args) == 0
    assert "OK: no problems found" in capsys.readouterr().out


def test_the_dataset_root_is_root_in_every_command(broken_hmdb, capsys):
    """`--root PATH` as in `actionlib train`; the positional ROOT still works; two different roots are refused."""
    args = parse(["check-data", "--root", str(broken_hmdb), "--dataset", "hmdb51", "--jobs", "1"])
    assert args.func(args) == 1 and "Zero byte!_fall_floor" in capsys.readouterr().out
    from actionlib.cli import build_parser

    for command in (["flow", "--out", "x"], ["pose", "--out", "x"], ["synth"], ["check-data", "--dataset", "hmdb51"]):
        full = build_parser([command[0]])
        assert (
            full.parse_args([*command, "--root", "a"]).root
            == full.parse_args([command[0], "a", *command[1:]]).root_positional
        )
        assert full.parse_args([*command, "--root", "a", "--no-progress"]).quiet  # --quiet, --no-progress: one flag
    with pytest.raises(ValueError, match="no dataset root: pass it as --root PATH"):
        args = parse(["check-data", "--dataset", "hmdb51"])
        args.func(args)
    with pytest.raises(ValueError, match="two dataset roots"):
        args = parse(["check-data", "a", "--root", "b", "--dataset", "hmdb51"])
        args.func(args)


def test_cli_exits_non_zero_on_problems(broken_hmdb, capsys):
    args = parse(["check-data", str(broken_hmdb), "--dataset", "hmdb51", "--jobs", "1", "--max-items", "5"])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "Zero byte!_fall_floor" in out and "NOT OK" in out


def test_too_short_threshold(broken_hmdb):
    report = check_dataset(broken_hmdb, "hmdb51", min_frames=2)
    assert report.too_short == []


def test_missing_split_files_of_a_split_are_reported(tmp_path):
    root = build_hmdb(tmp_path / "partial", broken=False, splits=(1, 2))
    (root / "testTrainMulti_7030_splits" / "fall_floor_test_split2.txt").unlink()
    report = check_dataset(root, "hmdb51")
    assert names(report.missing_split_files) == {"fall_floor_test_split2.txt"}
    assert "missing split files: 1" in report.render() and not report.ok


def test_ucf_layout(tmp_path):
    root = build_ucf(tmp_path / "UCF101 & friends")
    report = check_dataset(root, "ucf101", split_dir=tmp_path / "UCF101 & friends" / "ucfTrainTestlist")
    assert report.classes == ["YoYo", "ApplyEyeMakeup", "HandstandPushups"]
    assert report.missing == [(1, "YoYo/v_YoYo_g03_c01 missing.avi")]
    assert names(report.unreadable) == {"v_YoYo_g04_c01 empty.avi"}
    assert report.unlisted == [] and report.truncated == [] and report.too_short == []
    assert report.per_split[1] == {"train": 4, "test": 4}
    assert not report.ok


def test_missing_root_or_split_folder_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_dataset(tmp_path / "absent", "hmdb51")
    (tmp_path / "root" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="ucfTrainTestlist"):
        check_dataset(tmp_path / "root", "ucf101")


def test_probe_counts_frames_and_flags_truncation(tmp_path):
    full = write_video(tmp_path / "v.avi", 20)
    probe = probe_video(full)
    assert (probe.claimed_frames, probe.decoded_frames, probe.error, probe.truncated) == (20, 20, None, False)
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 3 // 4])
    assert probe_video(cut).truncated
    assert not probe_video(tmp_path / "nothing.avi").opened
