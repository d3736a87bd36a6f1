"""The synthetic dataset: HMDB51 layout and splits, real decodable videos, pose frames, determinism, and the
property it exists for: reversed classes are their partner played backwards, walk and run differ in speed."""

import argparse
import dataclasses
import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from actionlib.data import synthetic
from actionlib.data.synthetic import (
    CLASS_NAMES,
    CLASSES,
    SPLITS_DIR,
    generate,
    pose_root_for,
    render,
    reversed_pairs,
    speed_pairs,
    trajectory,
    video_spec,
)

CLASSES_SMALL = ["sit_down", "stand_up", "walk", "wave"]
FRAMES, SIZE, VIDEOS = 16, 64, 2


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "synth root"  # a space in the path, as real roots may have
    summary = generate(root, classes=CLASSES_SMALL, videos_per_class=VIDEOS, frames=FRAMES, size=SIZE, seed=3)
    return root, summary


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def parse_split(path: Path) -> dict[str, int]:
    entries = {}
    for line in path.read_text().splitlines():
        name, label = line.split()
        assert name not in entries, f"{name} listed twice in {path.name}"
        entries[name] = int(label)
    return entries


# ------------------------------------------------------------------------------------------- classes
def test_classes_and_pairs():
    assert len(CLASSES) >= 10 and len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    pairs = reversed_pairs()
    assert ("sit_down", "stand_up") in pairs and ("open_door", "close_door") in pairs
    assert ("raise_arm", "lower_arm") in pairs and ("pick_up", "put_down") in pairs
    for forward, backward in pairs:
        assert synthetic.get_class(backward).reverse_of == forward
        assert synthetic.get_class(forward).partner == backward
    assert speed_pairs() == [("walk", "run")]
    appearance = [c.name for c in CLASSES if c.group == "appearance"]
    assert len(appearance) >= 5
    # restricted to the classes actually generated: only complete pairs count
    assert reversed_pairs(["sit_down", "stand_up", "raise_arm"]) == [("sit_down", "stand_up")]
    assert speed_pairs(["walk"]) == []


# -------------------------------------------------------------------------------------------- layout
def test_layout_manifest_and_pose_root(dataset):
    root, summary = dataset
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(CLASSES_SMALL + [SPLITS_DIR])
    for action in CLASSES_SMALL:
        assert sorted(p.name for p in (root / action).iterdir()) == [f"{action}_{i:03d}.avi" for i in range(VIDEOS)]
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest == summary
    assert manifest["classes"] == CLASSES_SMALL
    assert manifest["reversed_pairs"] == [["sit_down", "stand_up"]]
    assert manifest["speed_pairs"] == []
    assert Path(manifest["pose_root"]) == pose_root_for(root) == root.with_name("synth root_pose")
    assert manifest["videos"] == len(CLASSES_SMALL) * VIDEOS


def test_split_files_parse(dataset):
    root, _ = dataset
    files = sorted((root / SPLITS_DIR).iterdir())
    assert len(files) == 3 * len(CLASSES_SMALL)
    for action in CLASSES_SMALL:
        videos = {p.name for p in (root / action).iterdir()}
        for split in (1, 2, 3):
            entries = parse_split(root / SPLITS_DIR / f"{action}_test_split{split}.txt")
            assert set(entries) == videos  # every video exactly once
            assert set(entries.values()) == {1, 2}  # at least one train and one test video


def test_splits_are_70_30_with_disjoint_test_folds():
    names = [f"v{i}" for i in range(30)]
    splits = synthetic._split_lines("walk", names, seed=0, splits=3)
    tests = []
    for lines in splits:
        labels = {line.split()[0]: int(line.split()[1]) for line in lines}
        assert sorted(labels) == sorted(f"{n}.avi" for n in names)
        test = {name for name, label in labels.items() if label == 2}
        assert len(test) == 9  # 30 % of 30
        tests.append(test)
    assert not (tests[0] & tests[1]) and not (tests[1] & tests[2]) and not (tests[0] & tests[2])


def test_videos_decode_with_requested_frames_and_size(dataset):
    root, _ = dataset
    for video in sorted(root.glob("*/*.avi")):
        frames = decode(video)
        assert frames.shape == (FRAMES, SIZE, SIZE, 3), video
        assert frames.std() > 5  # a textured scene, not a blank frame


def test_pose_frames_and_joints_match_videos(dataset):
    root, _ = dataset
    pose_root = pose_root_for(root)
    joints = np.load(pose_root / "joints.npz")
    assert sorted(joints.files) == sorted(f"{a}/{a}_{i:03d}" for a in CLASSES_SMALL for i in range(VIDEOS))
    for action in CLASSES_SMALL:
        for index in range(VIDEOS):
            name = f"{action}_{index:03d}"
            images = sorted((pose_root / action / name).glob("img_*.jpg"))
            assert [p.name for p in images] == [f"img_{t:05d}.jpg" for t in range(1, FRAMES + 1)]
            first = np.asarray(Image.open(images[0]))
            assert first.shape == (SIZE, SIZE, 3)
            assert (first.max(axis=-1) < 40).mean() > 0.7  # mostly black, as OpenPose renders
            assert first.max() > 200  # with bright limbs
            track = joints[f"{action}/{name}"]
            assert track.shape == (FRAMES, 25, 3)
            seen = track[..., 2] > 0
            assert seen.mean() > 0.8
            assert (track[seen][:, :2] >= 0).all() and (track[seen][:, :2] <= SIZE - 1).all()


# ------------------------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_regardless_of_jobs_and_class_subset(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / "again"
    generate(again, classes=["stand_up", "wave"], videos_per_class=VIDEOS, frames=FRAMES, size=SIZE, seed=3, jobs=2)
    for action in ("stand_up", "wave"):
        for index in range(VIDEOS):
            name = f"{action}/{action}_{index:03d}.avi"
            assert (again / name).read_bytes() == (root / name).read_bytes(), name
    assert (again / SPLITS_DIR / "wave_test_split2.txt").read_text() == (
        root / SPLITS_DIR / "wave_test_split2.txt"
    ).read_text()


def test_different_seed_different_videos():
    a = render(video_spec("wave", 0, seed=0, frames=8, size=SIZE)).frames
    b = render(video_spec("wave", 0, seed=1, frames=8, size=SIZE)).frames
    c = render(video_spec("wave", 1, seed=0, frames=8, size=SIZE)).frames
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(a, render(video_spec("wave", 0, seed=0, frames=8, size=SIZE)).frames)


# ----------------------------------------------------------------------------------------- reversal
@pytest.mark.parametrize("forward,backward", reversed_pairs())
def test_reversed_class_is_its_partner_played_backwards(forward, backward):
    spec = video_spec(backward, 1, seed=5, frames=FRAMES, size=SIZE)
    twin = dataclasses.replace(spec, action=forward)  # same random draws, rendered as the forward class
    back, fwd = trajectory(spec), trajectory(twin)
    np.testing.assert_array_equal(back.joints, fwd.joints[::-1])
    for name, track in back.tracks.items():
        np.testing.assert_array_equal(track, fwd.tracks[name][::-1])
    # ... so the pixels are the same frames in the opposite order: as a set, identical
    np.testing.assert_array_equal(render(spec).frames, render(twin).frames[::-1])
    # and the motion is not a palindrome: order really is the only difference
    assert not np.allclose(fwd.joints, fwd.joints[::-1], atol=1.0)


def _joint(traj, name):
    return traj.joints[:, synthetic.BODY_25.index(name), :2]


def test_reversed_pairs_start_and_end_where_their_names_say():
    sit = trajectory(video_spec("sit_down", 0, seed=2, frames=24, size=96))
    hip = _joint(sit, "mid_hip")[:, 1]  # image y grows downwards
    assert hip[-1] - hip[0] > 5  # the hips end lower: seated
    stand = trajectory(video_spec("stand_up", 0, seed=2, frames=24, size=96))
    hip = _joint(stand, "mid_hip")[:, 1]
    assert hip[0] - hip[-1] > 5

    raised = trajectory(video_spec("raise_arm", 0, seed=2, frames=24, size=96))
    wrists = np.minimum(_joint(raised, "right_wrist")[:, 1], _joint(raised, "left_wrist")[:, 1])
    head = raised.tracks["head"][:, 1]
    assert wrists[0] > head[0] and wrists[-1] < head[-1]  # from below to above the head

    door = trajectory(video_spec("open_door", 0, seed=2, frames=24, size=96))
    leaf = door.tracks["leaf"]
    width = np.abs(leaf[:, 2, 0] - leaf[:, 0, 0])
    assert width[-1] < 0.6 * width[0]  # the leaf turns towards the camera: it looks narrower when open

    picked = trajectory(video_spec("pick_up", 0, seed=2, frames=24, size=96))
    box = picked.tracks["box"]
    assert box[-1, 3] < box[0, 3] - 5  # the box's bottom ends above where it started (the floor)


def test_walk_and_run_share_poses_but_not_speed():
    def stats(action, index):
        traj = trajectory(video_spec(action, index, seed=0, frames=48, size=96))
        scale = traj.look["scale"]
        camera = traj.tracks["camera"][:, 0]
        speed = abs(camera[-1] - camera[0]) / (len(camera) - 1) / scale  # body heights per frame
        gap = _joint(traj, "right_ankle")[:, 0] - _joint(traj, "left_ankle")[:, 0]
        crossings = np.count_nonzero(np.diff(np.sign(gap - gap.mean())) != 0)
        spread = np.ptp(gap) / scale  # how far the feet get apart: a per-frame (appearance) property
        return speed, crossings, spread

    walk = np.array([stats("walk", i) for i in range(4)])
    run = np.array([stats("run", i) for i in range(4)])
    assert run[:, 0].min() > 2 * walk[:, 0].max()  # stride x cadence
    assert run[:, 1].min() > walk[:, 1].max()  # cadence
    assert abs(run[:, 2].mean() - walk[:, 2].mean()) < 0.25 * walk[:, 2].mean()  # same leg amplitudes


def test_reversed_pose_frames_reverse_too():
    spec = video_spec("lower_arm", 0, seed=1, frames=8, size=SIZE)
    twin = dataclasses.replace(spec, action="raise_arm")
    np.testing.assert_array_equal(render(spec).pose, render(twin).pose[::-1])


# --------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "options,message",
    [
        ({"classes": ["sit_down", "dance"]}, "unknown synthetic class 'dance'; choose from: sit_down"),
        ({"size": 63}, "even number"),
        ({"size": "128by96"}, "WIDTHxHEIGHT"),
        ({"frames": 4}, "frames must be an integer >= 8"),
        ({"videos_per_class": 1}, "videos_per_class must be an integer >= 2"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments_raise_clear_errors(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "out", **{"classes": ["wave"], "videos_per_class": 2, "frames": 8, "size": 32, **options})
    assert not (tmp_path / "out").exists()  # nothing written before the arguments are checked


def test_refuses_foreign_directories_and_overwrites_its_own(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        generate(foreign, classes=["wave"], videos_per_class=2, frames=8, size=32)
    with pytest.raises(ValueError, match="not made by `actionlib synth`"):
        generate(foreign, classes=["wave"], videos_per_class=2, frames=8, size=32, overwrite=True)
    assert (foreign / "precious.txt").exists()

    ours = tmp_path / "ours"
    generate(ours, classes=["wave", "clap"], videos_per_class=2, frames=8, size=32, pose=False)
    assert not pose_root_for(ours).exists()
    with pytest.raises(ValueError, match="--overwrite"):
        generate(ours, classes=["wave"], videos_per_class=2, frames=8, size=32)
    generate(ours, classes=["wave"], videos_per_class=2, frames=8, size=32, overwrite=True)
    assert sorted(p.name for p in ours.iterdir()) == sorted([SPLITS_DIR, "synthetic.json", "wave"])


# ------------------------------------------------------------------------------------------------ CLI
def cli():
    parser = argparse.ArgumentParser(prog="actionlib")
    synthetic.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_help_explains_options_and_classes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli().parse_args(["synth", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--classes", "--videos-per-class", "--video-frames", "--video-size", "--seed", "--jobs"):
        assert f"  {option} " in text
    assert "  --pose-frames POSEROOT" in text and "--overwrite" in text
    assert "open_door" in text and "reversed pair with close_door" in text and "speed pair with run" in text


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--video-size", "100x75"], "argument --video-size: video height must be an even number"),
        (["--size", "100x75"], "argument --video-size: video height must be an even number"),  # the old name
        (["--classes", "wave,moonwalk"], "unknown synthetic class 'moonwalk'"),
        (["--video-frames", "abc"], "argument --video-frames: expected an integer"),
        (["--frames", "7"], "argument --video-frames: must be >= 8"),
        (["--videos-per-class", "1"], "must be >= 2"),
        (["--jobs", "-1"], "must be >= 0"),
    ],
)
def test_cli_bad_options_exit_2_with_message(capsys, tmp_path, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli().parse_args(["synth", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_generates(tmp_path, capsys):
    out = tmp_path / "cli"
    args = cli().parse_args(
        [
            "synth",
            str(out),
            "--classes",
            "kick,punch",
            "--videos-per-class",
            "2",
            "--video-frames",
            "8",
            "--video-size",
            "48x32",
            "--seed",
            "1",
            "--no-pose",
        ]
    )
    assert args.func(args) == 0
    assert "wrote 4 videos" in capsys.readouterr().out
    assert decode(out / "kick" / "kick_001.avi").shape == (8, 32, 48, 3)


@pytest.mark.parametrize(
    "options",
    [
        ["--video-frames", "8", "--video-size", "48x32", "--pose-frames"],
        ["--frames", "8", "--size", "48x32", "--pose-out"],  # the old names
    ],
    ids=["new", "old"],
)
def test_cli_video_and_pose_options_under_either_name(tmp_path, capsys, options):
    out, poses = tmp_path / "videos", tmp_path / "poses"
    argv = ["synth", str(out), "--classes", "kick,punch", "--videos-per-class", "2", *options, str(poses), "--quiet"]
    args = cli().parse_args(argv)
    assert args.func(args) == 0
    assert decode(out / "kick" / "kick_001.avi").shape == (8, 32, 48, 3)
    assert (poses / "kick" / "kick_001" / "img_00008.jpg").is_file() and not pose_root_for(out).exists()
    assert f"pose frames in {poses}" in capsys.readouterr().out


def test_clutter_zero_gives_a_plain_scene_with_the_same_figure():
    spec = synthetic.video_spec("wave", 3, size=(64, 48))
    plain = dataclasses.replace(spec, clutter=0.0)
    assert synthetic.trajectory(spec).joints.tolist() == synthetic.trajectory(plain).joints.tolist()
    look = synthetic.trajectory(spec).look
    busy, flat = synthetic._background(look, 1.0), synthetic._background(look, 0.0)
    horizon = int(round(look["horizon"]))
    # a plain wall is one colour plus pixel noise (std 3); the cluttered one has texture and furniture
    assert flat[: horizon - 1].reshape(-1, 3).std(0).max() < 5 < busy[: horizon - 1].reshape(-1, 3).std(0).max()


def test_clutter_is_recorded_and_checked(tmp_path):
    summary = synthetic.generate(tmp_path / "s", classes=["wave"], videos_per_class=2, frames=8, size=64,
                                 clutter=0.25, pose=False)  # fmt: skip
    assert summary["clutter"] == 0.25
    with pytest.raises(ValueError, match="clutter must be a number between 0 and 1"):
        synthetic.generate(tmp_path / "t", classes=["wave"], videos_per_class=2, frames=8, clutter=2)
