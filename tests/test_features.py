"""The CPU feature protocol: cached backbone features train a head through the one training loop."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from actionlib import profiles
from actionlib.data import memory
from actionlib.data.memory import SyntheticSplit, ensure_synthetic
from actionlib.engine.checkpointing import save_checkpoint
from actionlib.engine.inputs import collate
from actionlib.engine.repro import SeededDataset
from actionlib.models import create
from actionlib.paths import cache_key
from actionlib.study import features, training
from actionlib.study.features import FeatureDataset


@pytest.fixture(scope="module")
def tiny_synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "synthetic"
    return ensure_synthetic(
        root, classes=["sit_down", "stand_up", "wave"], videos_per_class=4, frames=12, size=(64, 48), jobs=1
    )


def test_ensure_synthetic_reuses_and_refuses_other_settings(tiny_synthetic):
    assert ensure_synthetic(tiny_synthetic, videos_per_class=4, frames=12) == tiny_synthetic
    with pytest.raises(ValueError, match="other settings"):
        ensure_synthetic(tiny_synthetic, videos_per_class=5, frames=12)
    assert json.loads((tiny_synthetic / "synthetic.json").read_text())["frames"] == 12


@pytest.fixture(scope="module")
def pretrained(tiny_synthetic, tmp_path_factory):
    """A tiny pose backbone trained once (the `test` profile: 1 epoch, 4 segments, width 8) and its data."""
    cfg = profiles.resolve("test")
    data = memory.load_synthetic(tiny_synthetic, "pose", size=(32, 24))
    runs = tmp_path_factory.mktemp("backbones")
    return cfg, data, features.pretrain(cfg, data, "resnet18", runs_dir=runs), runs


def test_pretrain_is_cached_by_its_settings(pretrained, monkeypatch):
    cfg, data, backbone, runs = pretrained
    assert backbone["options"] == {"width": 8, "frozen_stages": 0, "head": "avg"} and backbone["frames"] == 4
    assert (runs / backbone["checkpoint"].split("/")[-2] / "best.pt").is_file()

    def fail(*args, **kwargs):
        raise AssertionError("a finished backbone was trained again")

    monkeypatch.setattr(features, "train_and_test", fail)
    assert features.pretrain(cfg, data, "resnet18", runs_dir=runs)["checkpoint"] == backbone["checkpoint"]
    with pytest.raises(AssertionError, match="trained again"):
        features.pretrain(cfg, data, "resnet18", runs_dir=runs, seed=1)


def test_frozen_features_views_and_protocols(pretrained):
    cfg, data, backbone, _ = pretrained
    train, train_labels, test, test_labels = features.frozen_features(backbone, data, train_views=2)
    n_train, n_test = len(data.train_labels), len(data.test_labels)
    assert train.shape == (2 * n_train, 64, 4, 1, 1) and train.dtype == torch.float16
    assert train_labels.tolist() == data.train_labels.tolist() * 2
    assert test.shape == (n_test, 64, 4, 1, 1) and test_labels.tolist() == data.test_labels.tolist()
    *_, multi, _ = features.frozen_features(backbone, data, train_views=2, protocol="multi-ten")
    assert multi.shape == (n_test, 10, 64, 4, 1, 1)  # TSN segments: one set ("multi" = "center") x 10 crops
    fused = features.frozen_features(backbone, data, train_views=2, fusion="triple")[0]
    assert fused.shape == (2 * n_train, 16 + 32 + 64, 4, 1, 1)
    again = features.frozen_features(backbone, data, train_views=2)
    assert torch.equal(again[0], train) and torch.equal(again[2], test)


def test_heads_on_frozen_features_and_their_scores(pretrained, tmp_path, monkeypatch):
    cfg, data, backbone, _ = pretrained
    rows = [
        {"row": "average", "head": "avg"},
        {"row": "BERT", "head": "bert"},
        {"row": "one frame", "head": "avg", "frames": 1},
    ]
    result = features.run_heads(rows, backbone, data, cfg, tmp_path, seeds=[0], train_views=2)
    assert result["row"].tolist() == ["average", "BERT", "one frame"]
    assert result["top1"].between(0, 100).all() and result["parameters"].iloc[1] > result["parameters"].iloc[0]
    scores, labels = features.head_scores(result["run_dir"][1], backbone, rows[1], data, train_views=2)
    assert scores.shape == (len(data.test_labels), len(data.class_names)) and torch.equal(labels, data.test_labels)
    from actionlib.data.synthetic import reversed_pairs
    from actionlib.engine.evaluate import summarize

    summary = summarize(scores, labels, len(data.class_names), data.class_names, reversed_pairs(data.class_names))
    assert summary["top1"] == pytest.approx(result["top1"][1])  # the test Top-1 of the epoch chosen on validation
    assert 0 <= summary["pairwise_accuracy"]["mean"] <= 100 and "val_top1" in result
    # the run kept its test scores: read back, equal to scoring the head again (which a row testing other positions
    # than it trained on does: "one frame" tested on every frame)
    spied = []
    monkeypatch.setattr(features, "load_head", lambda *a: spied.append(a) or pytest.fail("scored again"))
    assert torch.equal(features.head_scores(result["run_dir"][1], backbone, rows[1], data, train_views=2)[0], scores)
    monkeypatch.undo()
    (Path(result["run_dir"][1]) / training.TEST_SCORES).unlink()
    again = features.head_scores(result["run_dir"][1], backbone, rows[1], data, train_views=2)[0]
    assert torch.allclose(again, scores, atol=1e-5)
    every_frame = {k: v for k, v in rows[2].items() if k != "frames"}
    spied.clear()
    real_load_head = features.load_head
    monkeypatch.setattr(features, "load_head", lambda *a: spied.append(a) or real_load_head(*a))
    features.head_scores(result["run_dir"][2], backbone, every_frame, data, train_views=2)
    assert len(spied) == 1

    # a row with the same settings under another name is not trained again
    monkeypatch.setattr(features, "fit_and_report", lambda *a, **k: pytest.fail("trained again"))
    again = features.run_heads(
        [{"row": "renamed", "head": "avg"}], backbone, data, cfg, tmp_path, seeds=[0], train_views=2
    )
    assert again["top1"][0] == result["top1"][0]


def test_a_class_subset_reads_its_rows_of_the_whole_splits_features(pretrained):
    cfg, data, backbone, _ = pretrained
    part = data.only(["wave", "sit_down"], "two")
    train, train_labels, test, test_labels = features.frozen_features(backbone, data, train_views=2)
    sub_train, sub_train_labels, sub_test, sub_test_labels = features.frozen_features(backbone, part, train_views=2)
    keep = torch.isin(train_labels, torch.tensor([data.class_names.index(c) for c in ("wave", "sit_down")]))
    assert torch.equal(sub_train, train[keep]) and sub_train_labels.tolist() == part.train_labels.tolist() * 2
    assert set(sub_test_labels.tolist()) == {0, 1} and len(sub_test) == len(part.test_labels)
    maps, labels = features.validation_features(backbone, part)
    assert len(maps) == len(part.val_labels) and labels.tolist() == part.val_labels.tolist()


def test_distillation_heads_follow_a_teacher(pretrained, tmp_path):
    cfg, data, backbone, _ = pretrained
    teacher = {"backbone": backbone, "data": data, "row": {"row": "teacher", "head": "bert"}}
    rows = [{"row": "student", "head": "bert", "distill": "bert", "distill_weight": 10.0}]
    result = features.run_heads(rows, backbone, data, cfg, tmp_path, seeds=[0], train_views=2, teacher=teacher)
    assert 0 <= result["top1"][0] <= 100
    logged = [json.loads(line) for line in (tmp_path / result["run_dir"][0].split("/")[-1] / "metrics.jsonl").open()]
    assert logged and all("mse" in json.dumps(m) for m in logged)
    with pytest.raises(ValueError, match="need `teacher`"):
        features.run_heads(rows, backbone, data, cfg, tmp_path / "x", seeds=[0], train_views=2)


def test_a_centre_crop_test_reads_the_centre_views_of_a_cached_ten_crop_test(pretrained, tmp_path, monkeypatch):
    _, data, _, _ = pretrained  # 12-frame videos: three clips of 4 frames
    net = {"model": "resnext3d_101", "modality": "pose", "frames": 4, "sampling": "clip"}
    net["options"] = {"blocks": (1, 1, 1, 1), "width": 16, "head": "avg"}
    weights = create(net["model"], num_classes=3, modality="pose", frames=4, **net["options"]).state_dict()
    folders = {name: tmp_path / name for name in ("direct", "derived")}
    for folder in folders.values():
        save_checkpoint({"model": weights}, folder / "best.pt")
    direct, derived = ({**net, "checkpoint": str(folder / "best.pt")} for folder in folders.values())
    for protocol in ("single-center", "multi-center"):
        features.frozen_features(direct, data, train_views=1, protocol=protocol)
    for protocol in ("single-ten", "multi-ten"):
        features.frozen_features(derived, data, train_views=1, protocol=protocol)
    extracted = []
    monkeypatch.setattr(features, "extract_features", lambda *a, **k: extracted.append(k["desc"]))
    for protocol in ("single-center", "multi-center"):
        *_, maps, labels = features.frozen_features(derived, data, train_views=1, protocol=protocol)
        *_, again, again_labels = features.frozen_features(direct, data, train_views=1, protocol=protocol)
        assert maps.shape == again.shape
        assert maps.shape[1] == 3 if protocol == "multi-center" else maps.dim() == 5  # three clips: a view each
        assert torch.equal(labels, again_labels)
        torch.testing.assert_close(maps, again, atol=1e-2, rtol=1e-2)
        assert maps.untyped_storage().nbytes() == maps.numel() * maps.element_size()  # not the ten crops' storage
    assert extracted == []


def test_feature_batches_are_fetched_whole_and_equal_their_samples_stacked():
    maps = torch.randn(5, 8, 2, 1, 1).half()
    data = FeatureDataset(maps, torch.tensor([0, 1, 2, 1, 0]), teacher=maps * 2)
    picks = [3, 0, 4]
    whole, stacked = collate(data.__getitems__(picks)), collate([data[i] for i in picks])
    assert whole.keys() == stacked.keys()
    for key, value in stacked.items():
        assert torch.equal(whole[key], value) if torch.is_tensor(value) else whole[key] == value
    # as training reads them: (epoch, index) keys through the seeding wrapper
    loader = DataLoader(SeededDataset(data, seed=0), batch_size=3, sampler=[(0, i) for i in picks], collate_fn=collate)
    (batch,) = list(loader)
    assert torch.equal(batch["clip"], stacked["clip"]) and batch["index"].tolist() == picks


def test_feature_dataset_serves_float_clips_and_teacher_maps():
    maps = torch.zeros(3, 8, 2, 1, 1, dtype=torch.float16)
    sample = FeatureDataset(maps, torch.tensor([0, 1, 0]), teacher=maps + 1)[1]
    assert sample["clip"].dtype == torch.float32 and sample["label"] == 1 and sample["index"] == 1
    assert sample["teacher_clip"].dtype == torch.float32 and float(sample["teacher_clip"].max()) == 1
    with pytest.raises(ValueError, match="teacher maps"):
        FeatureDataset(maps, torch.tensor([0, 1, 0]), teacher=maps[:2])


def _split(videos, modality="rgb"):
    labels = torch.arange(len(videos)) % 2
    return SyntheticSplit(videos, labels, videos, labels, ["a", "b"], modality)


def test_memory_split_uses_the_full_profiles_protocols():
    """The CPU profile's clips come from `ClipDataset` with the full profile's samplers and crops: "multi" is the
    non-overlapping clips of `sampling.multi_clip_starts`, "ten" the five crops and their mirror images."""
    from actionlib.data.sampling import multi_clip_starts
    from actionlib.models import create

    videos = torch.arange(40, dtype=torch.uint8).view(1, 40, 1, 1, 1).expand(2, 40, 16, 16, 3).contiguous()
    net3d = create("resnext3d_101", num_classes=2, blocks=(1, 1, 1, 1), width=16, frames=8)
    _, multi = _split(videos).datasets(net3d, "multi-center")
    assert multi[0]["clip"].shape == (len(multi_clip_starts(40, 8)), 3, 8, 14, 14) == (5, 3, 8, 14, 14)
    _, ten = _split(videos).datasets(net3d, "single-ten")
    assert ten[0]["clip"].shape == (10, 3, 8, 14, 14)
    net2d = create("resnet18", num_classes=2, width=8, frames=8)
    _, tsn_multi = _split(videos).datasets(net2d, "multi-center")
    assert tsn_multi[0]["clip"].shape == (3, 8, 14, 14)  # segments are a whole-video view: "multi" = "center"
    with pytest.raises(ValueError, match="protocol must be one of"):
        _split(videos).datasets(net2d, "five-crop")


def test_memory_split_samples_segments_and_clips_with_the_familys_normalisation():
    from actionlib.models import create

    videos = torch.arange(40, dtype=torch.uint8).view(1, 40, 1, 1, 1).expand(2, 40, 8, 16, 3).contiguous()
    net2d = create("resnet18", num_classes=2, width=8, frames=8)
    train, test = _split(videos).datasets(net2d)
    item = test[1]
    assert item["clip"].shape == (3, 8, 7, 14) and item["label"] == 1
    raw = item["clip"][0, :, 0, 0] * (0.229 * 255) + 0.485 * 255  # ImageNet constants of the 2D ResNets
    assert torch.allclose(raw, torch.arange(2, 40, 5).float(), atol=1e-3)  # middle of each 5-frame segment
    raw = train[0]["clip"][0, :, 0, 0] * (0.229 * 255) + 0.485 * 255
    assert all(5 * i <= v < 5 * i + 5 for i, v in enumerate(raw.round().tolist()))
    net3d = create("resnext3d_101", num_classes=2, blocks=(1, 1, 1, 1), width=16, frames=8)
    clip = _split(videos).datasets(net3d)[1][0]["clip"]
    assert torch.allclose(clip[0, :, 0, 0] + 114.7748, torch.arange(16, 24).float())  # Hara's constants, centred
    flow = torch.full((1, 10, 8, 8, 2), 200, dtype=torch.uint8)
    flow[..., 1] = 100
    clip = _split(flow, "flow").datasets(create("resnet18", num_classes=2, width=8, frames=4, modality="flow"))[1][0]
    assert clip["clip"].shape == (2, 4, 7, 7)
    assert torch.allclose(clip["clip"][0], torch.tensor((200 / 255 - 0.5) / 0.226))  # the 2D ResNets' flow constants


def test_decode_flow_frames(tiny_synthetic, tmp_path):
    from PIL import Image

    from actionlib.data.datasets import read_split
    from actionlib.data.memory import decode_videos

    records = read_split(tiny_synthetic, "synthetic", 1, "train")[:2]
    for record in records:
        folder = tmp_path / record.class_name / record.stem
        folder.mkdir(parents=True)
        for i in range(1, 4):
            Image.new("L", (16, 12), 128).save(folder / f"flow_x_{i:05d}.jpg")
            Image.new("L", (16, 12), 64).save(folder / f"flow_y_{i:05d}.jpg")
    videos, labels = decode_videos(records, "flow", (8, 6), flow_root=tmp_path)
    assert videos.shape == (2, 3, 6, 8, 2) and labels.tolist() == [r.label for r in records]
    assert abs(int(videos[..., 0].float().mean()) - 128) <= 2 and abs(int(videos[..., 1].float().mean()) - 64) <= 2
    with pytest.raises(ValueError, match="flow_root"):
        decode_videos(records, "flow", (8, 6))


def test_synthetic_flow_is_computed_once_with_its_solver_settings(tiny_synthetic, tmp_path):
    import shutil

    root = tmp_path / "synthetic"
    shutil.copytree(tiny_synthetic, root)
    out = memory.ensure_flow(root, jobs=1)
    manifest = json.loads((out / "flow.json").read_text())
    assert manifest["tvl1"]["nscales"] == 2 and manifest["size"] == [64, 48] and manifest["subtract_median"] is True
    assert len(list(out.glob("*/*/flow_x_*.jpg"))) == 3 * 4 * 11  # every pair of every 12-frame video
    assert memory.ensure_flow(root) == out  # computed once
    data = memory.load_synthetic(root, "flow", size=(32, 24))  # its decoded frames are named by the flow's settings
    # the camera's jitter removed: each frame's median displacement is 0 px (grey level 128, up to JPEG noise)
    medians = data.train.flatten(2, 3).float().median(2).values
    assert (medians - 128).abs().max() <= 1
    tag = cache_key(**memory.SYNTHETIC_FLOW)
    assert {f.name for f in (tmp_path / "synthetic_cache").iterdir()} == {
        f"flow_split1_{subset}_32x24_{tag}.pt" for subset in ("train", "test")
    }
    (out / "flow.json").write_text(json.dumps({**manifest, "tvl1": {**manifest["tvl1"], "nscales": 3}}))
    with pytest.raises(ValueError, match="delete it to recompute, and delete the flow runs"):
        memory.ensure_flow(root)
    # flow stored before the camera's median motion was subtracted: refused too
    (out / "flow.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "subtract_median"}))
    with pytest.raises(ValueError, match="delete it to recompute, and delete the flow runs"):
        memory.ensure_flow(root)


def test_train_and_test_reports_pairwise_accuracy(tiny_synthetic, tmp_path):
    from actionlib.data.memory import load_synthetic
    from actionlib.study.features import train_and_test

    data = load_synthetic(tiny_synthetic, "pose", size=(32, 24))
    assert data.train.dtype == torch.uint8 and data.train.shape[2:] == (24, 32, 3)
    assert (tiny_synthetic.parent / "synthetic_cache" / "pose_split1_train_32x24.pt").is_file()
    row = train_and_test(
        "resnet18", data, frames=4, epochs=1, out=tmp_path / "run", head="concat", width=8, frozen_stages=0
    )
    assert 0 <= row["top1"] <= 100 and 0 <= row["sit_down/stand_up"] <= 100
    assert row["reversed_pairs"] == row["sit_down/stand_up"]
    assert (tmp_path / "run" / "metrics.jsonl").is_file()


def test_parse_choices_names_parameter_and_allowed_values():
    from actionlib.profiles import parse_choices

    assert parse_choices("heads", "avg, bert", {"avg": 1, "bert": 2}) == ["avg", "bert"]
    assert parse_choices("heads", "", {"avg": 1}) == []
    with pytest.raises(ValueError, match=r"parameter heads: unknown value\(s\) gru; allowed: avg, bert"):
        parse_choices("heads", "avg,gru", {"avg": 1, "bert": 2})


def test_unreadable_videos_are_skipped_with_their_labels(tiny_synthetic, tmp_path):
    import shutil

    from actionlib.data.datasets import SkippedVideoWarning, read_split
    from actionlib.data.memory import decode_videos

    records = read_split(tiny_synthetic, "synthetic", 1, "train")
    broken = tmp_path / "broken.avi"
    broken.write_bytes(shutil.copyfile(records[0].path, tmp_path / "x.avi").read_bytes()[:300])
    records[0].path = broken
    with pytest.warns(SkippedVideoWarning, match="broken.avi"):
        videos, labels = decode_videos(records, "rgb", (32, 24), cache=tmp_path / "c.pt")
    assert len(videos) == len(labels) == len(records) - 1
    assert labels.tolist() == [r.label for r in records[1:]]
    again, again_labels = decode_videos(records, "rgb", (32, 24), cache=tmp_path / "c.pt")
    assert torch.equal(again, videos) and torch.equal(again_labels, labels)


def test_selection_reads_held_out_training_videos_never_the_test_split():
    from actionlib.data.memory import hold_out_validation

    labels = torch.tensor([0] * 21 + [1] * 3)
    videos = torch.arange(24)
    train, train_labels, val, val_labels = hold_out_validation(videos, labels)
    assert val_labels.tolist() == [0] * 5 + [1]  # 5 of 21, and one of a small class
    assert sorted(train.tolist() + val.tolist()) == list(range(24)) and not set(train.tolist()) & set(val.tolist())


def test_the_runner_selects_epochs_on_validation_videos_and_reads_the_test_split_once(pretrained, tmp_path,
                                                                                        monkeypatch):  # fmt: skip
    """What `engine.fit` selects on (its `val_set`) is the held-out training videos, for backbones and heads alike;
    the test split is read once, after training, by `training.predict_in_memory`."""
    from actionlib.study import training

    cfg, data, backbone, _ = pretrained
    seen, tested = [], []
    real_fit, real_test = training.fit, training.predict_in_memory

    def spy_fit(config, model, train_set, val_set, **kwargs):
        seen.append(val_set)
        return real_fit(config, model, train_set, val_set, **kwargs)

    def spy_test(model, test_set, *args):
        tested.append(test_set)
        return real_test(model, test_set, *args)

    monkeypatch.setattr(training, "fit", spy_fit)
    monkeypatch.setattr(training, "predict_in_memory", spy_test)
    features.run_heads([{"row": "avg", "head": "avg"}], backbone, data, cfg, tmp_path, seeds=[0], train_views=2)
    val_maps, val_labels = features.validation_features(backbone, data)
    assert len(seen) == 1 and torch.equal(seen[0].maps, val_maps) and torch.equal(seen[0].labels, val_labels)
    assert len(tested) == 1 and torch.equal(tested[0].labels, data.test_labels)
    features.pretrain(cfg, data, "resnet18", runs_dir=tmp_path / "backbone", seed=3)  # a backbone, too
    assert len(seen) == 2 and len(seen[1]) == len(data.val_labels) and len(tested) == 2


def test_a_control_dataset_keeps_some_classes_relabelled():
    videos = torch.arange(6).view(6, 1, 1, 1, 1).float()
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    data = memory.SyntheticSplit(videos, labels, videos[:3], labels[:3], ["a", "b", "c"], "pose", 1, videos[3:],
                                      labels[3:])  # fmt: skip
    part = data.only(["c", "a"], "no b")
    assert part.class_names == ["c", "a"] and part.source == "synthetic[no b]"
    assert part.train_labels.tolist() == [1, 0, 1, 0] and part.train.flatten().tolist() == [0, 2, 3, 5]
    assert part.test_labels.tolist() == [1, 0] and part.val_labels.tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"classes \['d'\] are not in this dataset"):
        data.only(["d"], "x")


def test_every_head_gets_the_same_learning_rates_and_keeps_the_best_on_validation(pretrained, tmp_path, monkeypatch):
    """Heads are tuned as they select their epoch: each rate of `Profile.head_lrs` trains a run, and the run best
    on the validation videos is the row's; the logistic-regression probe on pooled features is the ceiling an
    average-pooling head should reach."""
    cfg, data, backbone, _ = pretrained
    cfg = dataclasses.replace(cfg, head_lrs=(1e-3, 3e-2))
    rows = [{"row": "SGD average", "head": "avg", "optimizer": "sgd", "lr": 1e-2}]
    result = features.run_heads(rows, backbone, data, cfg, tmp_path, seeds=[0], train_views=2).iloc[0]
    tried = dict(item.split(":") for item in result["val_by_lr"].split())
    assert set(tried) == {"0.001", "0.03"} and result["lr"] in (1e-3, 3e-2)
    assert round(result["val_top1"], 1) == max(float(v) for v in tried.values())
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2  # one run per rate, the row's own 1e-2 not tried
    ceiling = features.probe(backbone, data, train_views=2)
    assert 0 <= ceiling["probe_top1"] <= 100 and ceiling["probe_l2"] in features.PROBE_L2
    assert features.probe(backbone, data, train_views=2) == ceiling  # cached
    monkeypatch.setattr(features, "_fit_probe", lambda *a: pytest.fail("fitted again"))
    other = features.probe(backbone, data, train_views=2, protocol="single-ten")  # the same fit, other test views
    assert {k: other[k] for k in ("probe_train_top1", "probe_val_top1", "probe_l2")} == {
        k: ceiling[k] for k in ("probe_train_top1", "probe_val_top1", "probe_l2")
    }


def test_the_default_profile_tests_several_clips_where_single_clip_testing_sees_one():
    """Multi-clip testing averages clips single-clip testing never sees: the default's test videos hold two
    non-overlapping clips of the CPU 3D network, in their frames and in their flow (one frame fewer), and the
    single centred clip overlaps both."""
    from actionlib.data.sampling import multi_clip_starts
    from actionlib.models import create

    cfg = profiles.resolve("smoke")
    frames, clip = cfg.synthetic.frames, cfg.frames_3d
    for length in (frames, frames - 1):  # the frames, the flow between them
        starts = multi_clip_starts(length, clip)
        assert len(starts) == 2 and starts[1] - starts[0] == clip and (length - clip) // 2 not in starts
    # the clips themselves, on a video whose frames are numbered by their brightness
    videos = torch.arange(frames, dtype=torch.uint8).view(1, frames, 1, 1, 1).expand(2, frames, 16, 16, 3).contiguous()
    net3d = create("resnext3d_101", num_classes=2, blocks=(1, 1, 1, 1), width=16, frames=clip)
    _, multi = _split(videos).datasets(net3d, "multi-center")
    _, single = _split(videos).datasets(net3d, "single-center")
    assert multi[0]["clip"].shape[:3] == (2, 3, clip) and single[0]["clip"].shape[:2] == (3, clip)
    first = [multi[0]["clip"][k, 0, :, 7, 7] for k in range(2)]
    assert not any(torch.equal(single[0]["clip"][0, :, 7, 7], f) for f in first)
