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
# number of parameters and number of operations (Table 3.10); Appendix C.2 tests each under the four protocols.
# The counts do not depend on data: they are recomputed here at the thesis's clip sizes with
# `actionlib.complexity` (fvcore, in the thesis's counting convention; `results/tables/complexity.csv`), on every
# profile.
#
# **One study, every profile** (see notebook 01). `full` fine-tunes every architecture from its public
# checkpoint (GPU-days). The CPU profiles have one small 3D network: its ResNeXt rows run (trained end to end,
# 16 and 32 frames), and every other architecture's row says why it is not asked, rather than showing a number from
# another setting.

# %% tags=["parameters"]
profile: str = "smoke"  # test | smoke | cpu | full | tiny
seed: int = 0
data_root = None  # type: Optional[str] None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # type: Optional[str] None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # type: Optional[str] comma-separated subset of 1,2,3; None: the profile's (full: 1,2,3 where the thesis averages them)
device = None  # type: Optional[str] None: the profile's (cpu; cuda under full)
results_dir = None  # type: Optional[str] None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

from actionlib import study

NOTEBOOK = "04"

# %% [markdown]
# ## Table 3.10 and Table C.2

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
study.show(by_table["3.10"])
study.show(by_table["C.2"])

# %% [markdown]
# ## Cost: parameters and operations, counted here at full size

# %%
counts = study.with_complexity(by_table["3.10"])
counts["counts_equal"] = np.isclose(counts["params_m"].round(2), counts["thesis_params_m"]) & np.isclose(
    counts["ops_g"].round(2), counts["thesis_ops_g"]
)
counts = counts[["row", "thesis_top1", "top1", "params_m", "thesis_params_m", "ops_g", "thesis_ops_g",
                 "counts_equal", "complexity_id", "status"]]  # fmt: skip
study.save_table(counts, results, f"{NOTEBOOK}_table3.10_counts", profile=cfg)
study.show(counts, ["params_m", "ops_g", "counts_equal"], figure=False, fold=False)  # the figure: below

# %%
figure = results / "figures" / f"{NOTEBOOK}_table3.10_accuracy_vs_ops.png"
title = "Table 3.10: accuracy (thesis, HMDB51 split 1) against cost (counted here)"
plt.close(study.report.plot_cost(counts, title, figure))
display(Image(filename=figure))

# %% [markdown]
# ## Observations (computed)

# %%
best = counts.loc[counts["thesis_top1"].idxmax()]
cheapest = counts.loc[counts["ops_g"].idxmin()]
ran = counts[counts["status"] == "run"]
notes = [
    f"{counts['counts_equal'].sum()}/{len(counts)} rows have parameter and operation counts equal to the thesis at "
    "its printed precision (the others are explained in results/tables/complexity.md).",
    f"Most accurate in the thesis: {best['row']} ({best['thesis_top1']:.2f} %), {best['ops_g']:.1f} G operations, "
    f"{best['params_m']:.1f} M parameters; cheapest: {cheapest['row']} ({cheapest['ops_g']:.1f} G).",
    f"{len(ran)} of {len(counts)} rows ran under the {cfg.name} profile; the others say why in `status`.",
    study.ordering_note(by_table["3.10"], "Table 3.10"),
]  # fmt: skip
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %% tags=["remove-input"]
assert counts["params_m"].gt(0).all() and counts["ops_g"].gt(0).all()
assert (counts["params_m"] / counts["thesis_params_m"]).between(0.97, 1.03).all(), counts
assert ran["top1"].between(0, 100).all(), counts
