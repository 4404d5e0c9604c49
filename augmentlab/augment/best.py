"""The run's last step: augment the experiment spec's ``script`` with the best variant.

:func:`augment_with_best` is what ``augmentlab run`` passes to
:func:`experiments.runner.run_experiment` as its ``augment`` step: the runner calls it after the
leaderboard, with the LM and the execution's MLflow run still open (the augmented scenes are traced
into that execution, and the file is logged as its ``augmented`` artifact).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from augmentlab.augment.options import AugmentOptions
from augmentlab.augment.pipeline import augment_scripts
from augmentlab.core.model import Script
from augmentlab.lm import LMSession

if TYPE_CHECKING:
    from rich.console import Console

    from experiments.runner import RunResult
    from experiments.tracing import Tracer


def augment_with_best(script: Script, result: RunResult, *, session: LMSession, out_dir: Path, progress: bool,
                      tracer: Tracer, console: Console) -> Path:
    """Augment ``script`` with ``result.best`` into ``out_dir/augmented.jsonl`` (one scene at a time,
    the spec's persona cards, each scene a trace); says which variant and why."""
    best = result.best
    spec = result.spec
    options = AugmentOptions(
        program=best.program,
        concurrency=1,
        personas=spec.personas,
        write_personas=False,
        progress=progress,
        tracer=tracer,
        trace_tags={"augmentlab.spec": spec.spec_name, "augmentlab.variant": best.name},
        trace_run_id=result.parent_run_id,
    )
    report = augment_scripts([script], out_dir, session, options)
    for note in report.notes():
        console.print(f"  {note}", markup=False, highlight=False, soft_wrap=True)
    path = out_dir / "augmented.jsonl"
    if result.evidence is not None and result.evidence.decided:
        why = result.evidence.sentence().replace("[", "\\[")  # the judge's verdicts chose it
    else:
        why = "the baseline: no variant is detectably better" if best is result.variants[0] else (
            "detectably better than the baseline")
    console.print(f"augmented {spec.script} with [bold]{best.name}[/] ({why}) → {path}")
    return path


__all__ = ["augment_with_best"]
