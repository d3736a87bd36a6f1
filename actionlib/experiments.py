"""Experiment helpers the notebooks share: the synthetic data, the CPU feature protocol, thesis tables.

The CPU ("smoke"/"test") profile cannot fine-tune full-size backbones, and has no pretrained weights to start
from. It keeps the thesis's question — which late temporal head turns per-frame (or per-clip) features into the
best clip prediction — by freezing the backbone, computing its feature maps once, and training only the head
and classifier on them with the same training loop (`engine.fit`) the full profile uses end to end.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .paths import repo_root

THESIS_ACCURACY = repo_root().parent / "shared" / "spec" / "accuracy_reference.csv"


def ensure_synthetic(root: str | Path, classes=None, videos_per_class: int = 30, frames: int = 40, size=(128, 96),
                     seed: int = 0, jobs: int = 2) -> Path:  # fmt: skip
    """The synthetic dataset at `root`, generated once; an existing one must have been made with these settings."""
    from .data import synthetic

    root = Path(root)
    wanted = {"videos_per_class": videos_per_class, "frames": frames, "seed": seed}
    manifest = root / "synthetic.json"
    if manifest.is_file():
        found = json.loads(manifest.read_text())
        differs = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        if differs:
            raise ValueError(f"{root} holds a synthetic dataset made with other settings {differs}; use another root")
        return root
    synthetic.generate(root, classes=classes, videos_per_class=videos_per_class, frames=frames, size=size,
                       seed=seed, jobs=jobs, progress=True)  # fmt: skip
    return root


@dataclass
class Features:
    """Backbone feature maps of one split, with labels, and the class names."""

    maps: torch.Tensor  # (N, C, T, H, W)
    labels: torch.Tensor  # (N,)
    class_names: list[str]


class FeatureDataset(Dataset):
    """Cached feature maps served like clips, so `engine.fit` trains a head on them unchanged."""

    def __init__(self, features: Features):
        self.features = features

    def __len__(self):
        return len(self.features.labels)

    def __getitem__(self, index):
        return {"clip": self.features.maps[index].float(), "label": int(self.features.labels[index]), "index": index}


def backbone_features(model: nn.Module, dataset, class_names, batch_size: int = 16, desc: str = "features") -> Features:
    """Run the (frozen) backbone of `model` over `dataset` once; unreadable videos are skipped."""
    from .engine.train import collate

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=0)
    maps, labels = [], []
    model.eval()
    with torch.inference_mode():
        for batch in tqdm(loader, desc=desc, leave=False):
            if "clip" not in batch:
                continue
            maps.append(model.backbone(batch["clip"]).to(torch.float16))
            labels.append(batch["label"])
    return Features(torch.cat(maps), torch.cat(labels), list(class_names))


def head_model(model: nn.Module) -> nn.Module:
    """A copy of `model` whose backbone is the identity: it classifies cached feature maps."""
    head_only = copy.deepcopy(model)
    head_only.backbone = nn.Identity()
    return head_only


def cache_key(**parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def thesis_accuracy(table: str) -> pd.DataFrame:
    """The thesis's reported Top-1/Top-3 for one table (empty if the reference file is not beside the repo)."""
    if not THESIS_ACCURACY.is_file():
        return pd.DataFrame(columns=["table", "row", "dataset", "split", "top1", "top3"])
    df = pd.read_csv(THESIS_ACCURACY, dtype={"table": str})
    return df[df["table"] == table].reset_index(drop=True)
