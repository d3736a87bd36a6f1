"""Split parsing in the real HMDB51 / UCF101 layouts (odd names included) and the clip dataset."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from actionlib.data.datasets import (
    ClipDataset,
    SkippedVideoWarning,
    class_names,
    collate_clips,
    read_split,
    split_entries,
)
from actionlib.data.sampling import FrameSampler
from actionlib.data.transforms import ClipTransform

from .test_video import brightness, write_flow_folder, write_frame_folder, write_video

# HMDB51 really has names like these (brackets, &, #, !, apostrophes, accents); spaces come from user data.
HMDB_VIDEOS = {
    # class: [(file name, split-1 code, kind)]; kinds: ok, short, zero, truncated, missing, unlisted
    "brush_hair": [
        ("April's #1 (Dance) & Fun!_brush_hair_u_nm_np1_ba_goo_0.avi", 1, "ok"),
        ("Café Ünïcode_brush_hair_f_cm_np1_fr_med_1.avi", 2, "ok"),
        ("[Old] clip_brush_hair_u_cm_np1_le_goo_2.avi", 0, "ok"),
    ],
    "fall_floor": [
        ("fall (1)_fall_floor_f_cm_np1_ba_bad_0.avi", 1, "ok"),
        ("Zero byte!_fall_floor_f_cm_np1_ba_bad_1.avi", 1, "zero"),
        ("Gone missing_fall_floor_f_cm_np1_ba_bad_2.avi", 2, "missing"),
    ],
    "pick": [
        ("Truncated #3_pick_f_cm_np1_fr_med_0.avi", 1, "truncated"),
        ("short'n sweet_pick_f_cm_np1_fr_med_1.avi", 2, "short"),
        ("Nobody listed me_pick_f_cm_np1_fr_med_2.avi", None, "unlisted"),
    ],
}
FRAMES = 24


def _write(path: Path, kind: str) -> None:
    if kind in ("ok", "unlisted"):
        write_video(path, FRAMES, gop=5)
    elif kind == "short":
        write_video(path, 6, gop=5)
    elif kind == "zero":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    elif kind == "truncated":
        write_video(path, 40, gop=5)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


def build_hmdb(root: Path, broken: bool = True, splits=(1,)) -> Path:
    """An HMDB51-layout tree: <root>/<class>/<video>.avi and <root>/testTrainMulti_7030_splits/."""
    split_dir = root / "testTrainMulti_7030_splits"
    split_dir.mkdir(parents=True)
    for class_name, videos in HMDB_VIDEOS.items():
        for split in splits:
            lines = []
            for name, code, kind in videos:
                if not broken and kind != "ok":
                    continue
                if kind != "missing":
                    _write(root / class_name / name, kind) if split == splits[0] else None
                if code is not None:
                    lines.append(f"{name} {code} \n")  # HMDB51 lines end with a space
            (split_dir / f"{class_name}_test_split{split}.txt").write_text("".join(lines), encoding="utf-8")
    return root


UCF_CLASSES = ["YoYo", "ApplyEyeMakeup", "HandstandPushups"]  # classInd order on purpose not alphabetical


def build_ucf(root: Path, broken: bool = True) -> Path:
    """A UCF101 tree: <root>/UCF-101/<Class>/v_*.avi and the split lists next to it in ucfTrainTestlist/."""
    videos = root / "UCF-101"
    split_dir = root / "ucfTrainTestlist"
    split_dir.mkdir(parents=True)
    (split_dir / "classInd.txt").write_bytes("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(UCF_CLASSES)).encode())
    train, test = [], []
    for label, class_name in enumerate(UCF_CLASSES, start=1):
        file_class = "HandStandPushups" if class_name == "HandstandPushups" else class_name  # UCF101's own mix
        for group in (1, 2):
            name = f"v_{file_class}_g{group:02d}_c01 (take #{group}) & d'été!.avi"
            write_video(videos / class_name / name, FRAMES, gop=5)
            (train if group == 2 else test).append((f"{class_name}/{name}", label))
    if broken:
        test.append(("YoYo/v_YoYo_g03_c01 missing.avi", 1))
        (videos / "YoYo" / "v_YoYo_g04_c01 empty.avi").write_bytes(b"")
        train.append(("YoYo/v_YoYo_g04_c01 empty.avi", 1))
    (split_dir / "trainlist01.txt").write_bytes("".join(f"{p} {lab}\r\n" for p, lab in train).encode())
    (split_dir / "testlist01.txt").write_bytes("".join(f"{p}\r\n" for p, _ in test).encode())
    return videos


# ---------------------------------------------------------------------------------------------------------------
# Splits


def test_hmdb_split_parsing_with_odd_names(tmp_path):
    root = build_hmdb(tmp_path / "hmdb51")
    assert class_names(root, "hmdb51") == ["brush_hair", "fall_floor", "pick"]
    train = read_split(root, "hmdb51", 1, "train")
    test = read_split(root, "hmdb51", 1, "test")
    unused = read_split(root, "hmdb51", 1, "unused")
    assert [r.name for r in train] == [
        "April's #1 (Dance) & Fun!_brush_hair_u_nm_np1_ba_goo_0.avi",
        "fall (1)_fall_floor_f_cm_np1_ba_bad_0.avi",
        "Zero byte!_fall_floor_f_cm_np1_ba_bad_1.avi",
        "Truncated #3_pick_f_cm_np1_fr_med_0.avi",
    ]
    assert [r.label for r in train] == [0, 1, 1, 2]
    assert {r.name for r in test} == {
        "Café Ünïcode_brush_hair_f_cm_np1_fr_med_1.avi",
        "Gone missing_fall_floor_f_cm_np1_ba_bad_2.avi",
        "short'n sweet_pick_f_cm_np1_fr_med_1.avi",
    }
    assert [r.name for r in unused] == ["[Old] clip_brush_hair_u_cm_np1_le_goo_2.avi"]
    assert train[0].path == root / "brush_hair" / train[0].name and train[0].path.is_file()
    assert train[0].stem == "April's #1 (Dance) & Fun!_brush_hair_u_nm_np1_ba_goo_0"


def test_synthetic_reads_the_hmdb_layout(tmp_path):
    root = build_hmdb(tmp_path / "synthetic", broken=False)
    records = read_split(root, "synthetic", 1, "train")
    assert [(r.class_name, r.label) for r in records] == [("brush_hair", 0), ("fall_floor", 1)]


def test_split_folder_next_to_the_root(tmp_path):
    build_hmdb(tmp_path / "data", broken=False)
    # the class folders moved one level down, the split folder stays beside them
    (tmp_path / "data" / "videos").mkdir()
    for name in ("brush_hair", "fall_floor"):  # the classes with readable videos
        (tmp_path / "data" / name).rename(tmp_path / "data" / "videos" / name)
    (record,) = read_split(tmp_path / "data" / "videos", "hmdb51", 1, "test")
    assert record.path.is_file() and record.name.startswith("Café")


def test_ucf_split_parsing_follows_classind(tmp_path):
    root = build_ucf(tmp_path)
    assert class_names(root, "ucf101") == UCF_CLASSES
    train = read_split(root, "ucf101", 1, "train")
    test = read_split(root, "ucf101", 1, "test")
    assert [(r.class_name, r.label) for r in train[:3]] == [("YoYo", 0), ("ApplyEyeMakeup", 1), ("HandstandPushups", 2)]
    assert train[0].name == "v_YoYo_g02_c01 (take #2) & d'été!.avi" and train[0].path.is_file()
    assert test[2].path.name.startswith("v_HandStandPushups_g01") and test[2].path.is_file()
    assert len(test) == 4 and test[-1].name == "v_YoYo_g03_c01 missing.avi"


def test_missing_split_file_names_the_path(tmp_path):
    root = build_hmdb(tmp_path / "hmdb51", broken=False)
    missing = root / "testTrainMulti_7030_splits" / "pick_test_split1.txt"
    (root / "pick").mkdir(exist_ok=True)
    write_video(root / "pick" / "a.avi", 8)
    missing.unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError, match="pick_test_split1.txt"):
        read_split(root, "hmdb51", 1, "train")
    with pytest.raises(FileNotFoundError, match="brush_hair_test_split2.txt"):
        split_entries(root, "hmdb51", 2)
    ucf = build_ucf(tmp_path / "ucf")
    (tmp_path / "ucf" / "ucfTrainTestlist" / "testlist01.txt").unlink()
    with pytest.raises(FileNotFoundError, match="testlist01.txt"):
        read_split(ucf, "ucf101", 1, "test")


def test_missing_root_and_split_folder_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.*one folder per class"):
        read_split(tmp_path / "nowhere", "hmdb51")
    (tmp_path / "bare" / "brush_hair").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"testTrainMulti_7030_splits.*_test_split1.txt"):
        read_split(tmp_path / "bare", "hmdb51")
    with pytest.raises(FileNotFoundError, match="classInd.txt"):
        read_split(tmp_path / "bare", "ucf101")
    with pytest.raises(ValueError, match="hmdb51, ucf101, synthetic"):
        read_split(tmp_path / "bare", "kinetics")


# ---------------------------------------------------------------------------------------------------------------
# The dataset


def small_transform(mode="center", size=16):
    return ClipTransform(size, mode=mode, resize=(20, 26), normalization=None)


def test_clip_dataset_items(tmp_path):
    root = build_hmdb(tmp_path / "hmdb51", broken=False)
    records = read_split(root, "hmdb51", 1, "train")
    dataset = ClipDataset(records, FrameSampler.clip(8, mode="center"), small_transform())
    item = dataset[1]
    assert set(item) == {"clip", "label", "index"}
    assert item["clip"].shape == (3, 8, 16, 16) and item["clip"].dtype == torch.float32
    assert item["label"] == 1 and item["index"] == 1
    assert brightness(item["clip"].permute(1, 2, 3, 0).numpy()) == list(range(8, 16))  # centred in 24 frames


def test_multi_clip_ten_crop_stacks_views(tmp_path):
    root = build_hmdb(tmp_path / "hmdb51", broken=False)
    records = read_split(root, "hmdb51", 1, "train")
    dataset = ClipDataset(records, FrameSampler.clip(8, mode="multi"), small_transform("ten_crop"))
    item = dataset[0]
    assert item["clip"].shape == (3 * 10, 3, 8, 16, 16) and item["num_views"] == 30
    # clip-major: views 0..9 are clip 0 (frames 0..7), views 10..19 clip 1 (frames 8..15)
    assert brightness(item["clip"][10].permute(1, 2, 3, 0).numpy()) == list(range(8, 16))
    assert torch.allclose(item["clip"][0], item["clip"][5].flip(-1))  # crop 5 is crop 0 mirrored


def test_bad_videos_are_skipped_with_a_warning_and_counted(tmp_path):
    root = build_hmdb(tmp_path / "hmdb51")
    records = read_split(root, "hmdb51", 1, "train") + read_split(root, "hmdb51", 1, "test")
    dataset = ClipDataset(records, FrameSampler.clip(8), small_transform("train"), rng=random.Random(0))
    with pytest.warns(SkippedVideoWarning) as caught:
        items = [dataset[i] for i in range(len(dataset))]
    bad = {records[i].name for i, item in enumerate(items) if item is None}
    assert bad == {"Zero byte!_fall_floor_f_cm_np1_ba_bad_1.avi", "Gone missing_fall_floor_f_cm_np1_ba_bad_2.avi"}
    assert len(dataset.skipped) == 2
    assert any("Zero byte!" in str(w.message) for w in caught)
    # the truncated video yields the frames it has; the short one loops
    assert items[3]["clip"].shape == (3, 8, 16, 16)
    batch = collate_clips(items)
    assert batch["skipped"] == 2 and batch["clip"].shape == (5, 3, 8, 16, 16)
    assert batch["label"].tolist() == [r.label for r, item in zip(records, items, strict=True) if item is not None]
    assert collate_clips([None, None]) == {"skipped": 2}


def test_dataloader_with_workers_never_crashes_on_bad_videos(tmp_path):
    root = build_hmdb(tmp_path / "hmdb51")
    records = read_split(root, "hmdb51", 1, "train") + read_split(root, "hmdb51", 1, "test")
    dataset = ClipDataset(records, FrameSampler.clip(8), small_transform("train"))
    loader = DataLoader(dataset, batch_size=4, num_workers=2, collate_fn=collate_clips)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedVideoWarning)
        batches = list(loader)
    assert sum(b["skipped"] for b in batches) == 2
    assert sum(len(b["label"]) for b in batches if "label" in b) == len(records) - 2


def test_ragged_multi_clip_batches_are_concatenated(tmp_path):
    short = write_video(tmp_path / "c" / "short.avi", 10)
    long = write_video(tmp_path / "c" / "long.avi", 30)
    from actionlib.data.datasets import VideoRecord

    records = [VideoRecord("short.avi", "c", 0, short), VideoRecord("long.avi", "c", 0, long)]
    dataset = ClipDataset(records, FrameSampler.clip(8, mode="multi"), small_transform())
    batch = collate_clips([dataset[0], dataset[1]])
    assert batch["num_views"].tolist() == [1, 3]
    assert batch["clip"].shape == (4, 3, 8, 16, 16)


def test_frame_and_flow_folders_share_frames_and_crop(tmp_path):
    root = build_hmdb(tmp_path / "hmdb51", broken=False)
    records = read_split(root, "hmdb51", 1, "train")
    frames_root, flow_root = tmp_path / "frames", tmp_path / "flow"
    for record in records:
        write_frame_folder(frames_root / record.stem, FRAMES)  # authors' flat layout
        write_flow_folder(flow_root / record.class_name / record.stem, FRAMES - 1, extension="")  # HMDB flow
    records = read_split(root, "hmdb51", 1, "train", frame_roots={"rgb": frames_root, "flow": flow_root})
    assert records[0].sources["rgb"] == frames_root / records[0].stem
    assert records[0].sources["flow"] == flow_root / "brush_hair" / records[0].stem
    dataset = ClipDataset(records, FrameSampler.clip(4, mode="center"), small_transform(), modalities=("rgb", "flow"))
    item = dataset[0]
    assert item["clip"].shape == (3, 4, 16, 16) and item["clip_flow"].shape == (2, 4, 16, 16)
    rgb_frames = brightness(item["clip"].permute(1, 2, 3, 0).numpy())
    assert rgb_frames == list(range(9, 13))  # 23 usable frames (flow has n - 1), centred clip starts at 9
    flow_x = item["clip_flow"][0, :, 0, 0].numpy()
    assert np.allclose(flow_x, [10 * k for k in range(9, 13)], atol=3)


def test_pose_modality_reads_a_frame_folder(tmp_path):
    from actionlib.data.datasets import VideoRecord

    folder = write_frame_folder(tmp_path / "pose" / "v1", 10)
    record = VideoRecord("v1.avi", "c", 0, tmp_path / "v1.avi", sources={"pose": folder})
    item = ClipDataset([record], FrameSampler.tsn(5, mode="center"), small_transform(), modalities="pose")[0]
    assert item["clip"].shape == (3, 5, 16, 16)
    assert brightness(item["clip"].permute(1, 2, 3, 0).numpy()) == [1, 3, 5, 7, 9]
