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

from augmentlab.lm import LMSession, open_session
from experiments import genai
from experiments.optimizers import OptimizerContext, get_optimizer
from experiments.record import log_execution
from experiments.spec import ExperimentSpec
from experiments.splits import Split
from experiments.tracing import Tracer
from experiments.tracking import RunLogger, Tracker
from experiments.unlabeled import example_for
from metrics.similarity import default_embedder
from prompts import OPTIMIZED_DIR


@dataclass
class RunLMs:
    """The run's LM sessions, opened once: ``task`` (in the DSPy context: the variants run on it,
    its usage is theirs) and the optimizers' ``prompt`` (MIPROv2) and ``reflection`` (GEPA) LMs —
    ``task`` itself unless the spec names another and a variant needs it."""

    task: LMSession
    prompt: LMSession
    reflection: LMSession


def open_lms(stack: ExitStack, spec: ExperimentSpec) -> RunLMs:
    """Open the spec's LMs in ``stack`` (closed, embedded server included, when it closes)."""
    configs = spec.lm_configs()
    task = stack.enter_context(open_session(configs["lm"]))
    stack.enter_context(task.use())
    needs = {role for v in spec.variants if v.optimizer for role in get_optimizer(v.optimizer).lm_roles}

    def role(name: str) -> LMSession:
        if name not in needs or configs[name] == configs["lm"]:
            return task
        return stack.enter_context(open_session(configs[name]))

    prompt = role("prompt_lm")
    return RunLMs(task=task, prompt=prompt, reflection=role("reflection_lm"))


@dataclass
class Execution:
    """One execution of a spec while it runs: its data, its open LMs, its MLflow run and tracer."""

    spec: ExperimentSpec
    split: Split
    parts: dict[str, list[dspy.Example]]
    lms: RunLMs
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
        lm=lms.task.lm,
        prompt_lm=lms.prompt.lm,
        reflection_lm=lms.reflection.lm,
        reflection_adapter=lms.reflection.adapter,
        embedder=embedder,
    )
    parts = {name: [example_for(g, spec.task) for g in part] for name, part in split.parts().items()}
    return Execution(spec=spec, split=split, parts=parts, lms=lms, tracker=tracker, parent=parent, tracer=tracer,
                      ctx=ctx, console=console, out_dir=out_dir,
                      programs_dir=Path(programs_dir) if programs_dir is not None else Path(OPTIMIZED_DIR))


__all__ = ["Execution", "RunLMs", "open_execution", "open_lms"]
