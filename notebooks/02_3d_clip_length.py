# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02: 3D CNNs: clip length, resolution and group convolution (Table 3.8)
#
# Section 3.4.2 of the thesis fine-tunes 3D ResNet101 and ResNeXt101 (the same network with grouped 3x3x3
# convolutions) on HMDB51 split 1: 16-frame clips, 64-frame clips initialised from the 16-frame Kinetics models,
# 64-frame clips from 64-frame Kinetics weights, and finally 224 px instead of 112 px. Longer clips and the
# grouped convolutions both help; resolution helps most.
#
# **One study, every profile** (see notebook 01): the rows of `actionlib.recipes`, run by `actionlib.study`.
# `full` fine-tunes each network from its public Kinetics checkpoint. On the CPU profiles the rows *are*
# different networks, so each is the CPU 3D network of its kind (ResNet or ResNeXt blocks, one per stage, 16 base
# channels) trained end to end with TGAP on the pose frames, at 16 and 32 frames instead of 16 and 64; a "16f
# pre-trained" row starts from the CPU 16-frame network and trains for half the epochs; nothing is pretrained on
# Kinetics, so the "64f" row is trained from scratch. The 224 px row is not asked there (`status` says why).

# %% tags=["parameters"]
profile: str = "smoke"  # test | smoke | cpu | full | tiny
seed: int = 0
data_root = None  # type: Optional[str] None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # type: Optional[str] None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # type: Optional[str] comma-separated subset of 1,2,3; None: the profile's (full: 1,2,3 where the thesis averages them)
device = None  # type: Optional[str] None: the profile's (cpu; cuda under full)
results_dir = None  # type: Optional[str] None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from actionlib import study

NOTEBOOK = "02"

# %% [markdown]
# ## Table 3.8
#
# Each row's network trained (or fine-tuned) and tested with multiple clips and ten crops (Section 3.4.1).

# %%
nb = study.notebook(
    NOTEBOOK,
    profile,
    seed=seed,
    data_root=data_root,
    weights_dir=weights_dir,
    splits=splits,
    device=device,
    results_dir=results_dir,
)
by_table, runs, cfg, results = nb.tables, nb.runs, nb.cfg, nb.results
table = by_table["3.8"]
study.show(table)

# %% [markdown]
# ## Observations (computed)

# %%
t = table.set_index("row")
notes = [study.ordering_note(table, "Table 3.8")]
pairs = [("3D ResNeXt101 16f", "3D ResNet101 16f", "grouped convolutions at 16f"),
         ("3D ResNet101 64f (16f pre-trained)", "3D ResNet101 16f", "ResNet101, longer clips"),
         ("3D ResNeXt101 64f (16f pre-trained)", "3D ResNeXt101 16f", "ResNeXt101, longer clips")]  # fmt: skip
for a, b, what in pairs:
    if t.loc[[a, b], "top1"].notna().all():
        overlap = (
            t.loc[a, "top1_ci_low"] <= t.loc[b, "top1_ci_high"] and t.loc[b, "top1_ci_low"] <= t.loc[a, "top1_ci_high"]
        )
        notes.append(
            f"{what}: {t.loc[b, 'top1']:.1f} -> {t.loc[a, 'top1']:.1f} % (thesis {t.loc[b, 'thesis_top1']:.2f} -> "
            f"{t.loc[a, 'thesis_top1']:.2f}); "
            + ("the intervals overlap: not separated here." if overlap else "the intervals do not overlap.")
        )  # fmt: skip
if table["top1"].isna().all():
    notes.append(f"No row of Table 3.8 ran under the {cfg.name} profile: {table['status'].iloc[0]}.")
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %%
ran = table[table["status"] == "run"]
assert ran["top1"].between(0, 100).all(), table
assert table.loc[table["status"] != "run", "status"].str.startswith("not run").all(), table  # said why
