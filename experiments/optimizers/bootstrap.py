"""``bootstrap``: :class:`dspy.BootstrapFewShot` — demos from train traces that pass the metric.

It keeps passing traces but scores no candidate program, so it has no trajectory. A demo is kept
only when its score reaches the spec's ``[metrics] threshold`` (``metric_threshold`` overrides
it), since the composite metric is a float and DSPy would otherwise keep any non-zero score.
"""

from __future__ import annotations

from typing import Any, ClassVar

import dspy
from pydantic import Field

from experiments.optimizers.base import Compiled, Optimizer, OptimizerContext, OptimizerOptions, register


class DemoOptions(OptimizerOptions):
    """The options of the optimizers that bootstrap demos (bootstrap, random search, MIPROv2)."""

    max_bootstrapped_demos: int = Field(2, ge=0)
    max_labeled_demos: int = Field(0, ge=0)
    """Gold demos on top of the bootstrapped ones."""
    metric_threshold: float | None = Field(None, ge=0, le=1)
    """Defaults to the spec's ``[metrics] threshold``."""
    max_errors: int | None = Field(None, ge=0)

    FROM_SPEC: ClassVar[dict[str, str]] = {"seed": "seed", "metric_threshold": "threshold"}


class BootstrapOptions(DemoOptions):
    max_rounds: int = Field(1, ge=1)


@register("bootstrap", "bootstrapfewshot")
class Bootstrap(Optimizer):
    Options = BootstrapOptions

    def compile(self, student: Any, train: list[Any], dev: list[Any], options: dict[str, Any],
                ctx: OptimizerContext) -> Compiled:
        o = options
        return Compiled(dspy.BootstrapFewShot(
            metric=ctx.metric(),
            metric_threshold=o["metric_threshold"],
            max_bootstrapped_demos=o["max_bootstrapped_demos"],
            max_labeled_demos=o["max_labeled_demos"],
            max_rounds=o["max_rounds"],
            max_errors=o.get("max_errors"),
        ).compile(student, trainset=train))
