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
# # 08: State of the art, on all three splits (Table 4.7, Tables C.3 and C.4)
#
# Section 4.3 of the thesis compares its best models with published ones on HMDB51 and UCF101, averaged over the
# three official splits (Table 4.7): BERT raises the two-stream ResNeXt101 by 1.77 points on HMDB51 and R(2+1)D-34
# by 3.5; R(2+1)D-BERT with 64 frames and IG65M pretraining is the best. Appendix C.3/C.4 list each split.
#
# **What the profiles run.** Every profile shows the thesis's Table 4.7 with our parameter and operation counts
# of its models (full size). `smoke` (CPU, default) adds the three-split protocol on the synthetic dataset (its
# splits 1-3 are the same 70/30 per-class scheme as HMDB51's): per split, a 2D stand-in for ResNeXt101 (the
# frozen-backbone ResNet18 of notebook 01, pretrained on that split's training videos) for each stream in
# `streams` (default pose, the "RGB" stand-in; with flow, also the two streams fused), with a TGAP (average) head
# and a BERT head; then the mean and spread over splits. `full`: the thesis protocol (below).

# %% tags=["parameters"]
profile = "smoke"  # test | smoke | full
seed = 0
splits = None  # comma-separated subset of 1,2,3; None: the profile's (1,2,3 under smoke)
streams = "pose"  # streams trained per split: pose (the "RGB" stand-in), or pose,flow (adds flow and two-stream rows)
data_root = None  # None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
device = None  # None: the profile's (cpu; cuda under full)
stand_in = None  # allowed: None, tiny
results_dir = None  # None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from actionlib import experiments as ex
from actionlib import paths, profiles, recipes, study
from actionlib.engine.fusion import fuse_scores

NOTEBOOK = "08"
STREAMS = {"pose": "RGB", "flow": "Flow"}
chosen_streams = ex.parse_choices("streams", streams, STREAMS)
if "pose" not in chosen_streams:
    raise ValueError(f"parameter streams: must include pose (the RGB stand-in), got {streams!r}")
chosen_splits = ex.parse_splits(splits)
if chosen_splits is None and profile == "smoke":
    chosen_splits = (1, 2, 3)
cfg = profiles.resolve(profile, splits=chosen_splits, data_root=data_root, weights_dir=weights_dir, device=device)
results = paths.results_dir(results_dir, profile)
runs = paths.repo_root() / "runs" / "notebooks" / NOTEBOOK
cpu_profile = cfg.name != "full"  # the CPU profiles' cells below; under full the thesis protocol runs instead
# Table 4.7's own rows (not the cited ones) and the complexity row of each (None: the thesis counts none), from the
# one table of thesis rows (actionlib.recipes)
SOTA = {r.row: recipes.complexity_id(r) for r in recipes.recipes_for("4.7", dataset="hmdb51")}
cfg

# %% [markdown]
# ## Full profile: the thesis protocol
#
# Under `full`, this cell fine-tunes and tests every row of Table 4.7 (HMDB51 and UCF101, three splits) from
# the public initialisations (`actionlib.recipes`: one training run per stream, split and seed, shared between
# rows; an interrupted run resumes from its last checkpoint; multi-stream rows fuse their streams' scores) and writes
# `08_full_tables` (mean over splits and seeds, beside the thesis) and `08_full_runs`. `stand_in="tiny"`
# replaces every network by a small one of the same kind: the whole protocol in minutes on a CPU, a check of
# the plumbing, not the thesis's numbers. The CPU profiles skip this cell and the full profile skips the CPU cells.

# %%
if not cpu_profile:
    full = study.reproduce_tables(cfg, NOTEBOOK, results, seed=seed, stand_in=stand_in)
    display(full)

# %% [markdown]
# ## Table 4.7: the thesis's results, with our counts of its models

# %%
counts = ex.complexity_rows([i for i in SOTA.values() if i]).set_index("id")
sota = ex.thesis_accuracy("4.7").pivot(index="row", columns="dataset", values="top1").reindex(list(SOTA)).reset_index()
sota = sota.rename(columns={"hmdb51": "thesis_hmdb51_top1", "ucf101": "thesis_ucf101_top1"})
sota["params_m"] = [counts.loc[i, "params_m"] if i else None for i in SOTA.values()]
sota["ops_g"] = [counts.loc[i, "ops_g"] if i else None for i in SOTA.values()]
sota["note"] = ["" if i else "64-frame R(2+1)D-BERT: not in the complexity targets" for i in SOTA.values()]
ex.save_table(sota, results, f"{NOTEBOOK}_table4.7_state_of_the_art", profile=cfg)
sota

# %% [markdown]
# ## Three splits on the synthetic dataset (the protocol of Tables C.3/C.4)

# %%
if cpu_profile:
    rows = []
    for split in cfg.splits:
        scores = {}
        for modality in chosen_streams:
            stream = STREAMS[modality]
            data = ex.cpu_data(cfg, modality=modality, split=split)
            backbone = ex.pretrain(cfg, data, "resnet18", seed=seed)
            heads = [{"row": f"{stream}", "head": "avg"}, {"row": f"{stream} BERT", "head": "bert"}]
            result = ex.run_heads(heads, backbone, data, cfg, runs / f"split{split}", seeds=[seed])
            for head, run in zip(heads, result.itertuples(), strict=True):
                scores[head["row"]], labels = ex.head_scores(run.run_dir, backbone, head, data)
                rows.append({"split": split, "row": head["row"], "bert": "BERT" in head["row"], "modality": modality,
                             **ex.score_summary(scores[head["row"]], labels, data.class_names)})  # fmt: skip
        for suffix in ("", " BERT") if "flow" in chosen_streams else ():
            fused = fuse_scores([scores[f"RGB{suffix}"], scores[f"Flow{suffix}"]], method="l2")
            rows.append({"split": split, "row": f"Two-stream{suffix}", "bert": bool(suffix), "modality": f"{cfg.modality}+flow",
                         **ex.score_summary(fused, labels, data.class_names)})  # fmt: skip
    per_split = pd.DataFrame(rows)
    summary = (
        per_split.groupby(["row", "modality"], sort=False)
        .agg(
            top1=("top1", "mean"),
            top1_std=("top1", "std"),
            top3=("top3", "mean"),
            reversed_pairs=("reversed_pairs", "mean"),
            splits=("split", "count"),
        )
        .reset_index()
    )
    wide = per_split.pivot(index="row", columns="split", values="top1").add_prefix("top1_split")
    summary = summary.merge(wide, left_on="row", right_index=True)
    # the thesis's three-split averages of the corresponding ResNeXt101 rows (Table C.3, HMDB51)
    c3 = ex.thesis_accuracy("C.3").query("split == 'avg3'").set_index("row")["top1"]
    C3_ROWS = {"RGB": "ResNeXt101 RGB 112x112 64f", "Flow": "ResNeXt101 Flow 112x112 64f",
               "Two-stream": "ResNeXt101 Two-Stream 112x112 64f"}  # fmt: skip
    THESIS_C3 = {**{k: c3[v] for k, v in C3_ROWS.items()}, **{f"{k} BERT": c3[f"{v} BERT"] for k, v in C3_ROWS.items()}}
    summary.insert(2, "thesis_top1_resnext101_hmdb51", summary["row"].map(THESIS_C3))
    ex.save_table(summary, results, f"{NOTEBOOK}_tableC.3_three_splits", profile=cfg)
    ex.save_table(per_split, results, f"{NOTEBOOK}_tableC.3_per_split", profile=cfg)
    display(summary)

# %%
if cpu_profile:
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(9, 4))
    shown = per_split.assign(head=per_split["bert"].map({True: "BERT", False: "average (TGAP)"}),
                             stream=per_split["row"].str.replace(" BERT", ""))  # fmt: skip
    sns.pointplot(
        data=shown, x="stream", y="top1", hue="head", errorbar=("pi", 100), dodge=0.3, linestyle="none", ax=ax
    )
    ax.set(ylabel="Top-1 (%), mean and range over splits", xlabel="",
           title=f"Three splits of the synthetic dataset (profile {cfg.name})")  # fmt: skip
    fig.tight_layout()
    (results / "figures").mkdir(exist_ok=True)
    fig.savefig(results / "figures" / f"{NOTEBOOK}_tableC.3_three_splits.png", dpi=120)

# %% [markdown]
# ## Observations (computed)

# %%
if cpu_profile:
    s = summary.set_index("row")
    for stream in [r for r in ("RGB", "Flow", "Two-stream") if r in s.index]:
        gain = s.loc[f"{stream} BERT", "top1"] - s.loc[stream, "top1"]
        thesis_gain = THESIS_C3[f"{stream} BERT"] - THESIS_C3[stream]
        print(f"- {stream}: BERT - average = {gain:+.1f} Top-1 points over {len(cfg.splits)} split(s) (split std "
              f"{s.loc[stream, 'top1_std']:.1f} / {s.loc[f'{stream} BERT', 'top1_std']:.1f}); thesis (ResNeXt101, "
              f"HMDB51) {thesis_gain:+.2f}.")  # fmt: skip
    best = sota.loc[sota["thesis_hmdb51_top1"].idxmax()]
    print(
        f"- Thesis best on HMDB51: {best['row']} ({best['thesis_hmdb51_top1']:.2f} %, UCF101 {best['thesis_ucf101_top1']:.2f} %)."
    )

# %%
if cpu_profile:
    assert per_split["top1"].between(0, 100).all() and not per_split["top1"].isna().any(), per_split
    assert set(per_split["split"]) == set(cfg.splits)
