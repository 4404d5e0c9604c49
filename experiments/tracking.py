"""MLflow: where runs go, how one variant is logged, secret redaction, and reading results back.

Layout: one MLflow *experiment* per spec (named after it), a *parent run* per execution of the
spec and a nested *child run* per variant. The default store is ``mlruns/`` in the working folder:
tracking URI ``sqlite:///<abs>/mlruns/mlflow.db``, artifacts under ``mlruns/artifacts``. Pass a
``tracking_uri`` (``http://mlflow.team:5000``) to log to a team server instead.

Everything logged goes through a :class:`~augmentlab.core.redact.Redactor`: the value of any environment variable named
as an ``api_key_env`` (and of any set ``*_API_KEY`` / ``*_TOKEN`` / ``*_SECRET`` variable) is
replaced by ``[REDACTED:<NAME>]`` in params, tags, metrics names, text artifacts, tables and
copied files — only the variable's *name* can ever reach the store.

Reading back (:func:`load_experiment`) uses MLflow's public client API only, so ``compare``, the
report and notebooks see the same data however it was stored.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import augmentlab  # noqa: F401  (offline environment before mlflow)
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.redact import Redactor

# MLflow announces creating/migrating its SQLite tables at INFO on every new store: noise for users.
for _name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
    logging.getLogger(_name).setLevel(logging.WARNING)

if TYPE_CHECKING:
    from mlflow import MlflowClient

# Reading a per-example table back must not draw a download progress bar on every variant.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

STORE_DIR = "mlruns"
DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "artifacts"
PER_EXAMPLE_TABLE = "per_example.json"
LEADERBOARD_TABLE = "leaderboard.json"
#: Tag marking a run as augmentlab's parent (execution) or child (variant) run.
ROLE_TAG = "augmentlab.role"
VARIANT_TAG = "augmentlab.variant"
#: Which process (on which host) owns a run, so a run left RUNNING by a killed process is found.
OWNER_PID_TAG = "augmentlab.pid"
OWNER_HOST_TAG = "augmentlab.host"
ABANDONED_TAG = "augmentlab.abandoned"
_PARAM_MAX = 6000  # MLflow's limit for a param value


# ------------------------------------------------------------------------------- location
def default_store(root: str | os.PathLike[str] | None = None) -> Path:
    """The default MLflow folder: ``<root or cwd>/mlruns``."""
    return (Path(root) if root is not None else Path.cwd()).resolve() / STORE_DIR


def resolve_tracking_uri(
    tracking_uri: str | None = None,
    root: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
) -> str:
    """``tracking_uri`` as given, else the default SQLite store (created if missing).

    A plain folder path is taken as a store folder (``<folder>/mlflow.db``). With
    ``create=False`` (read-only commands) a local store that does not exist is an error
    instead of being created as a side effect.
    """
    if tracking_uri and "://" in tracking_uri:
        if not create and tracking_uri.startswith("sqlite:///"):
            _require_db(Path(tracking_uri[len("sqlite:///") :]))
        return tracking_uri
    store = Path(tracking_uri).resolve() if tracking_uri else default_store(root)
    if not create:
        _require_db(store / DB_NAME)
        return f"sqlite:///{store / DB_NAME}"
    try:
        (store / ARTIFACTS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AugmentlabError(f"cannot create the MLflow store at {store}: {exc.strerror}") from None
    return f"sqlite:///{store / DB_NAME}"


def _require_db(db: Path) -> None:
    if not db.is_file():
        raise AugmentlabError(
            f"no MLflow store at {db.parent} (run an experiment first, or pass --tracking-uri)"
        )


def artifact_location(tracking_uri: str) -> str | None:
    """``<store>/artifacts`` for a local SQLite store; None (server default) otherwise."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///") :])
        return (db.parent / ARTIFACTS_DIR).resolve().as_uri()
    return None


def client(tracking_uri: str | None = None, *, create: bool = True) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri, create=create))


def ensure_experiment(mlflow_client: MlflowClient, name: str, tracking_uri: str) -> str:
    """The id of experiment ``name``, created (with the store's artifact location) if missing."""
    existing = mlflow_client.get_experiment_by_name(name)
    if existing is not None:
        if existing.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(existing.experiment_id)
        return existing.experiment_id
    return mlflow_client.create_experiment(name, artifact_location=artifact_location(tracking_uri))


# ------------------------------------------------------------------------------- logging
def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value


def flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"lm": {"kind": "fake"}}`` → ``{"lm.kind": "fake"}``."""
    out: dict[str, Any] = {}
    _flatten("", data, out)
    return out


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, bool | int | float):
        text = json.dumps(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _PARAM_MAX else text[: _PARAM_MAX - 3] + "..."


_METRIC_KEY_RE = re.compile(r"[^A-Za-z0-9_\-. /]")


class RunLogger:
    """Logs to one MLflow run, redacting everything on the way in."""

    def __init__(self, mlflow_client: MlflowClient, run_id: str, redactor: Redactor) -> None:
        self.client = mlflow_client
        self.run_id = run_id
        self.redactor = redactor

    def params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = flatten(self.redactor.value(dict(params)))
        items = [Param(_METRIC_KEY_RE.sub("_", k)[:250], self.redactor.text(_param_text(v))) for k, v in flat.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, self.redactor.text(str(key)), self.redactor.text(_param_text(value)))

    def metrics(self, metrics: Mapping[str, float | int | None], step: int = 0) -> None:
        from mlflow.entities import Metric

        import time

        now = int(time.time() * 1000)
        items = []
        for key, value in metrics.items():
            if value is None or isinstance(value, bool):
                continue
            number = float(value)
            if math.isnan(number) or math.isinf(number):
                continue
            name = _METRIC_KEY_RE.sub("_", self.redactor.text(str(key)))[:250]
            items.append(Metric(name, number, now, step))
        for start in range(0, len(items), 500):
            self.client.log_batch(self.run_id, metrics=items[start : start + 500])

    def text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, self.redactor.text(text), artifact_file)

    def json(self, data: Any, artifact_file: str) -> None:
        self.text(json.dumps(self.redactor.value(data), indent=2, ensure_ascii=False, default=str), artifact_file)

    def file(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Log a file; text files are redacted first (binary files are logged as they are)."""
        src = Path(path)
        redacted = self.redactor.file_text(src)
        if redacted is None:
            self.client.log_artifact(self.run_id, str(src), artifact_path)
            return
        with tempfile.TemporaryDirectory(prefix="augmentlab-artifact-") as tmp:
            copy = Path(tmp) / self.redactor.text(src.name)
            copy.write_text(redacted, encoding="utf-8")
            self.client.log_artifact(self.run_id, str(copy), artifact_path)

    def table(self, rows: Sequence[Mapping[str, Any]], artifact_file: str) -> None:
        """Log rows (dicts with the same keys) as an MLflow table (``mlflow.log_table``)."""
        if not rows:
            return
        columns: dict[str, list[Any]] = {}
        keys: list[str] = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns[key] = []
                    keys.append(key)
        for row in rows:
            for key in keys:
                value = row.get(key)
                if isinstance(value, dict | list):
                    value = json.dumps(value, ensure_ascii=False, default=str)
                columns[key].append(self.redactor.value(value))
        self.client.log_table(self.run_id, data=columns, artifact_file=artifact_file)


class Tracker:
    """One execution of a spec: a parent run, with a child run per variant."""

    def __init__(
        self,
        experiment: str,
        *,
        tracking_uri: str | None = None,
        secret_env_names: Iterable[str] = (),
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        from mlflow import MlflowClient

        self.redactor = Redactor(secret_env_names)
        self.tracking_uri = resolve_tracking_uri(tracking_uri, root)
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        self.experiment_name = self.redactor.text(experiment)
        try:
            self.experiment_id = ensure_experiment(self.client, self.experiment_name, self.tracking_uri)
        except Exception as exc:  # MLflow raises many kinds for an unreachable/bad store
            if isinstance(exc, AugmentlabError):
                raise
            raise AugmentlabError(
                f"cannot use MLflow store {self.tracking_uri}: {' '.join(str(exc).split())[:200]}"
            ) from None
        self.parent_run_id: str | None = None

    @contextmanager
    def parent(self, run_name: str, tags: Mapping[str, Any] | None = None) -> Iterator[RunLogger]:
        close_abandoned(self.client, self.experiment_id)
        run = self.client.create_run(
            self.experiment_id,
            run_name=self.redactor.text(run_name),
            tags={ROLE_TAG: "execution", **_owner_tags(), **{k: _param_text(v) for k, v in (tags or {}).items()}},
        )
        self.parent_run_id = run.info.run_id
        logger = RunLogger(self.client, run.info.run_id, self.redactor)
        with _terminated(self.client, run.info.run_id):
            yield logger

    @contextmanager
    def variant(self, name: str, tags: Mapping[str, Any] | None = None) -> Iterator[RunLogger]:
        run_tags = {ROLE_TAG: "variant", VARIANT_TAG: self.redactor.text(name), **_owner_tags()}
        if self.parent_run_id:
            run_tags["mlflow.parentRunId"] = self.parent_run_id
        run_tags.update({k: self.redactor.text(_param_text(v)) for k, v in (tags or {}).items()})
        run = self.client.create_run(self.experiment_id, run_name=self.redactor.text(name), tags=run_tags)
        logger = RunLogger(self.client, run.info.run_id, self.redactor)
        with _terminated(self.client, run.info.run_id):
            yield logger


def _owner_tags() -> dict[str, str]:
    import socket

    return {OWNER_PID_TAG: str(os.getpid()), OWNER_HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def close_abandoned(mlflow_client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark as FAILED the RUNNING runs of this experiment whose process (on this host) is gone.

    A run killed with SIGKILL (or a machine that lost power) cannot end its MLflow runs; the next
    execution of the spec closes them, tagged ``augmentlab.abandoned``, so no run stays
    "RUNNING" forever and nothing reads them as finished. Returns the run ids it closed.
    """
    import socket

    host = socket.gethostname()
    closed = []
    try:
        runs = mlflow_client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000)
    except Exception:  # never stop a new run over housekeeping
        return closed
    for run in runs:
        tags = run.data.tags
        pid = tags.get(OWNER_PID_TAG)
        if tags.get(OWNER_HOST_TAG) != host or not (pid or "").isdigit() or _alive(int(pid)):
            continue
        try:
            mlflow_client.set_tag(run.info.run_id, ABANDONED_TAG, f"process {pid} ended without closing the run (killed?)")
            mlflow_client.set_terminated(run.info.run_id, status="FAILED")
            closed.append(run.info.run_id)
        except Exception:  # pragma: no cover - best effort
            continue
    return closed


@contextmanager
def _terminated(mlflow_client: MlflowClient, run_id: str) -> Iterator[None]:
    status = "FAILED"
    try:
        yield
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        try:
            mlflow_client.set_terminated(run_id, status=status)
        except Exception:  # pragma: no cover - never mask the original error
            pass


# ------------------------------------------------------------------------------- reading back
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
            from urllib.parse import unquote, urlparse

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

    def best(self) -> VariantResult | None:
        scored = [v for v in self.variants if v.score is not None]
        return max(scored, key=lambda v: v.score or 0.0) if scored else None


def experiment_name(name_or_spec: str | os.PathLike[str]) -> str:
    text = str(name_or_spec)
    path = Path(text)
    if text.endswith(".toml"):
        if path.is_file():
            import tomllib

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


__all__ = [
    "ExperimentResults",
    "RunLogger",
    "Tracker",
    "VariantResult",
    "artifact_location",
    "client",
    "close_abandoned",
    "default_store",
    "ensure_experiment",
    "flatten",
    "list_experiments",
    "load_experiment",
    "resolve_tracking_uri",
]
