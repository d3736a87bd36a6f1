"""The CPU feature protocol: cached backbone features train a head through the one training loop."""

import json

import pytest
import torch

from actionlib.data.datasets import class_names
from actionlib.engine.inputs import build_dataset
from actionlib.engine.train import TrainConfig, fit
from actionlib.experiments import FeatureDataset, Features, backbone_features, ensure_synthetic, head_model
from actionlib.models import create


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


def test_features_train_a_head_with_the_engine(tiny_synthetic, tmp_path):
    names = class_names(tiny_synthetic, "synthetic")
    model = create("resnet18", num_classes=len(names), frames=4, size=32, head="bert")
    config = TrainConfig(model="resnet18", dataset="synthetic", root=str(tiny_synthetic), split=1)
    train = backbone_features(model, build_dataset(config, "train", model, "train"), names)
    assert train.maps.shape[1:3] == (512, 4) and train.maps.dtype == torch.float16
    assert len(train.labels) == len(FeatureDataset(train)) > 0

    head = head_model(model)
    assert isinstance(head.backbone, torch.nn.Identity) and model.backbone is not head.backbone
    run = TrainConfig(model="resnet18", options={"head": "bert"}, dataset="synthetic", epochs=2, batch_size=4,
                      accumulation=1, optimizer="adamw", lr=1e-3, workers=0, out=str(tmp_path / "run"),
                      progress=False, class_names=names)  # fmt: skip
    result = fit(run, head, FeatureDataset(train), FeatureDataset(train), pairs=[("sit_down", "stand_up")])
    assert 0 <= result["best_top1"] <= 100
    assert "sit_down|stand_up" in result["last"]["val_pairwise"]


def test_feature_dataset_serves_float_clips():
    feats = Features(torch.zeros(3, 8, 2, 1, 1, dtype=torch.float16), torch.tensor([0, 1, 0]), ["a", "b"])
    sample = FeatureDataset(feats)[1]
    assert sample["clip"].dtype == torch.float32 and sample["label"] == 1 and sample["index"] == 1


def test_memory_clips_sample_tsn_segments_and_clips():
    from actionlib.experiments import MemoryClips

    videos = torch.arange(40, dtype=torch.uint8).view(1, 40, 1, 1, 1).expand(2, 40, 4, 6, 3).contiguous()
    test = MemoryClips(videos, [0, 1], frames=8, train=False)
    item = test[1]
    assert item["clip"].shape == (3, 8, 4, 6) and item["label"] == 1
    # centre of each of the 8 segments of 5 frames: 2, 7, 12, ...
    raw = item["clip"][0, :, 0, 0] * (0.229 * 255) + 0.485 * 255
    assert torch.allclose(raw, torch.arange(2, 40, 5).float(), atol=1e-3)
    clip = MemoryClips(videos, [0, 1], frames=8, train=False, sampling="clip")[0]["clip"]
    raw = clip[0, :, 0, 0] * (0.229 * 255) + 0.485 * 255
    assert torch.allclose(raw, torch.arange(16, 24).float(), atol=1e-3)
    torch.manual_seed(1)
    train = MemoryClips(videos, [0, 1], frames=8, train=True)
    raw = train[0]["clip"][0, :, 0, 0] * (0.229 * 255) + 0.485 * 255
    assert all(5 * i <= v < 5 * i + 5 for i, v in enumerate(raw.round().tolist()))
    with pytest.raises(ValueError, match="fewer than"):
        MemoryClips(videos, [0, 1], frames=64, train=True)


def test_train_and_test_reports_pairwise_accuracy(tiny_synthetic, tmp_path):
    from actionlib.experiments import load_synthetic, train_and_test

    data = load_synthetic(tiny_synthetic, "pose", size=(32, 24))
    assert data.train.dtype == torch.uint8 and data.train.shape[2:] == (24, 32, 3)
    assert (tiny_synthetic.parent / "synthetic_cache" / "pose_split1_train_32x24.pt").is_file()
    row = train_and_test(
        "resnet18", data, frames=4, epochs=1, out=tmp_path / "run", head="concat", width=8, frozen_stages=0
    )
    assert 0 <= row["top1"] <= 100 and 0 <= row["sit_down/stand_up"] <= 100
    assert row["reversed_pairs"] == row["sit_down/stand_up"]
    assert (tmp_path / "run" / "metrics.jsonl").is_file()


def test_compare_with_thesis_ranks_and_differences():
    import pandas as pd

    from actionlib.experiments import compare_with_thesis, thesis_accuracy

    if thesis_accuracy("3.3").empty:
        pytest.skip("accuracy_reference.csv is not beside the repository")
    ours = pd.DataFrame({"row": ["ResNet18 Average Pooling", "ResNet18 Concatenation"], "top1": [30.0, 60.0]})
    table = compare_with_thesis("3.3", ours)
    assert table["thesis_top1"].tolist() == [47.10, 51.04]
    assert table["difference"].round(2).tolist() == [-17.10, 8.96]
    assert table["our_rank"].tolist() == [2, 1] and table["thesis_rank"].tolist() == [2, 1]


def test_parse_choices_names_parameter_and_allowed_values():
    from actionlib.experiments import parse_choices

    assert parse_choices("heads", "avg, bert", {"avg": 1, "bert": 2}) == ["avg", "bert"]
    assert parse_choices("heads", "", {"avg": 1}) == []
    with pytest.raises(ValueError, match=r"parameter heads: unknown value\(s\) gru; allowed: avg, bert"):
        parse_choices("heads", "avg,gru", {"avg": 1, "bert": 2})


def test_run_rows_reuses_finished_runs(tiny_synthetic, tmp_path, monkeypatch):
    from actionlib import experiments, profiles

    cfg = profiles.resolve("test")
    data = experiments.load_synthetic(tiny_synthetic, "pose", size=(32, 24))
    rows = [{"row": "ResNet18 Concatenation", "model": "resnet18", "head": "concat"}]
    first = experiments.run_rows(rows, data, cfg, tmp_path, seeds=[0], progress=False)
    assert len(list(tmp_path.glob("*/result.json"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(experiments, "train_and_test", fail)
    again = experiments.run_rows(rows, data, cfg, tmp_path, seeds=[0], progress=False)
    assert again.equals(first)
    with pytest.raises(AssertionError, match="trained again"):
        experiments.run_rows(rows, data, cfg, tmp_path, seeds=[0], progress=False, reuse=False)


def test_unreadable_videos_are_skipped_with_their_labels(tiny_synthetic, tmp_path):
    import shutil

    from actionlib.data.datasets import SkippedVideoWarning, read_split
    from actionlib.experiments import decode_videos

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
