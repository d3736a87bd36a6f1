"""Run profiles: every notebook reads its sizes from one named profile instead of hard-coding them.

- `test`: tiny, for CI: seconds per notebook, results are meaningless;
- `smoke`: the CPU default on the synthetic dataset: the tables whose comparisons the thesis draws its conclusions
  from, their compared rows three times (budget: 30 min on 2 cores for the 8 notebooks, a quarter of it spare);
- `cpu`: `smoke` with every table the CPU can ask (breadth: about twice the time);
- `full`: the thesis protocol on HMDB51/UCF101 on GPUs; needs the data and checkpoints (see `NEEDS`).

A notebook's parameters cell holds `profile = "smoke"` and optional overrides defaulting to None; its next cell
calls `resolve(profile, epochs=epochs, ...)`, where None keeps the profile's value.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .paths import resolve_path

DATASETS = ("synthetic", "hmdb51", "ucf101")

# Folder of each dataset under `data_root` (the layouts documented in actionlib/data/datasets.py).
DATASET_DIRS = {"synthetic": "synthetic", "hmdb51": "hmdb51", "ucf101": "UCF-101"}


@dataclass(frozen=True)
class Profile:
    """The knobs a profile fixes for every notebook."""

    name: str
    dataset: str  # one of DATASETS
    frames: int  # clip length
    size: int  # crop size (square)
    epochs: int
    batch_size: int
    accumulation: int  # gradient accumulation steps: effective batch = batch_size * accumulation
    splits: tuple[int, ...]  # official splits trained and evaluated
    repeats: int  # seeds per configuration (seeds 0..repeats-1)
    device: str  # "cpu" or "cuda"
    data_root: str | None  # folder holding DATASET_DIRS; None: the synthetic dataset is generated
    weights_dir: str | None  # folder with the pretrained / trained checkpoints
    cell_timeout: int | None  # seconds one notebook cell may take under `actionlib reproduce` (None: no limit)
    width: int = 64  # first-stage channels of 2D ResNets: 64 as published; narrow on CPU (trained from scratch)
    modality: str = "rgb"  # the frame stream used where a table's rows are RGB (see README: CPU profile)
    workers: int = 4  # DataLoader worker processes of the full profile's training and testing (0: in-process)
    # runs (splits x seeds) of a row that a thesis claim compares (`study.CLAIMS`): more seeds when its splits are fewer
    claim_repeats: int = 1
    tables: tuple[str, ...] | None = None  # the thesis tables this profile runs (None: all); the others say why not

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.repeats))


# The tables the default CPU run asks: those of the thesis's claims (`study.CLAIMS`: heads against average pooling
# and each other on 2D and 3D networks, the BERT variants, two streams, distillation, test protocols), plus the
# tables that reuse their networks at no extra training (3.9, 4.7 and C.3 on split 1). Three runs of each compared row
# and the breadth of every other table did not both fit in 30 minutes on 2 cores (measured: 29 min for the
# breadth at one run); the `cpu` profile runs the rest, Table 5.1's lambda sweep among them (four more distilled
# heads: the default keeps Table 5.2's lambda = 100k, the thesis's choice, and the controls of the claims).
SMOKE_TABLES = ("3.3", "3.9", "C.1", "4.1", "4.2", "4.3", "4.7", "C.3", "5.2")

# Each profile scales the same study: the CPU ones shrink widths, frames, epochs and data; `full` is the thesis's.
PROFILES: dict[str, Profile] = {
    "test": Profile(
        name="test",
        dataset="synthetic",
        frames=4,
        size=32,
        epochs=1,
        batch_size=2,
        accumulation=1,
        splits=(1,),
        repeats=1,
        device="cpu",
        data_root=None,
        weights_dir=None,
        cell_timeout=120,
        width=8,
        modality="pose",
    ),
    "smoke": Profile(
        name="smoke",
        dataset="synthetic",
        frames=8,
        size=64,
        epochs=20,
        batch_size=16,
        accumulation=1,
        splits=(1,),
        repeats=1,
        device="cpu",
        data_root=None,
        weights_dir=None,
        cell_timeout=3600,  # one cell runs all of a notebook's rows
        width=16,
        modality="pose",
        claim_repeats=3,
        tables=SMOKE_TABLES,
    ),
    "cpu": None,  # filled below: smoke with every table
    "full": Profile(
        name="full",
        dataset="hmdb51",
        frames=64,
        size=112,
        epochs=200,
        batch_size=8,
        accumulation=16,  # 8 x 16 = 128, the thesis's batch (the engine keeps 128, Rep-Flow 24, at any batch size)
        splits=(1, 2, 3),
        repeats=1,  # the thesis ran each configuration once per split
        device="cuda",
        data_root=os.environ.get("ACTIONLIB_DATA", "data"),
        weights_dir=os.environ.get("ACTIONLIB_WEIGHTS", "weights"),
        cell_timeout=None,
    ),
}


PROFILES["cpu"] = dataclasses.replace(PROFILES["smoke"], name="cpu", tables=None, cell_timeout=7200)


@dataclass(frozen=True)
class Needs:
    """What a notebook reads under the `full` profile; `actionlib reproduce` checks it before starting kernels."""

    datasets: tuple[str, ...] = ()  # empty: the notebook's `dataset` parameter, else the profile's dataset
    weights: tuple[str, ...] = ()  # checkpoint files, relative to weights_dir


# Per notebook number ("05" for notebooks/05_*.py); a notebook not listed needs only its dataset.
# Example: "05": Needs(datasets=("hmdb51", "ucf101"), weights=("r2plus1d_34_ig65m_kinetics.pth",)),
NEEDS: dict[str, Needs] = {}

_FIELDS = {f.name: f for f in dataclasses.fields(Profile) if f.name != "name"}
_INT_FIELDS = ("frames", "size", "epochs", "batch_size", "accumulation", "repeats", "width", "claim_repeats")


def resolve(profile: str | Profile, **overrides) -> Profile:
    """The profile with `overrides` applied (None keeps the profile's value); paths become absolute.

    Raises ValueError naming the unknown profile or field, or the invalid value and what is allowed.
    """
    if isinstance(profile, Profile):
        base = profile
    elif profile in PROFILES:
        base = PROFILES[profile]
    else:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown profile field(s) {', '.join(unknown)}; the fields are {', '.join(_FIELDS)}")
    changes = {key: value for key, value in overrides.items() if value is not None}
    if "splits" in changes:
        splits = changes["splits"]
        changes["splits"] = (splits,) if isinstance(splits, int) else tuple(splits)
    resolved = dataclasses.replace(base, **changes)

    problems = []
    if resolved.dataset not in DATASETS:
        problems.append(f"dataset={resolved.dataset!r} (allowed: {', '.join(DATASETS)})")
    for key in _INT_FIELDS:
        value = getattr(resolved, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{key}={value!r} (a positive integer)")
    if isinstance(resolved.workers, bool) or not isinstance(resolved.workers, int) or resolved.workers < 0:
        problems.append(f"workers={resolved.workers!r} (0 or a positive integer)")
    if not resolved.splits or not all(s in (1, 2, 3) for s in resolved.splits):
        problems.append(f"splits={resolved.splits!r} (a non-empty subset of 1, 2, 3)")
    if resolved.device not in ("cpu", "cuda") and not str(resolved.device).startswith("cuda:"):
        problems.append(f"device={resolved.device!r} (cpu, cuda or cuda:N)")
    if problems:
        raise ValueError(f"profile {resolved.name!r}: invalid {'; '.join(problems)}")

    paths = {
        key: str(resolve_path(getattr(resolved, key)))
        for key in ("data_root", "weights_dir")
        if getattr(resolved, key) is not None
    }
    return dataclasses.replace(resolved, **paths)


def parse_choices(name: str, text: str, allowed) -> list[str]:
    """A comma-separated notebook parameter as a list, each item checked against `allowed` (error names both)."""
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        raise ValueError(f"parameter {name}: unknown value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return chosen


def parse_splits(value) -> tuple[int, ...] | None:
    """A `splits` parameter as a tuple: "1,2,3", 2, or (1, 2) as `reproduce -p splits=1,2` passes it; None keeps
    the profile's."""
    if value is None:
        return None
    text = ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
    return tuple(int(s) for s in parse_choices("splits", text, ["1", "2", "3"]))
