"""The run's verdict: which evidence decides, gathered once the variants ran, and where it is written.

Called by :mod:`experiments.runner` after every variant was evaluated on test:

- ``[judge] kind = "lm"`` — every variant against the baseline on each test scene by the LM judge
  (gates first, :func:`experiments.judging.judge_outcomes`), written to ``<out>/verdicts/lm.jsonl``;
- ``kind = "human"`` — the verdicts file (``[judge] verdicts``, default
  ``<out>/verdicts/human.jsonl``, what ``augmentlab judge serve`` writes) plus imported files;
  none yet: the composite decides, and the run says how to add them;
- ``kind = "composite"`` — no verdicts; when the composite cannot separate the variants the run
  says so (:func:`experiments.judging.cannot_separate`).

MLflow: each variant's run gets ``win_rate_vs_baseline``, ``win_rate_vs_baseline_low`` /
``_high``, ``lc_win_rate`` (and ``bt_strength`` with several variants); the parent run gets the
tags ``augmentlab.decided_by`` (``composite``, ``lm:<identity>``, ``human:...``),
``augmentlab.decision`` (the sentence) and ``augmentlab.judge.kind``, and the verdicts as the
artifact ``verdicts/verdicts.jsonl`` (the report reads them back).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augmentlab.core.verdicts import Verdict, write_verdicts
from experiments.judge_config import HUMAN_VERDICTS
from experiments.judging import (
    Candidate,
    Evidence,
    JudgeMetric,
    PairJudge,
    decide,
    judge_outcomes,
    output_words,
    read_human,
)
from experiments.spec import ExperimentSpec, resolve_path
from experiments.tracking import RunLogger

if TYPE_CHECKING:
    from augmentlab.core.model import GoldExample
    from experiments.execution import Execution
    from experiments.optimizers import OptimizerContext
    from experiments.runner import VariantOutcome

VERDICTS_ARTIFACT = "verdicts"
VERDICTS_FILE = "verdicts.jsonl"
DECIDED_BY_TAG = "augmentlab.decided_by"
DECISION_TAG = "augmentlab.decision"
JUDGE_KIND_TAG = "augmentlab.judge.kind"
HUMAN_PATH_TAG = "augmentlab.judge.verdicts"
"""For ``kind = "human"``: the verdicts file people add to after the run (the report reads it again)."""


def candidates(outcome: VariantOutcome) -> dict[str, Candidate]:
    """A variant's test outputs as the judge sees them (example id → :class:`Candidate`)."""
    return {e.example_id: Candidate(outcome.name, e.scenario, e.annotated_lines) for e in outcome.examples
            if e.error is None}


def lengths(outcomes: Sequence[VariantOutcome]) -> dict[tuple[str, str], float]:
    """``(example id, variant) → words of the output``, for the length-controlled win rate."""
    return {(e.example_id, o.name): float(output_words(e.scenario, e.annotated_lines))
            for o in outcomes for e in o.examples if e.error is None}


def human_verdicts_path(spec: ExperimentSpec, out_dir: Path) -> Path:
    """``[judge] verdicts`` (resolved like any spec path when it exists), else ``<out>/verdicts/human.jsonl``."""
    if spec.judge.verdicts:
        found = resolve_path(spec.judge.verdicts, spec.path.parent if spec._path else Path.cwd(), spec.project_root)
        return found or Path(spec.judge.verdicts)
    return out_dir / HUMAN_VERDICTS


def gather(
    spec: ExperimentSpec,
    outcomes: Sequence[VariantOutcome],
    golds: Sequence[GoldExample],
    *,
    judge: PairJudge | None,
    out_dir: Path,
    imported: Sequence[str | Path] = (),
) -> Evidence:
    """The evidence the spec's ``[judge]`` asks for (see the module doc)."""
    names = [o.name for o in outcomes]
    baseline = names[0]
    kind = spec.judge.kind
    notes: list[str] = []
    verdicts: list[Verdict] = []
    source = "composite"
    if kind == "lm" and judge is not None:
        outputs = {o.name: candidates(o) for o in outcomes}
        verdicts = judge_outcomes(judge, golds, outputs, baseline, kind="lm", task=spec.task)
        write_verdicts(out_dir / VERDICTS_ARTIFACT / "lm.jsonl", verdicts)
        source = f"lm:{spec.judge.lm.identity_label()}" if spec.judge.lm else "lm"
    elif kind == "human":
        verdicts, notes = read_human([human_verdicts_path(spec, out_dir), *imported], names)
        source = "human"
        if not verdicts:
            notes.append(f"no human verdicts yet, so the composite decides: run `augmentlab judge serve "
                         f"{spec.spec_name}` and re-run (or `augmentlab report {spec.spec_name}`)")
    elif imported:
        notes.append("verdicts files are read for [judge] kind = \"human\"; this spec's judge is "
                     f"{kind!r}, so they were not used")
    evidence = decide(verdicts, names, baseline, kind=kind, source=source, lengths=lengths(outcomes), seed=spec.seed)
    evidence.notes[:0] = notes
    return evidence


def variant_metrics(evidence: Evidence, name: str) -> dict[str, float | None]:
    """The win-rate metrics of one variant's run (empty for the baseline or without verdicts)."""
    rate = evidence.rates.get(name)
    if rate is None:
        return {}
    lc = evidence.lc.get(name)
    out: dict[str, float | None] = {
        "win_rate_vs_baseline": rate.interval.mean,
        "win_rate_vs_baseline_low": rate.interval.low,
        "win_rate_vs_baseline_high": rate.interval.high,
        "lc_win_rate": lc.mean if lc else None,
        "n_verdicts": float(rate.n),
    }
    if name in evidence.strengths:
        out["bt_strength"] = evidence.strengths[name].mean
    return out


def log(ex: Execution, outcomes: Sequence[VariantOutcome], evidence: Evidence) -> None:
    """Win rates on each variant's run; which evidence decided on the parent; the verdicts file."""
    for o in outcomes:
        metrics = variant_metrics(evidence, o.name)
        if metrics and o.run_id:
            RunLogger(ex.tracker.client, o.run_id, ex.tracker.redactor).metrics(metrics)
    tags = {DECIDED_BY_TAG: evidence.decided_by, DECISION_TAG: evidence.sentence() or "composite",
            JUDGE_KIND_TAG: ex.spec.judge.kind}
    if ex.spec.judge.kind == "human":
        tags[HUMAN_PATH_TAG] = str(human_verdicts_path(ex.spec, ex.out_dir).resolve())
    ex.parent.tags(tags)
    if evidence.verdicts:
        path = ex.out_dir / VERDICTS_ARTIFACT / VERDICTS_FILE
        write_verdicts(path, evidence.verdicts)
        ex.parent.file(path, VERDICTS_ARTIFACT)


def judge_context(ctx: OptimizerContext, judge: PairJudge, baseline: VariantOutcome, *, task: str,
                  variant: str) -> OptimizerContext:
    """The optimizer context of a ``metric = "judge"`` variant: its metric is the win against the
    baseline's output on the same training example (run once per example, cached)."""

    def baseline_output(example: Any) -> Any:
        return baseline.program(**example.inputs())

    # bootstrapped demos (trace given) must beat the baseline, not tie with it
    metric = JudgeMetric(judge, baseline_output, task=task, threshold=1.0, baseline=baseline.name, name=variant)
    return dataclasses.replace(ctx, judge_metric=metric)


__all__ = [
    "DECIDED_BY_TAG",
    "DECISION_TAG",
    "HUMAN_PATH_TAG",
    "JUDGE_KIND_TAG",
    "VERDICTS_ARTIFACT",
    "VERDICTS_FILE",
    "candidates",
    "gather",
    "human_verdicts_path",
    "judge_context",
    "lengths",
    "log",
    "variant_metrics",
]
