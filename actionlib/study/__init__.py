"""The thesis study on every profile: the rows of `recipes.RECIPES`, planned for a profile, run by one runner.

A profile scales a row; it never picks other code. Each stream of a row is *planned* from the profile's fields
(`Profile.backbone`, `Profile.synthetic`, sizes), and the plan says how it runs:

- on the dataset's files (`Plan.source` "files"; backbone "published" or "tiny"): the thesis's fine-tuning run,
  end to end from its public initialisation (`training.train_stream`), tested from its checkpoint
  (`training.stream_scores`); a tiny backbone runs the same protocol on a tiny network of the stream's kind.
- in memory on a generated synthetic set (`Plan.source` "memory"; backbone "small"): the same row with visible
  changes (`Plan.changes`): the network of the same kind made small (a narrow ResNet18, `Profile.width` channels;
  the CPU 3D ResNeXt of `plan.small_3d`), pretrained once per seed on a disjoint synthetic pretraining set
  and frozen (the stand-in for ImageNet/Kinetics pretraining: `profiles.SyntheticSet`), the row's head, fusion
  and optimizer trained on the cached features of that backbone, fewer frames, smaller frames, the pose frames
  standing in for RGB (`Profile.modality`) except in tables that also have a pose stream. A row the profile
  cannot ask says why (`Plan.reason`).

Either way a stream is trained through `engine.fit`, tested under the row's protocol with the same `ClipDataset`,
`FrameSampler` and `ClipTransform` code (decoded frames come from memory on the CPU profiles), several streams
are fused (sum of L2-normalised logits, the authors' fusion) and `summary` writes one table per thesis table with
the same columns under every profile.
"""

from .controls import CLASS_GROUPS, CONTROL_SETS
from .execute import run
from .notebooks import Notebook, notebook, run_notebook, run_tables
from .planner import FULL_SELECTION, NOT_ON_CPU, SELECTION, Plan, plan, plans, runs_dir_for, runs_of
from .report import (
    COLUMNS,
    SHOWN,
    claim_sentences,
    ordering_note,
    per_split,
    plot_claims,
    plot_table,
    readme_claims,
    reversed_pairs_sentences,
    reversed_pairs_table,
    save_table,
    show,
    show_claims,
    summary,
    table_of,
    teacher_sentences,
    with_complexity,
)
from .verdicts import CLAIM_COLUMNS, claims, control_claims, control_runs

__all__ = [
    "SHOWN",
    "CLAIM_COLUMNS",
    "CLASS_GROUPS",
    "COLUMNS",
    "CONTROL_SETS",
    "FULL_SELECTION",
    "NOT_ON_CPU",
    "Notebook",
    "Plan",
    "SELECTION",
    "claim_sentences",
    "claims",
    "control_claims",
    "control_runs",
    "notebook",
    "ordering_note",
    "reversed_pairs_sentences",
    "reversed_pairs_table",
    "per_split",
    "plan",
    "plans",
    "plot_claims",
    "plot_table",
    "readme_claims",
    "run",
    "run_notebook",
    "run_tables",
    "runs_dir_for",
    "runs_of",
    "save_table",
    "show",
    "show_claims",
    "summary",
    "table_of",
    "teacher_sentences",
    "with_complexity",
]
