"""Every fault the stub server can inject, against ``augment`` (and experiment runs for a subset).

For each fault: the run finishes (or stops with one clear line), the store agrees with the
output files, and a re-run against a healthy server does only the missing work and ends with
the same output as a run that never saw a fault.
"""

from __future__ import annotations

import random
import time
import uuid

import pytest
from rel_helpers import assert_store_consistent, free_port, jsonl

from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.core.errors import AugmentlabError
from fakes.fake_server import FAULTS, StubServer
from test_augment import KEY_ENV, make_script, stub_config
from experiments.results import load_experiment
from experiments.tracking import client

pytestmark = pytest.mark.reliability

N_SCENES = 3
CALLS_PER_SCENE = 2  # the two-call echo program these runs use: scenario + actions


def _content(rows: list[dict]) -> list[tuple]:
    """What a user keeps of augmented.jsonl: scene, scenario, annotated lines (not token counts)."""
    return [(r["scene_id"], r["scenario"], [a["annotated"] for a in r["lines"]]) for r in rows]


@pytest.fixture(scope="module")
def clean_output(tmp_path_factory) -> list[tuple]:
    out = tmp_path_factory.mktemp("clean")
    with StubServer(latency=0.0) as server:
        report = augment_scripts([make_script(N_SCENES)], out, stub_config(server),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
    assert report.ok == N_SCENES
    return _content(jsonl(out / "augmented.jsonl"))


def _config(server_or_url, **kw):
    return stub_config(server_or_url, num_retries=1, timeout=0.5, **kw)


def _served_faults(server: StubServer) -> int:
    return sum(1 for _, outcome in server.log if outcome != "ok")


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "401"] + ["refused"])
def test_fault_then_resume(fault, tmp_path, clean_output, figures):
    out = tmp_path / "out"
    script = make_script(N_SCENES)
    with StubServer(latency=0.0, faults=[fault] * 5, retry_after=0.05, hang=1.5, trickle=0.6, trickle_chunks=6) as server:
        class Dead:  # nothing listens there: connection refused
            base_url = f"http://127.0.0.1:{free_port()}/v1"

        target = Dead if fault == "refused" else server
        first = augment_scripts([script], out, _config(target),
                                AugmentOptions(program="seed+seed_with_scenario", concurrency=1, max_attempts=2, write_personas=False))
        counts = assert_store_consistent(out)
        assert first.ok + first.failed + first.errors == N_SCENES
        for failure in first.failures:
            assert failure.reason and "\n" not in failure.reason
        injected = 1 if fault == "refused" else _served_faults(server)
        assert injected >= 1

        server.faults.clear()  # the endpoint heals
        missing = N_SCENES - counts["ok"]
        before = server.requests
        again = augment_scripts([script], out, _config(server),
                                AugmentOptions(program="seed+seed_with_scenario", concurrency=1, max_attempts=2, write_personas=False, retry_failed=True))
        assert again.skipped == counts["ok"] and again.ok == missing
        assert server.requests - before == CALLS_PER_SCENE * missing, "the re-run redid finished work"
    final = assert_store_consistent(out)
    survived = final["ok"] == N_SCENES and _content(jsonl(out / "augmented.jsonl")) == clean_output
    figures.fault(survived, injected)
    assert survived


def test_fault_storm_with_concurrency(tmp_path, clean_output, figures):
    """A random mix of every fault over a concurrent run; re-runs until done; same output."""
    rng = random.Random(8)
    kinds = [f for f in FAULTS if f not in ("401", "timeout")]
    faults = [rng.choice(kinds + ["ok"] * 3) for _ in range(40)]
    script = make_script(10)
    clean, out = tmp_path / "clean", tmp_path / "storm"
    with StubServer(latency=0.01, faults=faults, retry_after=0.02, trickle=0.3, trickle_chunks=3) as server:
        runs = 0
        while True:
            runs += 1
            augment_scripts([script], out, _config(server),
                            AugmentOptions(program="seed+seed_with_scenario", concurrency=4, max_attempts=3, write_personas=False, retry_failed=True))
            counts = assert_store_consistent(out)
            if counts["ok"] == 10 or runs == 6:
                break
        injected = _served_faults(server)
        augment_scripts([script], clean, _config(server),
                        AugmentOptions(program="seed+seed_with_scenario", concurrency=4, write_personas=False))
    survived = counts["ok"] == 10 and _content(jsonl(out / "augmented.jsonl")) == _content(jsonl(clean / "augmented.jsonl"))
    figures.fault(survived, injected)
    assert survived, (runs, counts)


def test_endpoint_down_stops_with_one_clear_line(tmp_path, run_cli, figures):
    """Connection refused for every scene: the run stops early with one line, exit 2; nothing
    half-written; the same command later against a live server finishes the job."""
    port = free_port()
    script = tmp_path / "play.fountain"
    script.write_text("\n\n".join(
        f"INT. ROOM {i} - DAY\n\nANN\nDid you bring the map, number {i}?\n\nBOB\nI left it at the station, sorry {i}."
        for i in range(12)
    ) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["augment", script, "--out", out, "--model", "openai/stub", "--api-base", f"http://127.0.0.1:{port}/v1",
            "--api-key-env", KEY_ENV, "--num-retries", "0", "-j", "1", "--no-persona-writer"]
    code, stdout, stderr = run_cli(args)
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    handled = code == 2 and len(lines) == 1 and "Traceback" not in stderr and "re-run to resume" in lines[0]
    figures.fault(handled)
    assert handled, stderr
    assert_store_consistent(out)
    with StubServer(latency=0.0, port=port):
        code, stdout, stderr = run_cli(args)
    assert code == 0, stderr
    assert assert_store_consistent(out)["ok"] >= 1
    assert jsonl(out / "failures.jsonl") == []


# ------------------------------------------------------------------------------ experiment runs
EXPERIMENT_FAULTS = ["500", "429", "timeout", "garbage", "refused"]


def _spec(tmp_path, base_url: str, model: str = "openai/stub"):
    """The test-suite spec on the stub server; ``model`` names a private DSPy cache space (the
    cache key has the model, not the URL, so each test uses its own name)."""
    from test_experiments import _spec as make_spec

    lm = (f'kind = "endpoint"\nmodel = "{model}"\napi_base = "{base_url}"\ncache = true\napi_key_env = "{KEY_ENV}"\n'
          f'num_retries = 1\ntimeout = 0.5\nadapter = "json"')
    return make_spec(tmp_path, name="faulty", lm=lm)


@pytest.mark.parametrize("fault", EXPERIMENT_FAULTS)
def test_experiment_fault_then_rerun(fault, tmp_path, figures):
    from test_experiments import _run

    model = f"openai/stub-{uuid.uuid4().hex[:12]}"
    with StubServer(latency=0.0, faults=[fault] * 4, retry_after=0.05, hang=1.5) as server:
        dead = f"http://127.0.0.1:{free_port()}/v1"
        spec = _spec(tmp_path, dead if fault == "refused" else server.base_url, model)
        error: AugmentlabError | None = None
        first = None
        try:
            first = _run(tmp_path, spec)
        except AugmentlabError as exc:
            error = exc
        injected = 1 if fault == "refused" else _served_faults(server)
        if fault == "timeout":  # the hung requests finish on the server after the client gave up
            time.sleep(server.hang + 0.2)
        answered = 0 if fault == "refused" else server.completed  # 200s, now in the DSPy cache
        if fault == "timeout":
            answered -= injected
        store = str(tmp_path / "mlruns")
        mlflow = client(store)
        runs = mlflow.search_runs([mlflow.get_experiment_by_name("faulty").experiment_id])
        if error is not None:  # stopped: one line, and the MLflow runs say so
            assert "\n" not in str(error) and "re-run" in str(error)
            assert runs and all(r.info.status == "FAILED" for r in runs)
        else:  # finished: every example scored, a bad output counted as an error, not hidden
            assert all(r.info.status == "FINISHED" for r in runs)
            seed = load_experiment("faulty", tracking_uri=store).variant("seed")
            assert len(seed.scores) == seed.metrics["n_examples"] == 3

        server.faults.clear()  # the endpoint heals
        spec = _spec(tmp_path, server.base_url, model)
        before = server.requests
        rerun = _run(tmp_path, spec)
        redone = server.requests - before
        clean_dir = tmp_path / "clean"
        clean_dir.mkdir()
        uncached = _spec(clean_dir, server.base_url, model)
        uncached.write_text(uncached.read_text().replace("cache = true", "cache = false"))
        before = server.requests
        clean = _run(clean_dir, uncached)
        total = server.requests - before
    if fault == "garbage":  # answered (badly) and cached: nothing to redo
        assert redone == 0
    else:  # only the calls that never got an answer are made again
        assert redone == total - answered, (redone, total, answered)
    scores = [v.scores for v in rerun.variants]
    if fault == "garbage":
        # A bad output is a result (scored 0, counted in n_errors), reproduced from the cache.
        assert first is not None and scores == [v.scores for v in first.variants]
        assert rerun.variants[0].examples and sum(e.error is not None for e in rerun.variants[0].examples) >= 1
        survived = True
    else:
        survived = scores == [v.scores for v in clean.variants]
    figures.fault(survived, injected)
    assert survived
    back = load_experiment("faulty", tracking_uri=str(tmp_path / "mlruns"))
    assert back.parent_run_id == rerun.parent_run_id
