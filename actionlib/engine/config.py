"""What defines a training run: the one config `actionlib train`, the recipes and the notebooks fill in.

In its own module so that testing a trained run (`evaluate.evaluate_checkpoint`) reads a run's config without
importing the training loop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    """Everything that defines a run. Unset (None) fields are resolved by `resolve`."""

    model: str = "resnet18"
    options: dict = field(default_factory=dict)  # registry options: head, reduction, fusion, frames, size, ...
    modality: str = "rgb"
    pretrained: str | None = None
    dataset: str = "hmdb51"
    root: str | None = None
    split: int = 1
    split_dir: str | None = None
    frame_roots: dict = field(default_factory=dict)  # modality -> frame-folder root ("flow", "pose", "rgb")
    stride: int | None = None  # frames between the frames of a clip (R(2+1)D 32x2: 2); None: TSM 8, others 1
    data_options: dict = field(default_factory=dict)  # extra ClipTransform options (e.g. authors_offsets)
    epochs: int = 200
    batch_size: int = 8
    effective_batch: int | None = None  # default 128 (Rep-Flow 24)
    accumulation: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float = 1e-3
    momentum: float = 0.9
    dampening: float = 0.9
    patience: int = 5
    lr_factor: float = 0.1
    # stop once this many epochs in a row have not raised the best validation Top-1, a tie not counting as a rise
    # (`engine.train.stopped`; None: train every epoch): `epochs` is then a ceiling, and the epoch count is chosen
    # on validation like the weights are
    stop_after: int | None = None
    seed: int = 0
    workers: int = 4
    device: str | None = None
    amp: bool = True
    channels_last: bool = True
    activation_checkpointing: bool = False  # recompute backbone blocks in backward: less memory, ~1 more forward
    checkpoint_every: int = 0  # optimizer steps between mid-epoch checkpoints (0: end of epoch only)
    # False: the run keeps its states in memory and writes last.pt, best.pt and its metrics lines once, when it
    # ends; a killed run starts again. For runs of seconds (heads on cached features), where writing a checkpoint
    # every epoch took 15 % of the run (a 38 MB state with AdamW's moments, fsynced, 20 times in 6 s; measured)
    write_each_epoch: bool = True
    max_batches: int | None = None  # per training epoch; for smoke tests
    out: str | None = None
    name: str | None = None
    resume: bool = False
    overwrite: bool = False  # replace the run already in `out` (else training into it is refused)
    distill: str | None = None  # "bert" or "mars"
    teacher: str | None = None  # checkpoint of the trained teacher
    teacher_root: str | None = None  # frames of the teacher's stream (default: flow beside `root`)
    distill_weight: float | None = None
    teacher_features: str = "tokens"
    progress: bool = True
    tensorboard: bool = True
    num_classes: int | None = None
    class_names: list | None = None
    world_size: int = 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
