"""The runner's MLflow 3 GenAI side: traces, assessments, the Prompt Registry, the champion.

Called from :mod:`experiments.runner` in a few lines; the pieces live in
:mod:`experiments.tracing` (traces and assessments) and :mod:`experiments.registry` (prompts).

- :func:`open_tracer` — the execution's :class:`~experiments.tracing.Tracer` (off when the spec
  says ``traces = false`` or the CLI ``--no-traces``); it also marks the experiment as a GenAI
  experiment so MLflow's UI shows its traces, evaluation runs and prompts.
- :func:`trace_tags` — what every trace of a variant is tagged with.
- :func:`log_assessments` — each test example's score, sub-scores and feedback on its trace.
- :func:`register_variant` — the variant's prompts into the registry, linked to its run.
- :func:`crown` — the aliases ``champion`` and ``<spec>-best`` on the winner's versions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from experiments.registry import RegisteredPrompt, alias_for_spec, register_program, set_champion
from experiments.spec import variant_identity
from experiments.tracing import EXAMPLE_TAG, KIND_TAG, SPEC_TAG, VARIANT_TAG, Tracer

if TYPE_CHECKING:
    from augmentlab.core.model import GoldExample
    from experiments.tracking import Tracker
    from experiments.runner import VariantOutcome
    from experiments.spec import ExperimentSpec

logger = logging.getLogger(__name__)

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
GENAI_KIND = "genai_development"


def open_tracer(tracker: Tracker, spec: ExperimentSpec, enabled: bool) -> Tracer:
    """The tracer of an execution (not yet entered)."""
    if enabled:
        try:
            tracker.client.set_experiment_tag(tracker.experiment_id, EXPERIMENT_KIND_TAG, GENAI_KIND)
        except Exception as exc:  # pragma: no cover - the UI falls back to its own guess
            logger.debug("could not tag the experiment kind: %s", exc)
    return Tracer(tracker.tracking_uri, tracker.experiment_id, tracker.redactor, enabled=enabled)


def trace_tags(spec: ExperimentSpec, variant: str) -> dict[str, str]:
    return {SPEC_TAG: spec.spec_name, VARIANT_TAG: variant, KIND_TAG: "evaluation"}


def example_tags(base: dict[str, str], example_id: str) -> dict[str, str]:
    return {**base, EXAMPLE_TAG: example_id}


def log_assessments(tracer: Tracer, outcome: VariantOutcome, golds: Sequence[GoldExample]) -> int:
    """Score, sub-scores, feedback and gold labels on each example's trace; returns how many."""
    if not tracer.enabled:
        return 0
    tracer.flush()  # traces are exported in the background: they must exist before assessments
    by_id = {g.id: g for g in golds}
    n = 0
    for example in outcome.examples:
        if not example.trace_id:
            continue
        gold = by_id.get(example.example_id)
        expected: dict[str, Any] | None = None
        if gold is not None:
            expected = {"scenario": gold.scenario or "", "annotated_lines": [a for a in (gold.annotated or [])]}
        values = {"score": example.score, **{f"part.{k}": v for k, v in sorted(example.parts.items())}}
        tracer.feedback(example.trace_id, values, rationale=example.feedback, expectation=expected, error=example.error)
        n += 1
    return n


def register_variant(
    tracker: Tracker,
    outcome: VariantOutcome,
    spec: ExperimentSpec,
    registered: dict[str, list[RegisteredPrompt]],
) -> list[RegisteredPrompt]:
    """Register the variant's prompts (see :mod:`experiments.registry`); remembered in ``registered``."""
    v = outcome.spec
    tags: dict[str, Any] = {f"augmentlab.{k}": value for k, value in variant_identity(spec, v).items()}
    if v.optimized:
        tags["augmentlab.optimizer"] = v.optimizer
        tags["augmentlab.parent"] = v.base
    elif v.program:
        tags["augmentlab.program_file"] = v.program
    parents = {p.predictor: p for p in registered.get(v.base or "", [])} if v.optimized else None
    message = f"{spec.spec_name}/{v.name}" + (f": {v.description}" if v.description else "")
    prompts = register_program(
        tracker.client,
        outcome.program,
        experiment_id=tracker.experiment_id,
        run_id=outcome.run_id,
        tags=tags,
        redactor=tracker.redactor,
        parents=parents,
        message=message,
    )
    registered[v.name] = prompts
    return prompts


def best_alias(spec: ExperimentSpec) -> str:
    return alias_for_spec(spec.spec_name)


def crown(
    tracker: Tracker, spec: ExperimentSpec, registered: dict[str, list[RegisteredPrompt]], name: str | None
) -> str | None:
    """Alias the execution's winner ``name`` (the run's :attr:`~experiments.runner.RunResult.best`,
    by the one leaderboard's rule) ``champion`` and ``<spec>-best``."""
    if name is None or name not in registered:
        return None
    set_champion(tracker.client, registered[name], spec.spec_name)
    if tracker.parent_run_id:
        tracker.client.set_tag(tracker.parent_run_id, "augmentlab.champion", name)
    return name


__all__ = ["best_alias", "crown", "example_tags", "log_assessments", "open_tracer", "register_variant", "trace_tags"]
