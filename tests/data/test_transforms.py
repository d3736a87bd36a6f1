"""Spatial augmentation (thesis Section 3.2.1), flow flipping, shared crops and normalisation constants."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from actionlib.data.transforms import (
    CROP_POSITIONS,
    NORMALIZATION,
    ClipTransform,
    CropBox,
    View,
    apply_view,
    center_crop,
    crop_size_pairs,
    default_geometry,
    fixed_crop_offsets,
    multi_scale_crop,
    normalization_for,
    ten_crop_views,
    to_tensor_frames,
)


def ramp(height: int, width: int, frames: int = 2, channels: int = 3) -> np.ndarray:
    """Frames whose value grows left to right and top to bottom: the same picture at any resolution."""
    image = np.linspace(0, 180, width)[None, :] + np.linspace(0, 75, height)[:, None]
    image = np.broadcast_to(image[:, :, None], (height, width, channels))
    return np.ascontiguousarray(np.broadcast_to(image, (frames, height, width, channels))).astype(np.uint8)


def test_crop_sizes_follow_the_scales_and_max_distortion():
    pairs = crop_size_pairs(256, 340)
    sizes = [256, 224, 192, 168]  # int(256 * s) for s in (1, .875, .75, .66)
    assert len(pairs) == 10
    for crop_h, crop_w in pairs:
        assert abs(sizes.index(crop_h) - sizes.index(crop_w)) <= 1
    assert (256, 192) not in pairs and (256, 224) in pairs


def test_thirteen_fixed_positions():
    offsets = fixed_crop_offsets(256, 340, 224, 224)
    assert len(offsets) == len(CROP_POSITIONS) == 13 and len(set(offsets)) == 13
    step_h, step_w = (256 - 224) // 4, (340 - 224) // 4
    named = dict(zip(CROP_POSITIONS, offsets, strict=True))
    assert named["center"] == (2 * step_h, 2 * step_w)
    assert named["upper_left"] == (0, 0)
    assert named["lower_right"] == (4 * step_h, 4 * step_w)
    assert named["right_center"] == (2 * step_h, 4 * step_w)
    assert named["lower_left_quarter"] == (3 * step_h, step_w)
    assert len(fixed_crop_offsets(256, 340, 224, 224, more_fix_crop=False)) == 5


def test_multi_scale_crop_draws_every_position_and_stays_inside():
    rng = random.Random(0)
    positions, sizes = set(), set()
    for _ in range(3000):
        box = multi_scale_crop(256, 340, 224, rng=rng)
        assert box.top >= 0 and box.left >= 0
        assert box.top + box.height <= 256 and box.left + box.width <= 340
        assert (box.top, box.left) in fixed_crop_offsets(256, 340, box.height, box.width)
        positions.add(fixed_crop_offsets(256, 340, box.height, box.width).index((box.top, box.left)))
        sizes.add((box.height, box.width))
    assert positions == set(range(13))
    assert sizes == set(crop_size_pairs(256, 340))


def test_authors_offset_quirk_uses_the_output_size_and_clips_at_the_border():
    rng = random.Random(0)
    step_h, step_w = (256 - 224) // 4, (340 - 224) // 4
    cut_short = 0
    for _ in range(2000):
        box = multi_scale_crop(256, 340, 224, authors_offsets=True, rng=rng)
        assert box.top % step_h == 0 and box.left % step_w == 0
        assert box.top + box.height <= 256 and box.left + box.width <= 340
        cut_short += (box.height, box.width) not in crop_size_pairs(256, 340)
    assert cut_short > 0, "large crops at the far positions run past the frame and are cut"


def test_center_crop_offsets_match_the_authors():
    assert center_crop(256, 340, 224) == CropBox(16, 58, 224, 224)


def test_ten_crop_is_five_crops_and_their_flips():
    views = ten_crop_views(256, 340, 224)
    assert len(views) == 10
    boxes = [v.box for v in views]
    assert boxes[:5] == boxes[5:]
    assert [v.flip for v in views] == [False] * 5 + [True] * 5
    assert {(b.top, b.left) for b in boxes[:5]} == {(16, 58), (0, 0), (0, 116), (32, 0), (32, 116)}


def test_flow_flip_mirrors_and_inverts_x_only():
    flow = np.zeros((3, 8, 10, 2), np.uint8)
    flow[..., 0] = np.arange(10)[None, None, :] * 10  # x displacement grows to the right
    flow[..., 1] = 150
    frames = to_tensor_frames(flow)
    view = View(CropBox(0, 0, 8, 10), flip=True)
    out = apply_view(frames, view, (8, 10), (8, 10), flow=True)
    expected_x = 255 - np.arange(10)[::-1] * 10
    assert torch.equal(out[0, 0, 0], torch.tensor(expected_x, dtype=torch.uint8))
    assert torch.all(out[:, 1] == 150)
    as_authors = apply_view(frames, view, (8, 10), (8, 10), flow=True, invert_flow_x=False)
    assert torch.equal(as_authors[0, 0, 0], torch.tensor(np.arange(10)[::-1] * 10, dtype=torch.uint8))
    rgb = apply_view(to_tensor_frames(np.repeat(flow[..., :1], 3, axis=-1)), view, (8, 10), (8, 10))
    assert torch.equal(rgb[0, 0, 0], torch.tensor(np.arange(10)[::-1] * 10, dtype=torch.uint8)), "RGB not inverted"


def test_one_view_for_all_frames_and_all_streams_at_any_resolution():
    transform = ClipTransform(size=64, mode="train", resize=(128, 170), normalization=None)
    rgb = ramp(240, 320, frames=4)
    flow = ramp(120, 160, frames=4, channels=2)  # stored at half resolution
    rng = random.Random(5)
    for _ in range(20):
        views = transform.draw((128, 170), rng)
        a, b = transform(rgb, views, "rgb"), transform(flow, views, "flow")
        assert a.shape == (3, 4, 64, 64) and b.shape == (2, 4, 64, 64)
        assert torch.equal(a[:, 0], a[:, 3]), "same crop for every frame"
        b_x = 255 - b[0] if views[0].flip else b[0]  # a flip also negates flow x
        assert (a[0] - b_x).abs().max() <= 4, "same region of the scene in both streams"
    flipped = [View(CropBox(10, 20, 100, 100), flip=True)]
    a, b = transform(rgb, flipped, "rgb"), transform(flow, flipped, "flow")
    assert (a[0] - (255 - b[0])).abs().max() <= 4, "flip mirrors both; flow x additionally negated"


def test_clip_transform_shapes_and_centre_values():
    frames = np.full((5, 256, 340, 3), 128, np.uint8)
    center = ClipTransform(224, mode="center", normalization="resnet2d")(frames)
    assert center.shape == (3, 5, 224, 224) and center.dtype == torch.float32
    expected = (128 / 255 - 0.485) / 0.229
    assert torch.allclose(center[0], torch.full_like(center[0], expected), atol=1e-5)
    ten = ClipTransform(224, mode="ten_crop")(frames)
    assert ten.shape == (10, 3, 5, 224, 224)
    train = ClipTransform(112, mode="train", resize=(128, 170))(frames, rng=random.Random(0))
    assert train.shape == (3, 5, 112, 112)


def test_center_crop_takes_the_middle_pixels():
    frames = ramp(256, 340, frames=1)
    out = ClipTransform(224, mode="center", normalization=None)(frames)
    assert torch.equal(out[0, 0], torch.as_tensor(frames[0, 16:240, 58:282, 0]).float())


def test_normalisation_table_covers_every_family():
    for family in (
        "resnext3d",
        "resnet3d",
        "i3d",
        "r2plus1d",
        "slowfast",
        "i3d_r50",
        "mfnet",
        "repflow",
        "resnet2d",
        "tsm",
    ):
        assert family in NORMALIZATION
    hara = normalization_for("resnext3d_101")
    assert hara.divisor == 1.0 and hara.mean == (114.7748, 107.7354, 99.4750) and hara.std == (1.0,)
    assert normalization_for("resnext3d_101", "flow").mean == (127.5,)
    assert normalization_for("i3d").mean == (0.5,) and normalization_for("i3d", "flow").std == (0.5,)
    assert normalization_for("i3d_r50").mean == (0.45,), "longest matching family wins"
    assert normalization_for("r2plus1d_34", "flow").std == (0.226,)
    assert normalization_for("resnet2d", "flow").std == (0.226,)
    assert normalization_for("tsm_r50").mean == (0.485, 0.456, 0.406)
    assert normalization_for("mfnet3d").std == (0.234,)
    assert normalization_for("resnet2d", "pose") == normalization_for("resnet2d")
    with pytest.raises(ValueError, match="no flow normalisation"):
        normalization_for("mfnet3d", "flow")
    with pytest.raises(ValueError, match="known families"):
        normalization_for("vgg")


def test_hara_inputs_stay_in_0_255_minus_mean():
    frames = np.full((2, 112, 112, 3), 200, np.uint8)
    clip = ClipTransform(112, mode="center", normalization="resnext3d_101")(frames)
    assert torch.allclose(clip[:, 0, 0, 0], torch.tensor([200 - 114.7748, 200 - 107.7354, 200 - 99.4750]))
    flow = ClipTransform(112, mode="center", normalization="resnext3d_101")(frames[..., :2], modality="flow")
    assert torch.allclose(flow[:, 0, 0, 0], torch.tensor([72.5, 72.5]))


def test_default_geometry():
    assert default_geometry("resnext3d_101") == (112, (128, 170))
    assert default_geometry("r2plus1d_34") == (112, (128, 170))
    assert default_geometry("i3d") == (224, (256, 340))


def test_bad_mode_is_rejected():
    with pytest.raises(ValueError, match="ten_crop"):
        ClipTransform(mode="random")
