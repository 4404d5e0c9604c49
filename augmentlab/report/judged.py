"""The report's judge: the verdicts of an execution read back, and the decision they make.

The runner logs the verdicts it aggregated as the parent run's artifact
``verdicts/verdicts.jsonl`` and tags the run with the judge's kind and, for human judging, the
verdicts file (:mod:`experiments.verdict`). People may add verdicts after the run (``augmentlab
judge serve``), so for ``kind = "human"`` the file is read again when it exists. The verdicts are
aggregated by the same function as the run's (:func:`experiments.judging.decide`), so the report's
recommendation and the run's ``best`` cannot disagree on the same verdicts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.verdicts import Verdict, read_verdicts
from experiments import verdict as run_verdict
from experiments.judging import Evidence, decide, output_words

if TYPE_CHECKING:
    from experiments.results import ExperimentResults


def _read(path: Path, names: set[str]) -> list[Verdict]:
    try:
        return [v for v in read_verdicts(path) if v.a in names and v.b in names]
    except AugmentlabError:
        return []


def logged_verdicts(results: ExperimentResults, mlflow_client: Any) -> tuple[list[Verdict], str]:
    """The execution's verdicts and where they came from (``""`` when there are none)."""
    names = {v.name for v in results.variants}
    human = results.tags.get(run_verdict.HUMAN_PATH_TAG)
    if human and Path(human).is_file():
        found = _read(Path(human), names)
        if found:
            return found, str(human)
    if not results.parent_run_id:
        return [], ""
    with tempfile.TemporaryDirectory(prefix="augmentlab-report-") as tmp:
        try:
            local = mlflow_client.download_artifacts(
                results.parent_run_id, f"{run_verdict.VERDICTS_ARTIFACT}/{run_verdict.VERDICTS_FILE}", tmp)
        except Exception:  # no verdicts logged: the composite decided
            return [], ""
        return _read(Path(local), names), "the run's verdicts artifact"


def _lengths(results: ExperimentResults) -> dict[tuple[str, str], float]:
    out = {}
    for v in results.variants:
        for row in v.rows:
            lines = str(row.get("annotated_lines") or "").split("\n")
            out[(str(row.get("example_id")), v.name)] = float(output_words(row.get("scenario") or "", lines))
    return out


def evidence_of(results: ExperimentResults, mlflow_client: Any, baseline: str, seed: int) -> Evidence | None:
    """The verdicts of the execution aggregated against ``baseline``; None when it has none."""
    verdicts, where = logged_verdicts(results, mlflow_client)
    if not verdicts:
        return None
    kind = results.tags.get(run_verdict.JUDGE_KIND_TAG) or verdicts[0].kind
    evidence = decide(verdicts, [v.name for v in results.variants], baseline, kind=kind,
                      source="human" if kind == "human" else kind, lengths=_lengths(results), seed=seed)
    evidence.notes.append(f"{len(verdicts)} verdict(s) read from {where}")
    return evidence


__all__ = ["evidence_of", "logged_verdicts"]
