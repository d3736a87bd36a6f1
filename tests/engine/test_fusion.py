import pytest
import torch

from actionlib.engine.fusion import fuse_files, fuse_scores, save_scores


def test_l2_fusion_is_the_authors_sum_of_normalised_logits():
    rgb = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    flow = torch.tensor([[0.0, 10.0], [0.0, 2.0]])
    fused = fuse_scores([rgb, flow], "l2")
    assert torch.allclose(fused, torch.tensor([[0.6, 1.8], [1.0, 1.0]]))


def test_softmax_fusion_averages_class_probabilities_with_weights():
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[10.0, -10.0]])
    assert torch.allclose(fuse_scores([a, b], "softmax"), (a.softmax(1) + b.softmax(1)) / 2)
    three = fuse_scores([a, b, a], "softmax", weights=[1, 2, 1])
    assert torch.allclose(three.sum(1), torch.ones(1))
    with pytest.raises(ValueError, match="softmax, l2"):
        fuse_scores([a], "max")
    with pytest.raises(ValueError, match="same videos"):
        fuse_scores([a, torch.zeros(2, 2)])


def test_files_are_aligned_on_the_videos_every_stream_scored(tmp_path):
    labels = torch.tensor([0, 1, 1])
    rgb = {
        "scores": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
        "labels": labels,
        "indices": torch.tensor([0, 1, 2]),
    }
    flow = {
        "scores": torch.tensor([[0.0, 1.0], [0.0, 1.0]]),
        "labels": labels[[0, 2]],
        "indices": torch.tensor([0, 2]),
    }  # video 1 unreadable in the flow stream
    videos = ["a/0.avi", "b/1.avi", "b/2.avi"]
    paths = [
        save_scores(tmp_path / "rgb.pt", rgb, ["a", "b"], split=1, videos=videos),
        save_scores(tmp_path / "flow.pt", flow, split=1, videos=[videos[0], videos[2]]),
    ]
    fused = fuse_files(paths, "l2")
    assert fused["indices"].tolist() == [0, 2] and fused["class_names"] == ["a", "b"]
    assert torch.allclose(fused["scores"], torch.tensor([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        fuse_files([tmp_path / "missing.pt"])
