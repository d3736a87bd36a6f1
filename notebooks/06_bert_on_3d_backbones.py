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
# **What the profiles run.** The parameter and operation counts of every row are computed at full size on every
# profile. Fine-tuning the Kinetics/IG65M-pretrained backbones needs GPUs (the `full` profile, below). The
# CPU profile runs Table 4.3's design on the CPU 3D network of notebook 03 (`ex.small_3d`, trained once with
# TGAP on the pose frames, the "RGB" stand-in, and on the flow): its backbone frozen, a TGAP head and a BERT head
# are trained on the same features, per stream, and the streams fused.

# %% tags=["parameters"]
profile = "smoke"  # test | smoke | full
seed = 0
repeats = None  # seeds per head; None: the profile's (1 under smoke)
bert_l2_input = False  # L2-normalise BERT's input tokens (the authors' I3D-BERT does; their ResNeXt-BERT does not)
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
from actionlib.engine.fusion import fuse_scores

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
runs = paths.repo_root() / "runs" / "notebooks" / NOTEBOOK
cpu_profile = cfg.name != "full"  # the CPU profiles' cells below; under full the thesis protocol runs instead
# (table, thesis row, complexity row) of Tables 4.3-4.6, from the one table of thesis rows (actionlib.recipes)
ROWS = [(r.table, r.row, recipes.complexity_id(r)) for r in recipes.recipes_for(["4.3", "4.4", "4.5", "4.6"])]
cfg

# %% [markdown]
# ## Full profile: the thesis protocol
#
# Under `full`, this cell fine-tunes and tests every row of Table 4.3-4.6 from the public initialisations
# (`actionlib.recipes`: one training run per stream, split and seed, shared between rows; an interrupted run
# resumes from its last checkpoint; multi-stream rows fuse their streams' scores) and writes
# `06_full_tables` (mean over splits and seeds, beside the thesis) and `06_full_runs`. `stand_in="tiny"`
# replaces every network by a small one of the same kind: the whole protocol in minutes on a CPU, a check of
# the plumbing, not the thesis's numbers. The CPU profiles skip this cell and the full profile skips the CPU cells.

# %%
if not cpu_profile:
    full = study.reproduce_tables(cfg, NOTEBOOK, results, seed=seed, stand_in=stand_in)
    display(full)

# %% [markdown]
# ## Tables 4.3-4.6: thesis accuracy, our counts

# %%
counts = ex.complexity_rows([spec for _, _, spec in ROWS]).set_index("id")
reference = pd.concat([ex.thesis_accuracy(t) for t in ("4.3", "4.4", "4.5", "4.6")]).set_index(["table", "row"])
table = pd.DataFrame(
    [
        {
            "table": t,
            "row": row,
            "thesis_top1": reference.loc[(t, row), "top1"],
            "params_m": counts.loc[spec, "params_m"],
            "thesis_params_m": counts.loc[spec, "thesis_params_m"],
            "ops_g": counts.loc[spec, "ops_g"],
            "thesis_ops_g": counts.loc[spec, "thesis_ops_g"],
            "note": counts.loc[spec, "note"] if isinstance(counts.loc[spec, "note"], str) else "",
        }
        for t, row, spec in ROWS
    ]
)
ex.save_table(table, results, f"{NOTEBOOK}_tables4.3-4.6_counts", profile=cfg)
table

# %% [markdown]
# ## CPU: TGAP against BERT on the frozen 3D network (Table 4.3's design)
#
# The clip of `frames` consecutive frames leaves `frames / 16` temporal positions after layer4: the tokens BERT
# attends over (the thesis's 64-frame ResNeXt101 leaves 4). Unlike a 2D network with average pooling, a 3D
# backbone sees motion direction inside its receptive field, so TGAP is not blind to the reversed pairs here.

# %%
if cpu_profile:
    network = ex.small_3d(cfg)
    streams = {"RGB": ex.cpu_data(cfg), "Flow": ex.cpu_data(cfg, modality="flow")}
    backbones = {name: ex.pretrain(cfg, data, **network, head="tgap", seed=seed) for name, data in streams.items()}
    HEADS = {"": {"head": "tgap"}, " BERT (FRMB)": {"head": "bert", "normalize_input": bert_l2_input}}
    runs_table, scores = [], {}
    for stream, data in streams.items():
        rows = [{"row": f"ResNeXt101 {stream}{suffix}", **options} for suffix, options in HEADS.items()]
        result = ex.run_heads(rows, backbones[stream], data, cfg, runs, seeds=[seed + s for s in cfg.seeds])
        runs_table.append(result)
        for row in rows:  # the first seed's test scores, for the two-stream fusion
            run = result[result["row"] == row["row"]].iloc[0]
            scores[row["row"]], labels = ex.head_scores(run["run_dir"], backbones[stream], row, data)
    cpu_runs = pd.concat(runs_table, ignore_index=True)
    fused = []
    for suffix in HEADS:
        both = fuse_scores([scores[f"ResNeXt101 RGB{suffix}"], scores[f"ResNeXt101 Flow{suffix}"]], method="l2")
        fused.append({"row": f"ResNeXt101 Two-stream{suffix}", "modality": "pose+flow", "seeds": 1,
                      **ex.score_summary(both, labels, streams["RGB"].class_names)})  # fmt: skip
    cpu = ex.compare_with_thesis(
        "4.3", pd.concat([ex.mean_over_seeds(cpu_runs), pd.DataFrame(fused)], ignore_index=True)
    )
    cpu.insert(1, "head", ["BERT" if "BERT" in r else "TGAP" for r in cpu["row"]])
    cpu = cpu[["row", "head", "modality", "thesis_top1", "top1", "top1_std", "seeds", "difference", "top3",
               "reversed_pairs", "parameters"]]  # fmt: skip
    ex.save_table(cpu, results, f"{NOTEBOOK}_table4.3_cpu_tgap_vs_bert", profile=cfg)
    display(cpu)

# %%
if cpu_profile:
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    shown = cpu.assign(stream=cpu["row"].str.replace("ResNeXt101 ", "").str.replace(" BERT (FRMB)", ""))
    sns.barplot(data=shown, x="stream", y="top1", hue="head", ax=axes[0])
    sns.barplot(data=shown, x="stream", y="reversed_pairs", hue="head", ax=axes[1])
    axes[0].set(title="Top-1 (%), synthetic test split", ylabel="%")
    axes[1].set(title="reversed-pair accuracy (%)", ylabel="%")
    axes[1].axhline(50, color="grey", ls="--", lw=1)
    fig.suptitle(f"Frozen CPU 3D network, {network['frames']}-frame clips, profile {cfg.name}")
    fig.tight_layout()
    (results / "figures").mkdir(exist_ok=True)
    fig.savefig(results / "figures" / f"{NOTEBOOK}_table4.3_cpu_tgap_vs_bert.png", dpi=120)

# %% [markdown]
# ## Observations (computed)

# %%
if cpu_profile:
    winners = table.loc[table.groupby("table")["thesis_top1"].idxmax(), "row"]
    print(f"- Thesis: BERT rows are the best of their table in {winners.str.contains('BERT').sum()} of "
          f"{table['table'].nunique()} tables.")  # fmt: skip
    c = cpu.set_index("row")
    for stream in ("RGB", "Flow", "Two-stream"):
        tgap, bert = c.loc[f"ResNeXt101 {stream}"], c.loc[f"ResNeXt101 {stream} BERT (FRMB)"]
        print(f"- CPU {stream}: BERT - TGAP = {bert['top1'] - tgap['top1']:+.1f} Top-1 points (thesis "
              f"{bert['thesis_top1'] - tgap['thesis_top1']:+.2f}); reversed pairs TGAP {tgap['reversed_pairs']:.0f} %, "
              f"BERT {bert['reversed_pairs']:.0f} %.")  # fmt: skip
    print(f"- Largest seed std of a single-stream row: {np.nanmax(cpu['top1_std']):.1f} points.")

# %%
if cpu_profile:
    assert (table["params_m"] / table["thesis_params_m"]).between(0.97, 1.03).all(), table
    assert cpu["top1"].between(0, 100).all() and not cpu["top1"].isna().any(), cpu
