"""Bootstrap intervals, paired tests and verdicts (augmentlab.core.stats)."""

from __future__ import annotations

import numpy as np
import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.stats import bootstrap_ci, compare, paired_bootstrap_ci, paired_test, verdict


def test_bootstrap_ci_contains_mean_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 1, size=40)
    a = bootstrap_ci(values, seed=3)
    b = bootstrap_ci(values, seed=3)
    assert a == b
    assert a.low < a.mean < a.high
    assert a.mean == pytest.approx(values.mean())
    # A different seed moves the ends a little, never the mean.
    c = bootstrap_ci(values, seed=4)
    assert c.mean == a.mean and (c.low, c.high) != (a.low, a.high)


def test_bootstrap_ci_covers_true_mean_most_of_the_time() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for seed in range(100):
        sample = rng.normal(0.5, 0.2, size=30)
        hits += bootstrap_ci(sample, seed=seed, n_resamples=1000).contains(0.5)
    assert 85 <= hits <= 100


def test_bootstrap_ci_narrows_with_more_data() -> None:
    rng = np.random.default_rng(2)
    small = bootstrap_ci(rng.uniform(size=10))
    large = bootstrap_ci(rng.uniform(size=400))
    assert (large.high - large.low) < (small.high - small.low)


def test_degenerate_inputs() -> None:
    one = bootstrap_ci([0.7])
    assert (one.low, one.mean, one.high) == (0.7, 0.7, 0.7)
    with pytest.raises(AugmentlabError, match="empty"):
        bootstrap_ci([])
    with pytest.raises(AugmentlabError, match="NaN"):
        bootstrap_ci([0.1, float("nan")])
    with pytest.raises(AugmentlabError, match="equal lengths"):
        paired_test([0.1, 0.2], [0.3])


def test_paired_bootstrap_uses_pairs() -> None:
    # b = a - 0.1 exactly: unpaired intervals overlap heavily, the paired one is a point.
    rng = np.random.default_rng(5)
    a = rng.uniform(0.2, 1.0, size=25)
    b = a - 0.1
    diff = paired_bootstrap_ci(a, b)
    assert diff.mean == pytest.approx(0.1)
    assert diff.low == pytest.approx(0.1) and diff.high == pytest.approx(0.1)


def test_paired_test_wilcoxon_detects_shift() -> None:
    rng = np.random.default_rng(7)
    b = rng.uniform(0.2, 0.8, size=30)
    a = b + rng.normal(0.08, 0.03, size=30)
    result = paired_test(a, b)
    assert result.method == "wilcoxon"
    assert result.p_value < 0.001


def test_paired_test_falls_back_for_tiny_and_identical() -> None:
    same = paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same.method == "identical" and same.p_value == 1.0
    tiny = paired_test([0.9, 0.8, 0.7, 0.95], [0.1, 0.2, 0.1, 0.3])
    assert tiny.method == "permutation-exact"
    # 4 pairs, all positive: the exact two-sided p is 2/16.
    assert tiny.p_value == pytest.approx(2 / 16)


def test_permutation_matches_hand_computed_p() -> None:
    # diffs (+1, +1, -1): |mean| = 1/3; sign flips with |mean| >= 1/3: all 8 → p = 1.
    assert paired_test([1, 1, 0], [0, 0, 1]).p_value == pytest.approx(1.0)


def test_verdicts() -> None:
    rng = np.random.default_rng(11)
    base = rng.uniform(0.2, 0.7, size=40)
    better = base + rng.uniform(0.05, 0.15, size=40)
    noise = base + rng.normal(0, 0.05, size=40)
    assert verdict(better, base) == "better"
    assert verdict(base, better) == "worse"
    assert verdict(noise, base) == "no detectable difference"
    assert verdict([0.9, 0.9], [0.1, 0.1]) == "no detectable difference"  # n too small to tell
    result = compare(better, base)
    assert result.difference.low > 0 and result.test.p_value < 0.05
    assert "better" in str(result)
