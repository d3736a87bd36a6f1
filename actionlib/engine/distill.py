"""Distillation losses of Chapter 5: BERT distillation (Eq. 5.1) and MARS.

Both train an RGB student with cross-entropy plus a feature-matching term against a frozen
teacher that sees the *flow* clip of the same sample (same frames, same crop; the dataset
provides it as the batch's `teacher_clip`).

- BERT distillation: MSE between the student's L2-normalised per-position BERT outputs
  (`token_outputs`, the y_i) and the teacher's L2-normalised features before its BERT
  (`tokens`, the z_i). As in the authors' code, MSE uses *mean* reduction over B x N x d,
  so lambda multiplies the mean (1e5 = Table 5.1's best; their script's default 2.5e5).
- MARS: MSE between the student's and the teacher's pooled clip features, weight 50 (the MARS
  paper's alpha, also the authors' value).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DISTILLATION = {"bert": 1e5, "mars": 50.0}


class AdaptedTeacher(nn.Module):
    """A teacher fed from the student's data: its stream re-normalised and subsampled in time.

    The dataset normalises every stream with the *student's* family constants and samples the
    student's clip length. A teacher of another family (e.g. R(2+1)D-BERT 32x2 teaching a
    ResNeXt101 64f student, Table 5.2) expects its own constants and every 2nd frame of the same
    64-frame window. Normalisation is affine, so x_teacher = x * a + b per channel is exact.
    """

    def __init__(self, teacher: nn.Module, scale: torch.Tensor, shift: torch.Tensor, step: int = 1):
        super().__init__()
        self.teacher = teacher
        self.modality = getattr(teacher, "modality", "rgb")
        self.step = step
        self.register_buffer("scale", scale.view(1, -1, 1, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, -1, 1, 1, 1), persistent=False)

    def forward_features(self, clip: torch.Tensor) -> dict:
        if self.step > 1:
            clip = clip[:, :, :: self.step]
        return self.teacher.forward_features(clip * self.scale + self.shift)


def adapt_teacher(teacher: nn.Module, student: nn.Module) -> nn.Module:
    """Wrap `teacher` in an AdaptedTeacher when its normalisation or clip length differs from what
    the student's dataset produces for the teacher's stream; else return it unchanged."""
    from actionlib.data.transforms import normalization_for

    modality = getattr(teacher, "modality", "rgb")
    channels = {"flow": 2}.get(modality, 3)
    source = normalization_for(student.family, modality).affine(channels)
    target = normalization_for(teacher.family, modality).affine(channels)
    scale = target[0] / source[0]
    shift = target[1] - source[1] * scale
    student_frames, teacher_frames = int(student.frames), int(teacher.frames)
    if student_frames % teacher_frames:
        raise ValueError(
            f"the teacher takes {teacher_frames} frames and the student {student_frames}: the teacher's clip "
            "must be every k-th frame of the student's"
        )
    step = student_frames // teacher_frames
    if step == 1 and torch.allclose(scale, torch.ones_like(scale)) and torch.allclose(shift, torch.zeros_like(shift)):
        return teacher
    return AdaptedTeacher(teacher, scale, shift, step)


class Distiller(nn.Module):
    """loss = CE(student logits, label) + weight * MSE(student, teacher features).

    `teacher` is frozen (no gradients, eval mode kept even when the student trains).
    `teacher_features`: which teacher output is matched in BERT distillation: "tokens" (the
    pre-BERT features of Eq. 5.1, default) or "token_outputs" (the authors' `--bert_teacher`).
    """

    def __init__(self, teacher: nn.Module, kind: str = "bert", weight: float | None = None, teacher_features="tokens"):
        super().__init__()
        if kind not in DISTILLATION:
            raise ValueError(f"unknown distillation {kind!r}; choose one of {', '.join(DISTILLATION)}")
        self.kind = kind
        self.weight = DISTILLATION[kind] if weight is None else float(weight)
        self.teacher_features = teacher_features
        self.teacher = teacher.eval()
        self.modality = getattr(teacher, "modality", "rgb")
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # the teacher's BatchNorm statistics and BERT masking stay frozen
        return self

    def forward(self, out: dict, teacher_clip: torch.Tensor, labels: torch.Tensor):
        """`out` is the student's `forward_features` dict. Returns (total loss, dict of the parts)."""
        with torch.no_grad():
            target = self.teacher.forward_features(teacher_clip)
        if self.kind == "bert":
            if "token_outputs" not in out or self.teacher_features not in target:
                raise ValueError("BERT distillation needs BERT heads on student and teacher (head='bert')")
            student_features, teacher_features = out["token_outputs"], target[self.teacher_features]
        else:
            student_features, teacher_features = out["pooled"], target["pooled"]
        if student_features.shape != teacher_features.shape:
            raise ValueError(
                f"student features {tuple(student_features.shape)} and teacher features "
                f"{tuple(teacher_features.shape)} differ; pick a teacher with the same feature size and length"
            )
        ce = F.cross_entropy(out["logits"], labels)
        mse = F.mse_loss(student_features.float(), teacher_features.float())
        return ce + self.weight * mse, {"ce": ce.detach(), "mse": mse.detach()}
