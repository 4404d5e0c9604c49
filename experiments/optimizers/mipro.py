"""``mipro``: :class:`dspy.MIPROv2` — proposed instructions and demo sets, trials scored on dev.

Runs with ``auto=None`` and explicit ``num_candidates`` / ``num_trials`` unless the variant sets
``auto``. (``requires_permission_to_run`` is deprecated in DSPy 3.4 — confirmation was removed —
so it is not passed.) Needs optuna.

Trajectory: one step per trial (step 0: the default program's full evaluation), from the result's
``trial_logs`` (``track_stats=True``); full evaluations give ``optimizer_score`` /
``optimizer_best``, minibatch trials ``optimizer_minibatch_score`` (a score on part of dev, not a
candidate's dev score, so it never counts as the best).
"""

from __future__ import annotations

from typing import Any, Literal

import dspy
from pydantic import Field, model_validator

from augmentlab.core.errors import AugmentlabError
from experiments.optimizers.base import Compiled, Optimizer, OptimizerContext, Trial, finite, pop_stats, register
from experiments.optimizers.bootstrap import DemoOptions

_PASSED_WHEN_SET = (
    "minibatch_full_eval_steps",
    "view_data_batch_size",
    "program_aware_proposer",
    "data_aware_proposer",
    "tip_aware_proposer",
    "fewshot_aware_proposer",
)


class MiproOptions(DemoOptions):
    auto: Literal["light", "medium", "heavy"] | None = None
    """DSPy's preset budgets; instead of ``num_candidates`` / ``num_trials``."""
    num_candidates: int = Field(2, ge=1)
    num_trials: int = Field(2, ge=1)
    minibatch: bool | None = None
    """Defaults to: dev is larger than ``minibatch_size``."""
    minibatch_size: int | None = Field(None, ge=1)
    """Defaults to 35 (at most the dev size)."""
    minibatch_full_eval_steps: int | None = Field(None, ge=1)
    init_temperature: float | None = Field(None, ge=0)
    view_data_batch_size: int | None = Field(None, ge=1)
    program_aware_proposer: bool | None = None
    data_aware_proposer: bool | None = None
    tip_aware_proposer: bool | None = None
    fewshot_aware_proposer: bool | None = None

    @model_validator(mode="after")
    def _one_budget(self) -> MiproOptions:
        if self.auto is not None and {"num_candidates", "num_trials"} & self.model_fields_set:
            raise ValueError("MIPROv2 takes either 'auto' or 'num_candidates'/'num_trials', not both")
        return self

    def effective(self, ctx: OptimizerContext) -> dict[str, Any]:
        out = super().effective(ctx)
        if self.auto is not None:  # auto sets the budget
            out.pop("num_candidates", None)
            out.pop("num_trials", None)
        return out


@register("mipro", "miprov2")
class Mipro(Optimizer):
    Options = MiproOptions
    lm_roles = ("prompt_lm",)

    def compile(self, student: Any, train: list[Any], dev: list[Any], options: dict[str, Any],
                ctx: OptimizerContext) -> Compiled:
        program = _compile(student, train, dev, options, ctx)
        return Compiled(program, trajectory(program))


def _compile(student: Any, train: list[Any], dev: list[Any], o: dict[str, Any], ctx: OptimizerContext) -> Any:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise AugmentlabError("optimizer 'mipro' needs optuna (pip install 'dspy[optuna]')") from None
    auto = o.get("auto")
    mipro = dspy.MIPROv2(
        metric=ctx.metric(),
        prompt_model=ctx.prompt_lm or ctx.lm,
        task_model=ctx.lm,
        auto=auto,
        num_candidates=None if auto else o["num_candidates"],
        max_bootstrapped_demos=o["max_bootstrapped_demos"],
        max_labeled_demos=o["max_labeled_demos"],
        num_threads=ctx.num_threads,
        max_errors=o.get("max_errors"),
        seed=o["seed"],
        init_temperature=o.get("init_temperature", 1.0),
        metric_threshold=o["metric_threshold"],
        verbose=False,
        track_stats=True,  # attaches trial_logs (the trajectory) to the result
    )
    minibatch_size = min(o.get("minibatch_size", 35), len(dev))
    compile_kwargs: dict[str, Any] = {
        "trainset": train,
        "valset": dev,
        "seed": o["seed"],
        "minibatch": o.get("minibatch", len(dev) > minibatch_size),
        "minibatch_size": minibatch_size,
    }
    if not auto:
        compile_kwargs["num_trials"] = o["num_trials"]
    compile_kwargs.update({key: o[key] for key in _PASSED_WHEN_SET if key in o})
    try:
        return mipro.compile(student, **compile_kwargs)
    except ValueError as exc:  # MIPROv2 reports bad budgets / data sizes as ValueError
        raise AugmentlabError(f"MIPROv2: {' '.join(str(exc).split())}") from None


def trajectory(program: Any) -> list[Trial]:
    """From ``trial_logs``: ``{trial number (1 = default program): {"full_eval_score" | "mb_score": %}}``."""
    stats = pop_stats(program, "trial_logs", "score", "prompt_model_total_calls", "total_calls",
                      "mb_candidate_programs", "candidate_programs")
    logs = stats.get("trial_logs") or {}
    out: list[Trial] = []
    for number in sorted(k for k in logs if isinstance(k, int)):
        log = logs[number] or {}
        full = finite(log.get("full_eval_score"))
        if full is not None:
            out.append(Trial(number - 1, full / 100.0))
            continue
        mb = finite(log.get("mb_score"))
        if mb is not None:
            out.append(Trial(number - 1, mb / 100.0, full=False))
    return out
