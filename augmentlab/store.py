"""The result store: one SQLite file per output folder, keyed by content, resumable.

Every unit of work (a scene, a persona card) has a *key*: the content hash of its inputs, the
program fingerprint and the LM fingerprint (:func:`work_key`). A result is written in one
transaction when it is finished, so a crash or ``kill -9`` loses at most the scenes in flight,
and a re-run skips every key that already has a final result. The key is the table's primary
key, so no result can be written twice.

Two tables hold the data:

- ``results``: one row per key — status, the :class:`~augmentlab.core.model.AugmentedScene` JSON,
  usage, attempts, the raw LM output and the failure reason;
- ``plan``: the scenes of the latest run in script order (script index, scene index → key), so
  results come back in script order (:meth:`ResultStore.iter_results`,
  :meth:`ResultStore.export_jsonl`) however they were computed.

Statuses: ``ok`` (done), ``failed`` (the LM answered, but its output never parsed or kept the
human words within the allowed attempts: final unless the user asks to retry failures) and
``error`` (the LM could not be reached after its retries: retried on the next run).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import write_jsonl
from augmentlab.core.model import AugmentedScene, Usage, content_hash

STORE_NAME = "store.sqlite"
SCHEMA_VERSION = 1

Status = Literal["ok", "failed", "error"]
FINAL_STATUSES: tuple[str, ...] = ("ok", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'scene',
    scene_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'error')),
    attempts INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    result TEXT,
    raw TEXT,
    reason TEXT,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS plan (
    script_index INTEGER NOT NULL,
    scene_index INTEGER NOT NULL,
    script TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (script_index, scene_index)
);
"""


def work_key(*parts: Any) -> str:
    """The content key of one unit of work (32 hex digits of SHA-256 over its JSON parts)."""
    return content_hash(*parts, length=32)


@dataclass(frozen=True)
class Record:
    """One stored result."""

    key: str
    kind: str
    scene_id: str | None
    status: str
    attempts: int
    usage: Usage
    result: dict[str, Any] | None
    raw: str | None
    reason: str | None

    def scene(self) -> AugmentedScene | None:
        """The stored :class:`AugmentedScene` (``None`` for non-scene records)."""
        if self.result is None or self.kind != "scene":
            return None
        return AugmentedScene.model_validate(self.result)


class ResultStore:
    """A SQLite result store (WAL mode, one transaction per result, safe across threads)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        path = Path(path)
        if path.is_dir() or (not path.suffix and not path.exists()):
            path = path / STORE_NAME
        if not create and not path.is_file():
            raise AugmentlabError(f"no result store at {path}")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise AugmentlabError(f"cannot open result store {path}: {exc}") from exc
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # -- plumbing -------------------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta -----------------------------------------------------------------------------

    def set_meta(self, name: str, value: Any) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                (name, json.dumps(value, ensure_ascii=False)),
            )

    def get_meta(self, name: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- plan -----------------------------------------------------------------------------

    def set_plan(self, entries: Iterable[tuple[int, int, str, str]]) -> None:
        """Replace the run plan: ``(script_index, scene_index, script, key)`` in script order."""
        rows = list(entries)
        with self._tx() as db:
            db.execute("DELETE FROM plan")
            db.executemany("INSERT INTO plan(script_index, scene_index, script, key) VALUES (?, ?, ?, ?)", rows)

    def plan_size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM plan").fetchone()[0])

    # -- results --------------------------------------------------------------------------

    def put(
        self,
        key: str,
        *,
        status: Status,
        result: dict[str, Any] | None = None,
        kind: str = "scene",
        scene_id: str | None = None,
        attempts: int = 1,
        usage: Usage | None = None,
        raw: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Write one result atomically; returns False when a final result was already there.

        A final result (``ok``/``failed``) is never overwritten by a later ``error``; an ``ok``
        is never overwritten at all (see :meth:`reset_failures` to redo failures).
        """
        usage = usage or Usage()
        payload = json.dumps(result, ensure_ascii=False) if result is not None else None
        with self._tx() as db:
            cur = db.execute(
                """
                INSERT INTO results(key, kind, scene_id, status, attempts, calls, prompt_tokens,
                                    completion_tokens, cost, result, raw, reason, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET
                    kind=excluded.kind, scene_id=excluded.scene_id, status=excluded.status,
                    attempts=results.attempts + excluded.attempts, calls=results.calls + excluded.calls,
                    prompt_tokens=results.prompt_tokens + excluded.prompt_tokens,
                    completion_tokens=results.completion_tokens + excluded.completion_tokens,
                    cost=CASE WHEN results.cost IS NULL THEN excluded.cost
                             WHEN excluded.cost IS NULL THEN results.cost
                             ELSE results.cost + excluded.cost END,
                    result=excluded.result, raw=excluded.raw,
                    reason=excluded.reason, updated_at=excluded.updated_at
                WHERE results.status = 'error' OR (results.status = 'failed' AND excluded.status = 'ok')
                """,
                (
                    key, kind, scene_id, status, attempts, usage.calls, usage.prompt_tokens,
                    usage.completion_tokens, usage.cost, payload, raw, reason, time.time(),
                ),
            )
            return cur.rowcount > 0

    def get(self, key: str) -> Record | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM results WHERE key=?", (key,)).fetchone()
        return None if row is None else _record(row)

    def final_keys(self, keys: Iterable[str] | None = None, *, include_failed: bool = True) -> set[str]:
        """The keys (of ``keys``, or all) that have a final result and need no work."""
        statuses = ("ok", "failed") if include_failed else ("ok",)
        marks = ",".join("?" * len(statuses))
        with self._lock:
            found = {
                row[0]
                for row in self._db.execute(f"SELECT key FROM results WHERE status IN ({marks})", statuses)
            }
        return found if keys is None else found & set(keys)

    def reset_failures(self, keys: Iterable[str] | None = None) -> int:
        """Mark ``failed`` results as ``error`` so the next run redoes them; returns how many."""
        with self._tx() as db:
            if keys is None:
                cur = db.execute("UPDATE results SET status='error' WHERE status='failed'")
                return cur.rowcount
            count = 0
            for key in keys:
                count += db.execute("UPDATE results SET status='error' WHERE status='failed' AND key=?", (key,)).rowcount
            return count

    def iter_results(self, *, statuses: Iterable[str] | None = None) -> Iterator[tuple[int, int, str, Record | None]]:
        """``(script_index, scene_index, script, record)`` for the plan, in script order.

        ``record`` is ``None`` for a planned scene with no result yet; with ``statuses`` only
        records of those statuses are given.
        """
        wanted = set(statuses) if statuses is not None else None
        with self._lock:
            rows = self._db.execute(
                f"""
                SELECT p.script_index, p.scene_index, p.script, {_COLUMNS_R}
                FROM plan p LEFT JOIN results r ON r.key = p.key
                ORDER BY p.script_index, p.scene_index
                """
            ).fetchall()
        for row in rows:
            record = _record(row[3:]) if row[3] is not None else None
            if wanted is not None and (record is None or record.status not in wanted):
                continue
            yield row[0], row[1], row[2], record

    def scenes(self) -> Iterator[AugmentedScene]:
        """The ``ok`` augmented scenes of the plan, in script order."""
        for _, _, _, record in self.iter_results(statuses=("ok",)):
            scene = record.scene() if record else None
            if scene is not None:
                yield scene

    def counts(self) -> dict[str, int]:
        """How many planned scenes are ``ok``, ``failed``, ``error`` or ``pending``."""
        out = {"ok": 0, "failed": 0, "error": 0, "pending": 0}
        for *_, record in self.iter_results():
            out["pending" if record is None else record.status] += 1
        return out

    def total_usage(self) -> Usage:
        """Usage summed over the planned scenes' records (retries included)."""
        total = Usage()
        for *_, record in self.iter_results():
            if record is not None:
                total = total + record.usage
        return total

    def export_jsonl(self, path: str | Path, *, statuses: Iterable[str] = ("ok",)) -> int:
        """Write the plan's records of ``statuses`` as JSON lines in script order (atomically).

        ``ok`` records are written as their :class:`AugmentedScene`; others as a failure line
        (script, scene index, scene id, status, reason, attempts, raw). Returns the line count.
        """
        return write_jsonl(path, self._export_lines(tuple(statuses)), create_parent=False, fsync=True)

    def _export_lines(self, statuses: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        for script_index, scene_index, script, record in self.iter_results(statuses=statuses):
            assert record is not None
            if record.status == "ok" and record.result is not None:
                yield record.result
            else:
                yield {
                    "script": script, "script_index": script_index, "scene_index": scene_index,
                    "scene_id": record.scene_id, "key": record.key, "status": record.status,
                    "reason": record.reason, "attempts": record.attempts, "raw": record.raw,
                }


class _Transaction:
    """``with`` block: one ``BEGIN IMMEDIATE`` … ``COMMIT`` under the store lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._lock.release()


_FIELDS = ("key", "kind", "scene_id", "status", "attempts", "calls", "prompt_tokens",
           "completion_tokens", "cost", "result", "raw", "reason")
_COLUMNS = ", ".join(_FIELDS)
_COLUMNS_R = ", ".join(f"r.{name}" for name in _FIELDS)


def _record(row: tuple[Any, ...]) -> Record:
    key, kind, scene_id, status, attempts, calls, prompt, completion, cost, result, raw, reason = row
    return Record(
        key=key, kind=kind, scene_id=scene_id, status=status, attempts=attempts,
        usage=Usage(calls=calls, prompt_tokens=prompt, completion_tokens=completion, cost=cost),
        result=json.loads(result) if result else None, raw=raw, reason=reason,
    )
