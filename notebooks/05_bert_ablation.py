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
# **What the profiles run.** `smoke` (CPU, default). Table 4.1: the heads on the frozen CPU 3D network of
# notebook 03 (`ex.small_3d`, pose frames, 32-frame clips). Its layer4 already outputs 512 channels, the width
# FRMB reduces the published network to, so the FRMB rows run on these features without an extra block, and the
# "Average Pooling FRMB" row, which differs from "Average Pooling" only by that block, is not run. Table 4.2: the
# four BERT variants on the frozen 2D backbone of notebook 01 (ResNet18, 8 segments: 8 tokens instead of the 3D
# network's 2, so that attention has something to choose between). Both with `repeats` seeds per row, because
# the differences the thesis reports are within a point: read the spread before the ranking. `full`:
# the thesis protocol (below).

# %% tags=["parameters"]
profile = "smoke"  # test | smoke | full
seed = 0
repeats = None  # seeds per row; None: 2 under smoke, the profile's otherwise
pooling_table = True  # Table 4.1 (needs the 3D network of notebook 03; trained here if missing)
data_root = None  # None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # comma-separated subset of 1,2,3; None: the profile's (full: 1,2,3 where the thesis averages them)
device = None  # None: the profile's (cpu; cuda under full)
stand_in = None  # allowed: None, tiny
results_dir = None  # None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from actionlib import experiments as ex
from actionlib import paths, profiles, study

NOTEBOOK = "05"
if repeats is None and profile == "smoke":
    repeats = 2
cfg = profiles.resolve(
    profile,
    repeats=repeats,
    data_root=data_root,
    weights_dir=weights_dir,
    splits=ex.parse_splits(splits),
    device=device,
)
results = paths.results_dir(results_dir, profile)
runs = paths.repo_root() / "runs" / "notebooks" / NOTEBOOK
seeds = [seed + s for s in cfg.seeds]
cpu_profile = cfg.name != "full"  # the CPU profiles' cells below; under full the thesis protocol runs instead
network = ex.small_3d(cfg)


def head(name, **options):
    return {"head": name, **ex.narrow_head_options(name, network["width"]), **options}


POOLING_ROWS = {
    "ResNeXt101 Average Pooling (baseline) SGD": head("tgap", optimizer="sgd", lr=1e-2),
    "ResNeXt101 Average Pooling ADAMW": head("tgap"),
    "ResNeXt101 Concatenation FRMB": head("concat"),
    "ResNeXt101 LSTM FRMB": head("lstm"),
    "ResNeXt101 Concatenation + FC FRMB": head("concat_fc"),
    "ResNeXt101 Non-local + Concatenation + FC FRMB": head("nl_concat_fc"),
    "ResNeXt101 BERT pooling FRMB": head("bert"),
}
VARIANTS = {
    "BERT 1 layer 8 heads pooled features": {"layers": 1, "heads": 8, "cls": "mean"},
    "BERT 1 layer 1 head classification token": {"layers": 1, "heads": 1, "cls": "token"},
    "BERT 1 layer 8 heads classification token": {"layers": 1, "heads": 8, "cls": "token"},
    "BERT 2 layers 8 heads classification token": {"layers": 2, "heads": 8, "cls": "token"},
}
cfg

# %% [markdown]
# ## Full profile: the thesis protocol
#
# Under `full`, this cell fine-tunes and tests every row of Table 4.1 and 4.2 from the public initialisations
# (`actionlib.recipes`: one training run per stream, split and seed, shared between rows; an interrupted run
# resumes from its last checkpoint; multi-stream rows fuse their streams' scores) and writes
# `05_full_tables` (mean over splits and seeds, beside the thesis) and `05_full_runs`. `stand_in="tiny"`
# replaces every network by a small one of the same kind: the whole protocol in minutes on a CPU, a check of
# the plumbing, not the thesis's numbers. The CPU profiles skip this cell and the full profile skips the CPU cells.

# %%
if not cpu_profile:
    full = study.reproduce_tables(cfg, NOTEBOOK, results, seed=seed, stand_in=stand_in)
    display(full)

# %% [markdown]
# ## Table 4.1: temporal pooling types on the 3D network

# %%
if cpu_profile:
    data = ex.cpu_data(cfg)
    pooling = pd.DataFrame()
    if pooling_table:
        backbone3d = ex.pretrain(cfg, data, **network, head="tgap", seed=seed)
        rows = [{"row": row, **options} for row, options in POOLING_ROWS.items()]
        pooling_runs = ex.run_heads(rows, backbone3d, data, cfg, runs, seeds=seeds)
        pooling = ex.compare_with_thesis("4.1", ex.mean_over_seeds(pooling_runs))
        pooling = ex.with_rows_not_run(pooling, "4.1")
        pooling["status"] = pooling["top1"].notna().map({True: "trained on CPU", False: "not run on CPU (see above)"})
        pooling = pooling[["row", "modality", "thesis_top1", "top1", "top1_std", "seeds", "difference", "thesis_rank",
                           "our_rank", "top3", "reversed_pairs", "parameters", "status"]]  # fmt: skip
        ex.save_table(pooling, results, f"{NOTEBOOK}_table4.1_pooling_3d", profile=cfg)
    display(pooling)

# %% [markdown]
# ## Table 4.2: BERT variants

# %%
if cpu_profile:
    backbone2d = ex.pretrain(cfg, data, "resnet18")
    rows = [{"row": row, "head": "bert", **options} for row, options in VARIANTS.items()]
    variant_runs = ex.run_heads(rows, backbone2d, data, cfg, runs, seeds=seeds)
    table = ex.compare_with_thesis("4.2", ex.mean_over_seeds(variant_runs))
    table = table[["row", "modality", "thesis_top1", "top1", "top1_std", "seeds", "difference", "thesis_rank", "our_rank",
                   "top3", "reversed_pairs", "parameters", "seconds"]]  # fmt: skip
    ex.save_table(table, results, f"{NOTEBOOK}_table4.2_bert_variants", profile=cfg)
    ex.save_table(
        variant_runs.drop(columns=["run_dir"]), results, f"{NOTEBOOK}_table4.2_bert_variants_per_seed", profile=cfg
    )
    display(table)

# %%
if cpu_profile:
    sns.set_theme(style="whitegrid")
    panels = [("Table 4.2 (2D ResNet18, 8 tokens)", variant_runs)]
    if pooling_table:
        panels.insert(0, ("Table 4.1 (CPU 3D network)", pooling_runs))
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4), squeeze=False)
    for ax, (title, frame) in zip(axes[0], panels, strict=True):
        shown = frame.assign(variant=frame["row"].str.replace("ResNeXt101 ", "").str.replace("classification", "cls"))
        sns.pointplot(data=shown, y="variant", x="top1", errorbar=("pi", 100), linestyle="none", ax=ax)
        ax.set(xlabel="Top-1 (%), synthetic test split", ylabel="", title=f"{title}, {len(seeds)} seed(s)")
    fig.tight_layout()
    (results / "figures").mkdir(exist_ok=True)
    fig.savefig(results / "figures" / f"{NOTEBOOK}_tables4.1-4.2.png", dpi=120)

# %% [markdown]
# ## Observations (computed)

# %%
if cpu_profile:
    for name, frame in (("Table 4.1", pooling), ("Table 4.2", table)):
        t = frame.dropna(subset=["top1"]).set_index("row")
        if not len(t):
            continue
        best, worst = t["top1"].idxmax(), t["top1"].idxmin()
        gap, spread = t.loc[best, "top1"] - t.loc[worst, "top1"], t["top1_std"].max()
        print(f"- {name}: best here {best} ({t.loc[best, 'top1']:.1f} %), worst {worst} ({t.loc[worst, 'top1']:.1f} %); "
              f"gap {gap:.1f} points, largest seed std {spread:.1f}; thesis best "
              f"{frame.loc[frame['thesis_top1'].idxmax(), 'row']} ({frame['thesis_top1'].max():.2f} %).")  # fmt: skip
        print("  " + ("The gap is within twice the seed spread: not separated on this data."
                      if gap <= 2 * spread else "The gap exceeds twice the seed spread."))  # fmt: skip
    if len(pooling):
        p = pooling.set_index("row")["reversed_pairs"].dropna()
        p.index = p.index.str.replace("ResNeXt101 ", "")
        print(f"- Reversed pairs on the 3D network: {', '.join(f'{r} {v:.0f} %' for r, v in p.items())}.")

# %%
if cpu_profile:
    assert table["top1"].between(0, 100).all() and not table["top1"].isna().any(), table
    if len(pooling):
        assert pooling["top1"].dropna().between(0, 100).all(), pooling
