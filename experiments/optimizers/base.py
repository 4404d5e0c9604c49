"""What an optimizer is: its options model, its ``compile``, its trajectory — and the registry.

An optimizer is a subclass of :class:`Optimizer` in its own module, registered by name with
:func:`register` (like DSPy's ``teleprompt`` classes or lm-eval's ``@register_model``)::

    @register("bootstrap", "bootstrapfewshot")
    class Bootstrap(Optimizer):
        Options = BootstrapOptions

        def compile(self, student, train, dev, options, ctx) -> Compiled: ...

Its ``Options`` model is the only place that says which spec keys it takes, their types and
limits, and their defaults; the spec validates a variant's keys with it. A field that defaults to
``None`` is either passed to DSPy only when the spec sets it, or filled from the spec
(:meth:`OptimizerOptions.effective`: ``seed`` from the spec's ``seed``, ``metric_threshold``
from ``[metrics] threshold``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from augmentlab.core.errors import AugmentlabError
from metrics.composite import dspy_metric, gepa_metric

if TYPE_CHECKING:
    import dspy


# ------------------------------------------------------------------------------- context
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
    judge_metric: Any = None
    """A variant with ``metric = "judge"``: an :class:`experiments.judging.JudgeMetric` (the win
    against the baseline by the spec's LM judge) instead of the composite."""

    def metric_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.person:
            kwargs["person"] = self.person
        if self.embedder is not None:
            kwargs["embedder"] = self.embedder
        return kwargs

    def metric(self) -> Any:
        if self.judge_metric is not None:
            return self.judge_metric
        return dspy_metric(self.task, self.weights, self.threshold, **self.metric_kwargs())  # type: ignore[arg-type]

    def feedback_metric(self) -> Any:
        if self.judge_metric is not None:
            return self.judge_metric.feedback()
        return gepa_metric(self.task, self.weights, **self.metric_kwargs())  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- options
class OptimizerOptions(BaseModel):
    """The spec keys of one optimizer (a subclass per optimizer); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    """Defaults to the spec's ``seed``."""

    #: Fields that default to a value of the spec: field name -> :class:`OptimizerContext` attribute.
    FROM_SPEC: ClassVar[dict[str, str]] = {"seed": "seed"}

    def given(self) -> dict[str, Any]:
        """The options the spec set (sorted by name)."""
        return {key: getattr(self, key) for key in sorted(self.model_fields_set)}

    def effective(self, ctx: OptimizerContext) -> dict[str, Any]:
        """The options the optimizer runs with (what MLflow logs): the spec's, then each field's
        default in declaration order (from the spec where :attr:`FROM_SPEC` says so); fields left
        ``None`` are DSPy's defaults and are not listed."""
        out = self.given()
        for name in type(self).model_fields:
            if name in out:
                continue
            value = getattr(self, name)
            if value is None and name in self.FROM_SPEC:
                value = getattr(ctx, self.FROM_SPEC[name])
            if value is not None:
                out[name] = value
        return out


# ------------------------------------------------------------------------------- results
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


#: Step metric names (see :mod:`experiments.optimizers`).
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


def finite(value: Any) -> float | None:
    """``value`` as a finite float, else ``None``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pop_stats(program: Any, *names: str) -> dict[str, Any]:
    """Take DSPy's bookkeeping attributes off ``program`` (they hold copies of every candidate)."""
    return {name: program.__dict__.pop(name) for name in names if name in program.__dict__}


# ------------------------------------------------------------------------------- optimizer + registry
class Optimizer:
    """One optimizer: a name, an options model, and :meth:`compile`."""

    name: ClassVar[str] = ""
    """The canonical spec name (set by :func:`register`)."""
    Options: ClassVar[type[OptimizerOptions]] = OptimizerOptions
    lm_roles: ClassVar[tuple[str, ...]] = ()
    """Which of the spec's other LMs it uses besides the task LM (``prompt_lm``, ``reflection_lm``)."""

    def compile(
        self, student: dspy.Module, train: list[Any], dev: list[Any], options: dict[str, Any], ctx: OptimizerContext
    ) -> Compiled:
        """Compile ``student`` on ``train`` (``dev`` selects, where the optimizer selects) with the
        effective ``options``; the program and what the optimizer scored on the way."""
        raise NotImplementedError


_REGISTRY: dict[str, type[Optimizer]] = {}
_SPELLINGS: dict[str, str] = {}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def register(name: str, *spellings: str) -> Callable[[type[Optimizer]], type[Optimizer]]:
    """Class decorator: register an optimizer under ``name`` (and other accepted ``spellings``,
    compared without case or punctuation)."""

    def decorate(cls: type[Optimizer]) -> type[Optimizer]:
        cls.name = name
        _REGISTRY[name] = cls
        for spelling in (name, *spellings):
            _SPELLINGS[_key(spelling)] = name
        return cls

    return decorate


def names() -> list[str]:
    """The registered optimizers' canonical names, in registration order."""
    return list(_REGISTRY)


def canonical_optimizer(name: str) -> str | None:
    """The canonical optimizer name for any accepted spelling, else ``None``."""
    return _SPELLINGS.get(_key(name))


def get_optimizer(name: str) -> Optimizer:
    """The optimizer registered as ``name`` (any accepted spelling)."""
    canonical = canonical_optimizer(name)
    if canonical is None:
        raise AugmentlabError(f"unknown optimizer {name!r}")
    return _REGISTRY[canonical]()


def option_names() -> list[str]:
    """Every key some optimizer takes (sorted): what a ``[[variants]]`` table may hold besides its own keys."""
    return sorted({key for cls in _REGISTRY.values() for key in cls.Options.model_fields})
