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
# # 05: Temporal pooling on a 3D CNN, and the BERT ablation (Tables 4.1 and 4.2)
#
# Section 4.2 of the thesis compares late temporal pooling types on ResNeXt101 (64 frames, HMDB51, three splits):
# average pooling with SGD (the baseline) and AdamW, concatenation, LSTM, concatenation + FC, non-local +
# concatenation + FC and BERT, most of them after the FRMB feature-reduction block (Table 4.1); then it asks which
# BERT design pools best: one or two layers, one or eight attention heads, and a learned classification token
# against the mean of the features ("pooled features") in its place (Table 4.2).
#
# **One study, every profile** (see notebook 01). `full` fine-tunes every row from the Kinetics ResNeXt101. The
# CPU profiles train each row's head on the frozen features of the CPU 3D network of notebook 03 (pose frames,
# 32-frame clips; its layer4 keeps the temporal resolution, so BERT sees 4 positions, as on the thesis's 64
# frames). That network's layer4 already has 512 channels, the width FRMB reduces the published network to, so the
# FRMB rows run without the block (`ran_as` says so) and "Average Pooling FRMB" is then the AdamW average-pooling
# head again. As in Section 4.2.3, the LSTM, concatenation + FC and non-local + concatenation + FC heads are sized
# to the BERT head's parameter count on these features (`ran_as` gives each hidden size); the average-pooling and
# concatenation heads have no size to choose. The thesis's
# differences here are within a point or two: read the intervals before the ranking.

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
from IPython.display import Markdown, display

from actionlib import study

NOTEBOOK = "05"

# %% [markdown]
# ## Table 4.1: temporal pooling types on the 3D network

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
study.show(by_table["4.1"])

# %% [markdown]
# ## Table 4.2: BERT variants

# %%
study.show(by_table["4.2"])

# %% [markdown]
# ## The thesis's claims, tested
#
# Each claim is a paired difference A - B between two rows on the same test videos of the same runs, with a 95 %
# interval (a bootstrap over runs and test videos) and one over runs alone. The verdict: `agrees` or `disagrees`
# where the interval excludes zero on the thesis's side or the other, `within noise` where it straddles zero but
# is narrower than the thesis's effect, `cannot resolve` where it is wider. `detectable` is the difference this
# design finds 80 % of the time; `claims.csv` has Holm's p across all claims. The folded controls repeat each claim
# on the appearance classes' videos (one frame tells the class) and, for BERT against average pooling, on two
# control datasets: `no reversed pairs` (order never needed, as in HMDB51) and `order only` (only order separates
# the classes, a regime the thesis did not test).

# %%
found = nb.claims
study.show_claims(found)

# %% [markdown]
# ## Observations (computed)

# %%
notes = [study.ordering_note(by_table[t], f"Table {t}") for t in ("4.1", "4.2")]
notes += study.claim_sentences(found)
pairs = by_table["4.1"].dropna(subset=["reversed_pairs"]).set_index("row")["reversed_pairs"]
if len(pairs):
    notes.append("Reversed pairs on the 3D network: " + ", ".join(f"{r} {v:.0f} %" for r, v in pairs.items()) + ".")
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %% tags=["remove-input"]
for table in by_table.values():
    done = table[table["status"] == "run"]
    assert done["top1"].between(0, 100).all(), table
