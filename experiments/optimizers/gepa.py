"""``gepa``: :class:`dspy.GEPA` — reflective instruction evolution from the metric's feedback.

Gets the spec's ``reflection_lm`` and proposes instructions through DSPy's built-in proposer with a
JSON adapter (the grammar-constrained one for the embedded model). One budget: ``auto``,
``max_metric_calls`` or ``max_full_evals`` (default: two full evaluations).

Trajectory: one step per candidate in discovery order (step 0: the seed program), its dev
aggregate score from ``detailed_results.val_aggregate_scores`` (``track_stats=True``).
"""

from __future__ import annotations

from typing import Any, Literal

import dspy
from pydantic import Field, model_validator

from augmentlab.core.errors import AugmentlabError
from experiments.optimizers.base import (
    Compiled,
    Optimizer,
    OptimizerContext,
    OptimizerOptions,
    Trial,
    finite,
    pop_stats,
    register,
)

_BUDGETS = ("auto", "max_metric_calls", "max_full_evals")


class GepaOptions(OptimizerOptions):
    auto: Literal["light", "medium", "heavy"] | None = None
    max_metric_calls: int | None = Field(None, ge=1)
    max_full_evals: int = Field(2, ge=1)
    """The budget when neither ``auto`` nor ``max_metric_calls`` is set."""
    reflection_minibatch_size: int | None = Field(None, ge=1)
    """Defaults to 3 (at most the train size)."""
    candidate_selection_strategy: Literal["pareto", "current_best"] | None = None
    use_merge: bool | None = None
    max_merge_invocations: int | None = Field(None, ge=0)
    skip_perfect_score: bool | None = None

    @model_validator(mode="after")
    def _one_budget(self) -> GepaOptions:
        budgets = [k for k in _BUDGETS if k in self.model_fields_set]
        if len(budgets) > 1:
            raise ValueError(f"GEPA takes one budget, got {' and '.join(budgets)}")
        return self

    def effective(self, ctx: OptimizerContext) -> dict[str, Any]:
        out = super().effective(ctx)
        if "max_full_evals" not in self.model_fields_set and (self.auto is not None or self.max_metric_calls is not None):
            out.pop("max_full_evals")
        return out


@register("gepa")
class Gepa(Optimizer):
    Options = GepaOptions
    lm_roles = ("reflection_lm",)

    def compile(self, student: Any, train: list[Any], dev: list[Any], options: dict[str, Any],
                ctx: OptimizerContext) -> Compiled:
        program = _compile(student, train, dev, options, ctx)
        return Compiled(program, trajectory(program))


def _compile(student: Any, train: list[Any], dev: list[Any], o: dict[str, Any], ctx: OptimizerContext) -> Any:
    from dspy.teleprompt.gepa.instruction_proposal import InstructionProposer

    reflection_lm = ctx.reflection_lm or ctx.lm
    if reflection_lm is None:
        raise AugmentlabError("optimizer 'gepa' needs a reflection LM ([reflection_lm] or [lm])")
    kwargs: dict[str, Any] = {
        "reflection_lm": reflection_lm,
        "instruction_proposer": InstructionProposer(adapter=ctx.reflection_adapter or dspy.JSONAdapter()),
        "reflection_minibatch_size": o.get("reflection_minibatch_size", min(3, len(train))),
        "candidate_selection_strategy": o.get("candidate_selection_strategy", "pareto"),
        "use_merge": o.get("use_merge", False),
        "skip_perfect_score": o.get("skip_perfect_score", True),
        "num_threads": ctx.num_threads,
        "seed": o["seed"],
        "track_stats": True,  # attaches detailed_results (the trajectory) to the result
        "warn_on_score_mismatch": False,
    }
    if o.get("max_merge_invocations") is not None:
        kwargs["max_merge_invocations"] = o["max_merge_invocations"]
    kwargs.update({key: o[key] for key in _BUDGETS if o.get(key) is not None})
    gepa = dspy.GEPA(metric=ctx.feedback_metric(), **kwargs)
    return gepa.compile(student, trainset=train, valset=dev)


def trajectory(program: Any) -> list[Trial]:
    """From ``detailed_results.val_aggregate_scores`` (candidate 0 is the seed program)."""
    results = pop_stats(program, "detailed_results").get("detailed_results")
    scores = getattr(results, "val_aggregate_scores", None) or []
    return [Trial(step, s) for step, s in enumerate(finite(x) for x in scores) if s is not None]
