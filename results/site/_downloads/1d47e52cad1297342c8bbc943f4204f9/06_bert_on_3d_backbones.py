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
# profiles ask Table 4.3's question on the CPU 3D network of notebook 03 (pretrained with TGAP on a disjoint
# synthetic set, on the pose frames, standing in for RGB, and on the flow; then frozen): a TGAP head and a BERT
# head trained on the same features, per stream, and the streams fused. Its 32-frame clips leave 4 temporal
# positions after layer4 for BERT to attend over, as the thesis's 64 frames do. The BERT head has far more
# parameters than the TGAP classifier (see `parameters` in the runs); Table 4.1 (notebook 05) compares it with
# heads of its own size. I3D, SlowFast and R(2+1)D are
# not asked on CPU (`status`).

# %% tags=["parameters"]
profile: str = "smoke"  # test | smoke | cpu | full | tiny
seed: int = 0
repeats = None  # type: Optional[int] seeds per row; None: the profile's
data_root = None  # type: Optional[str] None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # type: Optional[str] None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # type: Optional[str] comma-separated subset of 1,2,3; None: the profile's (full: 1,2,3 where the thesis averages them)
device = None  # type: Optional[str] None: the profile's (cpu; cuda under full)
results_dir = None  # type: Optional[str] None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %% tags=["remove-input"]
import pandas as pd
from IPython.display import Markdown, display

from actionlib import study

NOTEBOOK = "06"

# %% [markdown]
# ## Tables 4.3-4.6

# %%
nb = study.notebook(
    NOTEBOOK,
    profile,
    seed=seed,
    repeats=repeats,
    data_root=data_root,
    weights_dir=weights_dir,
    splits=splits,
    device=device,
    results_dir=results_dir,
)
by_table, runs, cfg, results = nb.tables, nb.runs, nb.cfg, nb.results
for table in by_table.values():
    study.show(table)

# %% [markdown]
# ## Cost of BERT: parameters and operations, counted here at full size

# %%
counts = study.with_complexity(pd.concat(by_table.values(), ignore_index=True))
counts = counts[["table", "row", "thesis_top1", "top1", "params_m", "thesis_params_m", "ops_g", "thesis_ops_g",
                 "complexity_id"]]  # fmt: skip
study.save_table(counts, results, f"{NOTEBOOK}_tables4.3-4.6_counts", profile=cfg)
study.show(counts, ["table", "params_m", "ops_g"], figure=False, fold=False)

# %% [markdown]
# ## The thesis's claims, tested
#
# Each claim is a paired difference A - B between two rows on the same test videos of the same runs, with a 95 %
# interval (a bootstrap over runs and test videos) and one over runs alone. The verdict: `agrees` or `disagrees`
# where the interval excludes zero on the thesis's side or the other, `within noise` where it straddles zero but
# is narrower than the thesis's effect, `cannot resolve` where it is wider. `detectable` is the difference this
# design finds 80 % of the time; `claims.csv` has Holm's p across all claims. The folded controls repeat each claim
# on the appearance classes' videos, where one frame tells the class.

# %%
found = nb.claims
study.show_claims(found)

# %% [markdown]
# ## Observations (computed)

# %%
thesis_best = counts.loc[counts.groupby("table")["thesis_top1"].idxmax(), "row"]
notes = [f"Thesis: a BERT row is the best of its table in {thesis_best.str.contains('BERT').sum()} of "
         f"{counts['table'].nunique()} tables."]  # fmt: skip
notes += study.claim_sentences(found)
t43 = by_table["4.3"].dropna(subset=["reversed_pairs"]).set_index("row")
if len(t43):
    notes.append("Reversed pairs on the 3D network (50 % = blind to time order): "
                 + ", ".join(f"{r} {v:.0f} %" for r, v in t43["reversed_pairs"].items()) + ".")  # fmt: skip
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %% tags=["remove-input"]
assert (counts["params_m"] / counts["thesis_params_m"]).between(0.97, 1.03).all(), counts
for table in by_table.values():
    done = table[table["status"] == "run"]
    assert done["top1"].between(0, 100).all(), table
