import pytest
import torch
import torch.nn.functional as F

from actionlib.engine.distill import Distiller
from actionlib.engine.records import read_metrics
from actionlib.engine.train import TrainConfig, fit, resolve

from .conftest import TinyClips, tiny_model


def test_bert_distillation_is_ce_plus_lambda_mean_mse_of_normalised_features():
    torch.manual_seed(0)
    student, teacher = tiny_model(), tiny_model(in_channels=2, modality="flow")
    distiller = Distiller(teacher, "bert")
    assert distiller.weight == 1e5
    clip, labels = torch.randn(2, 3, 4, 8, 8), torch.tensor([0, 3])
    out = student.forward_features(clip)
    loss, parts = distiller(out, clip[:, :2], labels)
    target = teacher.forward_features(clip[:, :2])["tokens"]
    expected = F.cross_entropy(out["logits"], labels) + 1e5 * ((out["token_outputs"] - target) ** 2).mean()
    assert torch.allclose(loss, expected)
    assert torch.allclose(out["token_outputs"].norm(dim=-1), torch.ones(2, 4))
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.head.mix.weight.grad is not None


def test_mars_matches_pooled_features_with_weight_50():
    distiller = Distiller(tiny_model(in_channels=2), "mars")
    student = tiny_model()
    out = student.forward_features(torch.randn(2, 3, 4, 8, 8))
    loss, parts = distiller(out, torch.randn(2, 2, 4, 8, 8), torch.tensor([1, 2]))
    assert distiller.weight == 50 and torch.allclose(loss, parts["ce"] + 50 * parts["mse"])
    with pytest.raises(ValueError, match="bert, mars"):
        Distiller(tiny_model(), "kd")


def test_teacher_stays_frozen_during_training(tmp_path):
    torch.manual_seed(0)
    teacher = tiny_model(in_channels=2, modality="flow")
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    config = resolve(
        TrainConfig(
            model="tiny",
            epochs=1,
            batch_size=8,
            effective_batch=16,
            optimizer="adamw",
            lr=1e-2,
            workers=0,
            out=str(tmp_path),
            progress=False,
            tensorboard=False,
            distill="bert",
            distill_weight=10.0,
        )
    )
    fit(config, tiny_model(), TinyClips(32, teacher=True), TinyClips(8, seed=1), teacher=teacher)
    line = read_metrics(tmp_path)[0]
    assert line["train_mse"] > 0 and line["train_loss"] == pytest.approx(line["train_ce"] + 10 * line["train_mse"])
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())  # BN statistics too
    assert not teacher.training


class Recorder(torch.nn.Module):
    def __init__(self, family, frames, modality="rgb"):
        super().__init__()
        self.family, self.frames, self.modality = family, frames, modality

    def forward_features(self, clip):
        self.seen = clip
        return {"pooled": clip.mean((2, 3, 4))}


def test_teacher_of_another_family_gets_its_own_normalisation_and_frames():
    from actionlib.data.transforms import normalization_for
    from actionlib.engine.distill import AdaptedTeacher, adapt_teacher

    pixels = torch.randint(0, 256, (1, 3, 8, 4, 4)).float()

    def normalise(family, modality="rgb"):
        scale, shift = normalization_for(family, modality).affine(3 if modality == "rgb" else 2)
        channels = pixels[:, : len(scale)]
        return channels * scale.view(1, -1, 1, 1, 1) + shift.view(1, -1, 1, 1, 1)

    student, teacher = Recorder("resnext3d", 8), Recorder("r2plus1d", 4)
    adapted = adapt_teacher(teacher, student)
    assert isinstance(adapted, AdaptedTeacher) and adapted.step == 2
    adapted.forward_features(normalise("resnext3d"))
    assert torch.allclose(teacher.seen, normalise("r2plus1d")[:, :, ::2], atol=1e-5)
    same = Recorder("resnext3d", 8, "flow")
    assert adapt_teacher(same, Recorder("resnext3d", 8)) is same  # flow ResNeXt teaching ResNeXt: as is
    with pytest.raises(ValueError, match="every k-th frame"):
        adapt_teacher(Recorder("resnext3d", 3), student)
