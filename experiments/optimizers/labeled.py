"""``labeled``: :class:`dspy.LabeledFewShot` — gold examples of train as demos (scores nothing)."""

from __future__ import annotations

from typing import Any

import dspy
from pydantic import Field

from experiments.optimizers.base import Compiled, Optimizer, OptimizerContext, OptimizerOptions, register


class LabeledOptions(OptimizerOptions):
    max_labeled_demos: int = Field(2, ge=0)
    """How many train examples become demos."""


@register("labeled", "labeledfewshot", "labelled", "labelledfewshot")
class Labeled(Optimizer):
    Options = LabeledOptions

    def compile(self, student: Any, train: list[Any], dev: list[Any], options: dict[str, Any],
                ctx: OptimizerContext) -> Compiled:
        return Compiled(dspy.LabeledFewShot(k=options["max_labeled_demos"]).compile(student, trainset=train))
