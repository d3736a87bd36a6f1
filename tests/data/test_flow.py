"""TV-L1 flow extraction: value mapping, direction of motion, the folder layout, resuming and bad videos."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
if not hasattr(cv2, "optflow"):
    pytest.skip("OpenCV without contrib modules (pip install opencv-contrib-python-headless)", allow_module_level=True)

import av  # noqa: E402

from actionlib.data import flow  # noqa: E402
from actionlib.data.flow import (  # noqa: E402
    FAST_TVL1,
    MARKER_NAME,
    extract_dataset_flow,
    extract_video_flow,
    flow_to_uint8,
    parse_size,
    uint8_to_flow,
)
from actionlib.data.video import FlowFolderReader, VideoDecodeError, VideoReader  # noqa: E402

SIZE = 48
STEP = (3, -2)  # the square moves 3 px right and 2 px up per frame


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    """A near-lossless MPEG-4 AVI (the HMDB51 container) from RGB frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def moving_square(num_frames: int, step=STEP, size: int = SIZE, seed: int = 0) -> list[np.ndarray]:
    """A bright textured square over a dark static textured background (texture gives TV-L1 a hold everywhere)."""
    rng = np.random.default_rng(seed)
    background = (rng.random((size, size)) * 60 + 40).astype(np.uint8)
    patch = (rng.random((14, 14)) * 80 + 170).astype(np.uint8)
    frames = []
    for t in range(num_frames):
        frame = background.copy()
        x, y = 8 + step[0] * t, 24 + step[1] * t
        frame[y : y + 14, x : x + 14] = patch
        frames.append(np.repeat(frame[..., None], 3, axis=2))
    return frames


def read_gray(path: Path) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE).astype(int)


def test_flow_to_uint8_maps_plus_minus_bound_linearly_and_clips():
    displacement = np.array([-25.0, -20.0, -10.0, 0.0, 0.07, 10.0, 20.0, 25.0], dtype=np.float32)
    image = flow_to_uint8(displacement)
    assert image.dtype == np.uint8
    assert image.tolist() == [0, 0, 64, 128, 128, 191, 255, 255]
    assert flow_to_uint8(np.array([3.0]), bound=2.0).tolist() == [255]
    inside = np.linspace(-20, 20, 101, dtype=np.float32)
    assert np.abs(uint8_to_flow(flow_to_uint8(inside)) - inside).max() <= 20 / 255 + 1e-5
    with pytest.raises(ValueError, match="bound"):
        flow_to_uint8(displacement, bound=0)


def test_parse_size():
    assert parse_size(None) is None
    assert parse_size("112") == 112
    assert parse_size("170x128") == (170, 128)
    assert parse_size((170, 128)) == (170, 128)
    for bad in ("0", "abc", "1x2x3", "-4"):
        with pytest.raises(ValueError, match=r"^size must be N \(shorter side\) or WxH"):
            parse_size(bad)


def test_moving_square_gives_n_minus_1_pairs_centred_where_still_and_shifted_where_moving(tmp_path):
    video = write_video(tmp_path / "square.avi", moving_square(6))
    out = tmp_path / "flow" / "square"
    assert extract_video_flow(video, out) == 5
    assert sorted(p.name for p in out.glob("flow_x_*")) == [f"flow_x_{i:05d}.jpg" for i in range(1, 6)]
    assert sorted(p.name for p in out.glob("flow_y_*")) == [f"flow_y_{i:05d}.jpg" for i in range(1, 6)]
    assert json.loads((out / MARKER_NAME).read_text())["pairs"] == 5
    reader = FlowFolderReader(out)  # what the datasets read the folder with
    assert reader.num_frames == 5 and reader.read([0, 4]).shape == (2, SIZE, SIZE, 2)

    step_levels = np.array(STEP) * 255 / 40  # +19 and -13 grey levels
    for index in (1, 3, 5):
        fx, fy = read_gray(out / f"flow_x_{index:05d}.jpg"), read_gray(out / f"flow_y_{index:05d}.jpg")
        assert fx.shape == fy.shape == (SIZE, SIZE)
        x, y = 8 + STEP[0] * (index - 1), 24 + STEP[1] * (index - 1)  # the square in the first frame of the pair
        still = np.ones((SIZE, SIZE), bool)
        still[max(0, y - 8) : y + 22, max(0, x - 8) : x + 22] = False
        assert abs(np.median(fx[still]) - 128) <= 1 and abs(np.median(fy[still]) - 128) <= 1.5
        core_x, core_y = fx[y + 4 : y + 10, x + 4 : x + 10], fy[y + 4 : y + 10, x + 4 : x + 10]
        assert np.median(core_x) - 128 > 0.6 * step_levels[0]  # moving right: x above 128
        assert np.median(core_y) - 128 < 0.6 * step_levels[1]  # moving up: y below 128


def panning_square(num_frames: int, pan: int, step=STEP, size: int = SIZE, seed: int = 0) -> list[np.ndarray]:
    """`moving_square` filmed by a camera that pans: the background moves `pan` px right a frame, the square `step`
    px relative to it."""
    rng = np.random.default_rng(seed)
    world = (rng.random((size, size + pan * num_frames)) * 60 + 40).astype(np.uint8)
    patch = (rng.random((14, 14)) * 80 + 170).astype(np.uint8)
    frames = []
    for t in range(num_frames):
        left = pan * (num_frames - t)  # the window slides left over the world: the world moves right in the frame
        frame = world[:, left : left + size].copy()
        x, y = 8 + (step[0] + pan) * t, 24 + step[1] * t
        frame[y : y + 14, x : x + 14] = patch
        frames.append(np.repeat(frame[..., None], 3, axis=2))
    return frames


def test_subtract_median_motion_removes_the_common_displacement_of_each_channel():
    field = np.zeros((6, 8, 2), np.float32)
    field[..., 0], field[..., 1] = 0.5, -0.25  # the camera: every pixel
    field[:2, :2] += (1.0, 2.0)  # the actor: a few pixels
    relative = flow.subtract_median_motion(field)
    assert relative.dtype == np.float32 and relative.shape == field.shape
    assert np.allclose(relative[2:], 0) and np.allclose(relative[:2, :2], (1.0, 2.0))


def test_subtract_median_keeps_the_motion_relative_to_a_panning_background(tmp_path):
    video = write_video(tmp_path / "pan.avi", panning_square(3, pan=2))
    level = 255 / 40  # grey levels a pixel at the default 20 px bound
    for subtract, background in ((False, 2 * level), (True, 0)):
        out = tmp_path / f"flow_{subtract}"
        extract_video_flow(video, out, subtract_median=subtract)
        assert json.loads((out / MARKER_NAME).read_text())["subtract_median"] is subtract
        fx, fy = read_gray(out / "flow_x_00001.jpg"), read_gray(out / "flow_y_00001.jpg")
        still = np.ones((SIZE, SIZE), bool)
        still[16:46, 0:38] = False  # around the square's two positions
        assert abs(np.median(fx[still]) - 128 - background) <= 1.5 and abs(np.median(fy[still]) - 128) <= 1.5
        core_x, core_y = fx[28:34, 14:20], fy[28:34, 14:20]  # inside the square in both frames
        assert np.median(core_x) - 128 - background > 0.6 * STEP[0] * level  # right, relative to the background
        assert np.median(core_y) - 128 < 0.6 * STEP[1] * level


def test_clipping_bound_and_resizing_in_the_pipeline(tmp_path):
    video = write_video(tmp_path / "square.avi", moving_square(3))
    out = tmp_path / "clipped"
    extract_video_flow(video, out, options=FAST_TVL1, bound=1.0, size="32x24")
    fx = read_gray(out / "flow_x_00001.jpg")
    assert fx.shape == (24, 32)
    # 3 px at 48 px wide is 2 px at 32 px: beyond a 1 px bound, so the square saturates at 255 (up to JPEG
    # noise) instead of wrapping around; the still background stays at 128.
    assert np.median(fx[13:18, 7:13]) >= 240
    assert abs(np.median(fx[:, 20:]) - 128) <= 2
    extract_video_flow(video, tmp_path / "short_side", options=FAST_TVL1, size=24)
    assert read_gray(tmp_path / "short_side" / "flow_y_00002.jpg").shape == (24, 24)


def test_a_video_with_one_frame_or_no_file_fails_and_leaves_nothing(tmp_path):
    one_frame = write_video(tmp_path / "one.avi", moving_square(1))
    with pytest.raises(flow.FlowExtractionError, match="fewer than two"):
        extract_video_flow(one_frame, tmp_path / "out" / "one")
    with pytest.raises(VideoDecodeError, match="no such file"):
        extract_video_flow(tmp_path / "missing.avi", tmp_path / "out" / "missing")
    assert list((tmp_path / "out").iterdir()) == []


ODD_NAMES = ["Bob's #1 (take & go)!", "çaï_ünïcode [x]"]


def make_dataset(root: Path) -> dict[str, Path]:
    """HMDB51 layout with odd names, a truncated, a zero-byte and a garbage video and a split-file folder."""
    videos = {}
    for klass, names in (("brush_hair", ODD_NAMES), ("wave", ["w1"])):
        (root / klass).mkdir(parents=True)
        for name in names:
            videos[name] = write_video(root / klass / f"{name}.avi", moving_square(3, seed=len(name)))
    full = write_video(root / "wave" / "long.avi", moving_square(10, step=(2, -1))).read_bytes()
    (root / "wave" / "long.avi").write_bytes(full[: int(len(full) * 0.95)])  # truncated: its index is cut off
    (root / "wave" / "empty.avi").write_bytes(b"")
    (root / "wave" / "garbage.avi").write_bytes(np.random.default_rng(1).bytes(3000))
    (root / "testTrainMulti_7030_splits").mkdir()
    (root / "testTrainMulti_7030_splits" / "wave_test_split1.txt").write_text("w1.avi 1\n")
    return videos


def test_dataset_run_reports_bad_videos_continues_and_resumes(tmp_path):
    root, out = tmp_path / "hmdb51", tmp_path / "flow"
    make_dataset(root)
    # Leftovers of an interrupted run: a half-written temporary folder and an unfinished folder with no marker.
    stale = out / "wave" / ".w1.partial"
    stale.mkdir(parents=True)
    (stale / "flow_x_00001.jpg").write_bytes(b"half")
    unfinished = out / "brush_hair" / ODD_NAMES[0]
    unfinished.mkdir(parents=True)
    (unfinished / "flow_x_00009.jpg").write_bytes(b"old")

    report = extract_dataset_flow(root, out, dataset="hmdb51", jobs=2, options=FAST_TVL1, progress=False)
    # The truncated video gives flow for the frames the readers can deliver (fewer than its header's 10).
    truncated_frames = VideoReader(root / "wave" / "long.avi").num_frames
    assert 2 <= truncated_frames < 10
    assert len(list((out / "wave" / "long").glob("flow_x_*.jpg"))) == truncated_frames - 1
    assert sorted(v.stem for v in report.written) == sorted([*ODD_NAMES, "w1", "long"])
    assert sorted(v.name for v, _ in report.failed) == ["empty.avi", "garbage.avi"]
    assert any("0 bytes" in message for _, message in report.failed)
    assert not report.ok and report.skipped == []
    assert report.warnings and "51" in report.warnings[0]
    for klass, name in (("brush_hair", ODD_NAMES[0]), ("brush_hair", ODD_NAMES[1]), ("wave", "w1")):
        folder = out / klass / name
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [MARKER_NAME, "flow_x_00001.jpg", "flow_x_00002.jpg", "flow_y_00001.jpg", "flow_y_00002.jpg"]
        )
    assert not stale.exists()
    assert sorted(p.name for p in (out / "wave").iterdir()) == ["long", "w1"]  # nothing for the failed videos

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}
    again = extract_dataset_flow(root, out, options=FAST_TVL1, progress=False)
    assert sorted(v.stem for v in again.skipped) == sorted([*ODD_NAMES, "w1", "long"])
    assert again.written == [] and len(again.failed) == 2
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} == before


def test_interrupted_video_leaves_no_output(tmp_path, monkeypatch):
    root, out = tmp_path / "data", tmp_path / "flow"
    (root / "run").mkdir(parents=True)
    write_video(root / "run" / "a.avi", moving_square(4))
    calls = []

    def failing_write(path, image, quality):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # like Ctrl-C in the middle of a video
        path.write_bytes(b"x")

    monkeypatch.setattr(flow, "_write_jpeg", failing_write)
    with pytest.raises(KeyboardInterrupt):
        extract_dataset_flow(root, out, options=FAST_TVL1, progress=False)
    assert list((out / "run").iterdir()) == []


def test_cli_exit_codes_and_errors(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    flow.add_parser(parser.add_subparsers(dest="command"))
    root = tmp_path / "synthetic"
    (root / "jump").mkdir(parents=True)
    write_video(root / "jump" / "v1.avi", moving_square(3))

    args = parser.parse_args(["flow", str(root), "--out", str(tmp_path / "f"), "--fast", "--quiet", "--warps", "1"])
    assert args.func(args) == 0
    assert (tmp_path / "f" / "jump" / "v1" / "flow_y_00002.jpg").is_file()
    marker = json.loads((tmp_path / "f" / "jump" / "v1" / MARKER_NAME).read_text())
    assert marker["tvl1"]["warps"] == 1 and marker["tvl1"]["nscales"] == FAST_TVL1.nscales

    (root / "jump" / "broken.avi").write_bytes(b"not a video")
    args = parser.parse_args(["flow", str(root), "--out", str(tmp_path / "f"), "--fast", "--quiet"])
    assert args.func(args) == 1
    captured = capsys.readouterr()
    assert "broken.avi" in captured.err and "1 already done, 1 failed" in captured.out

    args = parser.parse_args(["flow", str(tmp_path / "nowhere"), "--out", str(tmp_path / "f")])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        args.func(args)
    (tmp_path / "empty").mkdir()
    args = parser.parse_args(["flow", str(tmp_path / "empty"), "--out", str(tmp_path / "f")])
    with pytest.raises(ValueError, match="no videos found"):
        args.func(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["flow", str(root), "--out", "x", "--dataset", "kinetics"])
