"""Statistics for comparing prompt variants, in one place.

Every comparison augmentlab makes (``augmentlab compare``, the report, the notebooks) goes through
these functions, so the same numbers mean the same thing everywhere:

- :func:`bootstrap_ci` — a seeded percentile-bootstrap interval for the mean of per-example scores;
- :func:`paired_bootstrap_ci` — the same for the mean *difference* of two variants scored on the
  same examples;
- :func:`paired_test` — a Wilcoxon signed-rank test (scipy), falling back to an exact/Monte-Carlo
  paired permutation test when there are too few non-zero differences for Wilcoxon;
- :func:`compare` / :func:`verdict` — "better", "worse" or "no detectable difference";
- :func:`winner` — the variant to use: the detectably better one with the largest gain, else the baseline.

All functions are deterministic for a given ``seed``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from augmentlab.core.errors import AugmentlabError

Verdict = Literal["better", "worse", "no detectable difference"]

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
#: Below this many non-zero paired differences the Wilcoxon normal/exact machinery is not used.
MIN_WILCOXON_N = 6
#: Up to this many pairs the permutation test enumerates every sign flip exactly.
MAX_EXACT_PERMUTATION_N = 16


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = DEFAULT_CONFIDENCE

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class PairedTest:
    """The outcome of a paired test of ``a`` against ``b``."""

    statistic: float
    p_value: float
    method: Literal["wilcoxon", "permutation-exact", "permutation-monte-carlo", "identical"]
    n: int


@dataclass(frozen=True)
class Comparison:
    """``a`` compared with ``b`` on the same examples."""

    verdict: Verdict
    difference: Interval
    """Mean of ``a - b`` with its paired bootstrap interval."""
    test: PairedTest
    alpha: float

    def __str__(self) -> str:
        return f"{self.verdict} (diff {self.difference}, p={self.test.p_value:.3g}, {self.test.method})"


def _as_array(values: Sequence[float] | np.ndarray, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise AugmentlabError(f"cannot compute statistics of empty {name}")
    if not np.all(np.isfinite(arr)):
        raise AugmentlabError(f"{name} contain NaN or infinite scores")
    return arr


def _paired(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    x, y = _as_array(a, "a"), _as_array(b, "b")
    if x.shape != y.shape:
        raise AugmentlabError(f"paired statistics need equal lengths (got {x.size} and {y.size})")
    return x - y


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of the mean of ``values`` (seeded, so reproducible)."""
    arr = _as_array(values)
    if not 0 < confidence < 1:
        raise AugmentlabError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(arr.mean())
    if arr.size == 1 or np.all(arr == arr[0]):
        return Interval(mean, mean, mean, int(arr.size), confidence)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_resamples, arr.size))
    means = arr[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(mean, float(low), float(high), int(arr.size), confidence)


def paired_bootstrap_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of the mean of ``a - b`` resampling *pairs* (examples), not scores."""
    return bootstrap_ci(_paired(a, b), confidence=confidence, n_resamples=n_resamples, seed=seed)


def _permutation_test(diffs: np.ndarray, *, n_resamples: int, seed: int) -> PairedTest:
    """Two-sided paired permutation (sign-flip) test of mean difference = 0."""
    n = diffs.size
    observed = abs(diffs.mean())
    if n <= MAX_EXACT_PERMUTATION_N:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        method: Literal["permutation-exact", "permutation-monte-carlo"] = "permutation-exact"
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((1.0, -1.0), size=(n_resamples, n))
        method = "permutation-monte-carlo"
    flipped = np.abs((signs * diffs).mean(axis=1))
    # A small tolerance so floating-point noise does not make the observed split "more extreme".
    extreme = int(np.sum(flipped >= observed - 1e-12))
    if method == "permutation-exact":
        p = extreme / signs.shape[0]
    else:
        p = (extreme + 1) / (signs.shape[0] + 1)
    return PairedTest(statistic=float(diffs.mean()), p_value=float(min(1.0, p)), method=method, n=n)


def paired_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 10000,
    seed: int = 0,
) -> PairedTest:
    """Two-sided paired test that ``a`` and ``b`` have the same location.

    Wilcoxon signed-rank (scipy) when there are at least :data:`MIN_WILCOXON_N` non-zero
    differences; otherwise a paired permutation test (exact up to
    :data:`MAX_EXACT_PERMUTATION_N` pairs). All-zero differences give ``p = 1``.
    """
    diffs = _paired(a, b)
    nonzero = diffs[np.abs(diffs) > 1e-12]
    if nonzero.size == 0:
        return PairedTest(statistic=0.0, p_value=1.0, method="identical", n=int(diffs.size))
    if nonzero.size < MIN_WILCOXON_N:
        return _permutation_test(diffs, n_resamples=n_resamples, seed=seed)
    from scipy.stats import wilcoxon

    result = wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
    p = float(result.pvalue)
    if math.isnan(p):  # pragma: no cover - scipy edge cases
        return _permutation_test(diffs, n_resamples=n_resamples, seed=seed)
    return PairedTest(statistic=float(result.statistic), p_value=p, method="wilcoxon", n=int(diffs.size))


def compare(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Compare variant ``a`` with ``b`` scored on the same examples (same order).

    "better" / "worse" needs both the paired test to reject at ``alpha`` and the paired bootstrap
    interval of the difference to exclude zero on the same side; anything else is
    "no detectable difference".
    """
    diff = paired_bootstrap_ci(a, b, confidence=confidence, n_resamples=n_resamples, seed=seed)
    test = paired_test(a, b, seed=seed)
    outcome: Verdict = "no detectable difference"
    if test.p_value < alpha:
        if diff.low > 0:
            outcome = "better"
        elif diff.high < 0:
            outcome = "worse"
    return Comparison(verdict=outcome, difference=diff, test=test, alpha=alpha)


def winner(baseline: str, comparisons: Mapping[str, Comparison | None]) -> str:
    """The variant to use: among those detectably "better" than ``baseline`` (``comparisons`` maps
    each other variant to its :func:`compare` against the baseline), the one with the largest mean
    gain; when none is, the baseline — a higher mean alone is not a win. The report and the
    runner both pick with this rule."""
    better = {name: c for name, c in comparisons.items() if c is not None and c.verdict == "better"}
    if not better:
        return baseline
    return max(better, key=lambda name: better[name].difference.mean)


def verdict(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    seed: int = 0,
) -> Verdict:
    """Just the word: is ``a`` "better", "worse" or of "no detectable difference" than ``b``?"""
    return compare(a, b, alpha=alpha, seed=seed).verdict


def shrunk_rates(
    outcomes: Sequence[tuple[str, bool]], *, prior_weight: float = 20.0, separator: str = ":"
) -> dict[str, float]:
    """The rate of success of every key and of each of its prefixes, shrunk towards its parent's.

    ``outcomes`` are ``(key, success)`` pairs with hierarchical keys (``"alternation:parity:2"``:
    parent ``"alternation:parity"``, then ``"alternation"``, then the root ``""``). A key's rate is
    ``(successes + prior_weight * parent_rate) / (trials + prior_weight)``, the root's is
    ``(successes + 1) / (trials + 2)``: a rare key keeps close to its parent (a beta prior of
    ``prior_weight`` pseudo-trials at the parent's rate), a common one says what it measured.
    """
    counts: dict[str, list[int]] = {"": [0, 0]}
    for key, success in outcomes:
        parts = key.split(separator) if key else []
        for depth in range(len(parts) + 1):
            entry = counts.setdefault(separator.join(parts[:depth]), [0, 0])
            entry[0] += bool(success)
            entry[1] += 1
    rates: dict[str, float] = {}
    for key in sorted(counts, key=lambda k: (k.count(separator) + bool(k), k)):
        hits, trials = counts[key]
        if not key:
            rates[key] = (hits + 1) / (trials + 2)
            continue
        parent = rates[key.rsplit(separator, 1)[0] if separator in key else ""]
        rates[key] = (hits + prior_weight * parent) / (trials + prior_weight)
    return rates


def threshold_for_precision(scores: Sequence[float], correct: Sequence[bool], target: float) -> float:
    """The lowest score threshold whose kept items (``score >= threshold``) are right at least
    ``target`` of the time; ``inf`` (keep nothing) when no threshold reaches it.

    Items with equal scores are kept or dropped together (a threshold cannot split them).
    """
    if len(scores) != len(correct):
        raise AugmentlabError("scores and correct differ in length")
    by_score: dict[float, list[int]] = {}
    for score, right in zip(scores, correct):
        entry = by_score.setdefault(float(score), [0, 0])
        entry[0] += bool(right)
        entry[1] += 1
    best = math.inf
    hits = kept = 0
    for score in sorted(by_score, reverse=True):
        hits += by_score[score][0]
        kept += by_score[score][1]
        if hits >= target * kept:
            best = score
    return best


__all__ = [
    "Comparison",
    "Interval",
    "PairedTest",
    "Verdict",
    "bootstrap_ci",
    "compare",
    "paired_bootstrap_ci",
    "paired_test",
    "shrunk_rates",
    "threshold_for_precision",
    "verdict",
    "winner",
]
