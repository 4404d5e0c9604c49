"""MLflow location, logging, redaction and read-back (experiments.tracking)."""

from __future__ import annotations

from pathlib import Path

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.redact import Redactor
from experiments.tracking import (
    Tracker,
    artifact_location,
    list_experiments,
    load_experiment,
    resolve_tracking_uri,
)

SECRET = "sk-test-AUGMENTLAB-0123456789abcdef"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_default_store_is_sqlite_under_mlruns(tmp_path: Path) -> None:
    uri = resolve_tracking_uri(None, root=tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    assert (tmp_path / "mlruns" / "artifacts").is_dir()
    assert artifact_location(uri) == (tmp_path / "mlruns" / "artifacts").resolve().as_uri()
    assert resolve_tracking_uri("http://mlflow.team:5000") == "http://mlflow.team:5000"
    assert artifact_location("http://mlflow.team:5000") is None


def test_redactor_replaces_named_and_common_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", SECRET)
    monkeypatch.setenv("OTHER_API_KEY", "another-secret-value")
    redactor = Redactor(["MY_LLM_KEY"])
    assert redactor.text(f"Bearer {SECRET}!") == "Bearer [REDACTED:MY_LLM_KEY]!"
    assert redactor.value({"a": [f"x{SECRET}"], SECRET: 1}) == {
        "a": ["x[REDACTED:MY_LLM_KEY]"],
        "[REDACTED:MY_LLM_KEY]": 1,
    }
    assert "another-secret-value" not in redactor.text("k=another-secret-value")
    assert Redactor(["MY_LLM_KEY"], include_common=False).text("another-secret-value") == "another-secret-value"


def test_parent_child_runs_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", SECRET)
    tracker = Tracker("demo-spec", tracking_uri=None, secret_env_names=["MY_LLM_KEY"], root=tmp_path)
    leaked = tmp_path / "program.json"
    leaked.write_text('{"api_key": "%s"}' % SECRET)
    with tracker.parent("run-1") as parent:
        parent.params({"spec": "demo-spec", "lm": {"kind": "endpoint", "api_key_env": "MY_LLM_KEY"}})
        for name, scores in (("baseline", [0.2, 0.4, 0.6]), ("tuned", [0.5, 0.6, 0.7])):
            with tracker.variant(name) as run:
                run.params({"variant": name, "note": f"key is {SECRET}"})
                run.metrics({"score": sum(scores) / 3, "part.similarity": 0.5, "skipped": None})
                run.text(f"instructions with {SECRET}", "instructions/scenario.md")
                run.file(leaked, "program")
                run.table(
                    [
                        {"example_id": f"ex{i}", "score": s, "part.similarity": s / 2, "feedback": SECRET}
                        for i, s in enumerate(scores)
                    ],
                    "per_example.json",
                )
    results = load_experiment("demo-spec", tracking_uri=str(tmp_path / "mlruns"))
    assert [v.name for v in results.variants] == ["baseline", "tuned"]
    tuned = results.variant("tuned")
    assert tuned.scores == [0.5, 0.6, 0.7]
    assert tuned.example_ids == ["ex0", "ex1", "ex2"]
    assert tuned.parts["similarity"] == [0.25, 0.3, 0.35]
    assert tuned.params["note"] == "key is [REDACTED:MY_LLM_KEY]"
    assert tuned.metrics["score"] == pytest.approx(0.6)
    assert results.best() is tuned
    assert results.params["lm.api_key_env"] == "MY_LLM_KEY"
    assert tuned.artifact_dir is not None and (tuned.artifact_dir / "instructions" / "scenario.md").is_file()
    assert tuned.artifact_dir.is_relative_to((tmp_path / "mlruns" / "artifacts").resolve())
    # The secret is nowhere in the store: not in the SQLite file, not in any artifact.
    assert SECRET.encode() not in _all_bytes(tmp_path / "mlruns")
    assert b"REDACTED:MY_LLM_KEY" in _all_bytes(tmp_path / "mlruns")
    listed = list_experiments(str(tmp_path / "mlruns"))
    assert [(e["name"], e["executions"]) for e in listed] == [("demo-spec", 1)]


def test_failed_variant_run_is_marked_failed(tmp_path: Path) -> None:
    tracker = Tracker("failing", root=tmp_path)
    with tracker.parent("run"):
        with pytest.raises(RuntimeError):
            with tracker.variant("boom"):
                raise RuntimeError("boom")
    results = load_experiment("failing", tracking_uri=str(tmp_path / "mlruns"))
    assert results.variants[0].status == "FAILED"


def test_unknown_experiment_is_one_line_error(tmp_path: Path) -> None:
    from experiments.tracking import client

    client(str(tmp_path / "mlruns")).search_experiments()  # an existing, empty store
    with pytest.raises(AugmentlabError, match="no experiment named 'nope'"):
        load_experiment("nope", tracking_uri=str(tmp_path / "mlruns"))


def test_read_only_commands_do_not_create_a_store(tmp_path, monkeypatch, capsys):
    from augmentlab.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["compare", "nothing-here"]) == 2
    assert main(["experiment", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("error: no MLflow store at") for line in err)
    assert not (tmp_path / "mlruns").exists()
