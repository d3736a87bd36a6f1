"""Reproducibility: seeds, per-sample augmentation seeds and saving/restoring every RNG.

A run must give the same numbers for the same seed on CPU, also after being killed and resumed
mid-epoch. Three things make that work:

- the global RNGs (python, numpy, torch) are seeded once and saved in every checkpoint, so
  dropout and BERT masking continue exactly where they stopped;
- the sample order is a pure function of (seed, epoch) (see `distributed.EpochSampler`), so a
  resumed epoch can skip the batches already done;
- the augmentation of a sample is a pure function of (seed, epoch, index) (`SeededDataset`),
  so it does not depend on how many DataLoader workers there are or which one loads it.
"""

from __future__ import annotations

import hashlib
import os
import random

import numpy as np
import torch
from torch.utils.data import Dataset


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch; ask cuDNN / torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        # warn_only: a few CUDA kernels (e.g. 3D max-pool backward) have no deterministic version.
        torch.use_deterministic_algorithms(True, warn_only=True)


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers, so (seed, epoch, index) never collide by addition."""
    digest = hashlib.blake2b(",".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seed_worker(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: give numpy and python the worker's torch seed.

    torch seeds each worker from the loader's generator; numpy and `random` would otherwise
    start identical in every worker.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def loader_generator(seed: int) -> torch.Generator:
    """A private generator for the DataLoader, so creating an iterator never draws from the
    global torch RNG (which would shift dropout masks after a resume)."""
    return torch.Generator().manual_seed(seed)


def rng_state() -> dict:
    """Every global RNG state as tensors, lists and numbers, so a checkpoint loads with `weights_only=True`."""
    version, internal, gauss_next = random.getstate()
    _, key, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss_next],
        "numpy": {"key": key.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore `rng_state()`; also takes the tuples of checkpoints written before it stored plain values."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy_state = state["numpy"]
    if isinstance(numpy_state, dict):
        numpy_state = (
            "MT19937",
            np.asarray(numpy_state["key"], dtype=np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["gauss"],
        )
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class SeededDataset(Dataset):
    """Wrap a dataset so each sample's random augmentation depends only on (seed, epoch, index).

    The sampler passes `(epoch, index)` keys (plain indices mean epoch 0). The global RNGs are
    restored afterwards, so loading in the main process (num_workers=0) does not disturb the
    model's own random stream. A dataset with `random_augmentation = False` (e.g. cached features)
    skips the reseeding, which costs ~0.1 ms a sample.
    """

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        # Dataset attributes (classes, samples, ...) stay reachable through the wrapper.
        if name in ("dataset", "seed"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitems__(self, keys: list):
        """A batch at once where the dataset fetches batches (`__getitems__`) and draws nothing at random."""
        fetch = getattr(self.dataset, "__getitems__", None)
        if fetch is None or getattr(self.dataset, "random_augmentation", True):
            return [self[key] for key in keys]
        return fetch([key[1] if isinstance(key, tuple) else key for key in keys])

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        if not getattr(self.dataset, "random_augmentation", True):
            return self.dataset[index]
        # Augmentation runs on the CPU: only the CPU generators are reseeded (and restored), so a
        # CUDA run's model RNG is never touched and no device synchronisation is needed.
        saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
        seed = derive_seed(self.seed, epoch, index)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.default_generator.manual_seed(seed)
        try:
            return self.dataset[index]
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])
