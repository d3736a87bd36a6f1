"""Temporal sampling rules of the thesis (Appendix C.1, C.2) and the authors' code."""

from __future__ import annotations

import random

import pytest

from actionlib.data.sampling import (
    FrameSampler,
    centred_clip_start,
    clip_indices,
    multi_clip_starts,
    random_clip_start,
    segment_indices,
)


def test_tsn_training_takes_one_frame_inside_each_segment():
    rng = random.Random(0)
    seen = [set() for _ in range(16)]
    for _ in range(300):
        indices = segment_indices(160, 16, train=True, rng=rng)
        assert len(indices) == 16
        for k, i in enumerate(indices):
            assert 10 * k <= i < 10 * (k + 1)
            seen[k].add(i - 10 * k)
    assert all(len(s) == 10 for s in seen), "every frame of a segment can be drawn"


def test_tsn_test_takes_segment_middles():
    assert segment_indices(160, 16, train=False) == [10 * k + 5 for k in range(16)]
    assert segment_indices(50, 5, train=False) == [5, 15, 25, 35, 45]


def test_tsn_on_a_video_shorter_than_the_segments_repeats_frames_in_order():
    for train in (True, False):
        indices = segment_indices(5, 16, train=train, rng=random.Random(3))
        assert len(indices) == 16 and indices == sorted(indices)
        assert set(indices) <= set(range(5))


def test_random_clip_start_covers_every_valid_start():
    rng = random.Random(0)
    starts = {random_clip_start(40, 16, rng) for _ in range(2000)}
    assert starts == set(range(0, 25))


def test_training_clip_is_consecutive_and_fits():
    sampler = FrameSampler.clip(16)
    rng = random.Random(1)
    for _ in range(100):
        (clip,) = sampler(100, rng)
        assert clip == list(range(clip[0], clip[0] + 16))
        assert 0 <= clip[0] <= 84


def test_centred_single_clip():
    assert centred_clip_start(100, 16) == 42
    assert FrameSampler.clip(16, mode="center")(100) == [list(range(42, 58))]


def test_multi_clip_is_floor_of_frames_over_length_non_overlapping_and_centred():
    starts = multi_clip_starts(100, 16)
    assert len(starts) == 100 // 16 == 6
    assert starts == [2 + 16 * k for k in range(6)]  # 4 spare frames: 2 before, 2 after
    clips = FrameSampler.clip(16, mode="multi")(100)
    flat = [i for c in clips for i in c]
    assert len(flat) == len(set(flat)) == 96
    assert min(flat) == 2 and max(flat) == 97


def test_multi_clip_on_a_short_video_gives_one_looped_clip():
    assert FrameSampler.clip(16, mode="multi")(10) == [list(range(10)) + list(range(6))]


def test_short_video_loops_to_the_clip_length():
    assert clip_indices(0, 16, 10) == list(range(10)) + list(range(6))
    (clip,) = FrameSampler.clip(64)(20, random.Random(0))
    assert len(clip) == 64 and clip[:20] == list(range(20)) and clip[20:40] == list(range(20))


def test_strided_clip_32x2():
    sampler = FrameSampler.clip(32, stride=2, mode="center")
    assert sampler.window == 64
    (clip,) = sampler(200)
    assert clip == list(range(68, 68 + 64, 2))
    (train_clip,) = FrameSampler.clip(32, stride=2)(200, random.Random(2))
    assert [b - a for a, b in zip(train_clip, train_clip[1:], strict=False)] == [2] * 31


def test_tsm_dense_8x8_takes_the_middle_of_each_chunk():
    (clip,) = FrameSampler.tsm_dense(mode="center")(64)
    assert clip == [i + 4 for i in range(0, 64, 8)]
    clips = FrameSampler.tsm_dense(mode="multi")(200)
    assert len(clips) == 3 and clips[0][0] == 4 + 4  # (200 - 192) // 2 = 4 spare frames before


def test_segment_sampler_returns_one_view_in_every_mode():
    assert len(FrameSampler.tsn(16, mode="multi")(100)) == 1
    assert FrameSampler.tsn(4, mode="center")(40) == [[5, 15, 25, 35]]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"mode": "test"}, "mode"), ({"length": 0}, "length"), ({"stride": 2, "phase": 2}, "phase")],
)
def test_bad_sampler_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrameSampler(**kwargs)


def test_empty_video_is_rejected():
    with pytest.raises(ValueError, match="at least one frame"):
        FrameSampler.clip(16)(0)
