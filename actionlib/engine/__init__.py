"""Training, evaluation, fusion and distillation: the engine every experiment and notebook runs on.

from actionlib.engine import TrainConfig, run        # train from a config (datasets built for you)
from actionlib.engine import fit                     # train any model on any dict-returning datasets
from actionlib.engine import evaluate_checkpoint, fuse_scores, load_model
"""

from .checkpointing import load_checkpoint, load_model, save_checkpoint
from .distill import Distiller, adapt_teacher
from .distributed import EpochSampler
from .evaluate import PROTOCOLS, evaluate, evaluate_checkpoint, pairwise_accuracy, predict_scores, summarize
from .fusion import fuse_files, fuse_scores, fuse_sets, load_scores, save_scores
from .optim import SWATS, build_optimizer, default_lr, default_optimizer, parameter_groups
from .records import RunRecorder, read_metrics
from .repro import SeededDataset, seed_everything
from .train import NonFiniteLossError, TrainConfig, collate, fit, resolve, run

__all__ = [
    "PROTOCOLS",
    "SWATS",
    "Distiller",
    "EpochSampler",
    "NonFiniteLossError",
    "RunRecorder",
    "SeededDataset",
    "TrainConfig",
    "adapt_teacher",
    "build_optimizer",
    "collate",
    "default_lr",
    "default_optimizer",
    "evaluate",
    "evaluate_checkpoint",
    "fit",
    "fuse_files",
    "fuse_scores",
    "fuse_sets",
    "load_checkpoint",
    "load_model",
    "load_scores",
    "pairwise_accuracy",
    "parameter_groups",
    "predict_scores",
    "read_metrics",
    "resolve",
    "run",
    "save_checkpoint",
    "save_scores",
    "seed_everything",
    "summarize",
]
