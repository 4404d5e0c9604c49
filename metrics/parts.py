"""The parts of the composite score, one function each, for one (already validated) prediction.

Each function adds its part (a score in [0, 1], or ``None`` where it does not apply), its details
and the issues it found to a :class:`Parts`; :func:`metrics.composite.score` calls them in the
order below and combines the parts. The order is the order of the feedback and of the details.

- :func:`verbatim_part` — the gate: share of lines whose human words are kept exactly;
- :func:`similarity_part` — skill over an uninformed output (:mod:`metrics.anchors`);
- :func:`relevance_part` — each action against its own line and scene, and its craft;
- :func:`setup_part` — the scenario sets the scene up (:mod:`metrics.craft`), or matches the gold's;
- :func:`consistency_parts` — cast, grounding, contradiction;
- :func:`format_part` — asterisks, person, tense, lengths, leaks;
- :func:`optional_parts` — optional parts passed by name (e.g. an LM judge), called only when weighted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from augmentlab.core.model import GoldExample
from metrics import consistency, craft, format as fmt, relevance, similarity
from metrics.consistency import Check

PartFn = Callable[[GoldExample, Any, Any], "Check | None"]
Judge = Callable[[GoldExample, str, list[str]], list[str]]

__all__ = [
    "PartFn",
    "Parts",
    "consistency_parts",
    "optional_parts",
    "format_part",
    "relevance_part",
    "setup_part",
    "similarity_part",
    "verbatim_part",
]


@dataclass
class Parts:
    """The parts found so far, their details and the issues (in words) of each."""

    parts: dict[str, float | None] = field(default_factory=dict)
    issues: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, result: Any) -> None:
        """Record a check's result (anything with ``score``, ``details`` and ``issues``) as part ``name``."""
        self.parts[name] = result.score
        self.details[name] = result.details
        if result.issues:
            self.issues[name] = result.issues

    def issue(self, name: str, text: str) -> None:
        self.issues.setdefault(name, []).append(text)


def verbatim_part(acc: Parts, gold: GoldExample, lines: list[Any] | None) -> tuple[float, list[bool]]:
    """The verbatim part; returns ``(gate, exact)``: ``verbatim²`` and which lines kept their words
    (a changed line is also worth nothing to similarity and relevance)."""
    v = consistency.verbatim(gold.scene.lines, lines)
    acc.add("verbatim", v)
    return v.score**2, list(v.details.get("exact", []))


def _scenario_skill(acc: Parts, gold_scenario: str, scen: str | None, emb: similarity.Embedder) -> float:
    if scen is None:
        return 0.0
    sk, cos, base = similarity.scenario_skill(gold_scenario, scen, emb)
    acc.details["scenario_similarity"] = cos
    acc.details["scenario_skill"] = sk
    acc.details["scenario_baseline"] = base
    if sk < 0.3:
        acc.issue(
            "similarity",
            f"scenario is no closer to the reference than an uninformed one (cosine {cos:.2f}, "
            f"uninformed {base:.2f}, skill {sk:.2f})",
        )
    return sk


def similarity_part(
    acc: Parts,
    gold: GoldExample,
    scen: str | None,
    lines: list[Any] | None,
    *,
    task: str,
    exact: list[bool],
    embedder: similarity.Embedder,
) -> list[float | None]:
    """Similarity: skill over the best uninformed output (:mod:`metrics.anchors`), not raw cosine.
    Returns the per-line action skill (empty when actions are not scored)."""
    sims: list[float] = []
    per_line: list[float | None] = []
    if task in ("both", "scenario") and gold.scenario:
        sims.append(_scenario_skill(acc, gold.scenario, scen, embedder))
    if task in ("both", "actions") and gold.annotated:
        if lines is not None:
            a, per_line = similarity.action_skills(gold.annotated, lines, embedder, exact)
            acc.details["action_skill"] = a
            acc.details["action_skill_per_line"] = per_line
            if a is not None:
                sims.append(a)
                low = [i + 1 for i, x in enumerate(per_line) if x is not None and x < 0.2]
                if low:
                    acc.issue("similarity", f"actions no closer to the reference than stock actions on line(s) {low[:6]}")
        elif any("*" in g for g in gold.annotated):
            sims.append(0.0)
    acc.parts["similarity"] = sum(sims) / len(sims) if sims else None
    return per_line


def relevance_part(
    acc: Parts,
    gold: GoldExample,
    lines: list[Any] | None,
    *,
    exact: list[bool],
    gold_skill: list[float | None],
    embedder: similarity.Embedder,
) -> None:
    """Relevance of each action to its own line and scene (gold or not)."""
    rel = relevance.relevance(gold, lines, exact=exact, gold_skill=gold_skill, embedder=embedder)
    if rel is not None:
        acc.add("relevance", rel)


def setup_part(acc: Parts, gold: GoldExample, scen: str | None, *, task: str, embedder: similarity.Embedder) -> None:
    """Setup: the scenario's own quality (:func:`metrics.craft.scenario_setup`), or its skill
    against the gold scenario when that is higher (matching the gold is one way to set the scene
    up, not the only one). 0 for a missing scenario where one is asked for."""
    if task not in ("both", "scenario"):
        return
    if scen is None:
        acc.parts["setup"] = 0.0
        return
    scene_vec = embedder.encode([relevance.scene_text(gold)], pin=True)[0]
    own, details = craft.scenario_setup(gold, scen, scene_vec, embedder)
    via_gold = float(acc.details.get("scenario_skill", 0.0)) if gold.scenario else 0.0
    acc.parts["setup"] = max(own, via_gold)
    acc.details["setup"] = {**details, "own": own, "via_gold": via_gold}
    if max(own, via_gold) < 0.3:
        why = ("it is not about this scene" if details.get("grounded", 0.0) < 0.3 else
               "it retells the lines" if details.get("retold", 0.0) > 0.4 else "it adds little beyond the lines")
        acc.issue("setup", f"the scenario barely sets the scene up ({why}; setup {max(own, via_gold):.2f})")


def consistency_parts(
    acc: Parts,
    gold: GoldExample,
    scen: str | None,
    lines: list[Any] | None,
    *,
    task: str,
    known_names: Iterable[str],
    person: str,
    judge: Judge | None,
    embedder: similarity.Embedder,
) -> None:
    """Cast, grounding (0 for a missing scenario where one is asked for) and contradiction."""
    acc.add("cast", consistency.cast(gold, scen, lines, known_names=known_names, person=person))
    if scen is None and task == "both":
        acc.parts["grounding"] = 0.0  # a missing / unusable scenario supports nothing
    if scen is not None:
        acc.add("grounding", consistency.grounding(gold, scen, embedder=embedder))
    acc.add("contradiction", consistency.contradiction(gold, scen, lines, known_names=known_names, judge=judge))


def format_part(
    acc: Parts,
    gold: GoldExample,
    scen: str | None,
    lines: list[Any] | None,
    *,
    person: str,
    config: fmt.FormatConfig | None,
) -> None:
    """Format, in the person asked for (only when there is a scenario or lines to judge)."""
    fcfg = (config or fmt.FormatConfig()).model_copy(update={"person": person})
    fres = fmt.check_format(scen, lines, gold.scene.lines, fcfg)
    if scen is not None or lines is not None:
        acc.add("format", fres)


def optional_parts(
    acc: Parts,
    gold: GoldExample,
    scen: str | None,
    lines: list[Any] | None,
    fns: Mapping[str, PartFn],
    weights: Mapping[str, float],
) -> None:
    """Optional parts by name (e.g. an LM judge), called only when weighted; a failing one is an issue."""
    for name, part_fn in fns.items():
        if weights.get(name, 0.0) <= 0:
            continue
        try:
            got = part_fn(gold, scen, lines)
        except Exception as exc:  # an optional part must never break the metric
            acc.issue(name, f"part failed: {type(exc).__name__}")
            continue
        if got is not None:
            acc.add(name, Check(float(got.score), list(got.issues or ()), got.details))
