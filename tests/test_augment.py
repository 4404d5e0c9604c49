"""augment_scripts: resumable, concurrent, retried, accounted — on the FakeLM and the stub server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import prompts.programs
from augmentlab.augment import (
    DEFAULT_PROGRAM, AugmentOptions, augment_scripts, main_characters, read_persona_file, resolve_program,
)
from augmentlab.cli import main as cli_main
from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig
from augmentlab.core.model import Line, LineKind, Scene, Script
from augmentlab.store import ResultStore
from fakes.fake_server import StubServer
from augmentlab.core.text import is_verbatim

KEY_ENV = "AUGMENTLAB_TEST_STUB_KEY"
SECRET = "sk-test-secret-value-123"


def make_script(n_scenes: int = 6, title: str = "test") -> Script:
    scenes = []
    for i in range(n_scenes):
        lines = [
            Line(speaker="Ann", text=f"Did you bring the map, number {i}?"),
            Line(speaker=None, text=f"The wind rattles window {i}.", kind=LineKind.narration),
            Line(speaker="Bob", text=f"I left it at the station, sorry {i}."),
            Line(speaker="Ann", text=f"Then we walk, {i} miles or not."),
        ]
        scenes.append(Scene(index=i, heading=f"scene {i}", lines=lines).with_id())
    return Script(title=title, source=f"{title}.txt", scenes=scenes)


def stub_config(server: StubServer, **kw) -> LMConfig:
    return LMConfig(kind="endpoint", model="openai/stub", api_base=server.base_url, api_key_env=KEY_ENV,
                    cache=False, adapter="json", **kw)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _count_scene_runs(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = prompts.programs.augment_scene

    def counting(program, scene, personas=None, **kwargs):
        calls.append(scene.id)
        return real(program, scene, personas, **kwargs)

    monkeypatch.setattr(prompts.programs, "augment_scene", counting)
    return calls


# -- the basic run --------------------------------------------------------------------------


def test_fake_run_writes_every_output_in_script_order(tmp_path, monkeypatch):
    script = make_script(6)
    calls = _count_scene_runs(monkeypatch)
    report = augment_scripts([script], tmp_path, LMConfig(kind="fake", cache=False), AugmentOptions(concurrency=3))
    assert (report.ok, report.failed, report.errors, report.skipped) == (6, 0, 0, 0)
    for name in ("store.sqlite", "augmented.jsonl", "failures.jsonl", "personas.json", "run.json"):
        assert (tmp_path / name).is_file(), name
    rows = _lines(tmp_path / "augmented.jsonl")
    assert [r["scene_id"] for r in rows] == [s.id for s in script.scenes]
    for row, scene in zip(rows, script.scenes):
        assert row["scenario"]
        assert [a["line"]["text"] for a in row["lines"]] == [ln.text for ln in scene.lines]
        assert all(is_verbatim(a["annotated"], a["line"]["text"]) for a in row["lines"])
        assert row["usage"]["calls"] == 1 and row["usage"]["prompt_tokens"] > 0  # one call per scene
    assert sorted(calls) == sorted(s.id for s in script.scenes)
    assert report.usage.calls >= 6 and report.usage.total_tokens > 0
    assert _lines(tmp_path / "failures.jsonl") == []
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["program"] == "actions/compose_scene"
    assert run["counts"]["ok"] == 6 and run["lm"]["kind"] == "fake"


def test_default_program_is_one_named_constant():
    program, name = resolve_program(None)
    assert DEFAULT_PROGRAM == "compose_scene"
    assert name == "actions/compose_scene" and program.task == "both"
    _, single = resolve_program("actions/seed")
    assert single == "actions/seed"
    with pytest.raises(AugmentlabError):
        resolve_program("no_such_variant_xyz")


def test_rerun_skips_finished_scenes_without_lm_calls(tmp_path, monkeypatch):
    script = make_script(5)
    augment_scripts([script], tmp_path, LMConfig(kind="fake", cache=False))
    first = (tmp_path / "augmented.jsonl").read_text()
    calls = _count_scene_runs(monkeypatch)
    report = augment_scripts([script], tmp_path, LMConfig(kind="fake", cache=False))
    assert calls == [] and report.skipped == 5 and report.usage.calls == 0
    assert (tmp_path / "augmented.jsonl").read_text() == first


def test_changed_program_or_lm_is_new_work(tmp_path, monkeypatch):
    script = make_script(2)
    augment_scripts([script], tmp_path, LMConfig(kind="fake", cache=False), AugmentOptions(write_personas=False))
    calls = _count_scene_runs(monkeypatch)
    augment_scripts([script], tmp_path, LMConfig(kind="fake", cache=False),
                    AugmentOptions(program="seed+third_person", write_personas=False))
    assert len(calls) == 2
    augment_scripts([script], tmp_path, LMConfig(kind="fake", cache=False, temperature=0.5),
                    AugmentOptions(program="seed+third_person", write_personas=False))
    assert len(calls) == 4


def test_injected_crash_then_resume_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    script = make_script(8)
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    augment_scripts([script], clean_dir, LMConfig(kind="fake", cache=False), AugmentOptions(concurrency=1))

    real = prompts.programs.augment_scene
    seen: list[str] = []

    def dies_after_three(program, scene, personas=None, **kwargs):
        if len(seen) == 3:
            raise KeyboardInterrupt  # like Ctrl-C mid-run
        seen.append(scene.id)
        return real(program, scene, personas, **kwargs)

    monkeypatch.setattr(prompts.programs, "augment_scene", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        augment_scripts([script], crash_dir, LMConfig(kind="fake", cache=False), AugmentOptions(concurrency=1))
    with ResultStore(crash_dir) as store:
        assert store.counts()["ok"] == 3
    assert len(_lines(crash_dir / "augmented.jsonl")) == 3  # outputs written on the way out

    monkeypatch.setattr(prompts.programs, "augment_scene", real)
    calls = _count_scene_runs(monkeypatch)
    report = augment_scripts([script], crash_dir, LMConfig(kind="fake", cache=False), AugmentOptions(concurrency=1))
    assert report.skipped == 3 and report.ok == 5
    assert sorted(calls) == sorted(s.id for s in script.scenes[3:])
    assert (crash_dir / "augmented.jsonl").read_text() == (clean_dir / "augmented.jsonl").read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_CHILD = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    from test_augment import make_script, stub_config
    from augmentlab.augment import AugmentOptions, augment_scripts
    from fakes.fake_server import StubServer

    class Srv:  # only base_url is needed for the config
        base_url = "http://127.0.0.1:{port}/v1"

    augment_scripts([make_script(12)], {out!r}, stub_config(Srv),
                    AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
    """
)


def test_sigkill_mid_run_then_resume(tmp_path):
    """A child process is killed with SIGKILL mid-run; the re-run loses nothing, writes nothing
    twice, calls the LM only for unfinished scenes and gives the same output as a clean run."""
    port = _free_port()
    out = tmp_path / "killed"
    tests_dir = str(Path(__file__).resolve().parent)
    with StubServer(latency=0.05, port=port) as server:
        env = {**os.environ, KEY_ENV: SECRET}
        child = subprocess.Popen([sys.executable, "-c", _CHILD.format(tests=tests_dir, port=port, out=str(out))], env=env)
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
            if (out / "store.sqlite").exists():
                try:
                    with ResultStore(out) as store:
                        done = store.counts()["ok"]
                except Exception:
                    continue
                if done >= 4:
                    break
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"
        with ResultStore(out) as store:
            finished = store.counts()["ok"]
        assert 4 <= finished < 12
        before = server.requests

        report = augment_scripts([make_script(12)], out, stub_config(server),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
        assert report.skipped == finished and report.ok == 12 - finished
        assert server.requests - before == 2 * (12 - finished)  # scenario + actions per unfinished scene

        clean = tmp_path / "clean"
        augment_scripts([make_script(12)], clean, stub_config(server),
                        AugmentOptions(program="seed+seed_with_scenario", concurrency=4, write_personas=False))
    with ResultStore(out) as store:
        assert store._db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 12
    assert (out / "augmented.jsonl").read_text() == (clean / "augmented.jsonl").read_text()


# -- retries against the stub server --------------------------------------------------------


def test_429_waits_retry_after_then_succeeds(tmp_path):
    with StubServer(latency=0.01, faults=["429"], retry_after=0.4) as server:
        start = time.monotonic()
        report = augment_scripts([make_script(1)], tmp_path, stub_config(server, num_retries=2),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
        elapsed = time.monotonic() - start
        assert report.ok == 1 and server.requests == 3  # 429, then scenario and actions
        gap = server.log[1][0] - server.log[0][0]
        assert gap >= 0.35, f"retried after {gap:.2f}s, Retry-After said 0.4s"
        assert elapsed >= 0.4


def test_5xx_is_retried_by_the_lm_layer(tmp_path):
    with StubServer(latency=0.01, faults=["500", "503"], retry_after=0.05) as server:
        report = augment_scripts([make_script(1)], tmp_path, stub_config(server, num_retries=2),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
        assert report.ok == 1 and server.requests == 4


def test_timeout_is_retried(tmp_path):
    with StubServer(latency=0.01, faults=["timeout"], hang=2.5) as server:
        report = augment_scripts([make_script(1)], tmp_path, stub_config(server, num_retries=1, timeout=0.3),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
        assert report.ok == 1 and server.requests == 3
        gap = server.log[1][0] - server.log[0][0]
        assert gap < 2.0, "the retry waited for the hung answer instead of timing out"


def test_lm_down_is_an_error_retried_on_next_run(tmp_path):
    script = make_script(2)
    with StubServer(latency=0.01, faults=["500"] * 4, retry_after=0.01) as server:
        report = augment_scripts([script], tmp_path, stub_config(server, num_retries=1),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
        assert report.errors == 2 and report.ok == 0
        failures = _lines(tmp_path / "failures.jsonl")
        assert [f["status"] for f in failures] == ["error", "error"]
        assert "LM call failed" in failures[0]["reason"]
        report = augment_scripts([script], tmp_path, stub_config(server, num_retries=1),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
        assert report.ok == 2 and report.skipped == 0
    assert _lines(tmp_path / "failures.jsonl") == []
    assert len(_lines(tmp_path / "augmented.jsonl")) == 2


def test_unparseable_and_non_verbatim_output_is_retried(tmp_path):
    with StubServer(latency=0.01, faults=["garbage", "ok", "mangle"]) as server:
        report = augment_scripts([make_script(1)], tmp_path, stub_config(server, num_retries=0),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, max_attempts=3, write_personas=False))
        assert report.ok == 1
    with ResultStore(tmp_path) as store:
        (record,) = [r for *_, r in store.iter_results()]
        assert record.attempts == 3 and record.usage.calls >= 4


def test_bad_output_becomes_a_listed_failure_with_raw_output(tmp_path, monkeypatch):
    script = make_script(2)
    with StubServer(latency=0.01, faults=["ok", "mangle", "ok", "mangle"]) as server:
        report = augment_scripts([script], tmp_path, stub_config(server, num_retries=0),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, max_attempts=2, write_personas=False))
        assert report.failed == 1 and report.ok == 1
        assert report.failures[0].scene_id == script.scenes[0].id
        (failure,) = _lines(tmp_path / "failures.jsonl")
        assert failure["status"] == "failed" and "human words" in failure["reason"]
        assert "(changed)" in failure["raw"]
        calls = _count_scene_runs(monkeypatch)
        again = augment_scripts([script], tmp_path, stub_config(server, num_retries=0),
                                AugmentOptions(program="seed+seed_with_scenario", max_attempts=2, write_personas=False))
        assert calls == [] and again.skipped == 2  # a failure is final...
        again = augment_scripts([script], tmp_path, stub_config(server, num_retries=0),
                                AugmentOptions(program="seed+seed_with_scenario", max_attempts=2, write_personas=False, retry_failed=True))
        assert calls == [script.scenes[0].id] and again.ok == 1  # ...until asked to retry
    assert _lines(tmp_path / "failures.jsonl") == []


def test_no_secret_in_any_output(tmp_path):
    with StubServer(latency=0.01) as server:
        augment_scripts([make_script(2)], tmp_path, stub_config(server),
                        AugmentOptions(program="seed+seed_with_scenario", write_personas=True))
    for path in tmp_path.iterdir():
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path.name
    assert json.loads((tmp_path / "run.json").read_text())["lm"]["api_key_env"] == KEY_ENV


def test_concurrency_overlaps_requests(tmp_path):
    with StubServer(latency=0.2) as server:
        start = time.monotonic()
        report = augment_scripts([make_script(8)], tmp_path, stub_config(server),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=8, write_personas=False))
        assert report.ok == 8
        # 16 requests of 0.2 s each: sequential would take 3.2 s
        assert time.monotonic() - start < 2.0


# -- personas, dry run, bad input -----------------------------------------------------------


def test_personas_from_file_and_writer(tmp_path):
    script = make_script(4)
    assert main_characters([script]) == ["Ann", "Bob"]
    cards = tmp_path / "cards.toml"
    cards.write_text('Ann = "A careful navigator who hates getting lost."\n')
    out = tmp_path / "out"
    report = augment_scripts([script], out, LMConfig(kind="fake", cache=False), AugmentOptions(personas=cards))
    personas = json.loads((out / "personas.json").read_text())
    assert personas["Ann"] == {"persona": "A careful navigator who hates getting lost.", "source": "user"}
    assert personas["Bob"]["source"] == "generated" and personas["Bob"]["persona"]
    assert report.personas["Bob"]["source"] == "generated"


def test_persona_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"Ann": 3}')
    with pytest.raises(AugmentlabError, match="no persona text"):
        read_persona_file(bad)
    with pytest.raises(AugmentlabError, match="not found"):
        read_persona_file(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("Ann = ")
    with pytest.raises(AugmentlabError, match="cannot read"):
        read_persona_file(tmp_path / "broken.toml")


def test_dry_run_estimates_without_writing(tmp_path, monkeypatch):
    out = tmp_path / "dry"
    config = LMConfig(kind="endpoint", model="openai/x", api_base="http://127.0.0.1:9", prompt_price_per_1k=1.0,
                      completion_price_per_1k=2.0)
    report = augment_scripts([make_script(3)], out, config, AugmentOptions(dry_run=True))
    e = report.estimate
    # the default program makes one call per scene; each main character gets a persona card first
    assert e is not None and e.scenes == 3 and e.personas >= 1 and e.calls == 3 + e.personas
    assert e.prompt_tokens > 100 and e.completion_tokens > 20
    assert e.cost == pytest.approx(e.prompt_tokens / 1000 + 2 * e.completion_tokens / 1000)
    assert not out.exists()


def test_dry_run_counts_the_calls_a_real_run_makes(tmp_path):
    script = make_script(4)
    for kwargs in ({}, {"write_personas": False}, {"program": "seed+seed_with_scenario"}):
        config = LMConfig(kind="fake", cache=False)
        dry = augment_scripts([script], tmp_path / "dry", config, AugmentOptions(dry_run=True, **kwargs)).estimate
        real = augment_scripts([script], tmp_path / f"real{len(kwargs)}{kwargs.get('program', '')}", config,
                               AugmentOptions(**kwargs))
        assert dry.calls == real.usage.calls, kwargs
        assert dry.personas == sum(1 for p in real.personas.values() if p["source"] == "generated")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scripts": ["/no/such/script.txt"]}, "script not found"),
        ({"scripts": []}, "no scripts"),
        ({"concurrency": 0}, "concurrency"),
        ({"program": "no_such_variant_xyz"}, "variant"),
    ],
)
def test_bad_input_is_one_line(tmp_path, kwargs, message):
    args = {"scripts": [make_script(1)], "concurrency": 1, **kwargs}
    scripts = args.pop("scripts")
    with pytest.raises(AugmentlabError, match=message) as info:
        augment_scripts(scripts, tmp_path / "o", LMConfig(kind="fake"), AugmentOptions(**args))
    assert "\n" not in str(info.value)


def test_cli_augment_and_errors(tmp_path, corpus_dir, capsys):
    script = corpus_dir / "renpy_the_question" / "script.rpy"
    out = tmp_path / "out"
    assert cli_main(["augment", str(script), "--out", str(out), "--lm", "fake", "-j", "2", "--limit", "3"]) == 0
    assert len(_lines(out / "augmented.jsonl")) == 3
    assert cli_main(["augment", str(script), "--out", str(out), "--lm", "fake", "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert cli_main(["augment", str(tmp_path / "nope.rpy"), "--out", str(out), "--lm", "fake"]) == 2
    assert cli_main(["augment", str(script), "--out", str(out), "--lm", "banana"]) == 2
    err = capsys.readouterr().err
    assert "error: script not found" in err and "unknown --lm" in err
