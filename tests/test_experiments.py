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
