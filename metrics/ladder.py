"""The calibration ladder: predictions of known quality, built from a gold set, and the score each
must get.

Every rung rewrites each gold example's own outputs in one known way (the gold itself, one real
defect, half the work, junk, nothing at all). :func:`run_ladder` scores every rung with the
composite metric and checks two things:

- **bounds** — each rung's mean lies in its ``[low, high]``: gold ≥ 0.95, nothing augmented ≤ 0.10,
  junk ≤ 0.20, one minor defect in [0.5, 0.97], half the work or a broken line in [0.15, 0.8];
- **order** — tiers are strictly ordered by their means: every rung of a better tier scores above
  every rung of a worse one (gold > minor defect > half / broken line > junk ≥ nothing, where the
  last pair only needs junk's worst ≥ nothing's best − 0.05: both are ~0).

``augmentlab metrics check`` prints the table and exits 1 when a bound or the order breaks.
Rungs that cannot be built for an example (no second speaker, no scenario) skip it; a rung with
no example is reported as skipped and not checked.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from augmentlab.core.model import GoldExample
from augmentlab.core.text import ACTION_RE, actions
from metrics import composite, mutations
from metrics.consistency import content_words

__all__ = ["LadderResult", "LadderRow", "RUNGS", "Rung", "TIERS", "run_ladder"]

Pred = tuple[str | None, list[str] | None]
Build = Callable[[GoldExample, int, Sequence[GoldExample], random.Random], "Pred | None"]
"""``build(gold, index, donors, rng)``: ``donors`` are the examples other scenes are taken from."""

TIERS: dict[str, tuple[float, float]] = {
    "gold": (0.95, 1.0),
    "minor defect": (0.5, 0.97),
    "half / broken": (0.15, 0.8),
    "junk": (0.0, 0.2),
    "nothing": (0.0, 0.1),
}
"""Tier → (low, high) bound on a rung's mean score, best tier first."""
_TIER_ORDER = list(TIERS)
_JUNK_NOTHING_SLACK = 0.05


@dataclass
class Rung:
    name: str
    tier: str
    description: str
    build: Build


@dataclass
class LadderRow:
    rung: str
    tier: str
    description: str
    low: float
    high: float
    scores: list[float] = field(default_factory=list)
    skipped: int = 0

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else float("nan")

    @property
    def in_bounds(self) -> bool:
        return not self.scores or self.low - 1e-9 <= self.mean <= self.high + 1e-9


@dataclass
class LadderResult:
    rows: list[LadderRow]
    order_problems: list[str]

    @property
    def passed(self) -> bool:
        return all(r.in_bounds for r in self.rows) and not self.order_problems and any(r.n for r in self.rows)

    def bound_problems(self) -> list[str]:
        return [
            f"{r.rung}: mean {r.mean:.3f} outside [{r.low:.2f}, {r.high:.2f}]" for r in self.rows if not r.in_bounds
        ]


# --------------------------------------------------------------------------------------------
# building blocks


def _bare(g: GoldExample) -> list[str]:
    return [ln.text for ln in g.scene.lines]


def _source(g: GoldExample) -> str:
    return str(g.provenance.get("play") or g.provenance.get("set") or g.provenance.get("source") or "")


def _donor(g: GoldExample, donors: Sequence[GoldExample]) -> GoldExample | None:
    """Another scene, as unrelated as the donors allow: from another story first, then sharing
    the fewest speakers, then the fewest scenario words (mined gold repeats an act's setting in
    every scene of the act and one house in every act), then the farthest in the list."""
    speakers = set(g.scene.speakers)
    mine = content_words(g.scenario or "")
    here = next((k for k, o in enumerate(donors) if o.id == g.id), 0)
    n = len(donors)
    best: tuple[tuple[bool, int, float, int], GoldExample] | None = None
    for k in range(1, n + 1):
        o = donors[(here + k) % n]
        if o.id == g.id or o.scenario == g.scenario or not o.annotated:
            continue
        theirs = content_words(o.scenario or "")
        overlap = len(mine & theirs) / max(1, len(mine | theirs))
        key = (_source(o) == _source(g), len(speakers & set(o.scene.speakers)), overlap, abs(n // 2 - k))
        if best is None or key < best[0]:
            best = (key, o)
    return best[1] if best else None


def _transplant(g: GoldExample, donor: GoldExample) -> list[str]:
    donor_acts = [a for a in (actions(x) for x in donor.annotated or []) if a]
    out = []
    for i, ln in enumerate(g.scene.lines):
        if ln.speaker and donor_acts:
            acts = donor_acts[i % len(donor_acts)]
            out.append(" ".join(f"*{a}*" for a in acts) + " " + ln.text)
        else:
            out.append(ln.text)
    return out


def _echo(g: GoldExample) -> list[str]:
    out = []
    for ln in g.scene.lines:
        ws = ln.text.split()[:8]
        out.append(f"*{' '.join(ws).rstrip(',;:')}* {ln.text}" if ln.speaker and ws else ln.text)
    return out


def _names_only(g: GoldExample) -> list[str]:
    return [f"*{ln.speaker}.* {ln.text}" if ln.speaker else ln.text for ln in g.scene.lines]


def _upper_speech(g: GoldExample) -> list[str] | None:
    out = []
    for a in g.annotated or []:
        parts, pos = [], 0
        for m in ACTION_RE.finditer(a):
            parts.append(a[pos : m.start()].upper())
            parts.append(m.group(0))
            pos = m.end()
        parts.append(a[pos:].upper())
        out.append("".join(parts))
    return out if out != list(g.annotated or []) else None


def _mutant(defect: str) -> Build:
    def build(g: GoldExample, i: int, pool: Sequence[GoldExample], rng: random.Random) -> Pred | None:
        m = mutations.mutate(defect, g, rng, pool)
        if m is None or m.gold is not g:
            return None
        return m.scenario, m.annotated

    return build


def _with_donor(fn: Callable[[GoldExample, GoldExample], Pred | None]) -> Build:
    def build(g: GoldExample, i: int, pool: Sequence[GoldExample], rng: random.Random) -> Pred | None:
        d = _donor(g, pool)
        return fn(g, d) if d is not None else None

    return build


def _has_actions(g: GoldExample) -> bool:
    return any(ACTION_RE.search(a) for a in g.annotated or [])


PLACEHOLDER = "A scene."

RUNGS: list[Rung] = [
    Rung("gold", "gold", "the gold scenario and annotated lines", lambda g, i, p, r: (g.scenario, g.annotated)),
    Rung("invented name", "minor defect", "gold + a name not in the cast", _mutant("insert_name")),
    Rung("unsupported claim", "minor defect", "gold + a scenario sentence the scene does not support",
         _mutant("unsupported_claim")),
    Rung("acts for another", "minor defect", "gold + a character acting in another's line", _mutant("act_for_other")),
    Rung("one word changed", "half / broken", "gold with one human word replaced (a broken line)",
         _mutant("change_word")),
    Rung("no scenario", "half / broken", "empty scenario, gold actions",
         lambda g, i, p, r: ("", g.annotated) if _has_actions(g) else None),
    Rung("no actions", "half / broken", "gold scenario, human lines without actions",
         lambda g, i, p, r: (g.scenario, _bare(g)) if _has_actions(g) else None),
    Rung("other scenario", "half / broken", "another scene's scenario, gold actions",
         _with_donor(lambda g, d: (d.scenario, g.annotated) if _has_actions(g) else None)),
    Rung("transplanted actions", "half / broken", "gold scenario, actions of another scene",
         _with_donor(lambda g, d: (g.scenario, _transplant(g, d)))),
    Rung("echo actions", "half / broken", "gold scenario, each action repeats its line's words",
         lambda g, i, p, r: (g.scenario, _echo(g))),
    Rung("junk: other scene", "junk", "another scene's scenario and its actions transplanted",
         _with_donor(lambda g, d: (d.scenario, _transplant(g, d)))),
    Rung("junk: names as actions", "junk", "another scene's scenario, '*Name.*' as every action",
         _with_donor(lambda g, d: (d.scenario, _names_only(g)))),
    Rung("junk: echo", "junk", "placeholder scenario, each action repeats its line's words",
         lambda g, i, p, r: (PLACEHOLDER, _echo(g))),
    Rung("junk: words changed", "junk", "gold with every spoken word upper-cased",
         lambda g, i, p, r: ((g.scenario, u) if (u := _upper_speech(g)) else None)),
    Rung("nothing", "nothing", "empty scenario, human lines without actions", lambda g, i, p, r: ("", _bare(g))),
    Rung("placeholder form", "nothing", f"scenario '{PLACEHOLDER}', '*I wait.*' around every spoken line",
         lambda g, i, p, r: (PLACEHOLDER, [f"*I wait.* {ln.text} *I wait.*" if ln.speaker else ln.text
                                           for ln in g.scene.lines])),
    Rung("placeholder", "nothing", f"scenario '{PLACEHOLDER}', human lines without actions",
         lambda g, i, p, r: (PLACEHOLDER, _bare(g))),
]
"""The rungs, best first (at least one per tier; :data:`TIERS` gives the bounds)."""


def run_ladder(
    golds: Sequence[GoldExample],
    *,
    seed: int = 0,
    embedder: Any = None,
    weights: composite.Weights | dict[str, float] | None = None,
    rungs: Sequence[Rung] | None = None,
    donors: Sequence[GoldExample] | None = None,
) -> LadderResult:
    """Build every rung from ``golds`` (task ``both`` examples only), score it, check bounds and order.

    ``donors`` (default: ``golds``) are where "another scene" comes from; pass several stories so
    that a one-play gold set gets another play's scene, not the same house in the next act.
    """
    pool = [g for g in golds if g.scenario and g.annotated]
    donor_pool = [g for g in (donors if donors is not None else golds) if g.scenario and g.annotated] or pool
    rungs = list(rungs or RUNGS)
    rows = [LadderRow(r.name, r.tier, r.description, *TIERS[r.tier]) for r in rungs]
    jobs: list[tuple[int, GoldExample, str | None, list[str] | None]] = []
    for k, rung in enumerate(rungs):
        rng = random.Random(f"{seed}:{rung.name}")
        for i, g in enumerate(pool):
            pred = rung.build(g, i, donor_pool, rng)
            if pred is None:
                rows[k].skipped += 1
            else:
                jobs.append((k, g, *pred))
    # one batch per person (first / third) so every text is encoded in one call per group
    scores = composite.score_examples([(g, scen, lines) for _, g, scen, lines in jobs], embedder=embedder, weights=weights)
    for (k, *_), s in zip(jobs, scores):
        rows[k].scores.append(s.score)
    return LadderResult(rows, _order(rows))


def _order(rows: Sequence[LadderRow]) -> list[str]:
    problems: list[str] = []
    by_tier = {t: [r for r in rows if r.tier == t and r.n] for t in _TIER_ORDER}
    for a, b in zip(_TIER_ORDER, _TIER_ORDER[1:]):
        if not by_tier[a] or not by_tier[b]:
            continue
        worst = min(by_tier[a], key=lambda r: r.mean)
        best = max(by_tier[b], key=lambda r: r.mean)
        slack = _JUNK_NOTHING_SLACK if (a, b) == ("junk", "nothing") else 0.0
        if worst.mean <= best.mean - slack:
            problems.append(
                f"order: '{worst.rung}' ({a}, {worst.mean:.3f}) does not score above '{best.rung}' ({b}, {best.mean:.3f})"
            )
    return problems
