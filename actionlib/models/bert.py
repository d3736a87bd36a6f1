"""BERT late temporal pooling, as the thesis's authors built it (Section 4.2.2).

A learnable classification token is prepended to the L clip features, a learned positional
embedding is added, and pre-LayerNorm transformer blocks let every position attend to the
others. The classification token's output summarises the clip. During training 20 % of the
temporal positions are hidden from attention (keys only), which regularises the pooling.

Details follow the authors' code rather than the original BERT: their LayerNorm uses the
unbiased standard deviation with eps added outside the square root, GELU is the tanh
approximation, and there is no final LayerNorm after the last block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class BertLayerNorm(nn.Module):
    """`a * (x - mean) / (std + eps) + b` with the unbiased std, as in the authors' code."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        return self.weight * (x - mean) / (std + self.eps) + self.bias


class MultiHeadAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"BERT width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.output = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        b, n, d = x.shape
        dk = d // self.heads

        def split(t):
            return t.view(b, n, self.heads, dk).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(dk)
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, None, :], -1e9)
        attn = self.dropout(scores.softmax(dim=-1))
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, d)
        return self.output(out)


class TransformerBlock(nn.Module):
    """Pre-LN block: x + MHA(LN(x)), then x + FFN(LN(x)), then dropout."""

    def __init__(self, dim: int, heads: int, dropout: float, ffn_mult: int = 4):
        super().__init__()
        self.norm1 = BertLayerNorm(dim)
        self.attention = MultiHeadAttention(dim, heads, dropout)
        self.norm2 = BertLayerNorm(dim)
        self.ffn_in = nn.Linear(dim, ffn_mult * dim)
        self.ffn_out = nn.Linear(ffn_mult * dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), key_mask))
        hidden = self.dropout(F.gelu(self.ffn_in(self.norm2(x)), approximate="tanh"))
        x = x + self.dropout(self.ffn_out(hidden))
        return self.dropout(x)


@dataclass
class BertOutput:
    pooled: torch.Tensor  # (B, d): classification-token output
    sequence: torch.Tensor  # (B, L, d): outputs of the L temporal positions
    key_mask: torch.Tensor  # (B, L + 1): True where a position could be attended to


class BertPooling(nn.Module):
    """BERT over a sequence of L feature vectors of width `dim`.

    Args:
        dim: feature width d (also the transformer width).
        length: number of temporal positions L.
        layers, heads: transformer depth and attention heads (thesis: 1 and 8).
        keep_prob: probability that a position stays visible in training (0.8 in the 3D models,
            0.75 in the 2D ResNet18 model); 1.0 disables masking.
        cls: "token" for a learnable classification token, "mean" to prepend the mean of the
            inputs instead (Table 4.2, "without learnable classification token").
        init: "bert5" (N(0, .02) token and positions, default Linear init; ResNeXt, SlowFast,
            R(2+1)D and 2D models) or "bert2" (std d^-0.5 token and positions, N(0, .02) Linear
            weights; the I3D models).
    """

    def __init__(
        self,
        dim: int,
        length: int,
        layers: int = 1,
        heads: int = 8,
        dropout: float = 0.1,
        keep_prob: float = 0.8,
        cls: str = "token",
        init: str = "bert5",
    ):
        super().__init__()
        if cls not in ("token", "mean"):
            raise ValueError(f"cls must be 'token' or 'mean', got {cls!r}")
        if init not in ("bert5", "bert2"):
            raise ValueError(f"init must be 'bert5' or 'bert2', got {init!r}")
        self.dim, self.length, self.keep_prob, self.cls = dim, length, keep_prob, cls
        std = 0.02 if init == "bert5" else dim**-0.5
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * std) if cls == "token" else None
        self.position = nn.Parameter(torch.randn(1, length + 1, dim) * std)
        self.embed_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, dropout) for _ in range(layers))
        if init == "bert2":
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> BertOutput:
        b, n, d = x.shape
        if n != self.length:
            raise ValueError(f"BERT was built for {self.length} positions, got {n}")
        first = self.cls_token.expand(b, 1, d) if self.cls_token is not None else x.mean(1, keepdim=True)
        x = torch.cat([first, x], dim=1)
        key_mask = torch.ones(b, n + 1, dtype=torch.bool, device=x.device)
        if self.training and self.keep_prob < 1.0:
            key_mask[:, 1:] = torch.rand(b, n, device=x.device) < self.keep_prob
        x = self.embed_dropout(x + self.position)
        for block in self.blocks:
            x = block(x, key_mask)
        return BertOutput(pooled=x[:, 0], sequence=x[:, 1:], key_mask=key_mask)
