"""MediaPipe -> BODY_25 landmark mapping (always) and the MediaPipe pose extractor (when mediapipe is installed)."""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from actionlib.data import pose_extract
from actionlib.data.flow import MARKER_NAME
from actionlib.data.pose import BODY_25, render_pose
from actionlib.data.pose_extract import MEDIAPIPE_LANDMARKS, mediapipe_to_body25
from actionlib.data.video import FrameFolderReader

J = {name: index for index, name in enumerate(BODY_25.joints)}
M = {name: index for index, name in enumerate(MEDIAPIPE_LANDMARKS)}
WIDTH, HEIGHT = 200, 100


def standing_person() -> np.ndarray:
    """(33, 3) normalised landmarks of a frontal person, every landmark at its own spot, all visible."""
    landmarks = np.ones((33, 3))
    landmarks[:, 0] = np.linspace(0.1, 0.9, 33)
    landmarks[:, 1] = np.linspace(0.9, 0.1, 33)
    return landmarks


def test_mapping_copies_direct_joints_in_pixels_and_derives_neck_and_mid_hip():
    landmarks = standing_person()
    joints = mediapipe_to_body25(landmarks, WIDTH, HEIGHT)
    assert joints.shape == (25, 3) and joints.dtype == np.float32
    pixels = landmarks[:, :2] * [WIDTH, HEIGHT]
    for body, mp in [
        ("nose", "nose"),
        ("right_shoulder", "right_shoulder"),
        ("left_wrist", "left_wrist"),
        ("right_knee", "right_knee"),
        ("left_eye", "left_eye"),
        ("right_ear", "right_ear"),
        ("left_big_toe", "left_foot_index"),
        ("right_heel", "right_heel"),
    ]:
        np.testing.assert_allclose(joints[J[body], :2], pixels[M[mp]], rtol=1e-6)
        assert joints[J[body], 2] == 1
    np.testing.assert_allclose(
        joints[J["neck"], :2], (pixels[M["left_shoulder"]] + pixels[M["right_shoulder"]]) / 2, rtol=1e-6
    )
    np.testing.assert_allclose(
        joints[J["mid_hip"], :2], (pixels[M["left_hip"]] + pixels[M["right_hip"]]) / 2, rtol=1e-6
    )
    for toe in ("left_small_toe", "right_small_toe"):  # MediaPipe has no such landmark
        assert joints[J[toe], 2] == 0 and np.isnan(joints[J[toe], :2]).all()


def test_mapping_keeps_the_persons_own_left_and_right():
    for joint, sources in pose_extract.BODY_25_FROM_MEDIAPIPE.items():
        for side in ("left", "right"):
            if joint.startswith(side):
                assert all(source.startswith(side) for source in sources), joint
    missing = sorted(joint for joint, sources in pose_extract.BODY_25_FROM_MEDIAPIPE.items() if not sources)
    assert missing == ["left_small_toe", "right_small_toe"]
    assert set(pose_extract.BODY_25_FROM_MEDIAPIPE) == set(BODY_25.joints)


def test_low_visibility_hides_a_joint_and_the_joints_derived_from_it():
    landmarks = standing_person()
    landmarks[M["left_shoulder"], 2] = 0.3
    landmarks[M["right_hip"], 2] = 0.7
    joints = mediapipe_to_body25(landmarks, WIDTH, HEIGHT, min_visibility=0.5)
    for hidden in ("left_shoulder", "neck"):
        assert joints[J[hidden], 2] == 0 and np.isnan(joints[J[hidden], :2]).all()
    assert joints[J["right_hip"], 2] == pytest.approx(0.7)
    assert joints[J["mid_hip"], 2] == pytest.approx(0.7)  # the less visible of its two landmarks
    assert mediapipe_to_body25(landmarks, WIDTH, HEIGHT, min_visibility=0.2)[J["neck"], 2] == pytest.approx(0.3)


def test_nobody_batches_and_shapes():
    nobody = mediapipe_to_body25(None, WIDTH, HEIGHT)
    assert nobody.shape == (25, 3) and (nobody[:, 2] == 0).all() and np.isnan(nobody[:, :2]).all()
    assert not render_pose(nobody, (WIDTH, HEIGHT)).any()  # a black frame, as OpenPose draws nobody

    sequence = np.stack([standing_person(), standing_person() * [1, 1, 0]])  # second frame: nothing visible
    joints = mediapipe_to_body25(sequence, WIDTH, HEIGHT)
    assert joints.shape == (2, 25, 3)
    np.testing.assert_array_equal(joints[0], mediapipe_to_body25(sequence[0], WIDTH, HEIGHT))
    assert (joints[1, :, 2] == 0).all()
    no_visibility = mediapipe_to_body25(standing_person()[:, :2], WIDTH, HEIGHT)
    assert (no_visibility[[J["nose"], J["neck"]], 2] == 1).all()
    with pytest.raises(ValueError, match="33"):
        mediapipe_to_body25(np.zeros((25, 3)), WIDTH, HEIGHT)


def test_mapped_joints_render_with_the_shared_renderer():
    joints = mediapipe_to_body25(standing_person(), WIDTH, HEIGHT)
    image = render_pose(joints, (WIDTH, HEIGHT), thickness=3)
    assert image.shape == (HEIGHT, WIDTH, 3)
    trunk = (joints[J["neck"], :2] + joints[J["mid_hip"], :2]) / 2  # the middle of the neck-mid hip limb
    x, y = np.round(trunk).astype(int)
    np.testing.assert_array_equal(image[y, x], BODY_25.limb_colours[BODY_25.limbs.index((1, 8))])


def test_cli_without_mediapipe_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` fail
    with pytest.raises(ImportError, match=r"pip install actionlib\[pose\]"):
        pose_extract.require_mediapipe()
    parser = argparse.ArgumentParser()
    pose_extract.add_parser(parser.add_subparsers())
    (tmp_path / "videos" / "c").mkdir(parents=True)
    args = parser.parse_args(["pose", str(tmp_path / "videos"), "--out", str(tmp_path / "pose")])
    assert args.func(args) == 2
    assert "pip install actionlib[pose]" in capsys.readouterr().err
    assert not (tmp_path / "pose").exists()


# ---------------------------------------------------------------------------------------------------------------
# With MediaPipe (skipped when it is not installed)


def _portrait() -> np.ndarray:
    """A real photograph of a person that ships with matplotlib (Grace Hopper, head and shoulders), 64x76."""
    matplotlib = pytest.importorskip("matplotlib")
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip("matplotlib's sample photograph is not installed")
    return np.asarray(Image.open(path).convert("RGB").resize((64, 76)))


def test_extracts_a_real_person_and_renders_black_frames_without_one(tmp_path):
    pytest.importorskip("mediapipe")
    from PIL import Image

    from .test_flow import moving_square, write_video

    root, out = tmp_path / "videos", tmp_path / "pose"
    (root / "talk").mkdir(parents=True)
    portrait = _portrait()
    write_video(root / "talk" / "hopper (1).avi", [np.roll(portrait, 2 * t, axis=1) for t in range(3)])
    write_video(root / "talk" / "nobody.avi", moving_square(2, size=64))
    (root / "talk" / "broken.avi").write_bytes(b"not a video")

    parser = argparse.ArgumentParser()
    pose_extract.add_parser(parser.add_subparsers())
    args = parser.parse_args(["pose", str(root), "--out", str(out), "--quiet"])
    assert args.func(args) == 1  # the broken video fails, the others are written

    folder = out / "talk" / "hopper (1)"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [MARKER_NAME, "img_00001.jpg", "img_00002.jpg", "img_00003.jpg", "joints.npy"]
    )
    assert json.loads((folder / MARKER_NAME).read_text())["frames_with_person"] == 3
    joints = np.load(folder / "joints.npy")
    assert joints.shape == (3, 25, 3)
    first = joints[0]
    for visible in ("nose", "neck", "left_eye", "right_eye", "left_shoulder", "right_shoulder"):
        assert first[J[visible], 2] >= 0.5, visible
    assert first[J["left_shoulder"], 0] > first[J["right_shoulder"], 0]  # facing the camera: her left is our right
    assert first[J["nose"], 1] < first[J["neck"], 1]
    assert 20 < first[J["nose"], 0] < 44 and 15 < first[J["nose"], 1] < 45
    assert FrameFolderReader(folder).read([0, 2]).shape == (2, 76, 64, 3)  # what the datasets read it with
    image = np.asarray(Image.open(folder / "img_00001.jpg"))
    assert image.shape == (76, 64, 3) and image.max() > 150 and (image.max(-1) < 30).mean() > 0.5

    nobody = out / "talk" / "nobody"
    assert sorted(p.name for p in nobody.glob("img_*.jpg")) == ["img_00001.jpg", "img_00002.jpg"]
    assert np.asarray(Image.open(nobody / "img_00002.jpg")).max() < 10
    assert not (out / "talk" / "broken").exists()

    report = pose_extract.extract_dataset_pose(root, out, progress=False)
    assert sorted(p.name for p in report.skipped) == ["hopper (1).avi", "nobody.avi"]
    assert [p.name for p, _ in report.failed] == ["broken.avi"]
