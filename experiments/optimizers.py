"""DSPy optimizers behind one call: :func:`compile_variant`.

=================  =============================================  ==========================
spec name          DSPy optimizer                                 data it uses
=================  =============================================  ==========================
``labeled``        :class:`dspy.LabeledFewShot`                   train (gold as demos)
``bootstrap``      :class:`dspy.BootstrapFewShot`                 train
``random_search``  :class:`dspy.BootstrapFewShotWithRandomSearch`  train; dev picks the best
``mipro``          :class:`dspy.MIPROv2` (needs optuna)           train; dev picks the best
``gepa``           :class:`dspy.GEPA` (reflective, feedback)      train; dev tracks the front
=================  =============================================  ==========================

Budgets default small (augmentlab runs on a 135M-parameter local model): 2 bootstrapped demos,
no labeled demos on top of them, 2 candidate programs / instruction candidates / trials, and a
GEPA budget of two full evaluations. Bootstrapping keeps a demo only when its score reaches the
spec's ``[metrics] threshold`` (``metric_threshold`` overrides it), since the composite metric is
a float and DSPy would otherwise keep any non-zero score.

MIPROv2 runs with ``auto=None`` and explicit ``num_candidates`` / ``num_trials`` unless the
variant sets ``auto``. (``requires_permission_to_run`` is deprecated in DSPy 3.4 — confirmation
was removed — so it is not passed.) GEPA gets the spec's ``reflection_lm`` and proposes
instructions through DSPy's built-in proposer with a JSON adapter (the grammar-constrained one for
the embedded model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from augmentlab.errors import AugmentlabError

if TYPE_CHECKING:
    import dspy

#: Defaults used when a variant does not set an option (kept small on purpose).
DEFAULTS: dict[str, Any] = {
    "max_bootstrapped_demos": 2,
    "max_labeled_demos": 0,
    "labeled_k": 2,
    "max_rounds": 1,
    "num_candidate_programs": 2,
    "num_candidates": 2,
    "num_trials": 2,
    "max_full_evals": 2,
}


@dataclass
class OptimizerContext:
    """What every optimizer needs besides the program and data."""

    task: str
    weights: Any
    """:class:`metrics.composite.Weights`."""
    threshold: float
    person: str | None = None
    seed: int = 0
    num_threads: int = 1
    lm: dspy.BaseLM | None = None
    """The task LM (also the default prompt / reflection LM)."""
    prompt_lm: dspy.BaseLM | None = None
    reflection_lm: dspy.BaseLM | None = None
    reflection_adapter: dspy.Adapter | None = None
    embedder: Any = None
    """A :class:`metrics.similarity.Embedder` shared with the evaluation (optional)."""

    def metric_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.person:
            kwargs["person"] = self.person
        if self.embedder is not None:
            kwargs["embedder"] = self.embedder
        return kwargs

    def metric(self) -> Any:
        from metrics.composite import dspy_metric

        return dspy_metric(self.task, self.weights, self.threshold, **self.metric_kwargs())  # type: ignore[arg-type]

    def feedback_metric(self) -> Any:
        from metrics.composite import gepa_metric

        return gepa_metric(self.task, self.weights, **self.metric_kwargs())  # type: ignore[arg-type]


def effective_options(optimizer: str, options: dict[str, Any], ctx: OptimizerContext) -> dict[str, Any]:
    """The options an optimizer actually runs with (defaults filled in; what MLflow logs)."""
    o = dict(options)
    o.setdefault("seed", ctx.seed)
    if optimizer == "labeled":
        o.setdefault("max_labeled_demos", DEFAULTS["labeled_k"])
    if optimizer in ("bootstrap", "random_search", "mipro"):
        o.setdefault("max_bootstrapped_demos", DEFAULTS["max_bootstrapped_demos"])
        o.setdefault("max_labeled_demos", DEFAULTS["max_labeled_demos"])
        o.setdefault("metric_threshold", ctx.threshold)
    if optimizer in ("bootstrap", "random_search"):
        o.setdefault("max_rounds", DEFAULTS["max_rounds"])
    if optimizer == "random_search":
        o.setdefault("num_candidate_programs", DEFAULTS["num_candidate_programs"])
    if optimizer == "mipro" and o.get("auto") is None:
        o.setdefault("num_candidates", DEFAULTS["num_candidates"])
        o.setdefault("num_trials", DEFAULTS["num_trials"])
    if optimizer == "gepa" and not any(o.get(k) is not None for k in ("auto", "max_metric_calls", "max_full_evals")):
        o["max_full_evals"] = DEFAULTS["max_full_evals"]
    return o


def compile_variant(
    optimizer: str,
    student: dspy.Module,
    *,
    trainset: Sequence[dspy.Example],
    devset: Sequence[dspy.Example],
    options: dict[str, Any],
    ctx: OptimizerContext,
) -> dspy.Module:
    """Compile ``student`` with ``optimizer`` (a canonical spec name) on ``trainset``.

    ``devset`` is used for selection by the optimizers that select (random search, MIPROv2,
    GEPA); when it is empty they fall back to ``trainset``. The test split never reaches here.
    """
    train = list(trainset)
    dev = list(devset) or train
    if not train:
        raise AugmentlabError(f"optimizer {optimizer!r} needs training examples, but the train split is empty")
    o = effective_options(optimizer, options, ctx)
    import dspy

    if optimizer == "labeled":
        return dspy.LabeledFewShot(k=o["max_labeled_demos"]).compile(student, trainset=train)
    if optimizer == "bootstrap":
        return dspy.BootstrapFewShot(
            metric=ctx.metric(),
            metric_threshold=o["metric_threshold"],
            max_bootstrapped_demos=o["max_bootstrapped_demos"],
            max_labeled_demos=o["max_labeled_demos"],
            max_rounds=o["max_rounds"],
            max_errors=o.get("max_errors"),
        ).compile(student, trainset=train)
    if optimizer == "random_search":
        return dspy.BootstrapFewShotWithRandomSearch(
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
    if optimizer == "mipro":
        return _mipro(student, train, dev, o, ctx)
    if optimizer == "gepa":
        return _gepa(student, train, dev, o, ctx)
    raise AugmentlabError(f"unknown optimizer {optimizer!r}")


def _mipro(student: Any, train: list[Any], dev: list[Any], o: dict[str, Any], ctx: OptimizerContext) -> Any:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise AugmentlabError("optimizer 'mipro' needs optuna (pip install 'dspy[optuna]')") from None
    import dspy

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
        track_stats=False,
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
    for key in (
        "minibatch_full_eval_steps",
        "view_data_batch_size",
        "program_aware_proposer",
        "data_aware_proposer",
        "tip_aware_proposer",
        "fewshot_aware_proposer",
    ):
        if key in o:
            compile_kwargs[key] = o[key]
    try:
        return mipro.compile(student, **compile_kwargs)
    except ValueError as exc:  # MIPROv2 reports bad budgets / data sizes as ValueError
        raise AugmentlabError(f"MIPROv2: {' '.join(str(exc).split())}") from None


def _gepa(student: Any, train: list[Any], dev: list[Any], o: dict[str, Any], ctx: OptimizerContext) -> Any:
    import dspy
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
        "track_stats": False,
        "warn_on_score_mismatch": False,
    }
    if o.get("max_merge_invocations") is not None:
        kwargs["max_merge_invocations"] = o["max_merge_invocations"]
    for key in ("auto", "max_metric_calls", "max_full_evals"):
        if o.get(key) is not None:
            kwargs[key] = o[key]
    gepa = dspy.GEPA(metric=ctx.feedback_metric(), **kwargs)
    return gepa.compile(student, trainset=train, valset=dev)


__all__ = ["DEFAULTS", "OptimizerContext", "compile_variant", "effective_options"]
