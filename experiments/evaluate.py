"""Run a program on test examples (one MLflow trace each) and score the predictions in one batch.

:func:`experiments.runner.evaluate` puts the two together into the run's per-example results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dspy.utils.exceptions import LMError

from augmentlab.core.errors import AugmentlabError, LMUnavailable
from augmentlab.core.model import GoldExample, Usage
from augmentlab.lm import LMSession, parse_log
from augmentlab.lm.endpoint import unreachable
from experiments.tracing import Tracer
from augmentlab.core.redact import Redactor
from metrics.composite import score_many

if TYPE_CHECKING:
    import dspy
    from rich.console import Console


@dataclass
class Prediction:
    """What a program did on one example: its output (None after an error), usage and trace."""

    gold: GoldExample
    output: Any
    usage: Usage
    error: str | None = None
    trace_id: str | None = None

    @property
    def scenario(self) -> Any:
        return getattr(self.output, "scenario", None)

    @property
    def annotated_lines(self) -> Any:
        return getattr(self.output, "annotated_lines", None)


def predict_all(
    program: Any,
    examples: Sequence[dspy.Example],
    golds: Sequence[GoldExample],
    *,
    session: LMSession,
    secret_env_names: Sequence[str] = (),
    tracer: Tracer | None = None,
    trace_tags: dict[str, str] | None = None,
    run_id: str | None = None,
    description: str = "",
    advance: Callable[[], None] | None = None,
) -> list[Prediction]:
    """Run ``program`` on every example (its LM calls counted on ``session``). A bad output is kept with its reason (it scores 0); an
    LM that cannot be reached stops the run with one line (scoring that as 0 would measure the
    connection, not the prompt)."""
    tracer = tracer or Tracer.off()
    out = []
    for example, gold in zip(examples, golds, strict=True):
        out.append(_predict_one(program, example, gold, session=session, secret_env_names=secret_env_names, tracer=tracer,
                                trace_tags=trace_tags, run_id=run_id, description=description))
        if advance is not None:
            advance()
    return out


def _predict_one(program: Any, example: dspy.Example, gold: GoldExample, *, session: LMSession,
                 secret_env_names: Sequence[str], tracer: Tracer, trace_tags: dict[str, str] | None,
                 run_id: str | None, description: str) -> Prediction:
    start = session.mark()
    error = None
    inputs = example.inputs()
    try:
        with tracer.trace(
            f"{description or 'evaluate'} {gold.id}", inputs=dict(inputs), run_id=run_id,
            tags={**(trace_tags or {}), "augmentlab.example_id": gold.id},
        ) as traced:
            pred = program(**inputs)
            traced.finish(outputs=_trace_outputs(pred), attributes=_trace_usage(session.usage_since(start)))
    except LMError as exc:
        # An error body can echo the API key.
        down = unreachable(exc, session.config)
        reason = Redactor(secret_env_names).text(
            (f"{down}; " if down else "") + f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        raise AugmentlabError(
            f"{description or 'evaluation'}: the LM failed on example {gold.id} ({reason[:400]}); "
            "the run is marked FAILED — re-run to resume (finished LM calls are served from the DSPy cache)"
        ) from None
    except Exception as exc:  # a bad output scores 0 with the reason; the run goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, LMUnavailable):  # the server crashed / the endpoint is down: stop, with its own line
            raise
        parse_log.note("evaluate", f"{type(exc).__name__}: {exc}", example=gold.id)
        pred, error = None, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return Prediction(gold, pred, session.usage_since(start), error, traced.trace_id)


def score_predictions(predictions: Sequence[Prediction], *, task: str, weights: Any, person: str | None = None,
                      embedder: Any = None, instructions: str | None = None) -> list[Any]:
    """One :class:`metrics.composite` score per prediction (in one batch); ``instructions``: the
    program's own text (an output that repeats it scores 0: :mod:`metrics.copied`)."""
    kwargs: dict[str, Any] = {"task": task, "weights": weights, "instructions": instructions}
    if person:
        kwargs["person"] = person
    triples = [(p.gold, p.scenario, p.annotated_lines) for p in predictions]
    return score_many(triples, embedder=embedder, **kwargs)


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def progress_bar(console: Console, enabled: bool) -> Any:
    """A transient rich progress bar for the evaluations (a no-op context when not ``enabled``)."""
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _trace_outputs(pred: Any) -> dict[str, Any]:
    return {"scenario": getattr(pred, "scenario", None), "annotated_lines": getattr(pred, "annotated_lines", None)}


def _trace_usage(usage: Usage) -> dict[str, Any]:
    return {"augmentlab.lm_calls": usage.calls, "augmentlab.prompt_tokens": usage.prompt_tokens,
            "augmentlab.completion_tokens": usage.completion_tokens, "augmentlab.cached_calls": usage.cached_calls,
            "augmentlab.retries": 0}


__all__ = ["Prediction", "predict_all", "progress_bar", "score_predictions"]
