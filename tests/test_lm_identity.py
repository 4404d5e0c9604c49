"""Model identity: two servers or two GGUF files behind one model name never share cached answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from augmentlab.lm import LMConfig, use_lm
from augmentlab.core.model import Line, LineKind, Scene
from fakes.fake_server import StubServer, default_responder


def _responder(scenario: str):
    def answer(messages):
        data = json.loads(default_responder(messages))
        if "scenario" in data:
            data["scenario"] = scenario
        return json.dumps(data)

    return answer


SCENE = Scene(index=0, heading="the harbour", lines=[
    Line(speaker="Ann", text="Where were you last night?"),
    Line(speaker=None, text="The door creaks.", kind=LineKind.narration),
    Line(speaker="Bob", text="Out. Walking by the harbour."),
]).with_id()


def _augment(config: LMConfig):
    from prompts.programs import augment_scene
    from augmentlab.augment import resolve_program

    program, _ = resolve_program(None)
    with use_lm(config):
        return augment_scene(program, SCENE)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGMENTLAB_CACHE_DIR", str(tmp_path / "cache"))


def test_two_servers_one_model_name_each_answer_their_own():
    with StubServer(latency=0.0, responder=_responder("Server A sets the scene here.")) as a, \
            StubServer(latency=0.0, responder=_responder("Server B sets the scene here.")) as b:
        config_a = LMConfig(kind="endpoint", model="openai/local", api_base=a.base_url, cache=True)
        config_b = LMConfig(kind="endpoint", model="openai/local", api_base=b.base_url, cache=True)
        assert config_a.fingerprint() != config_b.fingerprint()
        first = _augment(config_a)
        assert first.status == "ok" and first.scenario == "Server A sets the scene here."
        second = _augment(config_b)
        assert second.scenario == "Server B sets the scene here.", "B's answer came from A's cache"
        assert b.completed >= 1 and second.usage.cached_calls == 0
        # The cache is on: asking A again is answered from it, without a request.
        before = a.requests
        again = _augment(config_a)
        assert again.scenario == "Server A sets the scene here."
        assert a.requests == before and again.usage.cached_calls >= 1
        # A trailing slash is the same server (same identity, same cache).
        slash = LMConfig(kind="endpoint", model="openai/local", api_base=a.base_url + "/", cache=True)
        assert slash.identity() == config_a.identity()


class _FakeEmbedded:
    def __init__(self, url: str) -> None:
        self.base_url = url


def test_switching_gguf_gets_no_cache_hits(tmp_path, monkeypatch):
    """The embedded kind with two GGUF files (the server is a stub: the key comes from the files)."""
    from augmentlab.lm import llama_server

    one, two = tmp_path / "one.gguf", tmp_path / "two.gguf"
    one.write_bytes(b"GGUF" + os.urandom(64))
    two.write_bytes(b"GGUF" + os.urandom(64))
    with StubServer(latency=0.0) as stub:
        started: list[str] = []

        def acquire(*, model_path=None, **kw):
            started.append(Path(model_path).name)
            return _FakeEmbedded(stub.base_url)

        monkeypatch.setattr(llama_server, "acquire", acquire)
        monkeypatch.setattr(llama_server, "release", lambda server: None)
        config_one = LMConfig(kind="embedded", gguf=str(one), cache=True, adapter="json")
        config_two = LMConfig(kind="embedded", gguf=str(two), cache=True, adapter="json")
        assert config_one.identity()["gguf_sha256"] != config_two.identity()["gguf_sha256"]
        assert config_one.fingerprint() != config_two.fingerprint()

        r1 = _augment(config_one)
        n1 = stub.requests
        assert r1.status == "ok" and n1 >= 1
        r2 = _augment(config_two)
        assert stub.requests - n1 == n1, "the second GGUF was answered from the first one's cache"
        assert r2.usage.cached_calls == 0
        # Same file again: every call from the cache, none sent.
        r3 = _augment(config_one)
        assert stub.requests == 2 * n1 and r3.usage.cached_calls == r3.usage.calls >= 1
        assert started == ["one.gguf", "two.gguf", "one.gguf"]
        # The same bytes under another name are the same model.
        copy = tmp_path / "renamed.gguf"
        copy.write_bytes(one.read_bytes())
        assert LMConfig(kind="embedded", gguf=str(copy), adapter="json").fingerprint() == config_one.fingerprint()
        # n_ctx changes what the server can answer: another identity.
        assert LMConfig(kind="embedded", gguf=str(one), adapter="json", n_ctx=4096).fingerprint() != config_one.fingerprint()


def test_gguf_hash_is_cached_by_path_size_mtime(tmp_path, monkeypatch):
    import hashlib

    from augmentlab.lm import identity as lm_identity

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    digest = lm_identity.gguf_sha256(model)
    assert digest == hashlib.sha256(b"GGUF one").hexdigest()
    stored = json.loads((tmp_path / "cache" / lm_identity.CACHE_FILE).read_text())
    assert digest in stored.values()
    # A second process (empty memo) reads the file cache instead of hashing again.
    lm_identity._memo.clear()
    monkeypatch.setattr(lm_identity.hashlib, "sha256", lambda: pytest.fail("hashed again"))
    assert lm_identity.gguf_sha256(model) == digest
    monkeypatch.undo()
    monkeypatch.setenv("AUGMENTLAB_CACHE_DIR", str(tmp_path / "cache"))
    # A changed file (size / mtime) is hashed again.
    model.write_bytes(b"GGUF two, longer")
    assert lm_identity.gguf_sha256(model) == hashlib.sha256(b"GGUF two, longer").hexdigest()


def test_identity_in_records_and_run_json(tmp_path):
    from augmentlab.augment import AugmentOptions, augment_scripts
    from augmentlab.core.model import Script
    from augmentlab.store import ResultStore

    script = Script(title="t", source="t.txt", scenes=[SCENE])
    with StubServer(latency=0.0) as stub:
        config = LMConfig(kind="endpoint", model="openai/local", api_base=stub.base_url, cache=False)
        report = augment_scripts([script], tmp_path / "out", config, AugmentOptions(write_personas=False))
    assert report.ok == 1
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["lm_identity"] == f"openai/local @ {stub.base_url}"
    assert run["lm"]["identity"]["api_base"] == stub.base_url
    record = json.loads((tmp_path / "out" / "augmented.jsonl").read_text().splitlines()[0])
    assert record["lm"]["identity"] == {"kind": "endpoint", "model": "openai/local", "api_base": stub.base_url}
    store = ResultStore(tmp_path / "out")
    try:
        assert store.get_meta("lm")["identity"]["api_base"] == stub.base_url
    finally:
        store.close()


def test_mlflow_params_and_report_header_name_the_model():
    from experiments.record import lm_params

    config = LMConfig(kind="endpoint", model="openai/local", api_base="http://127.0.0.1:8080/v1")
    other = LMConfig(kind="endpoint", model="openai/local", api_base="http://127.0.0.1:9090/v1")
    params = lm_params({"lm": config, "prompt_lm": config, "reflection_lm": other})
    assert params["lm.identity"] == "openai/local @ http://127.0.0.1:8080/v1"
    assert params["lm.fingerprint"] == config.fingerprint()
    assert params["reflection_lm.identity"] == "openai/local @ http://127.0.0.1:9090/v1"
    assert "prompt_lm.identity" not in params  # same LM as the main one

