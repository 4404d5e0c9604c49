"""MLflow traces of the LM calls: one trace per evaluated example or augmented scene.

::

    with Tracer(tracking_uri, experiment_id, redactor) as tracer:
        with tracer.trace("evaluate seed", inputs=example_inputs, run_id=run_id,
                          tags={"augmentlab.example_id": "ex1", "augmentlab.variant": "seed"}) as t:
            pred = program(**example_inputs)      # every LM call becomes a child span
            t.finish(outputs=..., attributes={"augmentlab.lm_calls": 1})
        tracer.feedback(t.trace_id, {"score": 0.7, "part.similarity": 0.8}, rationale="...")

A trace's root span holds the example's inputs and the program's output, its tags the example id,
the variant and the spec, its metadata the MLflow run it belongs to (so the run's *Traces* /
*Evaluations* view lists it). Each LM call is a ``CHAT_MODEL`` child span (a DSPy callback): the
rendered messages, the raw answer, the model, token usage and whether DSPy's cache served it.
Scores, sub-scores and the metric's feedback are logged on the trace as MLflow *feedback*
assessments (source ``CODE`` ``augmentlab.metrics``) and the gold labels as an *expectation*, which
is where MLflow 3's UI shows evaluation results and compares two runs example by example.

Secrets: every span passes through the same :class:`~augmentlab.core.redact.Redactor` as params,
tags and artifacts, just before it is exported (inputs, outputs, attributes, the exception events
of a failed call — a 401 body can echo the key — and the status message).

MLflow's tracing is process-global (it exports to the *global* tracking URI), so a
:class:`Tracer` sets the tracking URI and the active experiment while it is open and puts back
what was there before when it closes. ``Tracer(..., enabled=False)`` (spec ``traces = false``,
CLI ``--no-traces``) traces nothing and costs nothing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import augmentlab  # noqa: F401  (offline environment before mlflow)
from augmentlab.core.redact import Redactor

logger = logging.getLogger(__name__)

EXAMPLE_TAG = "augmentlab.example_id"
VARIANT_TAG = "augmentlab.variant"
SPEC_TAG = "augmentlab.spec"
KIND_TAG = "augmentlab.kind"
"""``evaluation`` (a test example scored for a variant) or ``augment`` (a scene of a script)."""
SCENE_TAG = "augmentlab.scene_id"
METRICS_SOURCE = "augmentlab.metrics"
_ASSESSMENT_MAX = 4000  # keep a rationale readable in the UI


class TraceHandle:
    """The open trace of one example: its id, and a place to put the outcome."""

    def __init__(self, span: Any = None) -> None:
        self.span = span
        self.trace_id: str | None = getattr(span, "trace_id", None) if span is not None else None
        self.outputs: Any = None
        self.attributes: dict[str, Any] = {}
        self.error: str | None = None

    def finish(self, *, outputs: Any = None, attributes: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        """Set what the root span ends with (outputs, attributes such as tokens and retries)."""
        if outputs is not None:
            self.outputs = outputs
        if attributes:
            self.attributes.update(attributes)
        if error:
            self.error = error


class Tracer:
    """Traces to one MLflow experiment while open (see the module doc)."""

    def __init__(
        self,
        tracking_uri: str,
        experiment_id: str,
        redactor: Redactor,
        *,
        enabled: bool = True,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_id = experiment_id
        self.redactor = redactor
        self.enabled = enabled
        self._saved: dict[str, Any] | None = None
        self._config: Any = None
        self._callback: Any = None
        self.trace_ids: list[str] = []
        self._tracing_client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def off(cls) -> Tracer:
        """A tracer that traces nothing (``trace`` yields a handle with no trace id)."""
        return cls("", "", Redactor(include_common=False), enabled=False)

    # ------------------------------------------------------------------ session
    def __enter__(self) -> Tracer:
        if not self.enabled:
            return self
        self._saved = activate(self.tracking_uri, self.experiment_id)
        import mlflow.tracing

        self._config = mlflow.tracing.configure(span_processors=[self._redact_span])
        self._callback = _lm_span_callback(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.enabled or self._saved is None:
            return
        try:
            self.flush()
        finally:
            if self._config is not None:
                self._config.__exit__(None, None, None)
            restore(self._saved)
            self._saved = None

    def flush(self) -> None:
        """Write the traces still queued for export (before assessments are logged on them)."""
        if not self.enabled:
            return
        import mlflow

        try:
            mlflow.flush_trace_async_logging()
        except Exception as exc:  # pragma: no cover - export problems never stop a run
            logger.warning("flushing MLflow traces failed: %s", exc)

    # ------------------------------------------------------------------ traces
    @contextmanager
    def trace(
        self,
        name: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Iterator[TraceHandle]:
        """One trace (root span) around the body; the body's LM calls become its child spans."""
        if not self.enabled or self._saved is None:
            yield TraceHandle()
            return
        import dspy
        from mlflow.tracing.constant import TraceMetadataKey
        from mlflow.tracing.fluent import start_span_no_context
        from mlflow.tracing.provider import detach_span_from_context, set_span_in_context

        red = self.redactor
        span = start_span_no_context(
            red.text(name),
            span_type="CHAIN",
            inputs=red.value(dict(inputs or {})),
            tags={red.text(str(k)): red.text(str(v)) for k, v in (tags or {}).items()},
            metadata={TraceMetadataKey.SOURCE_RUN: run_id} if run_id else None,
            experiment_id=self.experiment_id,
        )
        handle = TraceHandle(span)
        token = set_span_in_context(span)
        status = "OK"
        try:
            callbacks = [*(dspy.settings.get("callbacks") or []), self._callback]
            with dspy.context(callbacks=callbacks):
                yield handle
        except BaseException as exc:
            status = "ERROR"
            handle.error = handle.error or f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
            raise
        finally:
            detach_span_from_context(token)
            try:
                if handle.attributes:
                    span.set_attributes(red.value(_plain(handle.attributes)))
                if handle.error:
                    status = "ERROR"
                    span.set_attribute("augmentlab.error", red.text(handle.error))
                span.end(outputs=red.value(_plain(handle.outputs)) if handle.outputs is not None else None, status=status)
                if handle.trace_id and handle.trace_id != _no_op_id():
                    with self._lock:
                        self.trace_ids.append(handle.trace_id)
                else:
                    handle.trace_id = None
            except Exception as exc:  # pragma: no cover - tracing never breaks an evaluation
                logger.warning("ending an MLflow trace failed: %s", exc)
                handle.trace_id = None

    def feedback(
        self,
        trace_id: str | None,
        values: Mapping[str, float | None],
        *,
        rationale: str = "",
        expectation: Any = None,
        error: str | None = None,
    ) -> None:
        """Log scores as feedback assessments on a trace (the first value carries the rationale)."""
        if not self.enabled or not trace_id:
            return
        from mlflow.entities import AssessmentSource, Expectation, Feedback
        from mlflow.tracing.client import TracingClient

        if self._tracing_client is None:
            self._tracing_client = TracingClient(self.tracking_uri)
        tracing = self._tracing_client
        source = AssessmentSource(source_type="CODE", source_id=METRICS_SOURCE)
        red = self.redactor
        first = True
        for name, value in values.items():
            if value is None or value != value:  # NaN: a part that did not apply
                continue
            note = red.text(rationale)[:_ASSESSMENT_MAX] if first and rationale else None
            tracing.log_assessment(trace_id, Feedback(name=name, value=float(value), source=source, rationale=note))
            first = False
        if error:
            tracing.log_assessment(
                trace_id, Feedback(name="program_error", value=True, source=source, rationale=red.text(error)[:_ASSESSMENT_MAX])
            )
        if expectation is not None:
            human = AssessmentSource(source_type="HUMAN", source_id="gold")
            tracing.log_assessment(trace_id, Expectation(name="gold", value=red.value(_plain(expectation)), source=human))

    # ------------------------------------------------------------------ redaction
    def _redact_span(self, span: Any) -> None:
        """Span processor: the secrets out of everything the span will export."""
        redact_live_span(span, self.redactor)


def redact_live_span(span: Any, redactor: Redactor) -> None:
    """Replace secret values in a live span's name, its attributes (inputs and outputs are
    attributes), its events (exception messages and stack traces) and its status message."""
    if not redactor.active:
        return
    otel = getattr(span, "_span", None)
    if otel is None:
        return
    name = getattr(otel, "name", None)
    if isinstance(name, str) and redactor.text(name) != name:
        otel.update_name(redactor.text(name))
    for key, value in list((otel.attributes or {}).items()):
        if isinstance(value, str):
            clean = _redact_json_text(value, redactor)
            if clean != value:
                otel.set_attribute(key, clean)
    events = getattr(otel, "_events", None)
    if events:
        from opentelemetry.sdk.trace import Event
        from opentelemetry.sdk.util import BoundedList

        clean_events = []
        for event in events:
            attrs = {k: _redact_json_text(v, redactor) if isinstance(v, str) else v for k, v in (event.attributes or {}).items()}
            clean_events.append(Event(redactor.text(event.name), attrs, event.timestamp))
        otel._events = BoundedList.from_seq(getattr(getattr(events, "_dq", None), "maxlen", None), clean_events)
    status = getattr(otel, "_status", None)
    if status is not None and status.description and redactor.text(status.description) != status.description:
        from opentelemetry.trace import Status

        otel._status = Status(status.status_code, redactor.text(status.description))


def _redact_json_text(text: str, redactor: Redactor) -> str:
    """Redact a string that may be JSON (a secret inside it may be escaped)."""
    out = redactor.text(text)
    for secret, name in getattr(redactor, "_secrets", []):
        escaped = json.dumps(secret)[1:-1]
        if escaped != secret and escaped in out:
            out = out.replace(escaped, f"[REDACTED:{name}]")
    return out


def _plain(value: Any) -> Any:
    """JSON-friendly: pydantic models and other objects become dicts/strings."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return _plain(dump(mode="json"))
    to_dict = getattr(value, "toDict", None)
    if callable(to_dict):
        return _plain(to_dict())
    return str(value)


def _no_op_id() -> str:
    from mlflow.entities.span import NO_OP_SPAN_TRACE_ID

    return NO_OP_SPAN_TRACE_ID


def traced_scene(tracer: Tracer, run: Any, item: Any, *, tags: Mapping[str, str], run_id: str | None) -> Any:
    """Run one augment scene (``run(item)``, all its attempts) inside one trace.

    The trace holds the scene's lines as inputs, the result (or the failure and its raw output)
    as outputs, and the attempts, retries and tokens as attributes.
    """
    scene = item.scene
    inputs = {"script": item.script, "scene_index": scene.index, "lines": [line.render() for line in scene.lines]}
    trace_tags = {**tags, KIND_TAG: "augment", SCENE_TAG: str(scene.id)}
    with tracer.trace(f"augment {scene.id}", inputs=inputs, tags=trace_tags, run_id=run_id) as handle:
        outcome = run(item)
        result = getattr(outcome, "result", None)
        usage = outcome.usage
        handle.finish(
            outputs={
                "status": outcome.status,
                "scenario": getattr(result, "scenario", None),
                "annotated_lines": [a.annotated for a in result.lines] if result is not None else None,
                "reason": outcome.reason,
                "raw": outcome.raw if result is None else None,
            },
            attributes={
                "augmentlab.status": outcome.status,
                "augmentlab.attempts": outcome.attempts,
                "augmentlab.retries": max(0, outcome.attempts - 1),
                "augmentlab.lm_calls": usage.calls,
                "augmentlab.prompt_tokens": usage.prompt_tokens,
                "augmentlab.completion_tokens": usage.completion_tokens,
                "augmentlab.cached_calls": usage.cached_calls,
            },
            error=None if outcome.status == "ok" else f"{outcome.status}: {outcome.reason or ''}",
        )
    return outcome


# ------------------------------------------------------------------------------- global state
def activate(tracking_uri: str, experiment_id: str | None) -> dict[str, Any]:
    """Point MLflow's process-global tracking URI (and active experiment) at ``tracking_uri``.

    Returns what was there, for :func:`restore`. Tracing and the prompt registry's link from a
    prompt to its experiment read these globals; everything else here uses explicit clients.
    """
    import mlflow
    import mlflow.tracking.fluent as fluent
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved = {
        "uri": tracking_utils._tracking_uri,
        "env_uri": os.environ.get("MLFLOW_TRACKING_URI"),
        "experiment": fluent._active_experiment_id,
        "env_experiment": os.environ.get("MLFLOW_EXPERIMENT_ID"),
    }
    # Trace and span ids from their own generator: the runner seeds Python's global `random` per
    # variant, so ids drawn from it would repeat across executions (a second execution would
    # overwrite the first one's traces), and drawing them would shift the seeded sequence.
    # Export each trace as it ends (a few rows per trace): MLflow's default background queue
    # takes seconds to drain on every flush, and assessments need the traces written first.
    wanted = {_ISOLATED_IDS: "true", "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": os.environ.get(
        "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")}
    if any(os.environ.get(k) != v for k, v in wanted.items()):
        os.environ.update(wanted)
        from mlflow.tracing.provider import reset

        reset()
    mlflow.set_tracking_uri(tracking_uri)
    if experiment_id is not None:
        fluent._active_experiment_id = experiment_id
        os.environ["MLFLOW_EXPERIMENT_ID"] = experiment_id
    return saved


_ISOLATED_IDS = "MLFLOW_TRACE_USE_ISOLATED_RANDOM_ID_GENERATOR"


@contextmanager
def pointing_at(tracking_uri: str, experiment_id: str | None) -> Iterator[None]:
    """MLflow's globals on ``tracking_uri`` for the block (see :func:`activate`).

    Some client calls read them even when given an explicit client: linking a prompt version to
    a run and to its experiment look the run and the experiment up through the global URI.
    """
    saved = activate(tracking_uri, experiment_id)
    try:
        yield
    finally:
        restore(saved)


def restore(saved: dict[str, Any]) -> None:
    """Undo :func:`activate`."""
    import mlflow
    import mlflow.tracking.fluent as fluent

    mlflow.set_tracking_uri(saved["uri"]) if saved["uri"] is not None else _unset_uri()
    for key, name in (("env_uri", "MLFLOW_TRACKING_URI"), ("env_experiment", "MLFLOW_EXPERIMENT_ID")):
        if saved[key] is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved[key]
    fluent._active_experiment_id = saved["experiment"]


def _unset_uri() -> None:
    from mlflow.tracking._tracking_service import utils as tracking_utils

    if tracking_utils._tracking_uri is not None:
        tracking_utils.set_tracking_uri(None)  # resets the tracer provider too


# ------------------------------------------------------------------------------- LM spans
def _lm_span_callback(tracer: Tracer) -> Any:
    """A DSPy callback making each LM call a ``CHAT_MODEL`` span under the open trace."""
    from dspy.utils.callback import BaseCallback

    class LMSpans(BaseCallback):
        def __init__(self) -> None:
            self._open: dict[str, tuple[Any, Any, int]] = {}

        def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            import mlflow
            from mlflow.tracing.constant import SpanAttributeKey
            from mlflow.tracing.fluent import start_span_no_context

            parent = mlflow.get_current_active_span()
            if parent is None:  # an LM call outside a traced example (e.g. while compiling)
                return
            kwargs = inputs.get("kwargs") or {}
            messages = inputs.get("messages") or ([{"role": "user", "content": inputs["prompt"]}] if inputs.get("prompt") else [])
            settings = {k: v for k, v in {**getattr(instance, "kwargs", {}), **kwargs}.items()
                        if k in ("temperature", "max_tokens", "rollout_id", "n")}
            model = str(getattr(instance, "model", ""))
            span = start_span_no_context(
                f"LM {model}".strip(),
                span_type="CHAT_MODEL",
                parent_span=parent,
                inputs={"messages": _plain(messages)},
                attributes={
                    SpanAttributeKey.MODEL: model,
                    SpanAttributeKey.MESSAGE_FORMAT: "dspy",
                    "cache": bool(getattr(instance, "cache", False)),
                    **{f"lm.{k}": v for k, v in settings.items() if isinstance(v, str | int | float | bool)},
                },
            )
            self._open[call_id] = (span, instance, len(getattr(instance, "history", []) or []))

        def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
            opened = self._open.pop(call_id, None)
            if opened is None:
                return
            span, instance, start = opened
            from mlflow.entities import SpanEvent
            from mlflow.tracing.constant import SpanAttributeKey, TokenUsageKey

            from augmentlab.lm import usage_since

            try:
                usage = usage_since(instance, start)
                span.set_attribute(
                    SpanAttributeKey.CHAT_USAGE,
                    {
                        TokenUsageKey.INPUT_TOKENS: usage.prompt_tokens,
                        TokenUsageKey.OUTPUT_TOKENS: usage.completion_tokens,
                        TokenUsageKey.TOTAL_TOKENS: usage.total_tokens,
                    },
                )
                span.set_attribute("cache_hit", bool(usage.cached_calls))
            except Exception:  # usage is a nicety: a missing history never breaks the span
                pass
            if exception is not None:
                span.add_event(SpanEvent.from_exception(exception))
            span.end(outputs=_plain(outputs), status="ERROR" if exception is not None else "OK")

    return LMSpans()


__all__ = [
    "EXAMPLE_TAG",
    "KIND_TAG",
    "SCENE_TAG",
    "SPEC_TAG",
    "VARIANT_TAG",
    "TraceHandle",
    "Tracer",
    "activate",
    "pointing_at",
    "redact_live_span",
    "restore",
]
