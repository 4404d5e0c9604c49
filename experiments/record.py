"""What a run writes down: MLflow params / metrics / artifacts of the execution and each variant,
each variant's test results as JSON, and optimized programs with their lineage."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augmentlab.core.fsio import atomic_write_json
from augmentlab.lm import LMConfig
from experiments.optimizers import trajectory_metrics
from experiments.spec import ExperimentSpec, variant_identity
from experiments.splits import Split
from experiments.tracking import PER_EXAMPLE_TABLE, RunLogger
from experiments.variants import instructions_and_demos
from prompts.programs import save_program as _save_program_file

if TYPE_CHECKING:
    from experiments.runner import VariantOutcome


def display_path(value: str, spec: ExperimentSpec) -> str:
    """``value`` relative to the spec's project root when it is under it."""
    path = Path(value)
    try:
        return str(path.relative_to(spec.project_root))
    except ValueError:
        return str(path)


def lm_params(configs: dict[str, LMConfig]) -> dict[str, Any]:
    """LM settings for MLflow: kind, model, temperature... and only the NAME of the key variable."""
    keep = ("kind", "model", "api_base", "api_key_env", "temperature", "max_tokens", "adapter", "cache")
    out: dict[str, Any] = {}
    for role, config in configs.items():
        if role != "lm" and config == configs["lm"]:
            continue
        data = config.safe_dict()
        out.update({f"{role}.{k}": data.get(k) for k in keep if data.get(k) is not None})
        out[f"{role}.identity"] = config.identity_label()  # which model answered (GGUF hash / api_base)
        out[f"{role}.fingerprint"] = config.fingerprint()
    return out


def log_execution(parent: RunLogger, spec: ExperimentSpec, split: Split) -> None:
    """The execution's params, its spec file and its split."""
    parent.params(
        {
            "spec": spec.spec_name,
            "spec_path": display_path(str(spec.path), spec),
            "task": spec.task,
            "seed": spec.seed,
            "split": spec.split.model_dump(),
            "n_train": len(split.train),
            "n_dev": len(split.dev),
            "n_test": len(split.test),
            "gold": [display_path(g, spec) for g in spec.gold],
            "variants": [v.name for v in spec.variants],
            **lm_params(spec.lm_configs()),
        }
    )
    parent.file(spec.path, "spec")
    parent.json(split.ids(), "split.json")


# ------------------------------------------------------------------------------- one variant
def log_variant(run: RunLogger, outcome: VariantOutcome, *, spec: ExperimentSpec, split: Split) -> None:
    """A variant's child run: params, metrics (and the optimizer's trajectory as step metrics),
    instructions and demos, the per-example table, the saved program."""
    run.params(variant_params(outcome, spec=spec, split=split))
    run.metrics(variant_metrics(outcome, spec))
    for step, values in trajectory_metrics(outcome.trajectory):
        run.metrics(values, step=step)
    for predictor, data in instructions_and_demos(outcome.program).items():
        run.text(data["instructions"], f"instructions/{predictor}.md")
        run.json(data["demos"], f"demos/{predictor}.json")
    run.table(example_rows(outcome), PER_EXAMPLE_TABLE)
    if outcome.program_path is not None:
        run.file(outcome.program_path, "program")


def variant_params(outcome: VariantOutcome, *, spec: ExperimentSpec, split: Split) -> dict[str, Any]:
    v = outcome.spec
    params: dict[str, Any] = {
        **variant_identity(spec, v),
        "seed": spec.seed,
        "split_seed": spec.split.seed if spec.split.seed is not None else spec.seed,
        "n_train": len(split.train),
        "n_dev": len(split.dev),
        "n_test": len(split.test),
        "metric_threshold": spec.metrics.threshold,
        "program_name": getattr(outcome.program, "name", ""),
        **lm_params(spec.lm_configs()),
    }
    if v.optimized:
        params["optimizer"] = v.optimizer
        params["base"] = v.base
        params.update({f"optimizer.{k}": val for k, val in outcome.options.items()})
    else:
        for key in ("scenario", "actions", "demos", "program"):
            value = getattr(v, key)
            if value:
                params[f"source.{key}"] = display_path(value, spec)
    params.update({f"weights.{k}": val for k, val in spec.weights().model_dump().items()})
    return params


def variant_metrics(outcome: VariantOutcome, spec: ExperimentSpec) -> dict[str, float | int | None]:
    iv = outcome.interval
    metrics: dict[str, float | int | None] = {
        "score": outcome.score,
        "score_ci_low": iv.low if iv else None,
        "score_ci_high": iv.high if iv else None,
        "pass_rate": outcome.pass_rate(spec.metrics.threshold),
        "n_examples": len(outcome.examples),
        "n_errors": sum(e.error is not None for e in outcome.examples),
        "lm_calls": outcome.eval_usage.calls,
        "lm_cached_calls": outcome.eval_usage.cached_calls,  # tokens counted, nothing spent
        "prompt_tokens": outcome.eval_usage.prompt_tokens,
        "completion_tokens": outcome.eval_usage.completion_tokens,
        "total_tokens": outcome.eval_usage.total_tokens,
        "tokens_per_example": outcome.tokens_per_example(),
        "cost": outcome.eval_usage.cost,
        "compile_lm_calls": outcome.compile_usage.calls,
        "compile_total_tokens": outcome.compile_usage.total_tokens,
        "compile_cost": outcome.compile_usage.cost,
        "seconds": outcome.seconds,
    }
    metrics.update({f"part.{k}": val for k, val in outcome.part_means().items()})
    return metrics


def example_rows(outcome: VariantOutcome) -> list[dict[str, Any]]:
    """The per-example table: id, score, sub-scores, feedback, outputs, usage, trace."""
    part_names = sorted({k for x in outcome.examples for k in x.parts})
    return [
        {
            "example_id": e.example_id,
            "score": e.score,
            **{f"part.{k}": e.parts.get(k) for k in part_names},
            "feedback": e.feedback,
            "scenario": e.scenario or "",
            "annotated_lines": "\n".join(e.annotated_lines or []),
            "prompt_tokens": e.usage.prompt_tokens,
            "completion_tokens": e.usage.completion_tokens,
            "lm_calls": e.usage.calls,
            "trace_id": e.trace_id or "",
        }
        for e in outcome.examples
    ]


# ------------------------------------------------------------------------------- files
def save_results(outcome: VariantOutcome, directory: Path) -> Path:
    """Write one variant's test results as JSON (atomically) before anything is logged."""
    data = {
        "variant": outcome.name,
        "score": outcome.score,
        "interval": [outcome.interval.low, outcome.interval.high] if outcome.interval else None,
        "examples": [
            {
                "example_id": e.example_id, "score": e.score, "parts": e.parts, "feedback": e.feedback,
                "scenario": e.scenario, "annotated_lines": e.annotated_lines, "error": e.error,
                "usage": e.usage.model_dump(),
            }
            for e in outcome.examples
        ],
    }
    return atomic_write_json(directory / f"{outcome.name}.json", data, default=str)


def save_program(outcome: VariantOutcome, spec: ExperimentSpec, directory: Path, run_id: str) -> Path | None:
    """Save an optimized variant as ``<directory>/<spec>-<variant>.json`` with its lineage."""
    if not outcome.spec.optimized:
        return None
    iv = outcome.interval
    lineage = {
        "spec": spec.spec_name,
        "variant": outcome.name,
        "parent": outcome.spec.base,
        "optimizer": outcome.spec.optimizer,
        "budget": outcome.options,
        "task": spec.task,
        "scores": {
            "test_mean": outcome.score,
            "test_ci95": [iv.low, iv.high] if iv else None,
            "n_test": len(outcome.examples),
            "parts": outcome.part_means(),
        },
        "lm": spec.lm.record(),
        "mlflow_run_id": run_id,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return _save_program_file(outcome.program, directory / f"{spec.spec_name}-{outcome.name}.json", lineage)


__all__ = [
    "display_path",
    "example_rows",
    "lm_params",
    "log_execution",
    "log_variant",
    "save_program",
    "save_results",
    "variant_metrics",
    "variant_params",
]
