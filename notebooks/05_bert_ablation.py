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
# # 05: BERT ablation: layers, attention heads, classification token (Table 4.2)
#
# Section 4.2 of the thesis asks which BERT design pools best: one or two layers, one or eight attention heads,
# and a learned classification token against the mean of the features ("pooled features") in its place. The
# thesis ran these on ResNeXt101-FRMB over 64 frames on HMDB51 (three splits).
#
# **What the profiles run.** `smoke` (CPU, default): the same four BERT variants on the CPU stack of notebook 01
# (a narrow ResNet18 over 8 segments of the synthetic pose frames, trained from scratch), with `repeats` seeds
# each, because the differences the thesis reports are within a point. Read the spread before the ranking. As in
# notebook 01, BERT's input tokens are L2-normalised on CPU (`bert_l2_input`).
# Table 4.1 (temporal pooling types on ResNeXt101 with FRMB) needs the 3D backbone and is left to the full
# profile; notebook 01 runs the same comparison on the 2D stack.

# %% tags=["parameters"]
profile = "smoke"  # test | smoke | full
seed = 0
repeats = None  # seeds per variant; None: 2 under smoke, the profile's otherwise
epochs = None  # None: the profile's
bert_l2_input = None  # L2-normalise BERT's input tokens; None: yes on CPU profiles (see notebook 01), no under full
data_root = None  # None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
results_dir = None  # None: <repo>/results

# %%
import matplotlib.pyplot as plt
import seaborn as sns

from actionlib import experiments as ex
from actionlib import paths, profiles

NOTEBOOK = "05"
if repeats is None and profile == "smoke":
    repeats = 2
cfg = profiles.resolve(profile, epochs=epochs, repeats=repeats, data_root=data_root, weights_dir=weights_dir)
results = paths.results_dir(results_dir)
runs = paths.repo_root() / "runs" / "notebooks" / NOTEBOOK
if cfg.name == "full":
    raise NotImplementedError(
        "the full profile of this notebook is not written yet: train each variant with `actionlib train --model "
        "resnext3d_101 --head bert --reduction frmb --option layers=2 ...` (README, 'Full profile')"
    )
VARIANTS = {
    "BERT 1 layer 8 heads pooled features": {"layers": 1, "heads": 8, "cls": "mean"},
    "BERT 1 layer 1 head classification token": {"layers": 1, "heads": 1, "cls": "token"},
    "BERT 1 layer 8 heads classification token": {"layers": 1, "heads": 8, "cls": "token"},
    "BERT 2 layers 8 heads classification token": {"layers": 2, "heads": 8, "cls": "token"},
}
if bert_l2_input is None:
    bert_l2_input = cfg.name != "full"
cfg

# %%
data = ex.cpu_data(cfg)
rows = [
    {"row": row, "model": "resnet18", "head": "bert", "normalize_input": bert_l2_input, **options}
    for row, options in VARIANTS.items()
]
variant_runs = ex.run_rows(rows, data, cfg, runs, seeds=[seed + s for s in cfg.seeds])
table = ex.compare_with_thesis("4.2", ex.mean_over_seeds(variant_runs))
table = table[["row", "modality", "thesis_top1", "top1", "top1_std", "seeds", "difference", "thesis_rank", "our_rank",
               "top3", "reversed_pairs", "parameters", "seconds"]]  # fmt: skip
ex.save_table(table, results, f"{NOTEBOOK}_table4.2_bert_variants")
ex.save_table(variant_runs, results, f"{NOTEBOOK}_table4.2_bert_variants_per_seed")
table

# %%
sns.set_theme(style="whitegrid")
fig, ax = plt.subplots(figsize=(9, 4))
shown = variant_runs.assign(variant=variant_runs["row"].str.replace("BERT ", "").str.replace("classification", "cls"))
sns.pointplot(data=shown, y="variant", x="top1", errorbar=("pi", 100), linestyle="none", ax=ax, label="ours (seeds)")
ax.set(xlabel="Top-1 (%) on the synthetic test split", ylabel="",
       title=f"Table 4.2 variants ({data.modality} frames, {cfg.seeds[-1] + 1} seed(s), profile {cfg.name})")  # fmt: skip
fig.tight_layout()
(results / "figures").mkdir(exist_ok=True)
fig.savefig(results / "figures" / f"{NOTEBOOK}_table4.2_bert_variants.png", dpi=120)

# %% [markdown]
# ## Observations (computed)

# %%
t = table.set_index("row")
best, worst = t["top1"].idxmax(), t["top1"].idxmin()
gap = t.loc[best, "top1"] - t.loc[worst, "top1"]
spread = t["top1_std"].max()
print(f"- Best here: {best} ({t.loc[best, 'top1']:.1f} %); worst: {worst} ({t.loc[worst, 'top1']:.1f} %); "
      f"gap {gap:.1f} points, largest seed spread (std) {spread:.1f} points.")  # fmt: skip
print("- " + ("The gap is within twice the seed spread: these variants are not separated on this data."
              if gap <= 2 * spread else "The gap exceeds twice the seed spread."))  # fmt: skip
thesis_best = table.loc[table["thesis_top1"].idxmax(), "row"]
print(f"- Thesis best: {thesis_best} ({table['thesis_top1'].max():.2f} %), a spread of "
      f"{table['thesis_top1'].max() - table['thesis_top1'].min():.2f} points over the four variants.")  # fmt: skip
print(f"- Reversed pairs (all variants are order-aware): {', '.join(f'{v:.0f} %' for v in t['reversed_pairs'])}.")

# %%
assert table["top1"].between(0, 100).all() and not table["top1"].isna().any(), table
