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
# # NN: Thesis Table X.Y, <what it compares>
#
# Copy this file to `notebooks/NN_short_name.py` (NN = two digits); `actionlib reproduce` runs every
# `notebooks/NN_*.py`, this `_template.py` is skipped. Say here which table/figure of the thesis this
# reproduces (page), what the profiles change (`test`: seconds, `smoke`: CPU minutes on synthetic data,
# `full`: the thesis protocol on GPUs) and how to read the result.
#
# Conventions, checked by `actionlib reproduce` before any kernel starts:
# - the `parameters` cell holds literals only (papermill injects its values *after* it, so derived values
#   belong in the next cell); every value given with `-p NAME=VALUE` must have the default's type;
# - `profile` must be one of `actionlib.profiles.PROFILES`;
# - a comment `# allowed: a, b, c` restricts a parameter to those values (Python literals; bare words are
#   strings);
# - None means "the profile's value"; under `full`, `data_root`/`weights_dir` (and the checkpoints listed
#   for this notebook in `actionlib.profiles.NEEDS`) must exist;
# - outputs: `results/tables/NN_*.md` (+ a `.csv` twin) and `results/figures/NN_*.png`, named with this
#   notebook's number so that `results/README.md` lists them under it.

# %% tags=["parameters"]
profile: str = "smoke"  # test | smoke | cpu | full (checked against actionlib.profiles.PROFILES)
seed: int = 0
head: str = "bert"  # allowed: bert, avg, lstm
epochs = None  # type: Optional[int] None: the profile's
data_root = None  # type: Optional[str] None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # type: Optional[str] None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
results_dir = None  # type: Optional[str] None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %%
from actionlib import paths, profiles

NOTEBOOK = "00"  # CHANGE to this file's number NN: the prefix of every table and figure it writes
cfg = profiles.resolve(profile, epochs=epochs, data_root=data_root, weights_dir=weights_dir)
results = paths.results_dir(results_dir, profile)
(results / "tables").mkdir(exist_ok=True)
(results / "figures").mkdir(exist_ok=True)
cfg

# %% [markdown]
# ## Experiment
#
# Replace this cell with the real work (models from `actionlib.models`, training from `actionlib.engine`),
# sized by `cfg`.

# %%
import pandas as pd

table = pd.DataFrame(
    {"head": [head], "frames": [cfg.frames], "epochs": [cfg.epochs], "seed": [seed], "accuracy": [0.5]}
)
table.to_csv(results / "tables" / f"{NOTEBOOK}_example.csv", index=False)
(results / "tables" / f"{NOTEBOOK}_example.md").write_text(table.to_markdown(index=False) + "\n")
table

# %% [markdown]
# ## Checks
#
# Fail loudly: under `full` compare with the thesis's numbers (with tolerances); under `smoke`/`test` check
# invariants (shapes, no NaN, 0 <= accuracy <= 1, exact parameter/operation counts). Print before asserting
# so that the executed notebook shows what differed.

# %%
print(table)
assert table["accuracy"].between(0, 1).all(), "accuracy outside [0, 1]"
assert not table.isna().any().any(), "NaN in the table"
