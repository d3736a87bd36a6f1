"""Intervals for Top-1 accuracy and for paired differences between rows, from per-video correctness.

Input everywhere: for each run (a seed, or a split) a 0/1 vector over its test videos (1 = Top-1 correct). A run may
be a `pd.Series` indexed by video id, so that two rows' runs are paired on the same videos whatever their order.
Several runs are a list (runs paired by position), a dict (runs paired by key, e.g. seed) or a 2-D array (one row
per run). Percentages throughout.

Why a two-level (hierarchical) bootstrap: at this scale the spread between runs comes mostly from the backbone's
initialisation and data order, then the split; re-drawing only the test videos would understate it. Each resample
draws the runs with replacement, then the videos within each drawn run. With one run it is a bootstrap over videos,
and `wilson_interval` is its analytic check. With few runs (3 seeds) the run level is coarse: a bootstrap cannot
know the between-run spread better than 3 draws of it show.

Why counts and not indices: the mean of n videos drawn with replacement from a run with k correct depends only on
how many correct ones it draws, which is Binomial(n, k/n); for a difference A - B, on how many "A right, B wrong"
and "A wrong, B right" videos it draws (a multinomial). Drawing those counts is the same bootstrap, exactly, at a
cost that does not grow with the number of videos (3783 test videos cost what 144 do).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = [
    "accuracy_interval",
    "claims_table",
    "holm",
    "mcnemar_exact",
    "paired_difference",
    "seed_interval",
    "summarize_runs",
    "thesis_direction",
    "verdict",
    "wilson_interval",
]

VERDICTS = ("agrees", "disagrees", "within noise", "cannot resolve", "differs (thesis: equal)")


# ---------------------------------------------------------------------------------------------------- inputs


def _as_vector(values, label: str) -> np.ndarray:
    """One run as a 0/1 float vector; refuses empty runs and anything that is not 0/1."""
    array = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values)
    if array.ndim != 1:
        raise ValueError(f"{label}: expected a 1-D vector of per-video correctness, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{label}: no test videos")
    if array.dtype == object:
        array = array.astype(float)
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{label}: per-video correctness must be 0/1 (or bool), got other values")
    return array.astype(np.float64)


def _runs(correct_by_run, what: str = "correct_by_run") -> dict:
    """Runs as {label: vector or Series}, labels being dict keys or positions; refuses an empty input."""
    if isinstance(correct_by_run, pd.Series) or (isinstance(correct_by_run, np.ndarray) and correct_by_run.ndim == 1):
        correct_by_run = [correct_by_run]  # one run
    if isinstance(correct_by_run, Mapping):
        runs = dict(correct_by_run)
    elif isinstance(correct_by_run, (np.ndarray, Sequence)) and not isinstance(correct_by_run, str):
        runs = dict(enumerate(correct_by_run))
    else:
        raise TypeError(f"{what}: expected a list, dict or array of per-run vectors, got {type(correct_by_run)}")
    if not runs:
        raise ValueError(f"{what}: no runs")
    return runs


def _n_videos(sizes: np.ndarray) -> int:
    """Videos per run (their rounded mean when runs differ, e.g. UCF101's three splits)."""
    return int(round(float(np.mean(sizes))))


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if samples.size == 0:
        raise ValueError("resamples must be at least 1")
    low, high = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


# ---------------------------------------------------------------------------------------------------- accuracy


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (percent) for k correct of n videos: the analytic check for one run.

    Unlike the bootstrap it stays informative at 0 or n correct (the bootstrap interval collapses to a point there).
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def accuracy_interval(correct_by_run, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """Mean Top-1 over runs (%) with its hierarchical-bootstrap interval, the runs' spread and the sizes.

    Keys: `top1`, `top1_ci_low`, `top1_ci_high`, `top1_std` (sample standard deviation across runs; NaN for one
    run, where there is no spread to measure), `n_runs`, `n_videos` (per run). Same inputs and seed, same interval.
    """
    runs = _runs(correct_by_run)
    vectors = [_as_vector(v, f"run {label!r}") for label, v in runs.items()]
    n = np.array([v.size for v in vectors])
    k = np.array([v.sum() for v in vectors])
    accuracy = 100 * k / n
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(n), size=(resamples, len(n)))  # runs, with replacement
    drawn = rng.binomial(n[picked], k[picked] / n[picked])  # correct videos among n drawn with replacement
    low, high = _interval(100 * (drawn / n[picked]).mean(axis=1), confidence)
    return {
        "top1": float(accuracy.mean()),
        "top1_ci_low": low,
        "top1_ci_high": high,
        "top1_std": float(accuracy.std(ddof=1)) if len(n) > 1 else math.nan,
        "n_runs": len(n),
        "n_videos": _n_videos(n),
    }


# ---------------------------------------------------------------------------------------------------- differences


def _paired(label, a, b) -> tuple[np.ndarray, np.ndarray]:
    """A run of A and the same run of B, on the same videos (aligned by video id when both carry them)."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if a.index.has_duplicates or b.index.has_duplicates:
            raise ValueError(f"run {label!r}: repeated video ids")
        if set(a.index) != set(b.index):
            raise ValueError(f"run {label!r}: A and B were tested on different videos")
        b = b.reindex(a.index)
    va, vb = _as_vector(a, f"A, run {label!r}"), _as_vector(b, f"B, run {label!r}")
    if va.size != vb.size:
        raise ValueError(f"run {label!r}: A has {va.size} test videos, B has {vb.size}; a paired test needs the same")
    return va, vb


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test of a_only vs b_only (the disagreements) at 1/2.

    Computed with integers (the same value as `scipy.stats.binomtest(a_only, a_only + b_only).pvalue`).
    """
    if a_only < 0 or b_only < 0:
        raise ValueError(f"counts must be non-negative, got {a_only}, {b_only}")
    m = a_only + b_only
    if m == 0:
        return 1.0
    term = tail = 1  # C(m, 0), then C(m, i) built up term by term
    for i in range(min(a_only, b_only)):
        term = term * (m - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / 2**m)


def _populations(runs: dict, populations) -> dict:
    """Each run's test-video set: `populations[label]` (runs with the same key were tested on the same videos, in
    the same order); None: each run its own set (videos drawn independently per run)."""
    if populations is None:
        return {label: ("run", label) for label in runs}
    missing = [label for label in runs if label not in populations]
    if missing:
        raise ValueError(f"populations: no test-video set given for run(s) {missing}")
    return {label: ("set", populations[label]) for label in runs}


def t_quantile(probability: float, df: int) -> float:
    """Student's t quantile (no SciPy here): bisection on the CDF, integrated with Simpson's rule (error < 1e-8)."""
    if df < 1 or not 0 < probability < 1:
        raise ValueError(f"need df >= 1 and 0 < probability < 1, got df={df}, probability={probability}")
    if probability < 0.5:
        return -t_quantile(1 - probability, df)
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(x: float) -> float:
        grid = np.linspace(0.0, x, 4001)
        density = np.exp(log_norm - (df + 1) / 2 * np.log1p(grid**2 / df))
        h = grid[1] - grid[0]
        return 0.5 + h / 3 * (density[0] + density[-1] + 4 * density[1:-1:2].sum() + 2 * density[2:-1:2].sum())

    low, high = 0.0, 1.0
    while cdf(high) < probability:
        low, high = high, high * 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < probability else (low, middle)
    return (low + high) / 2


def seed_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """A t interval with the run as the unit (per-run values, e.g. each run's A - B): the second view beside the
    bootstrap when runs are few. NaN for one run."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    half = t_quantile((1 + confidence) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


# The difference a claim's test would detect 80 % of the time at the 5 % level (two-sided): (z_0.975 + z_0.8) x the
# bootstrap's standard error.
POWER = 0.8


def minimum_detectable(standard_error: float, confidence: float = 0.95, power: float = POWER) -> float:
    normal = NormalDist()
    return (normal.inv_cdf((1 + confidence) / 2) + normal.inv_cdf(power)) * standard_error


def paired_difference(correct_a_by_run, correct_b_by_run, confidence: float = 0.95, resamples: int = 2000,
                      seed: int = 0, populations=None) -> dict:  # fmt: skip
    """Mean difference A - B in Top-1 (percentage points) over runs, with its paired bootstrap interval.

    A and B must be tested on the same videos in each run; runs pair by position (lists) or by key (dicts). Each
    resample draws the runs with replacement and the test videos with replacement, and uses the same draw for A and
    B, so what the two rows share (the videos' difficulty, the run's backbone) cancels. `populations` ({run: key})
    says which runs were tested on the same videos: those share one draw of videos per resample (a crossed design:
    drawing them independently per run would make the interval too narrow); None draws each run's videos on their
    own.

    Also: `p_value`, the two-sided bootstrap p-value of A - B = 0 (add-one, so never 0); `seed_ci_low`/
    `seed_ci_high`, a t interval over the runs' differences (`seed_interval`); `mde`, the smallest difference this
    design detects with 80 % power (`minimum_detectable`); `mcnemar_p`, the exact McNemar test on the
    disagreements pooled over runs (`a_only` videos only A gets right, `b_only` only B), which ignores the spread
    between runs: an extra column, the verdict reads the interval.
    """
    runs_a, runs_b = _runs(correct_a_by_run, "correct_a_by_run"), _runs(correct_b_by_run, "correct_b_by_run")
    unmatched = [r for r in runs_a if r not in runs_b] + [r for r in runs_b if r not in runs_a]
    if unmatched:
        raise ValueError(f"A and B must have the same runs; run(s) {unmatched} in only one of them")
    labels = list(runs_a)
    pairs = [_paired(label, runs_a[label], runs_b[label]) for label in labels]
    sets = _populations(runs_a, populations)
    n = np.array([a.size for a, _ in pairs])
    for label in labels:
        same = [n[i] for i, other in enumerate(labels) if sets[other] == sets[label]]
        if len(set(same)) > 1:
            raise ValueError(f"run {label!r}: runs said to share test videos have {sorted(set(same))} videos")
    a_only = np.array([((a == 1) & (b == 0)).sum() for a, b in pairs])
    b_only = np.array([((a == 0) & (b == 1)).sum() for a, b in pairs])
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(labels), size=(resamples, len(labels)))
    if populations is None:  # each drawn run draws its own videos: counts (module docstring)
        size, p_a, p_b = n[picked], a_only[picked] / n[picked], b_only[picked] / n[picked]
        drawn_a = rng.binomial(size, p_a)  # the multinomial draw of (a_only, b_only, agree), one count at a time
        rest = np.where(p_a < 1, p_b / np.where(p_a < 1, 1 - p_a, 1), 0.0)
        drawn_b = rng.binomial(size - drawn_a, np.clip(rest, 0.0, 1.0))
        replicates = 100 * ((drawn_a - drawn_b) / size).mean(axis=1)
    else:  # one draw of each set's videos per resample, shared by every run tested on it and by A and B
        weights = {}
        for label, (a, _) in zip(labels, pairs, strict=True):
            if sets[label] not in weights:
                weights[sets[label]] = rng.multinomial(a.size, np.full(a.size, 1 / a.size), size=resamples)
        per_run = np.stack(
            [weights[sets[label]] @ (a - b) / a.size for label, (a, b) in zip(labels, pairs, strict=True)], axis=1
        )  # (resamples, runs): each run's A - B on the drawn videos
        replicates = 100 * np.take_along_axis(per_run, picked, axis=1).mean(axis=1)
    low, high = _interval(replicates, confidence)
    below, above = int((replicates <= 0).sum()), int((replicates >= 0).sum())
    differences = 100 * (a_only - b_only) / n
    seed_low, seed_high = seed_interval(differences, confidence)
    return {
        "difference": float(differences.mean()),
        "ci_low": low,
        "ci_high": high,
        "seed_ci_low": seed_low,
        "seed_ci_high": seed_high,
        "mde": float(minimum_detectable(replicates.std(ddof=1), confidence)),
        "p_value": min(1.0, (2 * min(below, above) + 1) / (resamples + 1)),
        "n_runs": len(n),
        "n_videos": _n_videos(n),
        "a_only": int(a_only.sum()),
        "b_only": int(b_only.sum()),
        "mcnemar_p": mcnemar_exact(int(a_only.sum()), int(b_only.sum())),
    }


def thesis_direction(thesis_a: float, thesis_b: float) -> int:
    """+1 when the thesis found A > B, -1 when A < B, 0 when it reports them equal."""
    return int(np.sign(thesis_a - thesis_b))


def verdict(low: float, high: float, thesis_direction: int, thesis_difference: float | None = None) -> str:
    """What our interval of A - B says of the thesis's claim.

    "agrees" / "disagrees": the interval excludes zero on the thesis's side / the other side. An interval that
    contains zero says "cannot resolve" when it is wider than the thesis's effect (its half-width above
    |`thesis_difference`|: even a result equal to the thesis's would not have excluded zero), else "within noise"
    (the experiment could have seen the thesis's effect and did not). When the thesis reports A and B equal
    (direction 0), an interval excluding zero gives "differs (thesis: equal)" rather than a yes/no: we found a
    difference the thesis did not.
    """
    if thesis_direction not in (-1, 0, 1):
        raise ValueError(f"thesis_direction must be -1, 0 or +1, got {thesis_direction}")
    if math.isnan(low) or math.isnan(high) or low > high:
        raise ValueError(f"not an interval: [{low}, {high}]")
    if low <= 0 <= high:
        effect = abs(thesis_difference) if thesis_difference is not None else math.nan
        return "cannot resolve" if thesis_direction and (high - low) / 2 > effect else "within noise"
    if thesis_direction == 0:
        return "differs (thesis: equal)"
    return "agrees" if (1 if low > 0 else -1) == thesis_direction else "disagrees"


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (each compared at the family's 5 % level)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


# ---------------------------------------------------------------------------------------------------- tables


def summarize_runs(df: pd.DataFrame, by, correct_column: str = "correct", confidence: float = 0.95,
                   resamples: int = 2000, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """One line per group of a long table (one line per row and run, per-video correctness in `correct_column`),
    with `accuracy_interval`'s columns; groups keep their order of appearance."""
    by = [by] if isinstance(by, str) else list(by)
    if df.empty:
        raise ValueError("no runs to summarize")
    lines = []
    for key, group in df.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        stats = accuracy_interval(list(group[correct_column]), confidence, resamples, seed)
        lines.append({**dict(zip(by, key, strict=True)), **stats})
    return pd.DataFrame(lines)


def claims_table(claims, df: pd.DataFrame, row_column: str = "row", run_column: str = "seed",
                 correct_column: str = "correct", confidence: float = 0.95, resamples: int = 2000,
                 seed: int = 0, population_column: str | None = None) -> pd.DataFrame:  # fmt: skip
    """The thesis's claims `(name, row_a, row_b, thesis_a, thesis_b)` tested on a long table (as `summarize_runs`).

    Runs of the two rows pair by `run_column` (seed or split); a run one row lacks is an error naming it.
    `population_column` (e.g. the split) names each run's test videos: runs with the same value were tested on the
    same videos, and the bootstrap draws them once for all (`paired_difference`'s `populations`).
    """
    lines = []
    for name, row_a, row_b, thesis_a, thesis_b in claims:
        sides, populations = [], {}
        for row in (row_a, row_b):
            part = df[df[row_column] == row]
            if part.empty:
                raise ValueError(f"claim {name!r}: no runs of row {row!r}")
            if part[run_column].duplicated().any():
                raise ValueError(f"claim {name!r}: row {row!r} has several lines for one {run_column}")
            sides.append(dict(zip(part[run_column], part[correct_column], strict=True)))
            if population_column is not None:
                populations.update(zip(part[run_column], part[population_column], strict=True))
        runs_a, runs_b = sides
        unmatched = sorted(set(runs_a) ^ set(runs_b), key=str)
        if unmatched:
            raise ValueError(f"claim {name!r}: {run_column} {unmatched} run for only one of {row_a!r}, {row_b!r}")
        try:
            result = paired_difference(runs_a, {r: runs_b[r] for r in runs_a}, confidence, resamples, seed,
                                       populations if population_column is not None else None)  # fmt: skip
        except ValueError as error:
            raise ValueError(f"claim {name!r}: {error}") from error
        direction = thesis_direction(thesis_a, thesis_b)
        lines.append({
            "claim": name, "row_a": row_a, "row_b": row_b, "thesis_a": thesis_a, "thesis_b": thesis_b,
            "thesis_difference": thesis_a - thesis_b,
            **{k: result[k] for k in ("difference", "ci_low", "ci_high", "seed_ci_low", "seed_ci_high", "mde",
                                      "n_runs", "n_videos", "p_value", "mcnemar_p")},
            "verdict": verdict(result["ci_low"], result["ci_high"], direction, thesis_a - thesis_b),
        })  # fmt: skip
    return pd.DataFrame(lines, columns=CLAIM_COLUMNS)


CLAIM_COLUMNS = ["claim", "row_a", "row_b", "thesis_a", "thesis_b", "thesis_difference", "difference", "ci_low",
                 "ci_high", "seed_ci_low", "seed_ci_high", "mde", "n_runs", "n_videos", "p_value", "mcnemar_p",
                 "verdict"]  # fmt: skip
