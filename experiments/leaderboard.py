"""The one leaderboard: how variants are scored, paired and ranked, for every place that shows it.

The run (:attr:`experiments.runner.RunResult.best` / ``leaderboard``), ``augmentlab compare``,
the report (:func:`augmentlab.report.data.gather`), the champion alias and the notebooks all go
through these functions, so they cannot disagree:

- **scores** are per test example, keyed by example id; only finite scores count;
- **interval** — the 95% bootstrap interval of a variant's mean score (:func:`interval`);
- **pairing** — a variant is compared with the baseline on the example ids *both* scored, in the
  variant's order (:func:`pair`; :func:`augmentlab.core.stats.compare` on the pairs);
- **baseline** — the one named, else the one the execution marks (``augmentlab.baseline``), else
  the spec's first variant, else the first variant run (:func:`choose_baseline`);
- **winner** — the detectably better variant with the largest mean gain, else the baseline
  (:func:`augmentlab.core.stats.winner`);
- **seed** — one rule (:func:`seed_of`): the seed asked for, else the spec's ``seed`` (logged as
  the execution's ``seed`` param), else 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.stats import Comparison, Interval, bootstrap_ci, compare, winner
from experiments.results import ExperimentResults, json_list

if TYPE_CHECKING:
    from rich.console import Console

#: Tag or param of an execution naming its baseline variant (optional).
BASELINE_KEY = "augmentlab.baseline"


def seed_of(params: Mapping[str, Any] | None, seed: int | None = None) -> int:
    """The seed of the intervals and tests: ``seed`` when given, else the spec's ``seed`` param, else 0."""
    if seed is not None:
        return seed
    value = str((params or {}).get("seed", "")).strip()
    try:
        return int(value)
    except ValueError:
        return 0


def finite(values: Iterable[Any]) -> list[float]:
    """The finite numbers of ``values`` (NaN, infinities and non-numbers left out)."""
    return [float(x) for x in values if isinstance(x, int | float) and math.isfinite(x)]


def finite_by_id(scores: Mapping[str, Any]) -> dict[str, float]:
    """``scores`` (example id → score) without the examples whose score is not a finite number."""
    return {k: float(s) for k, s in scores.items() if isinstance(s, int | float) and math.isfinite(s)}


def interval(scores: Iterable[Any], *, seed: int) -> Interval | None:
    """Mean of the finite ``scores`` with its 95% bootstrap interval; None when there are none."""
    values = finite(scores)
    return bootstrap_ci(values, seed=seed) if values else None


@dataclass
class Pairing:
    """A variant against the baseline on the test examples both scored."""

    variant: str
    baseline: str
    n: int
    """How many examples both scored (the pairs compared)."""
    comparison: Comparison | None = None
    """None when there is nothing to pair (see ``n_variant`` and ``n``)."""
    n_variant: int = 0
    n_baseline: int = 0

    @property
    def verdict(self) -> str:
        return self.comparison.verdict if self.comparison else ""

    @property
    def left_out(self) -> int:
        """Examples scored by only one of the two (not paired)."""
        return max(self.n_variant, self.n_baseline) - self.n


def pair(
    variant: str,
    scores: Mapping[str, Any],
    baseline: str,
    baseline_scores: Mapping[str, Any],
    *,
    seed: int,
) -> Pairing:
    """``variant`` compared with ``baseline`` on the example ids both scored with a finite score."""
    mine, theirs = finite_by_id(scores), finite_by_id(baseline_scores)
    shared = [k for k in mine if k in theirs]
    result = Pairing(variant, baseline, len(shared), n_variant=len(mine), n_baseline=len(theirs))
    if shared:
        result.comparison = compare([mine[k] for k in shared], [theirs[k] for k in shared], seed=seed)
    return result


def against_baseline(
    scores: Mapping[str, Mapping[str, Any]], baseline: str, *, seed: int
) -> dict[str, Pairing]:
    """Every variant of ``scores`` (name → example id → score) but the baseline, paired with it."""
    base = scores.get(baseline, {})
    return {name: pair(name, s, baseline, base, seed=seed) for name, s in scores.items() if name != baseline}


def choose_baseline(
    names: Sequence[str],
    *,
    explicit: str | None = None,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    experiment: str = "",
) -> str | None:
    """The baseline among ``names``: ``explicit``, else the one the execution marks, else the spec's
    first variant (the ``variants`` param, a JSON list), else the first of ``names``."""
    params, tags = params or {}, tags or {}
    if explicit:
        if explicit not in names:
            raise AugmentlabError(
                f"no variant {explicit!r} in experiment {experiment!r} (variants: {', '.join(names) or 'none'})"
            )
        return explicit
    marked = tags.get(BASELINE_KEY) or params.get(BASELINE_KEY) or params.get("baseline")
    if marked in names:
        return marked
    for name in json_list(params.get("variants")):
        if name in names:
            return name
    return names[0] if names else None


@dataclass
class Entry:
    """One variant's line as the leaderboard table needs it."""

    name: str
    scores: dict[str, float]
    """Example id → composite score."""
    optimizer: str = ""
    parts: dict[str, float | None] = field(default_factory=dict)
    """Sub-score means."""
    tokens_per_example: float | None = None
    score: Interval | None = None
    """The interval when already computed (else from ``scores``)."""
    win_rate: Interval | None = None
    """Win rate vs the baseline from the judge's verdicts (ties half), with its interval; None without verdicts."""
    lc_win_rate: float | None = None
    """The length-controlled win rate (AlpacaEval 2 style), when verdicts exist."""


def rows(entries: Sequence[Entry], baseline: str | None, *, seed: int) -> list[dict[str, Any]]:
    """The leaderboard table (best mean first): what the run prints, logs and ``compare`` prints.

    Each row: ``variant, optimizer, score, ci_low, ci_high, n, tokens_per_example, part.*,
    vs_baseline`` (the verdict against ``baseline``; empty for the baseline itself) and, when the
    judge gave verdicts, ``win_rate, win_low, win_high, lc_win_rate`` (empty for the baseline)."""
    by_name = {e.name: e for e in entries}
    base = by_name.get(baseline) if baseline else None
    out = []
    for e in entries:
        iv = e.score if e.score is not None else interval(e.scores.values(), seed=seed)
        row: dict[str, Any] = {
            "variant": e.name,
            "optimizer": e.optimizer,
            "score": iv.mean if iv else 0.0,
            "ci_low": iv.low if iv else None,
            "ci_high": iv.high if iv else None,
            "n": len(e.scores),
            "tokens_per_example": e.tokens_per_example,
            **{f"part.{k}": val for k, val in e.parts.items()},
        }
        verdict = ""
        if base is not None and e is not base:
            verdict = pair(e.name, e.scores, base.name, base.scores, seed=seed).verdict
        row["vs_baseline"] = verdict
        if any(x.win_rate is not None for x in entries):
            w = e.win_rate
            row.update({"win_rate": w.mean if w else None, "win_low": w.low if w else None,
                        "win_high": w.high if w else None, "lc_win_rate": e.lc_win_rate})
        out.append(row)
    return sorted(out, key=lambda r: -r["score"])


def results_rows(results: ExperimentResults, *, seed: int | None = None) -> list[dict[str, Any]]:
    """The leaderboard of an execution read back from MLflow (what ``augmentlab compare`` prints):
    the variants with per-example scores, intervals recomputed from them with :func:`seed_of`'s
    seed, verdicts against the baseline (:func:`choose_baseline` among the scored variants)."""
    scored = [v for v in results.variants if v.scores]
    if not scored:
        return []
    entries = [
        Entry(
            name=v.name,
            scores=v.scores_by_id(),
            optimizer=v.params.get("optimizer", ""),
            parts={name: _mean(finite(values)) for name, values in v.parts.items()},
            tokens_per_example=v.metrics.get("tokens_per_example"),
            win_rate=_logged_win_rate(v.metrics),
            lc_win_rate=v.metrics.get("lc_win_rate"),
        )
        for v in scored
    ]
    baseline = choose_baseline([e.name for e in entries], params=results.params, tags=results.tags)
    return rows(entries, baseline, seed=seed_of(results.params, seed))


def _logged_win_rate(metrics: Mapping[str, float]) -> Interval | None:
    """The win rate a run logged (``win_rate_vs_baseline`` and its ``_low`` / ``_high``)."""
    keys = ("win_rate_vs_baseline", "win_rate_vs_baseline_low", "win_rate_vs_baseline_high")
    if not all(k in metrics for k in keys):
        return None
    mean, low, high = (float(metrics[k]) for k in keys)
    return Interval(mean, low, high, int(metrics.get("n_verdicts", 0)))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def best(entries: Sequence[Entry], baseline: str, *, seed: int) -> str:
    """The variant to use among ``entries``: :func:`augmentlab.core.stats.winner` over their pairings
    with ``baseline``."""
    pairings = against_baseline({e.name: e.scores for e in entries}, baseline, seed=seed)
    return winner(baseline, {name: p.comparison for name, p in pairings.items()})


#: Short column headers for the sub-scores, so the leaderboard fits a terminal.
_SHORT = {"similarity": "sim", "verbatim": "verb", "cast": "cast", "grounding": "grnd", "contradiction": "contr", "format": "fmt"}


def print_leaderboard(rows: list[dict[str, Any]], *, console: Console | None = None, title: str = "") -> None:
    """The leaderboard as a rich table: variant, score [95% CI], sub-scores, tokens per example."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    judged = any("win_rate" in row for row in rows)
    width = 175 if judged else 140  # the judge's two columns need room
    if not console.is_terminal and console.width < width:
        console = Console(file=console.file, width=width)
    part_names = sorted({k[len("part.") :] for row in rows for k in row if k.startswith("part.")})
    table = Table(title=title or None, caption="sub-scores: means over the test split; vs first: paired test; win: the judge's verdicts (ties half)")
    table.add_column("variant", style="bold", no_wrap=True)
    table.add_column("optimizer", no_wrap=True)
    table.add_column("score [95% CI]", justify="right", no_wrap=True)
    for name in part_names:
        table.add_column(_SHORT.get(name, name), justify="right", no_wrap=True)
    table.add_column("tok/ex", justify="right", no_wrap=True)
    table.add_column("vs first")
    if judged:
        table.add_column("win vs first [95% CI]", justify="right", no_wrap=True)
        table.add_column("LC win", justify="right", no_wrap=True)
    for row in rows:
        low, high = row.get("ci_low"), row.get("ci_high")
        ci = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
        table.add_row(
            str(row["variant"]),
            str(row.get("optimizer") or ""),
            f"{row['score']:.3f}{ci}",
            *[_fmt(row.get(f"part.{name}")) for name in part_names],
            f"{row.get('tokens_per_example') or 0:.0f}",
            str(row.get("vs_baseline") or ""),
            *(_win_cells(row) if judged else []),
        )
    console.print(table)


def _win_cells(row: Mapping[str, Any]) -> list[str]:
    """``0.79 [0.62, 0.92]`` and the LC win rate (``–`` for the baseline)."""
    mean, low, high = row.get("win_rate"), row.get("win_low"), row.get("win_high")
    win = f"{mean:.2f} [{low:.2f}, {high:.2f}]" if None not in (mean, low, high) else "–"
    return [win, _fmt(row.get("lc_win_rate"))]


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:.2f}"


__all__ = [
    "BASELINE_KEY",
    "Entry",
    "Pairing",
    "against_baseline",
    "best",
    "choose_baseline",
    "finite",
    "finite_by_id",
    "interval",
    "pair",
    "print_leaderboard",
    "results_rows",
    "rows",
    "seed_of",
]
