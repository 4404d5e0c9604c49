"""MLflow, the read side: an experiment's executions and per-example results, read back.

:func:`load_experiment` uses MLflow's public client API only, so ``compare``, the report and the
notebooks see the same data however it was stored (:mod:`experiments.tracking` writes it).
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import prompts
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample
from augmentlab.ingest.gold import read_gold as read_gold_file
from experiments.tracking import PER_EXAMPLE_TABLE, ROLE_TAG, VARIANT_TAG, client, resolve_tracking_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient


def json_list(text: str | None) -> list[str]:
    """A logged param holding a JSON list of strings (``[]`` when absent or malformed)."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [str(x) for x in value] if isinstance(value, list) else []


@dataclass
class VariantResult:
    """One variant's child run, as read back from MLflow."""

    name: str
    run_id: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    example_ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    artifact_uri: str = ""
    status: str = ""

    @property
    def score(self) -> float | None:
        return self.metrics.get("score")

    @property
    def artifact_dir(self) -> Path | None:
        """The local artifact folder, for a file-based store."""
        if self.artifact_uri.startswith("file://"):
            return Path(unquote(urlparse(self.artifact_uri).path))
        return None

    def scores_by_id(self) -> dict[str, float]:
        return dict(zip(self.example_ids, self.scores, strict=False))


@dataclass
class ExperimentResults:
    """An execution of a spec: its parent run and one :class:`VariantResult` per variant."""

    name: str
    experiment_id: str
    parent_run_id: str | None
    tracking_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    variants: list[VariantResult] = field(default_factory=list)

    def variant(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise AugmentlabError(f"no variant {name!r} in experiment {self.name!r}")


def experiment_name(name_or_spec: str | os.PathLike[str]) -> str:
    text = str(name_or_spec)
    path = Path(text)
    if text.endswith(".toml"):
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                data = {}
            return str(data.get("name") or path.stem)
        return path.stem
    return text


def list_experiments(tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """Every experiment in the store with its number of executions and latest start time."""
    mlflow_client = client(tracking_uri, create=False)
    out = []
    for exp in mlflow_client.search_experiments():
        runs = mlflow_client.search_runs(
            [exp.experiment_id], filter_string=f"tags.`{ROLE_TAG}` = 'execution'", max_results=1000,
            order_by=["attributes.start_time DESC"],
        )
        if not runs and exp.name == "Default":
            continue
        out.append(
            {
                "name": exp.name,
                "experiment_id": exp.experiment_id,
                "executions": len(runs),
                "last_run": runs[0].info.start_time if runs else None,
                "last_status": runs[0].info.status if runs else None,
            }
        )
    return out


def find_experiment(name_or_spec: str | os.PathLike[str], tracking_uri: str | None = None) -> tuple[MlflowClient, Any, str]:
    """``(client, experiment, uri)`` of an existing experiment; never creates a store.

    Unknown experiment: :class:`AugmentlabError` naming the store.
    """
    uri = resolve_tracking_uri(tracking_uri, create=False)
    mlflow_client = client(uri)
    name = experiment_name(name_or_spec)
    exp = mlflow_client.get_experiment_by_name(name)
    if exp is None:
        raise AugmentlabError(f"no experiment named {name!r} in {uri} (see `augmentlab experiment list`)")
    return mlflow_client, exp, uri


def latest_execution_run(mlflow_client: MlflowClient, experiment_id: str, *, finished: bool = False) -> Any:
    """The latest execution (parent) run of an experiment, or only a FINISHED one; None if none."""
    status = " and attributes.status = 'FINISHED'" if finished else ""
    runs = mlflow_client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{ROLE_TAG}` = 'execution'{status}",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def load_experiment(
    name_or_spec: str | os.PathLike[str],
    *,
    tracking_uri: str | None = None,
    run_id: str | None = None,
) -> ExperimentResults:
    """Read back an experiment's latest execution (or the execution ``run_id``).

    ``name_or_spec`` is the experiment name or the spec file it was run from.
    """
    mlflow_client, exp, uri = find_experiment(name_or_spec, tracking_uri)
    name = exp.name
    if run_id is None:
        parent = latest_execution_run(mlflow_client, exp.experiment_id, finished=True)
        if parent is None:
            raise AugmentlabError(f"experiment {name!r} has no finished execution yet")
    else:
        try:
            parent = mlflow_client.get_run(run_id)
        except Exception:
            raise AugmentlabError(f"no run {run_id!r} in {uri}") from None
    children = mlflow_client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
        order_by=["attributes.start_time ASC"],
        max_results=1000,
    )
    results = ExperimentResults(
        name=name,
        experiment_id=exp.experiment_id,
        parent_run_id=parent.info.run_id,
        tracking_uri=uri,
        params=dict(parent.data.params),
        tags=dict(parent.data.tags),
    )
    for run in children:
        variant = VariantResult(
            name=run.data.tags.get(VARIANT_TAG) or run.info.run_name or run.info.run_id,
            run_id=run.info.run_id,
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
            tags=dict(run.data.tags),
            artifact_uri=run.info.artifact_uri or "",
            status=run.info.status,
        )
        _read_table(mlflow_client, exp.experiment_id, variant)
        results.variants.append(variant)
    return results


def _read_table(mlflow_client: MlflowClient, experiment_id: str, variant: VariantResult) -> None:
    """Fill ``variant``'s per-example rows from its logged table.

    ``MlflowClient.load_table`` searches runs through the *global* tracking URI, so the table
    artifact is downloaded through this client and read from MLflow's table format
    (``{"columns": [...], "data": [[...], ...]}``).
    """
    del experiment_id
    artifacts = {a.path for a in mlflow_client.list_artifacts(variant.run_id)}
    if PER_EXAMPLE_TABLE not in artifacts:
        return
    with tempfile.TemporaryDirectory(prefix="augmentlab-table-") as tmp:
        local = mlflow_client.download_artifacts(variant.run_id, PER_EXAMPLE_TABLE, tmp)
        table = json.loads(Path(local).read_text(encoding="utf-8"))
    columns = [str(c) for c in table.get("columns", [])]
    records = [dict(zip(columns, row, strict=False)) for row in table.get("data", [])]
    variant.rows = records
    variant.example_ids = [str(r.get("example_id")) for r in records]
    variant.scores = [float(r.get("score") or 0.0) for r in records]
    for column in columns:
        if column.startswith("part."):
            variant.parts[column[len("part.") :]] = [
                float(r[column]) if isinstance(r.get(column), int | float) else float("nan") for r in records
            ]


def execution_gold(results: ExperimentResults) -> tuple[dict[str, GoldExample], str]:
    """The gold examples an execution used, by id, and a note when they cannot be found or read.

    The logged ``gold`` paths are tried as given, then under the current folder, the spec's folder
    and the project root. The report and the judging page read the scenes' human lines with it.
    """
    paths = json_list(results.params.get("gold"))
    if not paths:
        return {}, "The execution did not log its gold set, so the human lines are not shown."
    roots = [Path.cwd()]
    spec_path = results.params.get("spec_path")
    if spec_path:
        roots.append(Path(spec_path).parent)
    roots.append(Path(prompts.__file__).resolve().parent.parent)
    gold: dict[str, GoldExample] = {}
    missing, unreadable = [], []
    for text in paths:
        candidates = [Path(text)] if Path(text).is_absolute() else [root / text for root in roots]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            missing.append(text)
            continue
        try:
            gold.update((example.id, example) for example in read_gold_file(found))
        except AugmentlabError as exc:
            unreadable.append(str(exc))
    notes = []
    if missing:
        notes.append(f"Gold set not found ({', '.join(missing)}): human lines are not shown.")
    if unreadable:
        notes.append(f"Gold set unreadable ({'; '.join(unreadable)}): its human lines are not shown.")
    return gold, " ".join(notes)


__all__ = [
    "ExperimentResults",
    "VariantResult",
    "execution_gold",
    "experiment_name",
    "find_experiment",
    "json_list",
    "latest_execution_run",
    "list_experiments",
    "load_experiment",
]
