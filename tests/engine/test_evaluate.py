import numpy as np
import pytest
import torch

from actionlib.engine.evaluate import pairwise_accuracy, predict_scores, summarize
from actionlib.engine.train import collate


def test_topk_per_class_and_confusion():
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 3.0, 2.0], [1.0, 0.0, 0.5, 2.0], [0.0, 3.0, 1.0, 2.0]])
    labels = torch.tensor([0, 3, 1, 1])
    report = summarize(scores, labels, 4, ["a", "b", "c", "d"])
    assert report["top1"] == 50.0  # samples 0 and 3
    assert report["top3"] == 75.0  # sample 2's label (b) is its 4th best
    assert report["per_class_accuracy"] == {"a": 100.0, "b": 50.0, "c": None, "d": 0.0}
    assert report["confusion_matrix"][3] == [0, 0, 1, 0] and report["confusion_matrix"][1] == [0, 1, 0, 1]


def test_pairwise_accuracy_counts_only_the_choice_within_the_pair():
    names = ["sit_down", "stand_up", "wave"]
    # sample 0: sit_down, predicted wave overall, but prefers sit_down over stand_up -> right on the pair
    scores = np.array([[2.0, 1.0, 9.0], [2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    labels = np.array([0, 1, 1, 2])
    result = pairwise_accuracy(scores, labels, [("sit_down", "stand_up")], names)
    assert result["sit_down|stand_up"] == pytest.approx(200 / 3)  # wave sample ignored
    assert result["mean"] == result["sit_down|stand_up"]


class Views(torch.utils.data.Dataset):
    """Video i has i+1 views (multi-clip testing of videos of different lengths)."""

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return {
            "clip": torch.full((i + 1, 1, 2, 2, 2), float(i)) + torch.arange(i + 1.0).view(-1, 1, 1, 1, 1),
            "label": i,
            "index": i,
        }


class Mean(torch.nn.Module):
    num_classes = 3

    def forward(self, x):
        return x.flatten(1).mean(1, keepdim=True) * torch.tensor([[1.0, 0.0, -1.0]])


def test_scores_are_raw_logits_averaged_over_views():
    loader = torch.utils.data.DataLoader(Views(), batch_size=3, collate_fn=collate)
    out = predict_scores(Mean(), loader, "cpu")
    # video i: views i, i+1, ..., 2i -> mean logit 1.5 i on class 0
    assert torch.allclose(out["scores"][:, 0], torch.tensor([0.0, 1.5, 3.0]))
    assert out["labels"].tolist() == [0, 1, 2] and out["indices"].tolist() == [0, 1, 2]


def test_batched_views_and_skipped_videos():
    items = [{"clip": torch.ones(10, 1, 2, 2, 2) * i, "label": i, "index": i} for i in range(3)] + [None]
    out = predict_scores(Mean(), [collate(items)], "cpu")  # (B, V, C, T, H, W): ten crops
    assert out["scores"].shape == (3, 3) and out["skipped"] == 1
    assert torch.allclose(out["scores"][:, 2], -torch.arange(3.0))
