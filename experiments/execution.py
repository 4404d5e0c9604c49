"""What one execution of a spec holds open while it runs: its LMs (opened once from the spec's
validated configs), the embedder, its MLflow run and tracer, the optimizers' context."""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy
from rich.console import Console

from augmentlab.lm import LMConfig, adapter_for, open_lm
from experiments import genai
from experiments.optimizers import OptimizerContext, get_optimizer
from experiments.record import log_execution
from experiments.spec import ExperimentSpec
from experiments.splits import Split
from experiments.tracing import Tracer
from experiments.tracking import RunLogger, Tracker
from metrics.similarity import default_embedder
from prompts import OPTIMIZED_DIR
from prompts.data import to_example


@dataclass
class OpenLMs:
    """The run's LMs, opened once: the task LM (in the DSPy context) with its adapter, and the
    optimizers' prompt / reflection LMs (the task LM unless the spec names another and a variant
    needs it)."""

    config: LMConfig
    lm: dspy.BaseLM
    adapter: Any
    prompt_lm: dspy.BaseLM
    reflection_lm: dspy.BaseLM
    reflection_adapter: Any


def open_lms(stack: ExitStack, spec: ExperimentSpec) -> OpenLMs:
    """Open the spec's LMs in ``stack`` (closed, embedded server included, when it closes)."""
    configs = spec.lm_configs()
    lm = stack.enter_context(open_lm(configs["lm"]))
    adapter = adapter_for(configs["lm"])
    stack.enter_context(dspy.context(lm=lm, adapter=adapter))
    needs = {role for v in spec.variants if v.optimizer for role in get_optimizer(v.optimizer).lm_roles}

    def role(name: str) -> dspy.BaseLM:
        if name not in needs or configs[name] == configs["lm"]:
            return lm
        return stack.enter_context(open_lm(configs[name]))

    prompt_lm = role("prompt_lm")
    reflection_lm = role("reflection_lm")
    return OpenLMs(configs["lm"], lm, adapter, prompt_lm, reflection_lm, adapter_for(configs["reflection_lm"]))


@dataclass
class Execution:
    """One execution of a spec while it runs: its data, its open LMs, its MLflow run and tracer."""

    spec: ExperimentSpec
    split: Split
    parts: dict[str, list[dspy.Example]]
    lms: OpenLMs
    tracker: Tracker
    parent: RunLogger
    tracer: Tracer
    ctx: OptimizerContext
    console: Console
    out_dir: Path
    programs_dir: Path
    registered: dict[str, Any] = field(default_factory=dict)
    """The prompts registered per variant (the MLflow Prompt Registry)."""


def open_execution(stack: ExitStack, spec: ExperimentSpec, split: Split, tracker: Tracker, *, started: str,
                    traces: bool | None, console: Console, out_dir: Path,
                    programs_dir: str | os.PathLike[str] | None) -> Execution:
    """Open the LMs, the embedder, the execution's MLflow run and its tracer; log the execution."""
    lms = open_lms(stack, spec)
    embedder = default_embedder()
    parent = stack.enter_context(tracker.parent(f"{spec.spec_name} {started}", tags={"augmentlab.spec": spec.spec_name}))
    tracer = stack.enter_context(genai.open_tracer(tracker, spec, spec.traces if traces is None else traces))
    log_execution(parent, spec, split)
    ctx = OptimizerContext(
        task=spec.task,
        weights=spec.weights(),
        threshold=spec.metrics.threshold,
        person=spec.metrics.person,
        seed=spec.seed,
        num_threads=spec.num_threads,
        lm=lms.lm,
        prompt_lm=lms.prompt_lm,
        reflection_lm=lms.reflection_lm,
        reflection_adapter=lms.reflection_adapter,
        embedder=embedder,
    )
    parts = {name: [to_example(g, spec.task) for g in part] for name, part in split.parts().items()}
    return Execution(spec=spec, split=split, parts=parts, lms=lms, tracker=tracker, parent=parent, tracer=tracer,
                      ctx=ctx, console=console, out_dir=out_dir,
                      programs_dir=Path(programs_dir) if programs_dir is not None else Path(OPTIMIZED_DIR))


__all__ = ["Execution", "OpenLMs", "open_execution", "open_lms"]
