"""The API key never leaves its environment variable.

An experiment and an augment run (CLI, so the printed output is checked too) use a recognisable
fake key from ``api_key_env``, including a failure path where the server's 401 body echoes the
key. Then every byte of the MLflow store (SQLite and WAL included), the augment folders, the
logs and the captured stdout/stderr is searched for it: zero hits.
"""

from __future__ import annotations

import json
import logging

import pytest
from rel_helpers import fake_key, grep_tree

from augmentlab.augment.best import augment_with_best
from augmentlab.core.errors import AugmentlabError
from fakes.fake_server import StubServer

pytestmark = pytest.mark.reliability

# Deliberately NOT a *_API_KEY name: redaction must follow api_key_env, not a naming habit.
KEY_VAR = "AUGMENTLAB_REL_CRED"


def _lm_table(url: str) -> str:
    return (f'kind = "endpoint"\nmodel = "openai/stub-secret"\napi_base = "{url}"\napi_key_env = "{KEY_VAR}"\n'
            'cache = false\nnum_retries = 0\nadapter = "json"')


def _traces(store, experiment: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return client.search_traces(locations=[exp.experiment_id], max_results=200) if exp else []


def test_key_never_reaches_store_logs_or_output(tmp_path, monkeypatch, run_cli, capfd, caplog, figures):
    from test_experiments import _run, _spec

    key = fake_key()
    monkeypatch.setenv(KEY_VAR, key)
    caplog.set_level(logging.DEBUG)
    printed = []
    with StubServer(latency=0.0) as server:
        # 1. an experiment that succeeds; the key also sits in the spec's description
        spec = _spec(tmp_path, name="secret", lm=_lm_table(server.base_url), extra=f'description = "key {key}"')
        _run(tmp_path, spec, augment=augment_with_best)
        # 2. an experiment whose first LM call gets a 401 echoing the key
        server.faults[:] = ["401"]
        (tmp_path / "second").mkdir()
        spec = _spec(tmp_path / "second", name="secret401", lm=_lm_table(server.base_url))
        with pytest.raises(AugmentlabError) as info:
            _run(tmp_path, spec)
        printed.append(str(info.value))
        assert "401" in str(info.value) or "Auth" in str(info.value)
        # 3. augment through the CLI: one 401 echoing the key, then a normal run
        script = tmp_path / "play.txt"
        script.write_text("ANN: Did you bring the map?\nBOB: I left it at the station.\nANN: Then we walk.\n")
        args = ["augment", script, "--out", tmp_path / "aug", "--model", "openai/stub-secret", "--api-base",
                server.base_url, "--api-key-env", KEY_VAR, "--num-retries", "0", "--max-attempts", "1"]
        server.faults[:] = ["401"] * 4
        code, out, err = run_cli(args)
        printed += [out, err]
        assert code == 0 and "1 LM errors" in out, (out, err)
        assert server.log and any(outcome == "401" for _, outcome in server.log)
        assert key in server.keys_seen  # the key really went out (and came back in the 401 body)
        server.faults.clear()
        code, out, err = run_cli(args)
        printed += [out, err]
        assert code == 0, err
    # The experiments' LM calls are MLflow traces in those stores (the 401 one with its error
    # event), so the grep below covers them; read back through MLflow they hold no key either.
    traced = _traces(tmp_path / "mlruns", "secret") + _traces(tmp_path / "mlruns", "secret401")
    assert len(traced) >= 4 and any(t.info.status == "ERROR" for t in traced)
    assert all(key not in json.dumps(t.to_dict()) for t in traced)
    out, err = capfd.readouterr()
    printed += [out, err, caplog.text]
    written_by_test = {str(tmp_path / "secret.toml")}  # the spec we wrote the key into, as input
    hits = [h for h in grep_tree(tmp_path, key) if h not in written_by_test] + [f"printed[{i}]" for i, text in enumerate(printed) if key in text]
    figures.secret_hits += len(hits)
    assert hits == []
    # The name of the variable is what the store keeps.
    assert grep_tree(tmp_path / "mlruns", KEY_VAR)
