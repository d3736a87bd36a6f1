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
# # 07: Distilling the flow stream into the RGB stream (Tables 5.1 and 5.2)
#
# Chapter 5 of the thesis trains an RGB ResNeXt101-BERT student with an extra loss (Eq. 5.1): the mean squared
# error between the student's L2-normalised BERT outputs and a frozen flow teacher's L2-normalised features before
# its BERT, weighted by λ. Table 5.1 picks λ on HMDB51 split 1 (25k to 500k; 100k-ish is best); Table 5.2 compares
# BERT distillation with MARS (which matches the pooled features of the whole network).
#
# **What the profiles run.** `smoke` (CPU, default): the frozen CPU 3D networks of notebook 03 (`ex.small_3d`,
# pose frames as the "RGB" stand-in, and flow). The teacher is a BERT head trained on the flow network's
# features; each student is a BERT head on the pose network's features, trained with cross-entropy plus λ times
# the distillation term on the same clips (same frames and flips for both streams). With a frozen student
# backbone only the head can follow the teacher: the thesis fine-tunes the whole student. MARS distils into the
# backbone's pooled features, which a frozen backbone cannot change, so its rows are not run on CPU; nor are the
# FRAB rows (the CPU network is already 512 channels wide) or the R(2+1)D teacher (not trained on CPU). `full`:
# the thesis protocol (below).

# %% tags=["parameters"]
profile = "smoke"  # test | smoke | full
seed = 0
repeats = None  # seeds per student; None: the profile's (1 under smoke)
lambdas = "25000,50000,100000,250000,500000"  # Table 5.1's weights, comma-separated
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

NOTEBOOK = "07"
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
try:
    weights = [float(x) for x in lambdas.split(",") if x.strip()]
except ValueError as err:
    raise ValueError(f"parameter lambdas: comma-separated numbers (e.g. 25000,100000), got {lambdas!r}") from err
if not weights or min(weights) <= 0:
    raise ValueError(f"parameter lambdas: at least one positive weight, got {lambdas!r}")
network = ex.small_3d(cfg)
cfg

# %% [markdown]
# ## Full profile: the thesis protocol
#
# Under `full`, this cell fine-tunes and tests every row of Table 5.1 and 5.2 from the public initialisations
# (`actionlib.recipes`: one training run per stream, split and seed, shared between rows; an interrupted run
# resumes from its last checkpoint; multi-stream rows fuse their streams' scores) and writes
# `07_full_tables` (mean over splits and seeds, beside the thesis) and `07_full_runs`. `stand_in="tiny"`
# replaces every network by a small one of the same kind: the whole protocol in minutes on a CPU, a check of
# the plumbing, not the thesis's numbers. The CPU profiles skip this cell and the full profile skips the CPU cells.

# %%
if not cpu_profile:
    full = study.reproduce_tables(cfg, NOTEBOOK, results, seed=seed, stand_in=stand_in)
    display(full)

# %%
if cpu_profile:
    pose, flow = ex.cpu_data(cfg), ex.cpu_data(cfg, modality="flow")
    student_backbone = ex.pretrain(cfg, pose, **network, head="tgap", seed=seed)
    teacher = {
        "backbone": ex.pretrain(cfg, flow, **network, head="tgap", seed=seed),
        "data": flow,
        "row": {"row": "Flow-ResNeXt101-BERT-FRMB (teacher)", "head": "bert"},
    }

    def label(weight):
        return f"lambda {weight / 1000:g}k"

    rows = [{"row": "RGB-ResNeXt101-BERT-FRMB no distillation", "head": "bert"}]
    rows += [{"row": label(w), "head": "bert", "distill": "bert", "distill_weight": w} for w in weights]
    student_runs = ex.run_heads(rows, student_backbone, pose, cfg, runs, seeds=seeds, teacher=teacher)
    teacher_run = ex.run_heads([teacher["row"]], teacher["backbone"], flow, cfg, runs, seeds=seeds[:1])
    tgap_run = ex.run_heads([{"row": "RGB-ResNeXt101 no distillation", "head": "tgap"}], student_backbone, pose, cfg,
                            runs, seeds=seeds)  # fmt: skip
    students = ex.mean_over_seeds(pd.concat([student_runs, tgap_run], ignore_index=True))
    students["lambda"] = [
        next((r.get("distill_weight", 0) for r in rows if r["row"] == name), 0) for name in students["row"]
    ]

# %% [markdown]
# ## Table 5.1: choosing λ

# %%
if cpu_profile:
    lam = ex.compare_with_thesis("5.1", students[students["row"].str.startswith("lambda")].copy())
    lam = lam[["row", "lambda", "modality", "thesis_top1", "top1", "top1_std", "seeds", "difference", "thesis_rank",
               "our_rank", "top3", "reversed_pairs"]]  # fmt: skip
    ex.save_table(lam, results, f"{NOTEBOOK}_table5.1_lambda", profile=cfg)
    display(lam)

# %% [markdown]
# ## Table 5.2: distillation against no distillation
#
# The distilled row uses the λ with the best Top-1 in Table 5.1 here (the thesis, too, picks λ on split 1's test).

# %%
if cpu_profile:
    chosen = float(lam.loc[lam["top1"].idxmax(), "lambda"])
    distilled = students[students["lambda"] == chosen].assign(
        row="RGB-ResNeXt101-BERT-FRMB <- Flow-ResNeXt101-BERT-FRMB"
    )
    others = students[
        students["row"].isin(["RGB-ResNeXt101-BERT-FRMB no distillation", "RGB-ResNeXt101 no distillation"])
    ]
    compared = ex.compare_with_thesis("5.2", pd.concat([others, distilled], ignore_index=True))
    table = ex.with_rows_not_run(compared, "5.2")
    table["status"] = table["top1"].notna().map({True: "trained on CPU (frozen 3D network)", False: "not run on CPU"})
    teacher_top1 = teacher_run["top1"].iloc[0]
    table = table[["row", "lambda", "thesis_top1", "top1", "top1_std", "seeds", "difference", "top3", "reversed_pairs",
                   "status"]]  # fmt: skip
    ex.save_table(table, results, f"{NOTEBOOK}_table5.2_distillation", profile=cfg)
    print(f"teacher (flow BERT head): test Top-1 {teacher_top1:.1f} %")
    display(table)

# %%
if cpu_profile:
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(8, 3.8))
    shown = pd.concat([student_runs, tgap_run], ignore_index=True)
    shown = shown[shown["row"].str.startswith("lambda") | shown["row"].str.contains("BERT-FRMB no")]
    shown = shown.assign(
        student=shown["row"].str.replace("RGB-ResNeXt101-BERT-FRMB no distillation", "no distillation")
    )
    sns.pointplot(data=shown, x="student", y="top1", errorbar=("pi", 100), linestyle="none", ax=ax)
    ax.axhline(teacher_top1, color="grey", ls="--", lw=1, label="flow teacher")
    ax.set(
        ylabel="Top-1 (%)", xlabel="", title=f"Table 5.1: BERT distillation weight ({cfg.name}, {len(seeds)} seed(s))"
    )
    ax.legend()
    fig.tight_layout()
    (results / "figures").mkdir(exist_ok=True)
    fig.savefig(results / "figures" / f"{NOTEBOOK}_table5.1_lambda.png", dpi=120)

# %% [markdown]
# ## Observations (computed)

# %%
if cpu_profile:
    base = students.set_index("row").loc["RGB-ResNeXt101-BERT-FRMB no distillation"]
    best = lam.loc[lam["top1"].idxmax()]
    thesis_best = lam.loc[lam["thesis_top1"].idxmax()]
    print(f"- Without distillation: {base['top1']:.1f} % (std {base['top1_std']:.1f}); best λ here {best['row']} "
          f"({best['top1']:.1f} %, {best['top1'] - base['top1']:+.1f}); thesis best {thesis_best['row']} "
          f"({thesis_best['thesis_top1']:.2f} % on split 1).")  # fmt: skip
    print(f"- Teacher (flow) {teacher_top1:.1f} % vs student without distillation {base['top1']:.1f} %: "
          + ("the teacher is stronger, so there is something to distil." if teacher_top1 > base["top1"] else
             "the teacher is not stronger than the student here."))  # fmt: skip
    print(f"- Spread of Top-1 over λ: {lam['top1'].max() - lam['top1'].min():.1f} points; largest seed std "
          f"{lam['top1_std'].max():.1f}.")  # fmt: skip

# %%
if cpu_profile:
    assert lam["top1"].between(0, 100).all() and not lam["top1"].isna().any(), lam
    assert table["top1"].dropna().between(0, 100).all(), table
