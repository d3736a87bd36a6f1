"""Tiny in-memory data and a tiny model, so engine tests need no video decoding."""

import pytest
import torch
from torch import nn


class TinyClips(torch.utils.data.Dataset):
    """Clips (3, T, H, W) whose class is a brightness pattern over time, plus noise.

    The noise is drawn from the global torch RNG at load time, like a random augmentation, so
    determinism tests see whether per-sample seeding works. `bad` indices return None (an
    unreadable video); `teacher` adds a 2-channel `clip_flow` (a flow-like stream).
    """

    def __init__(self, n=48, num_classes=4, frames=4, size=8, seed=0, bad=(), teacher=False):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n) % num_classes
        self.base = torch.randn(n, 3, frames, size, size, generator=g) * 0.5
        ramp = torch.linspace(-1, 1, frames)
        for i, label in enumerate(self.labels.tolist()):
            direction = 1 if label % 2 == 0 else -1
            self.base[i, label % 3] += direction * ramp[:, None, None] + (label // 2)
        self.bad = set(bad)
        self.teacher = teacher
        self.classes = [f"class{i}" for i in range(num_classes)]
        self.samples = [(f"video{i}.avi", int(label)) for i, label in enumerate(self.labels)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        if index in self.bad:
            return None
        clip = self.base[index] + 0.1 * torch.randn(self.base[index].shape)
        item = {"clip": clip, "label": int(self.labels[index]), "index": index}
        if self.teacher:
            item["clip_flow"] = clip[:2].clone()
        return item


class TinyHead(nn.Module):
    def __init__(self, channels, steps):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d((steps, 1, 1))
        self.mix = nn.Linear(channels, channels)
        self.out_dim = channels

    def forward(self, fmap):
        tokens = self.pool(fmap).flatten(2).transpose(1, 2)
        outputs = self.mix(tokens)
        return {
            "pooled": outputs.mean(1),
            "tokens": nn.functional.normalize(tokens, dim=-1),
            "token_outputs": nn.functional.normalize(outputs, dim=-1),
        }


def tiny_model(num_classes=4, in_channels=3, frames=4, dropout=0.2, modality="rgb"):
    from actionlib.models import VideoClassifier

    backbone = nn.Sequential(nn.Conv3d(in_channels, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU())
    return VideoClassifier(
        backbone, TinyHead(8, frames), num_classes, dropout, frames=frames, family="tiny", modality=modality
    )


@pytest.fixture
def tiny_data():
    return TinyClips(n=48), TinyClips(n=24, seed=1)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every engine test on one torch thread (tests/conftest.py)."""
