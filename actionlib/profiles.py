"""Run profiles: every scaling decision of the study as values, one named set of them per use.

- `test`: tiny, for CI: seconds per notebook, results are meaningless;
- `smoke`: the CPU default on the synthetic dataset: the tables whose comparisons the thesis draws its conclusions
  from, their compared rows three times (budget: 30 min on 2 cores for the 8 notebooks, a quarter of it spare);
- `cpu`: `smoke` with every table the CPU can ask (breadth: about twice the time);
- `full`: the thesis protocol on HMDB51/UCF101 on GPUs; needs the data and checkpoints;
- `tiny`: the full protocol (the dataset's files, public checkpoint layouts, fine-tuning, the test protocols) on a
  tiny network of each kind, on the CPU in minutes: a check of the plumbing, not the thesis's numbers.

A profile's name is a label (titles, folder names): the study reads its fields, never its name, so two profiles
with the same fields give the same numbers. A notebook's parameters cell holds `profile = "smoke"` and optional
overrides defaulting to None; `resolve(profile, epochs=epochs, ...)` applies them, where None keeps the value.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .paths import resolve_path
from .recipes import TABLES

DATASETS = ("synthetic", "hmdb51", "ucf101")


@dataclass(frozen=True)
class SyntheticSet:
    """A synthetic dataset the study generates (`data.synthetic`) and the disjoint set its backbones pretrain on."""

    folder: str = "synthetic"  # under <repo>/data/, or `Profile.data_root`
    classes: tuple[str, ...] | None = None  # None: every class of `data.synthetic`
    videos_per_class: int = 30
    # 65: two clips of the CPU 3D network's 32 frames in the frames and in the 64 flow frames between them, so that
    # multi-clip testing averages two non-overlapping clips where single-clip testing sees the centre one, on every
    # stream (at 40 frames both saw the same single clip; at 64, the flow's 63 held one clip)
    frames: int = 65
    # The pretraining set of the frozen backbones: the same classes drawn with another seed, so other actors,
    # clothes, scenes and motions. The stand-in for ImageNet/Kinetics pretraining: a backbone never sees a video its
    # heads train, select or test on (as Kinetics holds actions like HMDB51's, never its videos). All its videos but
    # the held-out validation ones train the backbone (its test split is nobody's test), so 20 videos a class give
    # the backbone as many training videos (16 a class) as the target's split does, for 2/3 of the flow to compute.
    pretraining_videos: int = 20
    pretraining_seed: int = 1
    # Its videos' length: the backbones pretrain on clips of at most 32 frames (the CPU 3D network's) and are never
    # tested there with several clips, so longer videos only add flow to compute (at 64 frames, half the default's)
    pretraining_frames: int = 32


# What a profile's backbones are (`study.plan`):
# - "published": the thesis's networks from their public initialisation, fine-tuned end to end on the dataset's
#   files (`weights_dir` holds the checkpoints);
# - "tiny": the same runs with a tiny network of each kind (`study.planner.STAND_INS`), from checkpoints in the public
#   layout that the study writes itself;
# - "small": the CPU networks (a narrow ResNet18 of `width` channels, the CPU 3D network of `frames_3d` frames),
#   pretrained on the generated `synthetic` set's pretraining set and frozen; each row's head trains on their
#   cached features (the tables that compare networks train the CPU network end to end instead).
BACKBONES = ("published", "tiny", "small")


@dataclass(frozen=True)
class Profile:
    """Every value a profile fixes for every notebook."""

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
    data_root: str | None  # folder holding `paths.DATASET_DIRS`; None: the synthetic dataset is generated
    weights_dir: str | None  # folder with the pretrained / trained checkpoints
    cell_timeout: int | None  # seconds one notebook cell may take under `actionlib reproduce` (None: no limit)
    width: int = 64  # first-stage channels of 2D ResNets: 64 as published; narrow on CPU (trained from scratch)
    modality: str = "rgb"  # the frame stream used where a table's rows are RGB (see README: CPU profile)
    workers: int = 4  # DataLoader worker processes of the full profile's training and testing (0: in-process)
    # runs (splits x seeds) of a row that a thesis claim compares (`recipes.CLAIMS`): more seeds when its splits are
    # fewer
    claim_repeats: int = 1
    tables: tuple[str, ...] | None = None  # the thesis tables this profile runs (None: all); the others say why not
    backbone: str = "published"  # one of BACKBONES
    synthetic: SyntheticSet | None = None  # the generated dataset the rows run on (None: the dataset's files)
    frames_3d: int = 32  # clip length of the CPU 3D network (backbone "small")
    head_batch: int | None = None  # batch of heads trained on cached features (None: `batch_size`)
    # learning rates every head on cached features is trained with, the one kept chosen on the validation videos as
    # its epoch is (None: the plan's one rate): every arm of a claim gets the same tuning budget
    head_lrs: tuple[float, ...] | None = None
    sgd_lr_scale: float = 1.0  # SGD heads try `head_lrs` times this (`study.features.head_grid`)
    # the most epochs a head on cached features trains (None: `epochs`), and how many epochs without a better
    # validation Top-1 stop it (None: never): the epoch count chosen on validation, under one rule for every head
    head_epochs: int | None = None
    head_stop: int | None = None
    # True: every row of the profile's tables; False: only the rows a claim compares and the rows made of their
    # runs (`study.planner.made_of_compared_runs`), the others listed as run by a profile with breadth
    breadth: bool = True
    # the batch each optimizer step averages (None: the engine's, the thesis's 128 or Rep-Flow's 24, reached by
    # accumulation whatever fits per step)
    effective_batch: int | None = None

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.repeats))


# The tables the default CPU run asks (`recipes.Table.default`). Three runs of each compared row and the breadth of
# every other table did not both fit in 30 minutes on 2 cores (measured: 29 min for the breadth at one run); the
# `cpu` profile runs the rest, Table 5.1's lambda sweep among them (four more distilled heads: the default keeps
# Table 5.2's lambda = 100k, the thesis's choice, and the controls of the claims).
SMOKE_TABLES = tuple(t.number for t in TABLES.values() if t.default)

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
        # a guard against a hung kernel, not a time bar: notebook 01 makes the test data, over 120 s on a loaded machine
        cell_timeout=900,
        width=8,
        modality="pose",
        backbone="small",
        synthetic=SyntheticSet(
            "synthetic_test", ("sit_down", "stand_up", "walk", "run"), 4, 16, 4, pretraining_frames=16
        ),
        frames_3d=8,
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
        claim_repeats=5,
        tables=SMOKE_TABLES,
        backbone="small",
        synthetic=SyntheticSet(),
        # heads on cached features: a quarter of the optimizer steps of batch 16 and ~30 % less time (measured on
        # four heads, two seeds each: Top-1 within the seed spread of batch 16)
        head_batch=64,
        # one grid for every head, wide enough for SGD from a random initialisation and AdamW alike
        head_lrs=(1e-3, 3e-3, 1e-2, 3e-2),
        sgd_lr_scale=10.0,
        # up to 40 epochs, stopped 8 epochs after the last rise of the validation Top-1 (measured on the 3D
        # network's heads: at 20 epochs the SGD TGAP head still improved at its last epoch, and its best epochs
        # are 22-32 of 60; BERT's are 13-19, and it stops well before the ceiling)
        head_epochs=40,
        head_stop=8,
        breadth=False,
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


PROFILES["cpu"] = dataclasses.replace(PROFILES["smoke"], name="cpu", tables=None, breadth=True, cell_timeout=7200)
# The full protocol on the tiny networks, briefly, on the CPU, on split 1; its data are the dataset's files under
# `data_root` (the tests build small trees in the published layouts).
PROFILES["tiny"] = dataclasses.replace(PROFILES["full"], name="tiny", backbone="tiny", epochs=1, batch_size=2,
                                       accumulation=1, effective_batch=2, workers=0, device="cpu", repeats=1,
                                       splits=(1,), weights_dir=None)  # fmt: skip

_FIELDS = {f.name: f for f in dataclasses.fields(Profile) if f.name != "name"}
_INT_FIELDS = ("frames", "size", "epochs", "batch_size", "accumulation", "repeats", "width", "claim_repeats",
               "frames_3d")  # fmt: skip


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
    # the one check of a device's spelling, `reproduce -p device=` included
    device, index = str(resolved.device), str(resolved.device).removeprefix("cuda:")
    if device not in ("cpu", "cuda") and (index == device or not (index.isascii() and index.isdigit())):
        problems.append(f"device={resolved.device!r} (cpu, cuda or cuda:N)")
    for key in ("head_batch", "effective_batch", "head_epochs", "head_stop"):
        value = getattr(resolved, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(f"{key}={value!r} (None or a positive integer)")
    lrs = resolved.head_lrs
    if lrs is not None and (not lrs or not all(isinstance(r, float) and r > 0 for r in lrs)):
        problems.append(f"head_lrs={lrs!r} (None or positive learning rates)")
    if resolved.backbone not in BACKBONES:
        problems.append(f"backbone={resolved.backbone!r} (allowed: {', '.join(BACKBONES)})")
    elif (resolved.backbone == "small") != (resolved.synthetic is not None):
        problems.append(f"backbone={resolved.backbone!r} with synthetic={resolved.synthetic!r} (the small frozen "
                        "backbones run on a generated synthetic set, the others on the dataset's files)")  # fmt: skip
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
