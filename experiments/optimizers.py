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

Trajectory
----------
:func:`compile_variant` returns, with the program, what the optimizer scored on the way, in the order it
scored it (:class:`Trial`; scores on the metric's 0–1 scale — DSPy's ``Evaluate`` percentages are
divided by 100), and takes DSPy's bookkeeping attributes off the returned program so the saved
program is only its prompts. :func:`trajectory_metrics` turns it into the MLflow step metrics the
runner logs in the variant's child run (the report's "Optimizer progress" plot reads them):
``optimizer_score`` (the dev score of candidate / trial *step*), ``optimizer_best`` (the best of
those up to *step*) and, for MIPROv2 with minibatches only, ``optimizer_minibatch_score``.

=================  ===========================================================================
``random_search``  one step per candidate program, in the order DSPy scored them on dev:
                   zero-shot, labeled demos only, unshuffled bootstrap, then each random seed
                   (``candidate_programs`` of the result, re-sorted by seed)
``mipro``          one step per trial (step 0: the default program's full evaluation), from the
                   result's ``trial_logs`` (``track_stats=True``); full evaluations give
                   ``optimizer_score`` / ``optimizer_best``, minibatch trials
                   ``optimizer_minibatch_score`` (a score on part of dev, not a candidate's
                   dev score, so it never counts as the best)
``gepa``           one step per candidate in discovery order (step 0: the seed program), its
                   dev aggregate score from ``detailed_results.val_aggregate_scores``
                   (``track_stats=True``)
``labeled``        nothing: LabeledFewShot picks demos without scoring anything
``bootstrap``      nothing: BootstrapFewShot keeps passing traces but scores no candidate
                   program (its only output is the one compiled program)
=================  ===========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from augmentlab.core.errors import AugmentlabError

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


@dataclass(frozen=True)
class Trial:
    """One candidate program (or trial) an optimizer scored while compiling."""

    step: int
    """Position in the order the optimizer scored things (0 = the first)."""
    score: float
    """Mean metric on dev (0–1); on a minibatch of dev when ``full`` is False."""
    full: bool = True
    """False for a MIPROv2 minibatch score (not comparable with full dev scores)."""


@dataclass
class Compiled:
    """A compiled program and the trajectory that led to it (empty for labeled / bootstrap)."""

    program: Any
    trajectory: list[Trial] = field(default_factory=list)


#: Step metric names (see the module doc).
SCORE_METRIC = "optimizer_score"
BEST_METRIC = "optimizer_best"
MINIBATCH_METRIC = "optimizer_minibatch_score"


def trajectory_metrics(trajectory: Sequence[Trial]) -> list[tuple[int, dict[str, float]]]:
    """``[(step, {metric: value})]`` to log: each full score with the best so far; minibatch scores apart."""
    out: list[tuple[int, dict[str, float]]] = []
    best: float | None = None
    for trial in sorted(trajectory, key=lambda t: t.step):
        if trial.full:
            best = trial.score if best is None else max(best, trial.score)
            out.append((trial.step, {SCORE_METRIC: trial.score, BEST_METRIC: best}))
        else:
            out.append((trial.step, {MINIBATCH_METRIC: trial.score}))
    return out


def compile_variant(
    optimizer: str,
    student: dspy.Module,
    *,
    trainset: Sequence[dspy.Example],
    devset: Sequence[dspy.Example],
    options: dict[str, Any],
    ctx: OptimizerContext,
) -> Compiled:
    """Compile ``student`` with ``optimizer`` (a canonical spec name) on ``trainset``; the program
    and the optimizer's trajectory (see the module doc).

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
        return Compiled(dspy.LabeledFewShot(k=o["max_labeled_demos"]).compile(student, trainset=train))
    if optimizer == "bootstrap":
        return Compiled(dspy.BootstrapFewShot(
            metric=ctx.metric(),
            metric_threshold=o["metric_threshold"],
            max_bootstrapped_demos=o["max_bootstrapped_demos"],
            max_labeled_demos=o["max_labeled_demos"],
            max_rounds=o["max_rounds"],
            max_errors=o.get("max_errors"),
        ).compile(student, trainset=train))
    if optimizer == "random_search":
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
        return Compiled(program, _random_search_trajectory(program))
    if optimizer == "mipro":
        program = _mipro(student, train, dev, o, ctx)
        return Compiled(program, _mipro_trajectory(program))
    if optimizer == "gepa":
        program = _gepa(student, train, dev, o, ctx)
        return Compiled(program, _gepa_trajectory(program))
    raise AugmentlabError(f"unknown optimizer {optimizer!r}")


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _pop(program: Any, *names: str) -> dict[str, Any]:
    """Take DSPy's bookkeeping attributes off ``program`` (they hold copies of every candidate)."""
    return {name: program.__dict__.pop(name) for name in names if name in program.__dict__}


def _random_search_trajectory(program: Any) -> list[Trial]:
    """From ``candidate_programs`` (sorted by score by DSPy; each has the ``seed`` it ran in order)."""
    candidates = _pop(program, "candidate_programs").get("candidate_programs") or []
    ordered = sorted((c for c in candidates if isinstance(c, dict)), key=lambda c: c.get("seed", 0))
    return [Trial(step, s / 100.0) for step, s in enumerate(_finite(c.get("score")) for c in ordered) if s is not None]


def _mipro_trajectory(program: Any) -> list[Trial]:
    """From ``trial_logs``: ``{trial number (1 = default program): {"full_eval_score" | "mb_score": %}}``."""
    stats = _pop(program, "trial_logs", "score", "prompt_model_total_calls", "total_calls",
                 "mb_candidate_programs", "candidate_programs")
    logs = stats.get("trial_logs") or {}
    out: list[Trial] = []
    for number in sorted(k for k in logs if isinstance(k, int)):
        log = logs[number] or {}
        full = _finite(log.get("full_eval_score"))
        if full is not None:
            out.append(Trial(number - 1, full / 100.0))
            continue
        mb = _finite(log.get("mb_score"))
        if mb is not None:
            out.append(Trial(number - 1, mb / 100.0, full=False))
    return out


def _gepa_trajectory(program: Any) -> list[Trial]:
    """From ``detailed_results.val_aggregate_scores`` (candidate 0 is the seed program)."""
    results = _pop(program, "detailed_results").get("detailed_results")
    scores = getattr(results, "val_aggregate_scores", None) or []
    return [Trial(step, s) for step, s in enumerate(_finite(x) for x in scores) if s is not None]


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
        "track_stats": True,  # attaches detailed_results (the trajectory) to the result
        "warn_on_score_mismatch": False,
    }
    if o.get("max_merge_invocations") is not None:
        kwargs["max_merge_invocations"] = o["max_merge_invocations"]
    for key in ("auto", "max_metric_calls", "max_full_evals"):
        if o.get(key) is not None:
            kwargs[key] = o[key]
    gepa = dspy.GEPA(metric=ctx.feedback_metric(), **kwargs)
    return gepa.compile(student, trainset=train, valset=dev)


__all__ = [
    "BEST_METRIC",
    "DEFAULTS",
    "MINIBATCH_METRIC",
    "SCORE_METRIC",
    "Compiled",
    "OptimizerContext",
    "Trial",
    "compile_variant",
    "effective_options",
    "trajectory_metrics",
]
