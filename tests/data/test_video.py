"""Frame readers: seeking gives exactly the frames a full decode gives, without decoding the whole file."""

from __future__ import annotations

import random
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from actionlib.data import video as video_module
from actionlib.data.video import (
    FlowFolderReader,
    FrameFolderReader,
    VideoDecodeError,
    VideoReader,
    decode_all,
    open_reader,
    stream_index,
)


def frame_image(i: int, height: int = 24, width: int = 32) -> np.ndarray:
    """A frame whose brightness encodes its index (8 levels apart, so lossy coding keeps it readable) and a
    moving bar that gives the encoder real motion to predict."""
    image = np.full((height, width, 3), (8 * i) % 256, np.uint8)
    image[:, (2 * i) % width] = 255 - image[0, 0]
    return image


def write_video(
    path: Path,
    num_frames: int = 30,
    codec: str = "mpeg4",
    gop: int = 6,
    b_frames: int = 0,
    height: int = 24,
    width: int = 32,
) -> Path:
    """A tiny real video written with PyAV (the same container and codec family as HMDB51's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.bit_rate = 4_000_000  # near-lossless, so brightness still encodes the frame index
        if b_frames:
            stream.codec_context.max_b_frames = b_frames
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, height, width), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def brightness(frames: np.ndarray) -> list[int]:
    """Recover the frame indices written by `frame_image` from decoded frames."""
    return [int(round(float(np.median(f[:, :, 0])) / 8)) for f in frames]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    return {
        "avi": write_video(root / "plain (1) & #2!.avi", 40, gop=6),
        "avi_bframes": write_video(root / "bframes d'été.avi", 40, gop=8, b_frames=2),
        "mp4_h264": write_video(root / "h264.mp4", 40, codec="libx264", gop=10, b_frames=2),
        "mkv_no_count": write_video(root / "no count.mkv", 33, gop=7, b_frames=1),
    }


@pytest.mark.parametrize("kind", ["avi", "avi_bframes", "mp4_h264", "mkv_no_count"])
def test_seeking_returns_exactly_the_frames_of_a_full_decode(videos, kind):
    path = videos[kind]
    reference = decode_all(path)
    reader = VideoReader(path)
    assert reader.num_frames == len(reference)
    assert reader.index.exact, "timestamps of these files identify frames; no fallback expected"
    rng = random.Random(1)
    requests = [[0], [len(reference) - 1], list(range(5, 21)), [30, 2, 2, 17, 30], list(range(len(reference)))]
    requests += [[rng.randrange(len(reference)) for _ in range(rng.randint(1, 12))] for _ in range(10)]
    for indices in requests:
        np.testing.assert_array_equal(reader.read(indices), reference[indices])
    reader.close()


def test_container_without_frame_count_is_counted(videos):
    reader = VideoReader(videos["mkv_no_count"])
    assert reader.claimed_frames == 0  # Matroska stores no frame count
    assert reader.num_frames == 33
    assert brightness(reader.read([0, 31])) == [0, 31]


def test_frames_are_in_display_order(videos):
    frames = VideoReader(videos["avi_bframes"]).read(list(range(40)))
    assert brightness(frames) == [i % 32 for i in range(40)]


class CountingContainer:
    """Wraps a PyAV container and records every frame its decoder produces."""

    def __init__(self, container, decoded: list):
        self._container, self._decoded = container, decoded

    def decode(self, *args, **kwargs):
        for frame in self._container.decode(*args, **kwargs):
            self._decoded.append(frame.pts)
            yield frame

    def __getattr__(self, name):
        return getattr(self._container, name)


def test_a_short_clip_does_not_decode_the_whole_video(tmp_path, monkeypatch):
    path = write_video(tmp_path / "long.avi", 200, gop=10)
    reader = VideoReader(path)
    decoded: list = []
    real_open = video_module._open

    def counting_open(p):
        container, stream = real_open(p)
        return CountingContainer(container, decoded), stream

    monkeypatch.setattr(video_module, "_open", counting_open)
    frames = reader.read(list(range(152, 168)))
    assert brightness(frames) == [i % 32 for i in range(152, 168)]
    # Decoding starts at the last keyframe at or before 152 (GOP 10): at most 9 extra frames, not 168 frames.
    keyframe = reader.index.keyframe_before(152)[0]
    assert 143 <= keyframe <= 152
    assert len(decoded) == 168 - keyframe
    decoded.clear()
    reader.read([5, 190])  # two far-apart frames: two seeks, not a decode of everything in between
    assert len(decoded) <= 2 * 10


def test_index_is_cached_per_file(videos, monkeypatch):
    stream_index(videos["avi"])
    calls = []
    monkeypatch.setattr(video_module, "_build_index", lambda *a: calls.append(a))
    VideoReader(videos["avi"])
    assert calls == []


def test_zero_byte_file_raises_with_path(tmp_path):
    path = tmp_path / "empty (0) & é.avi"
    path.write_bytes(b"")
    with pytest.raises(VideoDecodeError) as error:
        VideoReader(path)
    assert error.value.path == path
    assert str(path) in str(error.value)


def test_missing_and_corrupt_files_raise_with_path(tmp_path):
    with pytest.raises(VideoDecodeError, match="no such file"):
        VideoReader(tmp_path / "nope.avi")
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(range(256)) * 4)
    with pytest.raises(VideoDecodeError) as error:
        VideoReader(garbage)
    assert error.value.path == garbage


def test_truncated_file_gives_the_frames_it_has(tmp_path):
    full = write_video(tmp_path / "full.avi", 40, gop=5)
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 6 // 10])
    reader = VideoReader(cut)
    assert reader.claimed_frames == 40
    assert 0 < reader.num_frames < 40
    reference = decode_all(full)
    last = reader.num_frames - 2  # the very last frame may be the damaged one
    np.testing.assert_array_equal(reader.read([0, last]), reference[[0, last]])
    with pytest.raises(IndexError):
        reader.read([39])


def test_out_of_range_index_is_rejected(videos):
    with pytest.raises(IndexError, match="outside"):
        VideoReader(videos["avi"]).read([40])


def test_iter_frames_yields_every_frame(videos):
    frames = list(VideoReader(videos["avi"]).iter_frames())
    np.testing.assert_array_equal(np.stack(frames), decode_all(videos["avi"]))


def write_frame_folder(folder: Path, num_frames: int, template: str = "img_{:05d}.jpg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(num_frames):
        Image.fromarray(frame_image(i)).save(folder / template.format(i + 1), format="JPEG", quality=95)
    return folder


def write_flow_folder(folder: Path, num_pairs: int, extension: str = ".jpg") -> Path:
    """Flow pairs whose x level is 10 * k and y level 250 - 10 * k (k = pair index, < 25)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(num_pairs):
        for axis, level in (("x", 10 * k), ("y", 250 - 10 * k)):
            image = Image.fromarray(np.full((24, 32), level, np.uint8))
            image.save(folder / f"flow_{axis}_{k + 1:05d}{extension}", format="JPEG", quality=95)
    return folder


def test_frame_folder_reader(tmp_path):
    folder = write_frame_folder(tmp_path / "v_Odd (name) & #1!", 12)
    (folder / "notes.txt").write_text("not a frame")
    reader = open_reader(folder, "rgb")
    assert isinstance(reader, FrameFolderReader)
    assert reader.num_frames == 12
    frames = reader.read([11, 0, 0])
    assert frames.shape == (3, 24, 32, 3) and frames.dtype == np.uint8
    assert brightness(frames) == [11, 0, 0]


def test_frame_folder_other_template(tmp_path):
    folder = write_frame_folder(tmp_path / "feichtenhofer", 5, template="frame{:06d}.jpg")
    reader = FrameFolderReader(folder)
    assert reader.template == "frame{:06d}.jpg" and reader.num_frames == 5


@pytest.mark.parametrize("extension", [".jpg", ""])
def test_flow_folder_reader_with_and_without_extension(tmp_path, extension):
    folder = write_flow_folder(tmp_path / "flow", 6, extension)
    reader = open_reader(folder, "flow")
    assert isinstance(reader, FlowFolderReader)
    assert reader.num_frames == 6
    flow = reader.read([0, 5])
    assert flow.shape == (2, 24, 32, 2)
    assert abs(int(flow[1, 0, 0, 0]) - 50) <= 2 and abs(int(flow[1, 0, 0, 1]) - 200) <= 2


def test_frame_folder_problems_raise_decode_error(tmp_path):
    with pytest.raises(VideoDecodeError, match="does not exist"):
        FrameFolderReader(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match="no frames"):
        FrameFolderReader(empty)
    folder = write_frame_folder(tmp_path / "broken", 3)
    (folder / "img_00002.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(VideoDecodeError, match="img_00002.jpg"):
        FrameFolderReader(folder).read([1])
