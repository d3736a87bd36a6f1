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
# # 04: 3D architectures: accuracy, parameters and operations (Table 3.10, Appendix C.2)
#
# Section 3.4.4 weighs every 3D architecture the thesis tried on HMDB51 split 1 by Top-1/Top-3 accuracy,
# number of parameters and number of operations (Table 3.10). The counts do not depend on data: they are
# recomputed here at the thesis's clip sizes with `actionlib.complexity` (fvcore, in the thesis's counting
# convention; `results/tables/complexity.csv`), on every profile.
#
# **Accuracy needs the full profile.** Fine-tuning these Kinetics-pretrained networks on HMDB51 takes GPU-days;
# the CPU profiles do not train them, and the `ours_top1` column stays empty with the reason in `status`
# rather than showing a number from another setting.

# %% tags=["parameters"]
profile = "smoke"  # test | smoke | full
seed = 0
data_root = None  # None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # comma-separated subset of 1,2,3; None: the profile's (full: 1,2,3 where the thesis averages them)
device = None  # None: the profile's (cpu; cuda under full)
stand_in = None  # allowed: None, tiny
results_dir = None  # None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from actionlib import experiments as ex
from actionlib import paths, profiles, recipes, study

NOTEBOOK = "04"
cfg = profiles.resolve(
    profile, data_root=data_root, weights_dir=weights_dir, splits=ex.parse_splits(splits), device=device
)
results = paths.results_dir(results_dir, profile)
cpu_profile = cfg.name != "full"  # the CPU profiles' cells below; under full the thesis protocol runs instead
# Table 3.10's rows and the complexity row each counts as, from the one table of thesis rows (actionlib.recipes)
ROWS = {r.row: recipes.complexity_id(r) for r in recipes.recipes_for("3.10")}
cfg

# %% [markdown]
# ## Full profile: the thesis protocol
#
# Under `full`, this cell fine-tunes and tests every row of Table 3.10 from the public initialisations
# (`actionlib.recipes`: one training run per stream, split and seed, shared between rows; an interrupted run
# resumes from its last checkpoint; multi-stream rows fuse their streams' scores) and writes
# `04_full_tables` (mean over splits and seeds, beside the thesis) and `04_full_runs`. `stand_in="tiny"`
# replaces every network by a small one of the same kind: the whole protocol in minutes on a CPU, a check of
# the plumbing, not the thesis's numbers. The CPU profiles skip this cell.

# %%
if not cpu_profile:
    full = study.reproduce_tables(cfg, NOTEBOOK, results, seed=seed, stand_in=stand_in)
    display(full)

# %%
reference = ex.thesis_accuracy("3.10").set_index("row")
counts = ex.complexity_rows(list(dict.fromkeys(ROWS.values()))).set_index("id")
table = pd.DataFrame(
    [
        {
            "row": row,
            "thesis_top1": reference.loc[row, "top1"],
            "thesis_top3": reference.loc[row, "top3"],
            "ours_top1": np.nan,
            "status": f"not trained under the {cfg.name} profile (GPU-days; run the full profile)",
            "params_m": counts.loc[spec_id, "params_m"],
            "thesis_params_m": counts.loc[spec_id, "thesis_params_m"],
            "ops_g": counts.loc[spec_id, "ops_g"],
            "thesis_ops_g": counts.loc[spec_id, "thesis_ops_g"],
            "spec_id": spec_id,
        }
        for row, spec_id in ROWS.items()
    ]
)
table["counts_equal"] = np.isclose(table["params_m"].round(2), table["thesis_params_m"]) & np.isclose(
    table["ops_g"].round(2), table["thesis_ops_g"]
)
if not cpu_profile:  # the accuracy the full profile measured
    ours = full.drop_duplicates("row").set_index("row")
    table["ours_top1"] = table["row"].map(ours["top1"]) if "top1" in ours else np.nan
    table["status"] = table["row"].map(ours["status"])
ex.save_table(table, results, f"{NOTEBOOK}_table3.10_architectures", profile=cfg)
table

# %%
sns.set_theme(style="whitegrid")
fig, ax = plt.subplots(figsize=(8, 5))
sns.scatterplot(data=table, x="ops_g", y="thesis_top1", size="params_m", sizes=(40, 400), legend="brief", ax=ax)
for _, r in table.iterrows():
    ax.annotate(r["row"].split(" 224")[0].split(" 112")[0], (r["ops_g"], r["thesis_top1"]), fontsize=7,
                xytext=(4, 3), textcoords="offset points")  # fmt: skip
ax.set(xscale="log", xlabel="operations per clip (G, counted here)", ylabel="thesis Top-1 on HMDB51 split 1 (%)",
       title="Table 3.10: accuracy (thesis) against cost (counted here)")  # fmt: skip
fig.tight_layout()
(results / "figures").mkdir(exist_ok=True)
fig.savefig(results / "figures" / f"{NOTEBOOK}_table3.10_accuracy_vs_ops.png", dpi=120)

# %% [markdown]
# ## Observations (computed)

# %%
best = table.loc[table["thesis_top1"].idxmax()]
cheapest = table.loc[table["ops_g"].idxmin()]
efficiency = table["thesis_top1"] / np.log10(table["ops_g"])
print(f"- {table['counts_equal'].sum()}/{len(table)} rows have parameter and operation counts equal to the thesis "
      "at its printed precision (the others are explained in results/tables/complexity.md).")  # fmt: skip
print(f"- Most accurate in the thesis: {best['row']} ({best['thesis_top1']:.2f} %), {best['ops_g']:.1f} G operations, "
      f"{best['params_m']:.1f} M parameters.")  # fmt: skip
print(f"- Cheapest: {cheapest['row']} ({cheapest['ops_g']:.1f} G, {cheapest['thesis_top1']:.2f} %).")
print(f"- Our accuracy column is empty under the {cfg.name} profile: these are not run on CPU.")

# %%
assert table["params_m"].gt(0).all() and table["ops_g"].gt(0).all()
assert (table["params_m"] / table["thesis_params_m"]).between(0.97, 1.03).all(), table
