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
# `notebooks/NN_*.py`, this `_template.py` is skipped. A notebook is narrative, its parameters and one study call:
# its thesis tables are the records of `actionlib.recipes.TABLES` whose `notebook` is NN (their rows in
# `recipes.RECIPES`, their claims in the record), and `study.notebook` plans, runs, tests and writes them under
# every profile. Say here which table of the thesis this reproduces (page), what it asks, and how to
# read the result.
#
# Conventions, checked by `actionlib reproduce` before any kernel starts:
# - the `parameters` cell holds literals only (papermill injects its values *after* it); every value given with
#   `-p NAME=VALUE` must have the default's type;
# - `profile` must be one of `actionlib.profiles.PROFILES`;
# - a comment `# allowed: a, b, c` restricts a parameter to those values (Python literals; bare words are
#   strings);
# - None means "the profile's value"; a profile that reads the dataset's files (`full`, `tiny`) needs `data_root`
#   (and, for `full`, `weights_dir` with the checkpoints the rows read);
# - outputs: `results/tables/NN_*.md` (+ a `.csv` twin) and `results/figures/NN_*.png`, named with this
#   notebook's number so that `results/README.md` lists them under it.

# %% tags=["parameters"]
profile: str = "smoke"  # test | smoke | cpu | full | tiny
seed: int = 0
data_root = None  # type: Optional[str] None: the profile's ($ACTIONLIB_DATA or data/ under full)
weights_dir = None  # type: Optional[str] None: the profile's ($ACTIONLIB_WEIGHTS or weights/ under full)
splits = None  # type: Optional[str] comma-separated subset of 1,2,3; None: the profile's
device = None  # type: Optional[str] None: the profile's (cpu; cuda under full)
results_dir = None  # type: Optional[str] None: scratch/results/<profile>, or $ACTIONLIB_RESULTS (make reproduce: results/)

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from actionlib import study

NOTEBOOK = "NN"  # CHANGE to this file's number: its tables' `notebook` and the prefix of its files

# %% [markdown]
# ## Table X.Y

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
nb.show("X.Y")

# %% [markdown]
# ## The thesis's claims, tested
#
# Each claim of these tables' records (`recipes.Claim`): the paired difference A - B on the same test videos of the same
# runs, with its interval and verdict (empty where no claim uses them).

# %%
nb.show_claims()

# %% [markdown]
# ## Observations (computed)
#
# Sentences built from the numbers above, never typed: they must follow the tables on every profile.

# %%
notes = [study.ordering_note(table, f"Table {t}") for t, table in nb.tables.items()]
notes += study.claim_sentences(nb.claims)
display(Markdown("\n".join(f"- {n}" for n in notes if n)))

# %% tags=["remove-input"]
for table in nb.tables.values():  # checks: fail loudly, on every profile
    ran = table[table["status"] == "run"]
    assert ran["top1"].between(0, 100).all(), table
