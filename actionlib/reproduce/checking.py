"""`actionlib reproduce --check`: rerun a profile into a scratch folder of its own and compare the fresh results
with the committed ones (the comparison itself is actionlib.recheck).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .. import recheck
from ..paths import PUBLISHED_PROFILE, RUNS_ENV, repo_root, results_dir
from .execution import run
from .parameters import ParameterError


def check(profile: str = PUBLISHED_PROFILE, reference: str | os.PathLike | None = None, **run_options):
    """Rerun `profile` from scratch and compare it with `reference` (default: the folder `run` publishes the
    profile to, <repo>/results for the default one): returns (statuses, report path, summary lines, whether every
    committed verdict held).

    The rerun gets a folder of its own, <repo>/scratch/check/<time>/, with its own runs (nothing cached is
    reused: every network and head trains again) and results; the committed ones are only read. The generated
    data (<repo>/data) is shared: it is made by seeded code, and the check is about training.
    """
    reference = Path(reference).resolve() if reference not in (None, "") else results_dir(profile=profile, publish=True)
    if not any((reference / "tables").glob("*.csv")):
        raise ParameterError(f"{reference}: no results tables to check against; run `actionlib reproduce` first "
                             "or pass the folder with --results")  # fmt: skip
    base = repo_root() / "scratch" / "check"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    scratch = base / stamp
    for n in range(2, 100):
        if not scratch.exists():
            break
        scratch = base / f"{stamp}-{n}"
    scratch.mkdir(parents=True)
    before = os.environ.get(RUNS_ENV)
    os.environ[RUNS_ENV] = str(scratch / "runs")  # the kernels inherit it (paths.runs_dir)
    try:
        statuses = run(profile, results=scratch / "results", **run_options)
    finally:
        if before is None:
            os.environ.pop(RUNS_ENV, None)
        else:
            os.environ[RUNS_ENV] = before
    numbers = recheck.compare_numbers(reference, scratch / "results")
    verdicts = recheck.compare_verdicts(reference, scratch / "results")
    report = recheck.write_report(numbers, verdicts, scratch, reference, scratch / "results")
    # `make replicate` copies it into results/tables when the rerun drew new seeds
    recheck.replication(verdicts, reference, scratch / "results").to_csv(scratch / "replication.csv", index=False)
    return statuses, report, recheck.summary_lines(numbers, verdicts), bool(verdicts["holds"].eq(True).all())
