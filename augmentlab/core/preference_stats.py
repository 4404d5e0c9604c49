"""Statistics of pairwise verdicts (:class:`augmentlab.core.verdicts.Verdict`), in one place.

:mod:`augmentlab.core.stats` compares per-example *scores*; this module aggregates *pairwise
decisions*, whoever made them (the LM judge, a person, an imported file, the composite):

- :func:`win_rate` — the share of a variant's verdicts against the baseline that it wins (a tie
  counts half), with a seeded percentile-bootstrap interval that resamples **scenes** (several
  verdicts on one scene — two people, two orders — move together);
- :func:`length_controlled_win_rate` — AlpacaEval 2's control: a logistic GLM of the win on
  ``tanh(length difference / its spread)``; the win rate it predicts with the length term set to
  zero (what the variant would win if it were as long as the baseline), bootstrapped the same way;
- :func:`bradley_terry` — Bradley–Terry log-strengths of several variants from all their pairwise
  verdicts (the baseline fixed at 0), with bootstrap intervals;
- :func:`detectably_better` — the win rate's interval lies above 0.5 (when every scene went the
  same way the bootstrap interval is a point, so the Wilson score interval over scenes is used:
  :func:`wilson_interval`);
- :func:`judged_winner` — the variant to use: the detectably better one with the highest win rate,
  else the baseline (the same rule as :func:`augmentlab.core.stats.winner`, on verdicts).

Everything is deterministic for a given ``seed``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.stats import DEFAULT_CONFIDENCE, Interval, bootstrap_ci
from augmentlab.core.verdicts import Verdict

DEFAULT_RESAMPLES = 1000
LC_RESAMPLES = 1000
"""Resamples of the GLM fits (length control, Bradley–Terry), all fitted at once."""
_RIDGE = 1e-3
"""A weak L2 penalty on the GLM / Bradley–Terry coefficients, so all-wins data stays finite."""


@dataclass(frozen=True)
class WinRate:
    """``variant``'s verdicts against ``baseline``: the win rate with its interval and the counts."""

    variant: str
    baseline: str
    interval: Interval
    """Mean of 1 (win) / 0.5 (tie) / 0 (loss) over scenes, with its bootstrap interval over scenes."""
    wins: int
    losses: int
    ties: int
    n_scenes: int

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def better(self) -> bool:
        """Detectably better: the interval lies above 0.5."""
        return self.interval.low > 0.5

    @property
    def worse(self) -> bool:
        return self.interval.high < 0.5

    def sentence(self) -> str:
        """``vivid wins 9 of 12 vs seed (2 ties), 0.79 [0.62, 0.92]``."""
        ties = f", {self.ties} tie{'s' if self.ties != 1 else ''}" if self.ties else ""
        iv = self.interval
        return (
            f"{self.variant} wins {self.wins} of {self.n} vs {self.baseline}{ties}, "
            f"{iv.mean:.2f} [{iv.low:.2f}, {iv.high:.2f}]"
        )


def _pairs(verdicts: Sequence[Verdict], variant: str, baseline: str) -> list[Verdict]:
    """The verdicts between ``variant`` and ``baseline`` (either order), as ``variant`` vs ``baseline``."""
    out = []
    for v in verdicts:
        if v.a == variant and v.b == baseline:
            out.append(v)
        elif v.a == baseline and v.b == variant:
            out.append(v.swapped())
    return out


def _scene_weights(scenes: Sequence[str], *, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n_items)`` weights: how often each item's scene was drawn in each resample
    (scenes are drawn with replacement, as many as there are)."""
    order = sorted(set(scenes))
    where = np.asarray([order.index(s) for s in scenes], dtype=int)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(order), size=(n_resamples, len(order)))
    counts = np.zeros((n_resamples, len(order)))
    np.add.at(counts, (np.repeat(np.arange(n_resamples), len(order)), drawn.ravel()), 1.0)
    return counts[:, where]


def _logit_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, iterations: int = 25) -> np.ndarray:
    """Weighted logistic regressions of fractional outcomes ``y`` (n) on ``x`` (n, d), one per row of
    ``w`` (r, n), by Newton's method with a weak ridge (finite even when one side always wins);
    returns the coefficients (r, d)."""
    r, d = w.shape[0], x.shape[1]
    theta = np.zeros((r, d))
    total = np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    eye = np.eye(d)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(theta @ x.T)))  # (r, n)
        grad = ((w * (p - y)) @ x) / total + 2 * _RIDGE * theta
        hess = np.einsum("rn,ni,nj->rij", w * p * (1 - p), x, x) / total[:, :, None] + 2 * _RIDGE * eye
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        theta -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return theta


def _interval(point: float, draws: np.ndarray, n: int, confidence: float) -> Interval:
    if not 0 < confidence < 1:
        raise AugmentlabError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(float(point), float(min(low, point)), float(max(high, point)), n, confidence)


def win_rate(
    verdicts: Sequence[Verdict],
    variant: str,
    baseline: str,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> WinRate | None:
    """``variant``'s win rate against ``baseline`` (ties half) over the verdicts between them;
    None when there are none. Each scene weighs the same however many verdicts it has (two
    people, an import and a rerun): the rate is the mean of per-scene means, and its interval is
    :func:`augmentlab.core.stats.bootstrap_ci` of those (resampling scenes)."""
    pairs = _pairs(verdicts, variant, baseline)
    if not pairs:
        return None
    per_scene: dict[str, list[float]] = defaultdict(list)
    for v in pairs:
        per_scene[v.scene].append(v.score_for(variant))
    means = [float(np.mean(per_scene[s])) for s in sorted(per_scene)]
    iv = bootstrap_ci(means, confidence=confidence, n_resamples=n_resamples, seed=seed)
    if iv.low == iv.high:  # every scene the same: a bootstrap of identical values says nothing
        iv = wilson_interval(iv.mean, len(means), confidence=confidence)
    wins = sum(v.preferred() == variant for v in pairs)
    ties = sum(v.winner == "tie" for v in pairs)
    return WinRate(variant, baseline, iv, wins=wins, losses=len(pairs) - wins - ties, ties=ties,
                   n_scenes=len(per_scene))


def wilson_interval(rate: float, n: int, *, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """The Wilson score interval of a rate observed on ``n`` independent units (here: scenes):
    3 wins of 3 gives [0.44, 1.00], not the bootstrap's [1.00, 1.00]."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - confidence) / 2))
    denom = 1 + z * z / n
    center = (rate + z * z / (2 * n)) / denom
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denom
    return Interval(rate, float(max(0.0, center - half)), float(min(1.0, center + half)), n, confidence)


def detectably_better(rate: WinRate | None) -> bool:
    """True when ``rate``'s interval lies above 0.5 (the variant wins more than it loses, detectably)."""
    return rate is not None and rate.better


def judged_winner(baseline: str, rates: Mapping[str, WinRate | None]) -> str:
    """Among the variants detectably better than ``baseline`` (``rates``: variant → its
    :func:`win_rate` against it), the one with the highest win rate; else the baseline."""
    better = {name: r for name, r in rates.items() if r is not None and r.better}
    if not better:
        return baseline
    return max(better, key=lambda name: (better[name].interval.mean, better[name].interval.low))


# ------------------------------------------------------------------------------- length control
def _sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-x))


def length_controlled_win_rate(
    verdicts: Sequence[Verdict],
    variant: str,
    baseline: str,
    lengths: Mapping[tuple[str, str], float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = LC_RESAMPLES,
    seed: int = 0,
) -> Interval | None:
    """AlpacaEval 2's length-controlled win rate of ``variant`` against ``baseline``.

    ``lengths``: ``(scene, candidate) → length`` (words of the output). Fits
    ``P(win) = σ(θ + φ · tanh(Δ / sd(Δ)))`` with Δ the variant's length minus the baseline's on the
    verdict's scene (ties count as half a win), and returns ``σ(θ)`` — the win rate at equal
    length — with a bootstrap interval over scenes. None without verdicts or lengths.
    """
    pairs = [v for v in _pairs(verdicts, variant, baseline)
             if (v.scene, variant) in lengths and (v.scene, baseline) in lengths]
    if not pairs:
        return None
    y = np.asarray([v.score_for(variant) for v in pairs], dtype=float)
    delta = np.asarray([lengths[(v.scene, variant)] - lengths[(v.scene, baseline)] for v in pairs], dtype=float)
    spread = float(delta.std())
    x = np.tanh(delta / spread) if spread > 0 else np.zeros_like(delta)

    scenes = [v.scene for v in pairs]
    design = np.column_stack([np.ones_like(x), x])
    point = float(_sigmoid(_logit_fit(design, y, np.ones((1, len(y))))[0, 0]))
    if len(set(scenes)) < 2:
        return Interval(point, point, point, 1, confidence)
    draws = _sigmoid(_logit_fit(design, y, _scene_weights(scenes, n_resamples=n_resamples, seed=seed))[:, 0])
    return _interval(point, draws, len(set(scenes)), confidence)


# ------------------------------------------------------------------------------- Bradley–Terry
def bradley_terry(
    verdicts: Sequence[Verdict],
    anchor: str,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = LC_RESAMPLES,
    seed: int = 0,
) -> dict[str, Interval]:
    """Bradley–Terry log-strength of every candidate in ``verdicts`` relative to ``anchor`` (0), with
    bootstrap intervals over scenes; ``σ(β_i − β_j)`` is the chance that i beats j. Ties count as
    half a win each way."""
    names = sorted({v.a for v in verdicts} | {v.b for v in verdicts})
    if anchor not in names:
        raise AugmentlabError(f"no verdict involves the anchor {anchor!r}")
    index = {name: i for i, name in enumerate(names)}
    free = [n for n in names if n != anchor]
    design = np.zeros((len(verdicts), len(free)))
    for row, v in enumerate(verdicts):
        if v.a != anchor:
            design[row, free.index(v.a)] += 1.0
        if v.b != anchor:
            design[row, free.index(v.b)] -= 1.0
    y = np.asarray([v.score_for(v.a) for v in verdicts], dtype=float)
    scenes = [v.scene for v in verdicts]
    n = len(set(scenes))
    point = _logit_fit(design, y, np.ones((1, len(y))))[0]
    draws = (_logit_fit(design, y, _scene_weights(scenes, n_resamples=n_resamples, seed=seed))
             if n >= 2 else point[None, :])
    out = {anchor: Interval(0.0, 0.0, 0.0, n, confidence)}
    for j, name in enumerate(free):
        out[name] = _interval(point[j], draws[:, j], n, confidence)
    return dict(sorted(out.items(), key=lambda kv: index[kv[0]]))


__all__ = [
    "WinRate",
    "bradley_terry",
    "detectably_better",
    "judged_winner",
    "length_controlled_win_rate",
    "wilson_interval",
    "win_rate",
]
