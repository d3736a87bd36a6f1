"""Skeleton rendering in the OpenPose style: coloured limbs on black, missing joints skipped, frame folders."""

import numpy as np
import pytest
from PIL import Image

from actionlib.data.pose import BODY_25, frame_name, render_pose, render_pose_sequence, write_pose_frames

W, H = 80, 60


def standing_person(cx=40.0, top=8.0, height=48.0) -> np.ndarray:
    """A frontal BODY_25 skeleton (x, y, confidence) roughly `height` pixels tall."""
    u = height / 8
    xy = {
        "nose": (cx, top + 0.8 * u),
        "neck": (cx, top + 1.5 * u),
        "right_shoulder": (cx - u, top + 1.5 * u),
        "right_elbow": (cx - 1.3 * u, top + 2.8 * u),
        "right_wrist": (cx - 1.4 * u, top + 4 * u),
        "left_shoulder": (cx + u, top + 1.5 * u),
        "left_elbow": (cx + 1.3 * u, top + 2.8 * u),
        "left_wrist": (cx + 1.4 * u, top + 4 * u),
        "mid_hip": (cx, top + 4.2 * u),
        "right_hip": (cx - 0.5 * u, top + 4.2 * u),
        "right_knee": (cx - 0.6 * u, top + 6 * u),
        "right_ankle": (cx - 0.6 * u, top + 7.6 * u),
        "left_hip": (cx + 0.5 * u, top + 4.2 * u),
        "left_knee": (cx + 0.6 * u, top + 6 * u),
        "left_ankle": (cx + 0.6 * u, top + 7.6 * u),
        "right_eye": (cx - 0.2 * u, top + 0.6 * u),
        "left_eye": (cx + 0.2 * u, top + 0.6 * u),
        "right_ear": (cx - 0.45 * u, top + 0.7 * u),
        "left_ear": (cx + 0.45 * u, top + 0.7 * u),
        "left_big_toe": (cx + 0.7 * u, top + 8 * u),
        "left_small_toe": (cx + 0.9 * u, top + 8 * u),
        "left_heel": (cx + 0.6 * u, top + 7.8 * u),
        "right_big_toe": (cx - 0.7 * u, top + 8 * u),
        "right_small_toe": (cx - 0.9 * u, top + 8 * u),
        "right_heel": (cx - 0.6 * u, top + 7.8 * u),
    }
    joints = np.ones((25, 3))
    for name, (x, y) in xy.items():
        joints[BODY_25.index(name), :2] = (x, y)
    return joints


def midpoint(joints, a, b):
    x, y = (joints[BODY_25.index(a), :2] + joints[BODY_25.index(b), :2]) / 2
    return int(round(y)), int(round(x))


def test_layout_is_body_25_with_a_colour_per_limb():
    assert len(BODY_25.joints) == 25 and BODY_25.joints[1] == "neck" and BODY_25.joints[8] == "mid_hip"
    assert len(BODY_25.limbs) == len(BODY_25.limb_colours) == 24
    arms_and_legs = BODY_25.limb_colours[:13]
    assert len(set(arms_and_legs)) == 13  # every trunk/arm/leg limb distinguishable, left from right too
    assert all(max(c) == 255 for c in BODY_25.limb_colours)  # saturated, bright on black


def test_limbs_are_drawn_in_their_colours_on_black():
    joints = standing_person()
    image = render_pose(joints, (W, H))
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    assert (image.max(axis=-1) == 0).mean() > 0.6  # background stays black
    for limb, colour in zip(BODY_25.limbs, BODY_25.limb_colours, strict=True):
        a, b = (BODY_25.joints[i] for i in limb)
        if limb in ((1, 8), (2, 3), (5, 6), (9, 10), (12, 13)):  # long limbs: the midpoint is not a joint dot
            assert tuple(image[midpoint(joints, a, b)]) == colour, (a, b)


def test_missing_joints_and_their_limbs_are_not_drawn():
    joints = standing_person()
    full = render_pose(joints, (W, H))
    joints[BODY_25.index("left_elbow"), 2] = 0.0  # undetected
    joints[BODY_25.index("right_knee"), :2] = np.nan  # no coordinates
    partial = render_pose(joints, (W, H))
    for a, b in (("left_shoulder", "left_elbow"), ("right_hip", "right_knee")):
        y, x = midpoint(joints if a != "right_hip" else standing_person(), a, b)
        assert full[y, x].any() and not partial[y, x].any(), (a, b)
    nobody = standing_person()
    nobody[:, 2] = 0.01  # below the default threshold
    assert not render_pose(nobody, (W, H)).any()
    assert render_pose(nobody, (W, H), min_confidence=0.0).any()


def test_several_people_and_sequences():
    two = np.stack([standing_person(cx=20, height=40), standing_person(cx=60, height=40)])
    image = render_pose(two, (W, H))
    assert image[:, :30].any() and image[:, 50:].any()
    sequence = render_pose_sequence([standing_person(), standing_person(cx=30)], (W, H))
    assert sequence.shape == (2, H, W, 3)
    assert not np.array_equal(sequence[0], sequence[1])
    assert render_pose_sequence([], (W, H)).shape == (0, H, W, 3)


def test_stroke_grows_with_the_person_and_can_be_set():
    small = render_pose(standing_person(height=24, top=20), (W, H))
    large = render_pose(standing_person(height=56, top=2), (W, H))
    assert (large.max(-1) > 0).sum() > 2.5 * (small.max(-1) > 0).sum()
    thin = render_pose(standing_person(), (W, H), thickness=1, joint_radius=1)
    thick = render_pose(standing_person(), (W, H), thickness=5)
    assert (thick.max(-1) > 0).sum() > 2 * (thin.max(-1) > 0).sum()


def test_draws_over_a_background_when_given():
    background = np.full((H, W, 3), 40, np.uint8)
    image = render_pose(standing_person(), (W, H), background=background)
    assert (image == 40).all(axis=-1).mean() > 0.5
    with pytest.raises(ValueError, match="background must have shape"):
        render_pose(standing_person(), (W, H), background=np.zeros((10, 10, 3), np.uint8))


@pytest.mark.parametrize("bad", [np.zeros((24, 2)), np.zeros((25,)), np.zeros((2, 25, 4))])
def test_bad_joint_arrays_are_rejected(bad):
    with pytest.raises(ValueError, match="joints"):
        render_pose(bad, (W, H))


def test_write_pose_frames_makes_a_frame_folder(tmp_path):
    frames = render_pose_sequence([standing_person(), standing_person(cx=35), standing_person(cx=45)], (W, H))
    folder = tmp_path / "pose & co (1)" / "vid#1"
    paths = write_pose_frames(frames, folder)
    assert (
        [p.name for p in paths]
        == [frame_name(i) for i in (1, 2, 3)]
        == ["img_00001.jpg", "img_00002.jpg", "img_00003.jpg"]
    )
    decoded = np.asarray(Image.open(paths[1]))
    assert decoded.shape == (H, W, 3)
    assert np.abs(decoded.astype(int) - frames[1]).mean() < 6  # JPEG, close to the rendered frame
