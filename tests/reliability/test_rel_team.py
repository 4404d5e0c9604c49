"""Team mode: experiments logged to a real ``mlflow server`` started here.

The server runs in its own process group (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``) and is
stopped by its group id with a deadline. Runs land and read back (``load_experiment`` and
``augmentlab compare``); when the server goes away mid-run the run stops with one clear line and
the finished variants' results stay on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from rel_helpers import free_port, wait_until

import experiments.runner as runner
from augmentlab.core.errors import AugmentlabError
from augmentlab.report.data import gather
from experiments.registry import CHAMPION, predictor_prompts
from experiments.runner import run_experiment
from experiments.results import load_experiment

pytestmark = pytest.mark.reliability

START_DEADLINE = 90.0


class MlflowServer:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (root / "artifacts").mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--default-artifact-root", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.log = open(root / "server.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)  # start_new_session: the group id is the pid
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


@pytest.fixture
def mlflow_server(tmp_path, monkeypatch) -> Iterator[MlflowServer]:
    # A dead server must fail fast, not after minutes of HTTP retries.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    server = MlflowServer(tmp_path / "server")
    try:
        if not wait_until(lambda: server.healthy() or server.process.poll() is not None, START_DEADLINE, 0.25) \
                or not server.healthy():
            pytest.fail(f"mlflow server did not start: {(tmp_path / 'server' / 'server.log').read_text()[-2000:]}")
        yield server
    finally:
        server.stop()


def _spec(tmp_path: Path) -> Path:
    from test_experiments import _spec as make_spec

    variants = '\n[[variants]]\nname = "labeled"\noptimizer = "labeled"\nbase = "seed"\nmax_labeled_demos = 1\n'
    return make_spec(tmp_path, name="team", lm='kind = "fake"\ncache = false', variants=variants)


def _run(tmp_path: Path, spec: Path, uri: str):
    return run_experiment(spec, tracking_uri=uri, out_dir=tmp_path / "out", programs_dir=tmp_path / "programs",
                          progress=False)


def test_runs_land_on_the_server_and_read_back(tmp_path, mlflow_server, run_cli):
    result = _run(tmp_path, _spec(tmp_path), mlflow_server.url)
    back = load_experiment("team", tracking_uri=mlflow_server.url)
    assert back.parent_run_id == result.parent_run_id
    for variant in result.variants:
        logged = back.variant(variant.name)
        assert logged.scores == pytest.approx(variant.scores)
        assert logged.status == "FINISHED"
    _genai_landed_on_the_server(result, mlflow_server.url, tmp_path)
    code, out, err = run_cli(["compare", "team", "--tracking-uri", mlflow_server.url])
    assert code == 0, err
    assert "seed" in out and "labeled" in out
    code, out, err = run_cli(["experiment", "list", "--tracking-uri", mlflow_server.url])
    assert code == 0 and "team" in out


def _genai_landed_on_the_server(result, url: str, tmp_path: Path) -> None:
    """Traces (with their assessments), registered prompts and the champion alias are on the server."""
    from mlflow import MlflowClient

    server = MlflowClient(url)
    traces = server.search_traces(locations=[result.experiment_id], max_results=200)
    for variant in result.variants:
        mine = [t for t in traces if t.info.trace_metadata.get("mlflow.sourceRun") == variant.run_id]
        assert sorted(t.info.tags["augmentlab.example_id"] for t in mine) == sorted(e.example_id for e in variant.examples)
        assert all({a.name for a in t.info.assessments} >= {"score", "gold"} for t in mine)
        assert all(any(s.span_type == "CHAT_MODEL" for s in server.get_trace(t.info.trace_id).data.spans) for t in mine)
    winner = gather("team", tracking_uri=url, run_id=result.parent_run_id).winner
    program = next(v.program for v in result.variants if v.name == winner)
    for _, name, text in predictor_prompts(program):
        assert server.get_prompt_version_by_alias(name, CHAMPION).template == text
    # nothing went to a local store on the side (MLflow's globals pointed at the server)
    assert not list(tmp_path.glob("mlflow.db")) and not (Path.cwd() / "mlflow.db").exists()


def test_server_going_away_mid_run_keeps_local_results(tmp_path, mlflow_server, monkeypatch, run_cli):
    real = runner.log_variant
    logged: list[str] = []

    def log_then_lose_the_server(run, outcome, **kwargs):
        real(run, outcome, **kwargs)
        logged.append(outcome.name)
        mlflow_server.stop()  # the server goes away after the first variant is logged

    monkeypatch.setattr(runner, "log_variant", log_then_lose_the_server)
    spec = _spec(tmp_path)
    with pytest.raises(AugmentlabError) as info:
        _run(tmp_path, spec, mlflow_server.url)
    message = str(info.value)
    assert "MLflow tracking failed" in message and "results" in message and "\n" not in message
    assert logged == ["seed"]
    kept = json.loads((tmp_path / "out" / "results" / "seed.json").read_text())
    assert len(kept["examples"]) == 3 and all(0.0 <= e["score"] <= 1.0 for e in kept["examples"])

    # Through the CLI: one line, exit 2, no traceback.
    monkeypatch.setattr(runner, "log_variant", real)
    code, out, err = run_cli(["run", spec, "--tracking-uri", mlflow_server.url, "--no-augment", "--no-progress",
                              "--out", tmp_path / "out2"])
    assert code == 2 and "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.startswith("error:")], err
