"""``random_search``: :class:`dspy.BootstrapFewShotWithRandomSearch` — candidates scored on dev.

Trajectory: one step per candidate program, in the order DSPy scored them on dev: zero-shot,
labeled demos only, unshuffled bootstrap, then each random seed (``candidate_programs`` of the
result, re-sorted by seed).
"""

from __future__ import annotations

from typing import Any

import dspy
from pydantic import Field

from experiments.optimizers.base import Compiled, Optimizer, OptimizerContext, Trial, finite, pop_stats, register
from experiments.optimizers.bootstrap import BootstrapOptions


class RandomSearchOptions(BootstrapOptions):
    num_candidate_programs: int = Field(2, ge=1)
    stop_at_score: float | None = None


@register("random_search", "randomsearch", "bootstrapfewshotwithrandomsearch", "bootstraprandomsearch")
class RandomSearch(Optimizer):
    Options = RandomSearchOptions

    def compile(self, student: Any, train: list[Any], dev: list[Any], options: dict[str, Any],
                ctx: OptimizerContext) -> Compiled:
        o = options
        program = dspy.BootstrapFewShotWithRandomSearch(
            metric=ctx.metric(),
            metric_threshold=o["metric_threshold"],
            max_bootstrapped_demos=o["max_bootstrapped_demos"],
            max_labeled_demos=o["max_labeled_demos"],
            max_rounds=o["max_rounds"],
            num_candidate_programs=o["num_candidate_programs"],
            num_threads=ctx.num_threads,
            max_errors=o.get("max_errors"),
            stop_at_score=o.get("stop_at_score"),
        ).compile(student, trainset=train, valset=dev)
        return Compiled(program, trajectory(program))


def trajectory(program: Any) -> list[Trial]:
    """From ``candidate_programs`` (sorted by score by DSPy; each has the ``seed`` it ran in order)."""
    candidates = pop_stats(program, "candidate_programs").get("candidate_programs") or []
    ordered = sorted((c for c in candidates if isinstance(c, dict)), key=lambda c: c.get("seed", 0))
    return [Trial(step, s / 100.0) for step, s in enumerate(finite(c.get("score")) for c in ordered) if s is not None]
