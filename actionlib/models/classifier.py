"""The one model shape every thesis row shares: backbone -> (reduction) -> head -> classifier."""

from __future__ import annotations

import torch
from torch import nn

from .heads import AveragePooling

MODALITY_CHANNELS = {"rgb": 3, "flow": 2, "pose": 3}
# Classifier dropout of Section 3.2.1: 0.8 for RGB (and pose) streams, 0.7 for flow. (The authors'
# flow BERT wrappers used 0.8; we follow the thesis text for every head. Pass `dropout` to change it.)
MODALITY_DROPOUT = {"rgb": 0.8, "flow": 0.7, "pose": 0.8}


def input_channels(modality: str) -> int:
    if modality not in MODALITY_CHANNELS:
        raise ValueError(f"unknown modality {modality!r}; choose one of {', '.join(MODALITY_CHANNELS)}")
    return MODALITY_CHANNELS[modality]


class VideoClassifier(nn.Module):
    """A clip classifier: `backbone(clip)` gives a feature map, `reduction` (FRAB) optionally
    narrows it, `head` pools it over time, and dropout + a linear layer classify.

    Input clips are `(B, C, T, H, W)`. `forward` returns logits; `forward_features` returns the
    head's dict (pooled vector, and for BERT the tensors distillation needs) plus `logits`.

    Attributes used by the rest of the library:
        frames: clip length T the model was built for (BERT and concatenation depend on it).
        per_frame_ops: True for 2D backbones, whose operations the thesis reports per frame.
        pretrained_skip: checkpoint key prefixes (after family renaming) that must not be loaded,
            e.g. the block FRMB replaced.
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        num_classes: int,
        dropout: float | None = None,
        reduction: nn.Module | None = None,
        frames: int = 16,
        per_frame_ops: bool = False,
        family: str = "",
        modality: str = "rgb",
    ):
        super().__init__()
        self.backbone = backbone
        self.reduction = reduction
        self.head = head
        self.dropout = nn.Dropout(MODALITY_DROPOUT[modality] if dropout is None else dropout)
        self.fc = nn.Linear(head.out_dim, num_classes)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        self.frames = frames
        self.per_frame_ops = per_frame_ops
        self.family = family
        self.modality = modality
        self.pretrained_skip: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return self.fc.out_features

    def forward_features(self, clip: torch.Tensor) -> dict:
        fmap = self.backbone(clip)
        if self.reduction is not None:
            fmap = self.reduction(fmap)
        out = self.head(fmap)
        out["logits"] = self.fc(self.dropout(out["pooled"]))
        return out

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.forward_features(clip)["logits"]

    def reads_public_features(self) -> bool:
        """True when `fc` reads what a public network's classifier reads: the backbone's output
        averaged over time and space, with no feature reduction, replaced block or other late
        temporal head in between. Only then can a public classifier be loaded into `fc` and
        predict the public network's classes (`checkpoints.load_pretrained`)."""
        if self.reduction is not None or self.pretrained_skip:
            return False
        if isinstance(self.head, AveragePooling):
            plain_head = self.head.nonlocal_block is None
        else:
            plain_head = getattr(self.head, "global_average", False)
        return plain_head and getattr(self.backbone, "public_features", True)

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.head.out_dim, num_classes)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
