import math

import numpy as np
import pandas as pd
import pytest

from actionlib.stats import (
    accuracy_interval,
    claims_table,
    mcnemar_exact,
    paired_difference,
    summarize_runs,
    thesis_direction,
    verdict,
    wilson_interval,
)


def exactly(k: int, n: int = 144) -> np.ndarray:
    """A run with k of n videos correct (shuffled, so that pairs of runs disagree on some videos)."""
    v = np.zeros(n, dtype=bool)
    v[:k] = True
    return np.random.default_rng(k).permutation(v)


def simulated_runs(rng, p: float, runs: int, run_sd: float, n: int = 144) -> list[np.ndarray]:
    """Runs whose own accuracy scatters around p (seeds), each scored on n videos."""
    return [rng.random(n) < q for q in np.clip(p + rng.normal(0, run_sd, runs), 0, 1)]


# ---------------------------------------------------------------------------------------------------- accuracy


def test_accuracy_interval_columns_and_mean_over_runs():
    result = accuracy_interval([exactly(72), exactly(86), exactly(100)])
    assert set(result) == {"top1", "top1_ci_low", "top1_ci_high", "top1_std", "n_runs", "n_videos"}
    assert result["top1"] == pytest.approx(100 * (72 + 86 + 100) / 3 / 144)
    assert result["top1_std"] == pytest.approx(np.std(100 * np.array([72, 86, 100]) / 144, ddof=1))
    assert (result["n_runs"], result["n_videos"]) == (3, 144)
    assert result["top1_ci_low"] < result["top1"] < result["top1_ci_high"]


def test_one_run_has_no_spread_and_is_a_bootstrap_over_videos_close_to_wilson():
    run = exactly(86)  # 59.7 %
    result = accuracy_interval(run)
    assert result["n_runs"] == 1 and math.isnan(result["top1_std"])
    assert accuracy_interval([run]) == accuracy_interval(run[None, :]) == result  # list, 2-D array, vector
    low, high = wilson_interval(86, 144)
    assert result["top1_ci_low"] == pytest.approx(low, abs=1.5)
    assert result["top1_ci_high"] == pytest.approx(high, abs=1.5)
    assert 7 < (high - low) / 2 < 8.5  # the noise of 144 test videos


def test_wilson_interval_known_values():
    low, high = wilson_interval(86, 144)
    assert (low, high) == pytest.approx((51.56, 67.38), abs=0.01)
    assert wilson_interval(0, 10)[0] == pytest.approx(0, abs=1e-9)
    assert wilson_interval(10, 10)[1] == pytest.approx(100)
    assert wilson_interval(10, 10)[0] > 65  # informative where the bootstrap collapses to a point
    with pytest.raises(ValueError):
        wilson_interval(5, 0)


def test_interval_covers_the_true_accuracy_in_about_95_percent_of_experiments():
    rng = np.random.default_rng(2024)
    for runs, run_sd in [(1, 0.0), (3, 0.03)]:
        covered = [
            (r := accuracy_interval(simulated_runs(rng, 0.6, runs, run_sd), seed=i))["top1_ci_low"]
            <= 60
            <= r["top1_ci_high"]
            for i in range(300)
        ]
        assert 0.90 <= np.mean(covered) <= 0.99, (runs, run_sd, np.mean(covered))


def test_runs_that_disagree_widen_the_interval_beyond_the_videos_noise():
    apart = accuracy_interval([exactly(58), exactly(86), exactly(115)])  # 40, 60, 80 %
    pooled = accuracy_interval(np.concatenate([exactly(58), exactly(86), exactly(115)]))
    assert apart["top1"] == pytest.approx(pooled["top1"])
    assert apart["top1_ci_high"] - apart["top1_ci_low"] > 2 * (pooled["top1_ci_high"] - pooled["top1_ci_low"])


def test_count_draws_match_resampling_video_indices():
    """The module draws counts; the definition draws video indices. Same distribution of the bootstrap mean."""
    rng = np.random.default_rng(3)
    a = np.array(simulated_runs(rng, 0.6, 3, 0.03), dtype=float)
    b = np.array(simulated_runs(rng, 0.55, 3, 0.03), dtype=float)
    resamples = 5000
    picked = rng.integers(0, 3, (resamples, 3))[..., None]
    videos = rng.integers(0, 144, (resamples, 3, 144))
    by_index = 100 * (a[picked, videos] - b[picked, videos]).mean(-1).mean(-1)
    ours = paired_difference(list(a), list(b), resamples=resamples)
    assert np.quantile(by_index, 0.025) == pytest.approx(ours["ci_low"], abs=1.0)
    assert np.quantile(by_index, 0.975) == pytest.approx(ours["ci_high"], abs=1.0)
    by_index = 100 * a[picked, videos].mean(-1).mean(-1)
    ours = accuracy_interval(list(a), resamples=resamples)
    assert np.quantile(by_index, 0.025) == pytest.approx(ours["top1_ci_low"], abs=1.0)
    assert np.quantile(by_index, 0.975) == pytest.approx(ours["top1_ci_high"], abs=1.0)


def test_same_seed_same_interval_other_seed_other_draws():
    runs = [exactly(72), exactly(86), exactly(100)]
    assert accuracy_interval(runs, seed=7) == accuracy_interval(runs, seed=7)
    assert accuracy_interval(runs, seed=7) != accuracy_interval(runs, seed=8)
    b = [exactly(70), exactly(80), exactly(90)]
    assert paired_difference(runs, b, seed=7) == paired_difference(runs, b, seed=7)


def test_runs_of_different_sizes_are_accepted():
    result = accuracy_interval({1: exactly(90, 150), 2: exactly(80, 140), 3: exactly(85, 145)})
    assert result["n_videos"] == 145 and result["n_runs"] == 3


@pytest.mark.parametrize(
    "bad, message",
    [([], "no runs"), (np.zeros((0, 144)), "no runs"), ({}, "no runs"), (np.array([]), "no test videos"),
     ([exactly(5), np.array([])], "run 1"), ([np.array([0, 1, 2])], "0/1"), ([np.array([0.5, 1.0])], "0/1"),
     ([np.array([np.nan, 1.0])], "0/1")],
)  # fmt: skip
def test_accuracy_interval_refuses_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        accuracy_interval(bad)


# ---------------------------------------------------------------------------------------------------- differences


def test_identical_rows_differ_by_exactly_zero():
    runs = [exactly(72), exactly(86), exactly(100)]
    result = paired_difference(runs, [r.copy() for r in runs])
    assert (result["difference"], result["ci_low"], result["ci_high"]) == (0.0, 0.0, 0.0)
    assert result["mcnemar_p"] == 1.0 and (result["n_runs"], result["n_videos"]) == (3, 144)
    assert verdict(result["ci_low"], result["ci_high"], +1) == "within noise"


def test_a_clear_difference_agrees_or_disagrees_by_the_thesis_direction():
    better = [exactly(115), exactly(118), exactly(112)]  # about 80 %
    worse = [exactly(72), exactly(75), exactly(70)]  # about 50 %
    result = paired_difference(better, worse)
    assert result["difference"] == pytest.approx(100 * (345 - 217) / 3 / 144)
    assert 0 < result["ci_low"] < result["difference"] < result["ci_high"]
    assert result["mcnemar_p"] < 1e-6
    assert verdict(result["ci_low"], result["ci_high"], thesis_direction(85.1, 80.4)) == "agrees"
    assert verdict(result["ci_low"], result["ci_high"], thesis_direction(80.4, 85.1)) == "disagrees"
    assert verdict(result["ci_low"], result["ci_high"], thesis_direction(80.4, 80.4)) == "differs (thesis: equal)"
    flipped = paired_difference(worse, better)
    assert (flipped["ci_low"], flipped["ci_high"]) == pytest.approx((-result["ci_high"], -result["ci_low"]))
    assert verdict(flipped["ci_low"], flipped["ci_high"], -1) == "agrees"


def test_a_small_difference_is_within_noise():
    result = paired_difference([exactly(86)], [exactly(84)])
    assert result["ci_low"] < 0 < result["ci_high"]
    assert verdict(result["ci_low"], result["ci_high"], +1) == "within noise"
    assert verdict(result["ci_low"], result["ci_high"], 0) == "within noise"


def test_verdict_rules_and_direction():
    assert verdict(0.5, 3, +1) == "agrees" and verdict(0.5, 3, -1) == "disagrees"
    assert verdict(-3, -0.5, -1) == "agrees" and verdict(-3, -0.5, +1) == "disagrees"
    assert verdict(0, 3, +1) == "within noise"  # zero on the edge: not excluded
    assert (thesis_direction(53.2, 50.1), thesis_direction(50.1, 53.2), thesis_direction(50.1, 50.1)) == (1, -1, 0)
    with pytest.raises(ValueError):
        verdict(1, 2, 2)
    with pytest.raises(ValueError):
        verdict(math.nan, 2, 1)


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(0, 5) == pytest.approx(0.0625)  # 2 / 2**5
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_mcnemar_pools_the_disagreements_of_all_runs():
    a = [np.array([1, 1, 1, 0]), np.array([1, 1, 0, 0])]
    b = [np.array([0, 0, 1, 0]), np.array([0, 1, 0, 1])]
    result = paired_difference(a, b)
    assert (result["a_only"], result["b_only"]) == (3, 1)
    assert result["mcnemar_p"] == mcnemar_exact(3, 1)


def test_runs_of_different_lengths_name_the_run():
    with pytest.raises(ValueError, match="run 1"):
        paired_difference([exactly(70), exactly(70)], [exactly(70), exactly(70, 140)])
    with pytest.raises(ValueError, match="split 2|'split 2'"):
        paired_difference({"split 1": exactly(70), "split 2": exactly(70)},
                          {"split 1": exactly(70), "split 2": exactly(70, 143)})  # fmt: skip
    with pytest.raises(ValueError, match=r"\[2\]"):
        paired_difference([exactly(70)] * 3, [exactly(70)] * 2)
    with pytest.raises(ValueError, match="no runs"):
        paired_difference([], [])


def test_video_ids_pair_the_same_videos_whatever_their_order():
    ids = [f"v{i}" for i in range(144)]
    a = pd.Series(exactly(86), index=ids)
    b = a.sample(frac=1, random_state=0)  # the same predictions, listed in another order
    result = paired_difference([a], [b])
    assert (result["difference"], result["ci_low"], result["ci_high"]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="different videos"):
        paired_difference([a], [b.rename(index={"v0": "w0"})])


# ---------------------------------------------------------------------------------------------------- tables


def long_table() -> pd.DataFrame:
    rows = {"bert": [115, 118, 112], "pool": [72, 75, 70], "lstm": [114, 119, 111]}
    return pd.DataFrame(
        [{"row": row, "seed": seed, "correct": exactly(k)} for row, ks in rows.items() for seed, k in enumerate(ks)]
    )


def test_summarize_runs_one_line_per_row_in_order():
    table = summarize_runs(long_table(), "row")
    assert list(table["row"]) == ["bert", "pool", "lstm"]
    assert list(table.columns) == ["row", "top1", "top1_ci_low", "top1_ci_high", "top1_std", "n_runs", "n_videos"]
    assert table.loc[1].to_dict() == {"row": "pool", **accuracy_interval([exactly(72), exactly(75), exactly(70)])}
    one_seed = summarize_runs(long_table().query("seed == 0"), ["row"])
    assert one_seed["top1_std"].isna().all() and (one_seed["n_runs"] == 1).all()


def test_claims_table():
    claims = [("BERT beats pooling", "bert", "pool", 75.0, 70.0), ("LSTM beats BERT", "lstm", "bert", 74.0, 73.0)]
    table = claims_table(claims, long_table().sample(frac=1, random_state=1))  # runs pair by seed, not position
    assert list(table.columns) == ["claim", "row_a", "row_b", "thesis_a", "thesis_b", "thesis_difference",
                                   "difference", "ci_low", "ci_high", "seed_ci_low", "seed_ci_high", "mde", "n_runs",
                                   "n_videos", "p_value", "mcnemar_p", "verdict"]  # fmt: skip
    # the second claim's effect (1 point) is far inside an interval of several points: it cannot be resolved here
    assert list(table["verdict"]) == ["agrees", "cannot resolve"]
    assert table.loc[0, "thesis_difference"] == 5.0 and table.loc[0, "n_runs"] == 3
    assert table.loc[0, "difference"] == pytest.approx(100 * (345 - 217) / 3 / 144)


def test_claims_table_names_what_is_missing():
    df = long_table()
    with pytest.raises(ValueError, match="no runs of row 'gru'"):
        claims_table([("c", "bert", "gru", 1.0, 0.0)], df)
    with pytest.raises(ValueError, match=r"seed \[2\]"):
        claims_table([("c", "bert", "pool", 1.0, 0.0)], df.drop(index=5))
    df.at[4, "correct"] = exactly(70, 100)
    with pytest.raises(ValueError, match="claim 'c': run 1"):
        claims_table([("c", "bert", "pool", 1.0, 0.0)], df)


def test_crossed_runs_share_one_draw_of_videos():
    """Runs tested on the same videos: each resample draws the videos once, for every run and both rows, as the
    definition by video indices does; the interval is that of the definition, not of independent draws per run."""
    rng = np.random.default_rng(5)
    easy = rng.random(144) < 0.5  # videos every run finds easy: a shared effect independent draws would not see
    a = np.array([(easy | (rng.random(144) < 0.3)) for _ in range(4)], dtype=float)
    b = np.array([(easy & (rng.random(144) < 0.8)) for _ in range(4)], dtype=float)
    resamples = 4000
    picked = rng.integers(0, 4, (resamples, 4))
    videos = rng.integers(0, 144, (resamples, 1, 144))  # one draw per resample, shared by the runs
    by_index = 100 * (a[picked[..., None], videos] - b[picked[..., None], videos]).mean(-1).mean(-1)
    ours = paired_difference(list(a), list(b), resamples=resamples, populations={r: "split 1" for r in range(4)})
    assert np.quantile(by_index, 0.025) == pytest.approx(ours["ci_low"], abs=0.8)
    assert np.quantile(by_index, 0.975) == pytest.approx(ours["ci_high"], abs=0.8)
    with pytest.raises(ValueError, match="no test-video set given for run"):
        paired_difference(list(a), list(b), populations={0: "split 1"})


def test_run_level_interval_power_and_multiple_testing():
    from actionlib.stats import holm, minimum_detectable, seed_interval, t_quantile

    assert t_quantile(0.975, 4) == pytest.approx(2.7764, abs=1e-4)  # printed t tables
    assert t_quantile(0.975, 30) == pytest.approx(2.0423, abs=1e-4) and t_quantile(0.025, 2) == pytest.approx(
        -4.3027, abs=1e-4
    )
    low, high = seed_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (low + high) / 2 == pytest.approx(3.0) and (high - low) / 2 == pytest.approx(
        2.7764 * np.sqrt(2.5 / 5), abs=1e-3
    )
    assert np.isnan(seed_interval([1.0])).all()
    assert minimum_detectable(1.0) == pytest.approx(1.95996 + 0.84162, abs=1e-4)
    assert holm([0.01, 0.04, 0.03, 0.5]).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert verdict(-3, 5, +1, 1.5) == "cannot resolve" and verdict(-1, 2, +1, 3.0) == "within noise"
    assert verdict(-3, 5, 0, 0.0) == "within noise"  # the thesis found them equal: nothing to resolve
