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
# Appendix C.1 repeats every model under the four test protocols: a single centred clip or non-overlapping
# clips covering the video, times the centre crop or ten crops (five crops and their mirror images).
#
# **What the profiles run.** `smoke` (CPU, default): the CPU 3D network (`ex.small_3d`: ResNeXt blocks, one per
# stage, 16 base channels, 32-frame clips) trained end to end with temporal global average pooling (TGAP), once
# on the pose frames (the CPU profile's "RGB" stand-in, see notebook 01) and once on the synthetic TV-L1 flow;
# both are tested under the four protocols, and their scores fused. These trained networks are the frozen
# backbones of notebooks 05-07. I3D is not trained on CPU: its rows show the thesis only. `full`: the thesis protocol (below).

# %% tags=["parameters"]
profile = "smoke"  # test | smoke | full
seed = 0
epochs = None  # None: the CPU 3D network's (8 under smoke, see ex.small_3d)
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
from actionlib.engine.evaluate import PROTOCOLS
from actionlib.engine.fusion import fuse_scores

NOTEBOOK = "03"
cfg = profiles.resolve(
    profile, data_root=data_root, weights_dir=weights_dir, splits=ex.parse_splits(splits), device=device
)
results = paths.results_dir(results_dir, profile)
cpu_profile = cfg.name != "full"  # the CPU profiles' cells below; under full the thesis protocol runs instead
network = {**ex.small_3d(cfg), **({"epochs": epochs} if epochs else {})}
# Appendix C.1, ResNeXt101 rows (HMDB51 split 1, Top-1 %), protocol by protocol, as printed in the thesis.
thesis_c1 = ex.thesis_accuracy("C.1").set_index(["row", "protocol"])["top1"]
C1_ROWS = {"RGB": "ResNeXt101 RGB 112x112 64f", "Flow": "ResNeXt101 Flow 112x112 64f",
           "Two-Stream": "ResNeXt101 Two-stream 112x112 64f"}  # fmt: skip
network

# %% [markdown]
# ## Full profile: the thesis protocol
#
# Under `full`, this cell fine-tunes and tests every row of Table 3.9 (and C.1: all four test protocols) from
# the public initialisations (`actionlib.recipes`: one training run per stream, split and seed, shared between rows; an interrupted run
# resumes from its last checkpoint; multi-stream rows fuse their streams' scores) and writes
# `03_full_tables` (mean over splits and seeds, beside the thesis) and `03_full_runs`. `stand_in="tiny"`
# replaces every network by a small one of the same kind: the whole protocol in minutes on a CPU, a check of
# the plumbing, not the thesis's numbers. The CPU profiles skip this cell and the full profile skips the CPU cells.

# %%
if not cpu_profile:
    full = study.reproduce_tables(cfg, NOTEBOOK, results, seed=seed, stand_in=stand_in, protocols=list(PROTOCOLS))
    display(full)

# %% [markdown]
# ## Training the two streams
#
# Cached under `runs/backbones/` (notebooks 05-07 reuse them). The flow is computed once (`ex.ensure_flow`).

# %%
if cpu_profile:
    streams = {"RGB": ex.cpu_data(cfg), "Flow": ex.cpu_data(cfg, modality="flow")}
    trained = {name: ex.pretrain(cfg, data, **network, head="tgap", seed=seed) for name, data in streams.items()}
    for name, run in trained.items():
        print(f"{name} ({run['modality']}): best epoch {run['best_epoch']}, {run['seconds']:.0f} s")

# %% [markdown]
# ## Table C.1: four test protocols, and Table 3.9
#
# Each network's own TGAP classifier scores every view of a test video; the views' logits are averaged. The two
# streams are fused late (L2-normalised logits summed).

# %%
if cpu_profile:
    rows = []
    for protocol in PROTOCOLS:
        scores = {}
        for name, run in trained.items():
            scores[name], labels = ex.head_scores(
                run["checkpoint"].rsplit("/", 1)[0], run, {"head": "tgap"}, streams[name], protocol
            )
        scores["Two-Stream"] = fuse_scores([scores["RGB"], scores["Flow"]], method="l2")
        for name, score in scores.items():
            summary = ex.score_summary(score, labels, streams["RGB"].class_names)
            rows.append(
                {"stream": name, "protocol": protocol, **summary, "thesis_top1": thesis_c1[C1_ROWS[name], protocol]}
            )
    protocols = pd.DataFrame(rows)
    protocols["modality"] = protocols["stream"].map({"RGB": streams["RGB"].modality, "Flow": "flow",
                                                     "Two-Stream": f"{streams['RGB'].modality}+flow"})  # fmt: skip
    protocols = protocols[["stream", "modality", "protocol", "thesis_top1", "top1", "top3", "reversed_pairs"]]
    ex.save_table(protocols, results, f"{NOTEBOOK}_tableC.1_protocols", profile=cfg)
    display(protocols)

# %%
if cpu_profile:
    main = protocols[protocols["protocol"] == "multi-ten"].assign(row=lambda d: "ResNeXt101 " + d["stream"])
    table = ex.compare_with_thesis("3.9", main[["row", "modality", "top1", "top3", "reversed_pairs"]])
    table = ex.with_rows_not_run(table, "3.9")  # the I3D rows
    table["status"] = (
        table["top1"]
        .notna()
        .map({True: "trained on CPU (small ResNeXt3D)", False: "not trained on CPU (thesis value only)"})
    )
    table = table[["row", "modality", "thesis_top1", "top1", "difference", "top3", "reversed_pairs", "status"]]
    ex.save_table(table, results, f"{NOTEBOOK}_table3.9_two_stream", profile=cfg)
    display(table)

# %%
if cpu_profile:
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.barplot(data=protocols, x="stream", y="top1", hue="protocol", ax=ax)
    ax.set(ylabel="Top-1 (%)", xlabel="", title=f"Table C.1 on the synthetic dataset (profile {cfg.name})")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    (results / "figures").mkdir(exist_ok=True)
    fig.savefig(results / "figures" / f"{NOTEBOOK}_tableC.1_protocols.png", dpi=120)

# %% [markdown]
# ## Observations (computed)

# %%
if cpu_profile:
    pivot = protocols.pivot(index="stream", columns="protocol", values="top1")
    best_protocol = pivot.idxmax(axis=1)
    thesis_multi_ten = ", ".join(f"{thesis_c1[row, 'multi-ten']:.2f}" for row in C1_ROWS.values())
    print(f"- Multi-ten Top-1: RGB stand-in {pivot.loc['RGB', 'multi-ten']:.1f} %, flow {pivot.loc['Flow', 'multi-ten']:.1f} %, "
          f"two-stream {pivot.loc['Two-Stream', 'multi-ten']:.1f} % (thesis: {thesis_multi_ten}).")  # fmt: skip
    gain = pivot.loc["Two-Stream"] - pivot.loc[["RGB", "Flow"]].max()
    print(
        f"- Two-stream minus the better single stream, per protocol: {', '.join(f'{p} {v:+.1f}' for p, v in gain.items())}."
    )
    print(f"- Best protocol per stream: {', '.join(f'{s}: {p}' for s, p in best_protocol.items())}; spread across protocols "
          f"{', '.join(f'{s} {v:.1f}' for s, v in (pivot.max(axis=1) - pivot.min(axis=1)).items())} points "
          "(thesis: at most 1.3 points).")  # fmt: skip

# %%
if cpu_profile:
    assert protocols["top1"].between(0, 100).all() and not protocols["top1"].isna().any(), protocols
    assert len(protocols) == 3 * len(PROTOCOLS)
