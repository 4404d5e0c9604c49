"""The result store: atomic, keyed, resumable, ordered."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import AugmentedScene, Usage
from augmentlab.store import ResultStore, work_key


def _scene(n: int) -> dict:
    return AugmentedScene(scene_id=f"s{n}", scenario=f"scenario {n}").model_dump(mode="json")


def test_put_get_roundtrip(tmp_path):
    with ResultStore(tmp_path) as store:
        assert store.path == tmp_path / "store.sqlite"
        assert store.put("k1", status="ok", result=_scene(1), scene_id="s1", usage=Usage(calls=2, prompt_tokens=10, completion_tokens=5, cost=0.5))
        record = store.get("k1")
        assert record is not None and record.status == "ok"
        assert record.scene().scenario == "scenario 1"
        assert record.usage == Usage(calls=2, prompt_tokens=10, completion_tokens=5, cost=0.5)
        assert store.get("missing") is None
    assert sqlite3.connect(tmp_path / "store.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_final_results_are_never_overwritten(tmp_path):
    with ResultStore(tmp_path) as store:
        assert store.put("k", status="ok", result=_scene(1))
        assert not store.put("k", status="ok", result=_scene(2))
        assert not store.put("k", status="error", reason="late error")
        assert store.get("k").scene().scenario == "scenario 1"
        (count,) = store._db.execute("SELECT COUNT(*) FROM results").fetchone()
        assert count == 1


def test_error_is_redone_and_usage_accumulates(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put("k", status="error", reason="timeout", usage=Usage(calls=1, prompt_tokens=7, cost=0.1))
        assert store.final_keys(["k"]) == set()
        assert store.put("k", status="ok", result=_scene(1), usage=Usage(calls=1, prompt_tokens=3, cost=0.2))
        record = store.get("k")
        assert record.status == "ok" and record.attempts == 2
        assert record.usage.prompt_tokens == 10 and record.usage.calls == 2
        assert record.usage.cost == pytest.approx(0.3)


def test_failed_is_final_until_reset(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put("k", status="failed", reason="bad json", raw="{oops")
        assert store.final_keys() == {"k"}
        assert store.final_keys(include_failed=False) == set()
        assert store.reset_failures(["k"]) == 1
        assert store.final_keys() == set()
        assert store.get("k").raw == "{oops"


def test_plan_order_and_export(tmp_path):
    keys = [work_key("scene", i) for i in range(5)]
    with ResultStore(tmp_path) as store:
        # results arrive out of order; the plan gives script order back
        for i in (3, 0, 4, 1):
            store.put(keys[i], status="ok", result=_scene(i))
        store.put(keys[2], status="failed", reason="changed words", raw="xx")
        store.set_plan([(0, i, "a.txt", keys[i]) for i in range(5)])
        assert [s.scene_id for s in store.scenes()] == ["s0", "s1", "s3", "s4"]
        assert store.counts() == {"ok": 4, "failed": 1, "error": 0, "pending": 0}
        assert store.export_jsonl(tmp_path / "ok.jsonl") == 4
        assert store.export_jsonl(tmp_path / "bad.jsonl", statuses=("failed", "error")) == 1
    ok = [json.loads(line)["scene_id"] for line in (tmp_path / "ok.jsonl").read_text().splitlines()]
    assert ok == ["s0", "s1", "s3", "s4"]
    bad = json.loads((tmp_path / "bad.jsonl").read_text())
    assert bad["reason"] == "changed words" and bad["raw"] == "xx" and bad["scene_index"] == 2
    assert not (tmp_path / "ok.jsonl.tmp").exists()


def test_concurrent_writers_same_key_write_once(tmp_path):
    store = ResultStore(tmp_path)
    results = []

    def write(n: int) -> None:
        results.append(store.put("same", status="ok", result=_scene(n)))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert store._db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
    store.close()


def test_reopen_keeps_results_and_missing_store_is_one_line(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put("k", status="ok", result=_scene(1))
    with ResultStore(tmp_path / "store.sqlite", create=False) as store:
        assert store.final_keys() == {"k"}
    with pytest.raises(AugmentlabError, match="no result store"):
        ResultStore(tmp_path / "nope" / "store.sqlite", create=False)


def test_work_key_depends_on_every_part():
    base = work_key("scene", {"lines": ["a"]}, "prog", "lm")
    assert base == work_key("scene", {"lines": ["a"]}, "prog", "lm")
    assert base != work_key("scene", {"lines": ["b"]}, "prog", "lm")
    assert base != work_key("scene", {"lines": ["a"]}, "prog2", "lm")
    assert base != work_key("scene", {"lines": ["a"]}, "prog", "lm2")
