"""Test examples side by side: the human lines, the gold labels and each variant's output.

:func:`read_gold` finds the gold set an execution used; :func:`view` puts one example's outputs
next to each other; :func:`disagreements` and :func:`worst` pick the examples worth reading.
The public entry points taking a :class:`~augmentlab.report.data.ReportData` are
:func:`augmentlab.report.example_view` and :func:`augmentlab.report.worst_examples`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from augmentlab.core.model import GoldExample
from experiments.results import execution_gold

if TYPE_CHECKING:
    from experiments.results import ExperimentResults, VariantResult


@dataclass
class VariantOutput:
    """What one variant produced for one example, and how it scored."""

    variant: str
    score: float
    parts: dict[str, float]
    feedback: str
    scenario: str
    annotated_lines: list[str]


@dataclass
class ExampleView:
    """One test example side by side: the human lines, the gold labels, each variant's output."""

    example_id: str
    heading: str = ""
    human_lines: list[tuple[str, str]] = field(default_factory=list)
    """``(speaker, text)``; the speaker is empty for narration. Empty when the gold set is missing."""
    gold_scenario: str = ""
    gold_annotated: list[str] = field(default_factory=list)
    outputs: list[VariantOutput] = field(default_factory=list)
    spread: float = 0.0
    """Highest minus lowest score across the variants shown."""


def read_gold(results: ExperimentResults) -> tuple[dict[str, GoldExample], str]:
    """The gold examples the execution used, by id, and a note when they cannot be found or read
    (:func:`experiments.results.execution_gold`)."""
    return execution_gold(results)


def view(example_id: str, variants: Sequence[VariantResult], gold: dict[str, GoldExample]) -> ExampleView:
    view = ExampleView(example_id=example_id)
    g = gold.get(example_id)
    if g is not None:
        view.heading = g.scene.heading or g.scene.setting or ""
        view.human_lines = [(line.speaker or "", line.text) for line in g.scene.lines]
        view.gold_scenario = g.scenario or ""
        view.gold_annotated = list(g.annotated or [])
    for v in variants:
        row = next((r for r in v.rows if str(r.get("example_id")) == example_id), None)
        if row is None:
            continue
        lines = row.get("annotated_lines") or ""
        view.outputs.append(
            VariantOutput(
                variant=v.name,
                score=float(row.get("score") or 0.0),
                parts={k[len("part.") :]: float(val) for k, val in row.items()
                       if k.startswith("part.") and isinstance(val, int | float) and math.isfinite(val)},
                feedback=str(row.get("feedback") or ""),
                scenario=str(row.get("scenario") or ""),
                annotated_lines=[x for x in str(lines).split("\n")] if lines else [],
            )
        )
    scores = [o.score for o in view.outputs]
    view.spread = max(scores) - min(scores) if scores else 0.0
    return view


def disagreements(variants: Sequence[VariantResult], gold: dict[str, GoldExample], k: int) -> list[ExampleView]:
    scored = [v for v in variants if v.rows]
    if len(scored) < 2:
        return []
    ids: list[str] = []
    for v in scored:
        ids.extend(i for i in v.example_ids if i not in ids)
    views = [view(i, scored, gold) for i in ids]
    views = [w for w in views if len(w.outputs) >= 2 and w.spread > 1e-9]
    views.sort(key=lambda w: (-w.spread, w.example_id))
    return views[:k]


def worst(variant: VariantResult, others: Sequence[VariantResult], gold: dict[str, GoldExample], k: int) -> list[ExampleView]:
    order = sorted(range(len(variant.scores)), key=lambda i: (variant.scores[i], variant.example_ids[i]))
    shown = [variant, *[o for o in others if o is not variant and o.rows]]
    return [view(variant.example_ids[i], shown, gold) for i in order[:k]]
