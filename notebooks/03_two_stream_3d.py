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
# # 03: Two-stream 3D CNNs and the four test protocols (Table 3.9, Table C.1)
#
# Section 3.4.3 of the thesis trains ResNeXt101 (64 frames, 112 px) and I3D (64 frames, 224 px) on RGB and on
# TV-L1 optical flow, and fuses the two streams late. Table 3.9 reports the "multiple clips, ten crops" test;
# Appendix C.1 repeats every model under the four test protocols: a single centred clip or the non-overlapping
# clips covering the video, times the centre crop or ten crops (five crops and their mirror images).
#
# **One study, every profile** (see notebook 01). `full` fine-tunes each stream from its public Kinetics
# checkpoint. On the CPU profiles each ResNeXt stream is a TGAP head on the frozen CPU 3D network (ResNeXt blocks,
# one per stage, 16 base channels, 32-frame clips), pretrained on a disjoint synthetic set (other videos of the
# same classes: the stand-in for Kinetics) on the pose frames (standing in for RGB) and on the synthetic TV-L1
# flow; the same frozen networks are the backbones of notebooks 05-08. I3D is not trained on CPU.
# Every protocol uses the same sampling and cropping code on every profile.

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

NOTEBOOK = "03"

# %% [markdown]
# ## Table 3.9: two streams (multiple clips, ten crops)
#
# The two streams' logits are L2-normalised and summed (the authors' fusion).

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
study.show(by_table["3.9"])

# %% [markdown]
# ## Frame order in each stream
#
# Each stream's pairwise accuracy on the four reversed pairs (sit down and stand up, raise and lower an arm, open
# and close a door, pick up and put down), where only the direction of motion tells a class from its partner: 50 %
# is blind to it. A reversed video's flow is its flow negated, so a flow stream can read the direction from the
# sign of its displacements; the pose frames carry it only in their order. The interval is over the runs (the run
# as the unit).

# %%
pairs = study.reversed_pairs_table(runs, "3.9")
study.save_table(pairs, results, f"{NOTEBOOK}_reversed_pairs", profile=cfg)
display(pairs.style.hide(axis="index").format(precision=1, na_rep=""))

# %% [markdown]
# ## Table C.1: the four test protocols

# %%
c1 = by_table["C.1"]
study.show(c1)

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
notes = [study.ordering_note(by_table["3.9"], "Table 3.9")]
notes += study.reversed_pairs_sentences(pairs)
notes += study.claim_sentences(found)
ran = c1.dropna(subset=["top1"])
if len(ran):
    spread = ran.groupby("row")["top1"].agg(lambda s: s.max() - s.min())
    thesis_spread = ran.groupby("row")["thesis_top1"].agg(lambda s: s.max() - s.min())
    notes.append(
        "Spread of Top-1 across the protocols that ran: "
        + ", ".join(f"{r} {spread[r]:.1f} points (thesis {thesis_spread[r]:.2f})" for r in spread.index)
        + f"; one protocol's 95 % interval is about {(ran['top1_ci_high'] - ran['top1_ci_low']).median() / 2:.0f} points "
        "either side, so differences between protocols smaller than that are not resolved here."
    )
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %% tags=["remove-input"]
for table in by_table.values():
    done = table[table["status"] == "run"]
    assert done["top1"].between(0, 100).all(), table
