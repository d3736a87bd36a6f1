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
# # 06: BERT on 3D backbones (Tables 4.3-4.6)
#
# Chapter 4's main result: replacing the temporal global average pooling (TGAP) at the end of a 3D CNN with
# BERT pooling raises accuracy on ResNeXt101 (4.3), I3D (4.4), SlowFast-50 (4.5, early and late fusion) and
# R(2+1)D-34 (4.6), at a small cost in parameters and operations.
#
# **One study, every profile** (see notebook 01). The parameter and operation counts of every row are computed at
# full size on every profile. `full` fine-tunes every backbone from its Kinetics/IG65M checkpoint. The CPU
# profiles ask Table 4.3's question on the CPU 3D network of notebook 03 (trained once with TGAP on the pose
# frames, standing in for RGB, and on the flow; then frozen): a TGAP head and a BERT head trained on the same
# features, per stream, and the streams fused. Its 32-frame clips leave 2 temporal positions after layer4 for
# BERT to attend over (the thesis's 64 frames leave 4), and the BERT head has far more parameters than the TGAP
# classifier (see `parameters` in the runs): read the comparison with both in mind. I3D, SlowFast and R(2+1)D are
# not asked on CPU (`status`).

# %% tags=["parameters"]
profile: str = "smoke"  # test | smoke | full
seed: int = 0
repeats = None  # type: Optional[int] seeds per row; None: the profile's
data_root = None  # type: Optional[str] None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # type: Optional[str] None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # type: Optional[str] comma-separated subset of 1,2,3; None: the profile's (full: 1,2,3 where the thesis averages them)
device = None  # type: Optional[str] None: the profile's (cpu; cuda under full)
stand_in = None  # type: Optional[str] allowed: None, tiny
results_dir = None  # type: Optional[str] None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %%
import pandas as pd
from IPython.display import Markdown, display

from actionlib import experiments as ex
from actionlib import paths, profiles, study

NOTEBOOK = "06"
cfg = profiles.resolve(
    profile,
    repeats=repeats,
    data_root=data_root,
    weights_dir=weights_dir,
    splits=ex.parse_splits(splits),
    device=device,
)
results = paths.results_dir(results_dir, profile)
cfg

# %% [markdown]
# ## Tables 4.3-4.6

# %%
by_table, runs = study.run_notebook(cfg, NOTEBOOK, results, seed=seed, stand_in=stand_in)
for table in by_table.values():
    study.show(table)

# %% [markdown]
# ## Cost of BERT: parameters and operations, counted here at full size

# %%
counts = study.with_complexity(pd.concat(by_table.values(), ignore_index=True))
counts = counts[["table", "row", "thesis_top1", "top1", "params_m", "thesis_params_m", "ops_g", "thesis_ops_g",
                 "complexity_id"]]  # fmt: skip
ex.save_table(counts, results, f"{NOTEBOOK}_tables4.3-4.6_counts", profile=cfg)
study.show(counts, counts.columns)

# %% [markdown]
# ## Observations (computed)

# %%
thesis_best = counts.loc[counts.groupby("table")["thesis_top1"].idxmax(), "row"]
notes = [f"Thesis: a BERT row is the best of its table in {thesis_best.str.contains('BERT').sum()} of "
         f"{counts['table'].nunique()} tables."]  # fmt: skip
t43 = by_table["4.3"].set_index("row")
for stream in ("RGB", "Flow", "Two-stream"):
    tgap, bert = f"ResNeXt101 {stream}", f"ResNeXt101 {stream} BERT (FRMB)"
    if t43.loc[[tgap, bert], "top1"].notna().all():
        a, b = t43.loc[tgap], t43.loc[bert]
        overlap = a["top1_low"] <= b["top1_high"] and b["top1_low"] <= a["top1_high"]
        notes.append(
            f"{stream}: BERT - TGAP = {b['top1'] - a['top1']:+.1f} Top-1 points here (thesis "
            f"{b['thesis_top1'] - a['thesis_top1']:+.2f}); "
            + ("the intervals overlap: this run does not separate them." if overlap else "the intervals do not overlap.")
            + (f" Reversed pairs: TGAP {a['reversed_pairs']:.0f} %, BERT {b['reversed_pairs']:.0f} %."
               if pd.notna(a["reversed_pairs"]) else "")
        )  # fmt: skip
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %%
assert (counts["params_m"] / counts["thesis_params_m"]).between(0.97, 1.03).all(), counts
for table in by_table.values():
    done = table[table["status"] == "run"]
    assert done["top1"].between(0, 100).all(), table
