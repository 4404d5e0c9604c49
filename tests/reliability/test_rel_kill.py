"""``kill -9`` at random points (seeded), then resume.

* augment: a child process augments a 12-scene script (4 in flight, persona writer on) and is
  killed after a random number of LM requests; the re-run loses no scene, writes none twice, asks
  the LM only for the unfinished work and ends byte-identical to an uninterrupted run.
* experiment: the runner has no resume of its own — a re-run of the spec is the resume: the LM
  calls answered before the kill come from the DSPy cache, the killed execution is closed as
  FAILED (tagged ``augmentlab.abandoned``) and the numbers equal an uninterrupted run's.
"""

from __future__ import annotations

import random
import signal
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from rel_helpers import child_env, jsonl, python, store_rows, wait_until

from augmentlab.augment import AugmentOptions, augment_scripts
from fakes.fake_server import StubServer
from test_augment import KEY_ENV, make_script, stub_config
from experiments.results import load_experiment
from experiments.tracking import ABANDONED_TAG, client

pytestmark = pytest.mark.reliability

N_SCENES = 12

_AUGMENT_CHILD = textwrap.dedent(
    """
    from test_augment import KEY_ENV, make_script, stub_config
    from augmentlab.augment import AugmentOptions, augment_scripts

    class Srv:
        base_url = {url!r}

    augment_scripts([make_script({n})], {out!r}, stub_config(Srv),
                    AugmentOptions(program="seed+seed_with_scenario", concurrency=4, write_personas=True))
    """
)


def _kill_after(child: subprocess.Popen[bytes], server: StubServer, requests: int, timeout: float = 60) -> bool:
    """SIGKILL ``child`` once ``server`` has received ``requests`` requests; False if it ended first."""
    wait_until(lambda: server.requests >= requests or child.poll() is not None, timeout, interval=0.005)
    if child.poll() is not None:
        return False
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    return child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_augment_sigkill_at_random_point_then_resume(seed, tmp_path, figures):
    rng = random.Random(seed)
    total = 2 + 2 * N_SCENES  # two persona cards, then scenario + actions per scene
    kill_at = rng.randint(3, total - 4)
    out = tmp_path / "out"
    with StubServer(latency=0.03) as server:
        code = _AUGMENT_CHILD.format(url=server.base_url, n=N_SCENES, out=str(out))
        child = python(code, env=child_env(), stderr=subprocess.DEVNULL)
        assert _kill_after(child, server, kill_at), "the run ended before the kill"
        time.sleep(0.1)  # let requests in flight reach the server's log
        done_before = sum(1 for _, status in store_rows(out) if status == "ok") if (out / "store.sqlite").exists() else 0
        before = server.requests
        report = augment_scripts([make_script(N_SCENES)], out, stub_config(server),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=4, write_personas=True))
        redone = server.requests - before
        clean = tmp_path / "clean"  # same server: the LM settings (its URL too) are in the output
        augment_scripts([make_script(N_SCENES)], clean, stub_config(server),
                        AugmentOptions(program="seed+seed_with_scenario", concurrency=4, write_personas=True))
    assert report.skipped == done_before and report.ok == N_SCENES - done_before
    personas_left = 2 if redone > 2 * report.ok else 0
    assert redone == 2 * report.ok + personas_left, "the resume asked the LM for finished work"
    rows = store_rows(out)
    ids = [r["scene_id"] for r in jsonl(out / "augmented.jsonl")]
    expected = [s.id for s in make_script(N_SCENES).scenes]
    lost = len(set(expected) - set(ids))
    duplicated = (len(ids) - len(set(ids))) + (len(rows) - len({k for k, _ in rows}))
    figures.kill(lost, duplicated)
    assert lost == 0 and duplicated == 0 and len(rows) == N_SCENES
    assert (out / "augmented.jsonl").read_bytes() == (clean / "augmented.jsonl").read_bytes()


# ------------------------------------------------------------------------------ experiments
_EXPERIMENT_CHILD = textwrap.dedent(
    """
    from pathlib import Path
    from test_experiments import _run

    _run(Path({tmp!r}), Path({spec!r}))
    """
)


def _spec(tmp_path: Path, base_url: str, model: str, cache: bool = True) -> Path:
    from test_experiments import _spec as make_spec

    lm = (f'kind = "endpoint"\nmodel = "{model}"\napi_base = "{base_url}"\ncache = {str(cache).lower()}\n'
          f'api_key_env = "{KEY_ENV}"\nnum_retries = 0\nadapter = "json"')
    variants = '\n[[variants]]\nname = "labeled"\noptimizer = "labeled"\nbase = "seed"\nmax_labeled_demos = 1\n'
    return make_spec(tmp_path, name="killed", lm=lm, variants=variants)


@pytest.mark.parametrize("seed", [1, 2])
def test_experiment_sigkill_then_rerun(seed, tmp_path, figures):
    from test_experiments import _run

    rng = random.Random(seed)
    model = f"openai/stub-{uuid.uuid4().hex[:12]}"
    with StubServer(latency=0.1) as server:
        reference_dir = tmp_path / "reference"
        reference_dir.mkdir()
        reference = _run(reference_dir, _spec(reference_dir, server.base_url, model, cache=False))
        total = server.requests
        kill_at = rng.randint(1, total - 1)

        spec = _spec(tmp_path, server.base_url, model)
        child = python(_EXPERIMENT_CHILD.format(tmp=str(tmp_path), spec=str(spec)), env=child_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = server.requests
        assert _kill_after(child, server, start + kill_at, timeout=120), "the run ended before the kill"
        time.sleep(server.latency + 0.1)
        answered = server.completed - total  # replies sent to the child (now in the DSPy cache)
        store = str(tmp_path / "mlruns")
        mlflow = client(store)
        exp = mlflow.get_experiment_by_name("killed")
        assert exp is not None
        left_running = [r.info.run_id for r in mlflow.search_runs([exp.experiment_id]) if r.info.status == "RUNNING"]
        assert left_running, "a SIGKILLed run cannot close its MLflow runs"

        before = server.requests
        rerun = _run(tmp_path, spec)
        redone = server.requests - before
    # The calls answered before the kill came from the cache (one reply may have been in flight).
    assert total - answered <= redone <= total - answered + 1, (total, answered, redone)
    for run_id in left_running:
        run = mlflow.get_run(run_id)
        assert run.info.status == "FAILED" and ABANDONED_TAG in run.data.tags
    back = load_experiment("killed", tracking_uri=store)
    assert back.parent_run_id == rerun.parent_run_id
    ref_scores = {v.name: v.scores for v in reference.variants}
    got = {v.name: back.variant(v.name).scores for v in rerun.variants}
    ref_ids = {v.name: [e.example_id for e in v.examples] for v in reference.variants}
    got_ids = {v.name: back.variant(v.name).example_ids for v in rerun.variants}
    lost = sum(len(set(ref_ids[n]) - set(got_ids.get(n, []))) for n in ref_ids)
    duplicated = sum(len(ids) - len(set(ids)) for ids in got_ids.values())
    finished = [r for r in mlflow.search_runs([exp.experiment_id]) if r.info.status == "FINISHED"
                and r.data.tags.get("augmentlab.role") == "execution"]
    duplicated += len(finished) - 1
    figures.kill(lost, duplicated)
    assert lost == 0 and duplicated == 0
    for name, scores in ref_scores.items():
        assert got[name] == pytest.approx(scores), name
