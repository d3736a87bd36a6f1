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
# # 01: Late temporal pooling on 2D ResNets (Tables 3.2-3.7)
#
# Chapter 3 of the thesis asks how a 2D CNN's per-frame features should be pooled over time. Table 3.3 compares
# no pooling (one frame), average pooling (TSN), non-local blocks, concatenation, LSTM, convolutional GRU and BERT
# on ResNet18 over 16 segments; Table 3.2 trains the BERT model with four optimizers (Section 3.2.3); Table 3.4
# concatenates pooled features of several stages ("fusion"); Table 3.5 deepens the backbone; Table 3.6 repeats
# the heads on flow and pose; Table 3.7 fuses the RGB, flow and pose streams.
#
# **One study, every profile.** Every row below is a row of `actionlib.recipes`, run by one runner
# (`actionlib.study`). `full` runs it as the thesis did (HMDB51, ImageNet-pretrained ResNets fine-tuned end to end,
# 16 segments at 224 px, ten-crop test, three splits); the CPU profiles scale it and each row's `ran_as` says how:
# here a narrow ResNet18 pretrained on a disjoint synthetic set (the stand-in for ImageNet) and frozen, the row's
# head trained on its cached features, 8 segments of 64x48 frames, rendered pose frames standing in for RGB except
# in Table 3.7. Under `smoke` only Table 3.3 runs, its compared rows five times (each run retrains the backbone);
# `--profile cpu` runs the other tables. Four pairs of the synthetic dataset's 16 classes are each other's time
# reversal: a reversed-pair accuracy above 50 % needs frame order, and the Top-1 per class group (`top1_appearance`,
# `top1_reversed`, `top1_speed`) shows whether a head won on order or on a better summary of appearance.

# %% tags=["parameters"]
profile: str = "smoke"  # test | smoke | cpu | full | tiny
seed: int = 0
repeats = None  # type: Optional[int] seeds per row; None: the profile's (rows a claim compares: 5 runs under smoke)
tables: str = "3.2,3.3,3.4,3.5,3.6,3.7"  # a comma-separated subset of the thesis tables of this notebook
epochs = None  # type: Optional[int] None: the profile's (backbone pretraining and heads alike)
data_root = None  # type: Optional[str] None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # type: Optional[str] None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # type: Optional[str] comma-separated subset of 1,2,3; None: the profile's (full: 1,2,3 where the thesis averages them)
device = None  # type: Optional[str] None: the profile's (cpu; cuda under full)
results_dir = None  # type: Optional[str] None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from actionlib import study

NOTEBOOK = "01"

# %% [markdown]
# ## Running the rows
#
# Each stream is trained once and shared between the rows that use it (Table 3.3's BERT row is Table 3.2's AdamW
# row); an interrupted notebook resumes where it stopped.

# %%
nb = study.notebook(
    NOTEBOOK,
    profile,
    seed=seed,
    repeats=repeats,
    tables=tables,
    epochs=epochs,
    data_root=data_root,
    weights_dir=weights_dir,
    splits=splits,
    device=device,
    results_dir=results_dir,
)
by_table, runs, cfg, results = nb.tables, nb.runs, nb.cfg, nb.results


def show(t, caption):
    if t in by_table:
        if by_table[t]["top1"].notna().any():  # a table with nothing run is one line, which names it
            display(Markdown(f"**Table {t}: {caption}** (profile {cfg.name}, {cfg.dataset} data; thesis: HMDB51)"))
        study.show(by_table[t])


# %% [markdown]
# ## Table 3.3: pooling types
#
# Pairwise ("reversed pairs") accuracy: for the test videos of a time-reversed pair, how often the true class
# scores above its partner (50 % = blind to time order). No pooling is trained on one frame and tested on every
# segment, averaged (Section 3.3.1). Two rows are not in the thesis: BERT on L2-normalised input tokens (the
# authors' I3D-BERT does it), and average pooling without the classifier's dropout, the baseline at its best (a
# note under the table gives each head's distance to a linear probe on the same features).

# %%
show("3.3", "pooling types")

# %% [markdown]
# ## Tables 3.2, 3.4 and 3.5: optimizers, feature fusion and depth
#
# Table 3.2 trains the BERT model with four optimizers: the thesis fine-tunes with 1e-4 for the adaptive ones and
# 1e-2 for SGD; a head trained from its random initialisation on frozen features (CPU profiles) tries the
# profile's learning rates. Table 3.4 concatenates the pooled features of the last two (dual), three (triple) or
# four (quadruplet) stages of the same backbone. Table 3.5 repeats triple fusion on deeper backbones, which the CPU
# profiles do not train: from scratch on 336 training videos a deeper narrow network is *worse*, not better
# (measured at 20 epochs: ResNet34 backbone 26 % test Top-1 against ResNet18's 53 %), so the thesis's question
# (does depth help a pretrained backbone?) cannot be asked there.

# %%
show("3.2", "optimizers")
show("3.4", "feature fusion")
show("3.5", "depth")

# %% [markdown]
# ## Tables 3.6 and 3.7: flow, pose and their fusion
#
# Flow: TV-L1 (on the CPU profiles computed once on the 64x48 synthetic frames, `data.memory.ensure_flow`) into a
# ResNet18 with a 2-channel first layer. Table 3.7 fuses each stream's best head in the thesis (RGB: concatenation
# with triple fusion; flow and pose: BERT) late: L2-normalised logits, summed (the authors' `combined_demo.py`). Here
# RGB is real RGB on every profile; from scratch at CPU scale it stays weak (compare `train_top1` in the runs).

# %%
show("3.6", "flow and pose")
show("3.7", "two and three streams")

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
# ## Observations (computed from the tables above)

# %%
notes = []
notes += study.claim_sentences(found)
if "3.3" in by_table:
    t33 = by_table["3.3"].dropna(subset=["top1"]).set_index("row")
    if t33["reversed_pairs"].notna().any():
        free = [r for r in t33.index if any(k in r for k in ("No Pooling", "Average Pooling"))]
        aware = [r for r in t33.index if r not in free and not t33.loc[r, "ours"]]
        notes.append(
            f"Reversed pairs: order-free heads {t33.loc[free, 'reversed_pairs'].min():.0f}-"
            f"{t33.loc[free, 'reversed_pairs'].max():.0f} %, order-aware heads {t33.loc[aware, 'reversed_pairs'].min():.0f}-"
            f"{t33.loc[aware, 'reversed_pairs'].max():.0f} % (50 % = blind to time order)."
        )  # fmt: skip
    for t in by_table:
        notes.append(study.ordering_note(by_table[t], f"Table {t}"))
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %% [markdown]
# ## Checks

# %% tags=["remove-input"]
for table in by_table.values():
    ran = table[table["status"] == "run"]
    assert ran["top1"].between(0, 100).all(), table
    assert (table["status"] != "run").sum() == table["top1"].isna().sum(), table
if "3.3" in by_table and t33["reversed_pairs"].notna().any() and t33["videos"].min() >= 100:
    # the point of the synthetic dataset (on its full test split): averaging is blind to time order, the
    # order-aware heads are not
    assert t33.loc[aware, "reversed_pairs"].max() > t33.loc[free, "reversed_pairs"].max() + 15
