"""Late temporal heads: they turn a backbone feature map into one clip vector.

Every head takes the backbone output `(B, C, T, H, W)` (2D backbones regroup their frames
into this shape) and returns a dict with at least `pooled`, a `(B, out_dim)` tensor that the
classifier (dropout + linear) consumes. The BERT head also returns what the distillation losses
need. Heads are chosen by name through `build_head`, so a thesis row is a string, not a class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .bert import BertPooling


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block (Wang et al.) over all T*H*W positions.

    As in the authors' code, the affinity is divided by sqrt(N) (N positions) before the
    softmax, and the output projection ends in a zero-initialised BatchNorm so the block starts
    as the identity.
    """

    def __init__(self, channels: int, inter_channels: int | None = None):
        super().__init__()
        inter = inter_channels or channels // 2
        self.theta = nn.Conv3d(channels, inter, 1)
        self.phi = nn.Conv3d(channels, inter, 1)
        self.g = nn.Conv3d(channels, inter, 1)
        self.out = nn.Sequential(nn.Conv3d(inter, channels, 1), nn.BatchNorm3d(channels))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        theta = self.theta(x).flatten(2).transpose(1, 2)  # (B, N, C')
        phi = self.phi(x).flatten(2)  # (B, C', N)
        g = self.g(x).flatten(2).transpose(1, 2)
        n = theta.shape[1]
        attn = (torch.matmul(theta, phi) / n**0.5).softmax(dim=-1)
        y = torch.matmul(attn, g).transpose(1, 2).reshape(b, -1, *x.shape[2:])
        return x + self.out(y)


def _frame_vectors(pool: nn.Module, fmap: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, T, C) by spatial average pooling."""
    return pool(fmap).flatten(2).transpose(1, 2)


class AveragePooling(nn.Module):
    """Temporal global average pooling (TGAP; TSN's average for 2D backbones)."""

    def __init__(self, channels: int, steps: int, nonlocal_block: bool = False):
        super().__init__()
        self.nonlocal_block = NonLocalBlock(channels, channels) if nonlocal_block else None
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.out_dim = channels

    def forward(self, fmap):
        if self.nonlocal_block is not None:
            fmap = self.nonlocal_block(fmap)
        return {"pooled": self.pool(fmap).flatten(1)}


class ConcatPooling(nn.Module):
    """Concatenate the per-position vectors; optionally follow with a hidden FC layer."""

    def __init__(
        self,
        channels: int,
        steps: int,
        nonlocal_block: bool = False,
        hidden: int | None = None,
    ):
        super().__init__()
        self.nonlocal_block = NonLocalBlock(channels, channels) if nonlocal_block else None
        self.pool = nn.AdaptiveAvgPool3d((steps, 1, 1))
        self.fc = nn.Sequential(nn.Linear(steps * channels, hidden), nn.ReLU(inplace=True)) if hidden else None
        self.out_dim = hidden or steps * channels

    def forward(self, fmap):
        if self.nonlocal_block is not None:
            fmap = self.nonlocal_block(fmap)
        x = _frame_vectors(self.pool, fmap).flatten(1)
        return {"pooled": self.fc(x) if self.fc is not None else x}


class LSTMPooling(nn.Module):
    """Stacked unidirectional LSTM over the positions; the last output is the clip vector."""

    def __init__(self, channels: int, steps: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d((steps, 1, 1))
        self.lstm = nn.LSTM(channels, hidden, num_layers=layers, batch_first=True)
        self.out_dim = hidden

    def forward(self, fmap):
        out, _ = self.lstm(_frame_vectors(self.pool, fmap))
        return {"pooled": out[:, -1]}


class ConvGRUPooling(nn.Module):
    """One convolutional GRU cell unrolled over time on the spatial maps; the last state,
    spatially averaged, is the clip vector."""

    def __init__(self, channels: int, steps: int, hidden: int = 196, kernel: int = 3):
        super().__init__()
        self.hidden = hidden
        pad = kernel // 2
        self.reset_gate = nn.Conv2d(channels + hidden, hidden, kernel, padding=pad)
        self.update_gate = nn.Conv2d(channels + hidden, hidden, kernel, padding=pad)
        self.candidate = nn.Conv2d(channels + hidden, hidden, kernel, padding=pad)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = hidden

    def forward(self, fmap):
        b, _, t, h, w = fmap.shape
        state = fmap.new_zeros(b, self.hidden, h, w)
        for i in range(t):
            x = fmap[:, :, i]
            both = torch.cat([x, state], dim=1)
            reset = torch.sigmoid(self.reset_gate(both))
            update = torch.sigmoid(self.update_gate(both))
            candidate = torch.tanh(self.candidate(torch.cat([x, reset * state], dim=1)))
            state = state * (1 - update) + candidate * update
        return {"pooled": self.pool(state).flatten(1)}


class BertHead(nn.Module):
    """BERT late temporal pooling on the spatially pooled positions (Section 4.2.2).

    `normalize_input` L2-normalises the features before BERT, as the authors' I3D models do.
    Besides `pooled`, returns the L2-normalised input features (`tokens`, the z_i of Eq. 5.1),
    the L2-normalised per-position outputs (`token_outputs`) and the attention `key_mask`.
    """

    def __init__(
        self,
        channels: int,
        steps: int,
        layers: int = 1,
        heads: int = 8,
        keep_prob: float = 0.8,
        cls: str = "token",
        init: str = "bert5",
        normalize_input: bool = False,
    ):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d((steps, 1, 1))
        self.bert = BertPooling(
            channels,
            steps,
            layers=layers,
            heads=heads,
            keep_prob=keep_prob,
            cls=cls,
            init=init,
        )
        self.normalize_input = normalize_input
        self.out_dim = channels

    def forward(self, fmap):
        return self.attend(_frame_vectors(self.pool, fmap))

    def attend(self, x: torch.Tensor) -> dict:
        """BERT over a ready `(B, L, C)` sequence (heads that build their own sequence call this)."""
        tokens = F.normalize(x, dim=-1)
        out = self.bert(tokens if self.normalize_input else x)
        return {
            "pooled": out.pooled,
            "tokens": tokens,
            "token_outputs": F.normalize(out.sequence, dim=-1),
            "key_mask": out.key_mask,
        }


HEADS = {
    "avg": lambda c, t, **o: AveragePooling(c, t, **o),
    "nl_avg": lambda c, t, **o: AveragePooling(c, t, nonlocal_block=True, **o),
    "concat": lambda c, t, **o: ConcatPooling(c, t, **o),
    "nl_concat": lambda c, t, **o: ConcatPooling(c, t, nonlocal_block=True, **o),
    "concat_fc": lambda c, t, hidden=1550, **o: ConcatPooling(c, t, hidden=hidden, **o),
    "nl_concat_fc": lambda c, t, hidden=1000, **o: ConcatPooling(c, t, nonlocal_block=True, hidden=hidden, **o),
    "lstm": lambda c, t, **o: LSTMPooling(c, t, **o),
    "convgru": lambda c, t, **o: ConvGRUPooling(c, t, **o),
    "bert": lambda c, t, **o: BertHead(c, t, **o),
}
# "tgap" is the thesis's name for the 3D baselines' average pooling: the same head.
HEAD_ALIASES = {"tgap": "avg"}


def head_names() -> list[str]:
    return sorted([*HEADS, *HEAD_ALIASES])


def build_head(name: str, channels: int, steps: int, **options) -> nn.Module:
    """Build a late temporal head for a `(B, channels, steps, H, W)` feature map."""
    key = HEAD_ALIASES.get(name, name)
    if key not in HEADS:
        raise ValueError(f"unknown head {name!r}; choose one of {', '.join(head_names())}")
    return HEADS[key](channels, steps, **options)
