"""Helpers of the reliability suite (store consistency, secret grep, ports, child processes)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from augmentlab.core.text import is_verbatim
from augmentlab.store import ResultStore

RELIABILITY_DIR = Path(__file__).resolve().parent
TESTS_DIR = RELIABILITY_DIR.parent
REPO = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # the helpers of tests/test_augment.py are reused, not copied
    sys.path.insert(0, str(TESTS_DIR))

GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def store_rows(out: Path) -> list[tuple[str, str]]:
    """``(key, status)`` of every result row in an augment folder's store (read-only)."""
    db = sqlite3.connect(f"file:{out / 'store.sqlite'}?mode=ro", uri=True)
    try:
        return [(k, s) for k, s in db.execute("SELECT key, status FROM results WHERE kind='scene'")]
    finally:
        db.close()


def assert_store_consistent(out: Path) -> dict[str, int]:
    """The augment folder agrees with itself: store counts = augmented.jsonl + failures.jsonl,
    no scene twice, every ``ok`` line keeps the human words. Returns the store's counts."""
    with ResultStore(out, create=False) as store:
        counts = store.counts()
        planned = store.plan_size()
        plan = [(record.status, record.scene_id) for *_, record in store.iter_results() if record is not None]
    ok_rows = jsonl(out / "augmented.jsonl")
    failures = jsonl(out / "failures.jsonl")
    assert len(ok_rows) == counts["ok"], (len(ok_rows), counts)
    assert len(failures) == counts["failed"] + counts["error"], (len(failures), counts)
    # Each planned scene once, in script order (a scene the script repeats word for word is one
    # stored result, planned — and written — where it occurs).
    assert [r["scene_id"] for r in ok_rows] == [i for status, i in plan if status == "ok"], "scene lost or doubled"
    assert [f["scene_id"] for f in failures] == [i for status, i in plan if status != "ok"], "failure lost or doubled"
    assert sum(counts.values()) == planned
    for row in ok_rows:
        for line in row["lines"]:
            assert is_verbatim(line["annotated"], line["line"]["text"]), line
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["counts"] == counts
    return counts


def fake_key() -> str:
    """A recognisable fake API key, new per call."""
    return f"sk-augmentlab-TEST-{secrets.token_hex(12)}"


def grep_tree(root: Path, needle: str) -> list[str]:
    """Files under ``root`` whose bytes contain ``needle`` (sqlite files and WAL included)."""
    hits = []
    raw = needle.encode()
    for path in sorted(root.rglob("*")):
        if path.is_file() and raw in path.read_bytes():
            hits.append(str(path))
    return hits


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python that imports the repo and the tests' helpers."""
    path = os.pathsep.join([str(REPO), str(TESTS_DIR), str(RELIABILITY_DIR), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def python(code: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], **kwargs)
