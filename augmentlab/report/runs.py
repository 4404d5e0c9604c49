"""Reading an experiment's MLflow runs for a report: which execution, its prompts, its progress.

:func:`latest_execution` and :func:`load` choose the execution; :func:`prompt` reads a variant's
logged instructions and demos; :func:`progress` the metrics an optimizer logged step by step.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import prompts
from augmentlab.core.errors import AugmentlabError
from experiments.results import find_experiment, latest_execution_run, load_experiment

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from experiments.results import ExperimentResults, VariantResult

#: Metrics logged once per variant; a metric with more than one step is optimizer progress.
PROGRESS_MIN_POINTS = 2


@dataclass
class PromptText:
    """A variant's prompt: instructions and demos per predictor, and where its program lives."""

    variant: str
    predictors: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``{predictor: {"instructions": str, "demos": [dict, ...]}}``."""
    sources: dict[str, str] = field(default_factory=dict)
    """Hand-written variant files (``{"scenario": "prompts/scenario/seed.md", ...}``)."""
    program_files: list[str] = field(default_factory=list)
    """Saved program files: the MLflow artifact and the project copy when it exists."""


def latest_execution(name: str, tracking_uri: str | None = None) -> tuple[str | None, str]:
    """``(run_id, status)`` of the experiment's latest execution of any status (None if none).

    Unknown experiment: :class:`AugmentlabError` naming the store.
    """
    mlflow_client, exp, _ = find_experiment(name, tracking_uri)
    run = latest_execution_run(mlflow_client, exp.experiment_id)
    return (run.info.run_id, run.info.status) if run is not None else (None, "")


def load(experiment: str, tracking_uri: str | None, run_id: str | None) -> tuple[ExperimentResults, list[str]]:
    """The execution to report on; a failed/running latest execution is reported with a note."""
    notes: list[str] = []
    if run_id is None:
        latest, status = latest_execution(experiment, tracking_uri)
        if latest is None:
            raise AugmentlabError(f"experiment {experiment!r} has no execution to report on yet")
        if status != "FINISHED":
            notes.append(
                f"The latest execution did not finish (status {status}); this report shows what it logged."
            )
        run_id = latest
    return load_experiment(experiment, tracking_uri=tracking_uri, run_id=run_id), notes


def download_text(mlflow_client: MlflowClient, run_id: str, path: str, tmp: str) -> str | None:
    try:
        local = mlflow_client.download_artifacts(run_id, path, tmp)
        return Path(local).read_text(encoding="utf-8")
    except Exception:  # a missing or unreadable artifact is shown as missing, not a crash
        return None


def prompt(mlflow_client: MlflowClient, v: VariantResult, experiment: str) -> PromptText:
    prompt = PromptText(variant=v.name)
    prompt.sources = {k[len("source.") :]: val for k, val in v.params.items() if k.startswith("source.")}
    with tempfile.TemporaryDirectory(prefix="augmentlab-report-") as tmp:
        try:
            instructions = [a.path for a in mlflow_client.list_artifacts(v.run_id, "instructions")]
            programs = [a.path for a in mlflow_client.list_artifacts(v.run_id, "program")]
        except Exception:
            instructions, programs = [], []
        for path in sorted(instructions):
            predictor = Path(path).name.removesuffix(".md")
            text = download_text(mlflow_client, v.run_id, path, tmp)
            demos_text = download_text(mlflow_client, v.run_id, f"demos/{predictor}.json", tmp)
            try:
                demos = json.loads(demos_text) if demos_text else []
            except json.JSONDecodeError:
                demos = []
            prompt.predictors[predictor] = {"instructions": text or "", "demos": demos if isinstance(demos, list) else []}
    base = v.artifact_uri.rstrip("/")
    local_dir = v.artifact_dir
    for path in programs:
        prompt.program_files.append(str(local_dir / path) if local_dir else f"{base}/{path}")
    saved = Path(prompts.__file__).resolve().parent / "optimized" / f"{experiment}-{v.name}.json"
    if saved.is_file():
        prompt.program_files.append(str(saved))
    return prompt


def progress(mlflow_client: MlflowClient, variants: Sequence[VariantResult]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for v in variants:
        if not v.params.get("optimizer"):
            continue
        for key in sorted(v.metrics):
            try:
                history = mlflow_client.get_metric_history(v.run_id, key)
            except Exception:
                continue
            if len({m.step for m in history}) >= PROGRESS_MIN_POINTS:
                points = sorted((int(m.step), float(m.value)) for m in history if math.isfinite(m.value))
                out.setdefault(v.name, {})[key] = points
    return out
