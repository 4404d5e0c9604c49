"""MLflow 3's GenAI side on the fake LM: Prompt Registry, traces, assessments (experiments.registry,
experiments.tracing, experiments.genai)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from augmentlab.augment.best import augment_with_best
from test_experiments import _run, _spec

from augmentlab.core.errors import AugmentlabError
from experiments.registry import CHAMPION, alias_for_spec, predictor_prompts
from experiments.results import load_experiment

SAMPLE = Path(__file__).resolve().parent.parent / "experiments" / "scripts" / "sample.txt"
LABELED = '\n[[variants]]\nname = "labeled"\noptimizer = "labeled"\nbase = "seed"\nmax_labeled_demos = 1\n'


def _client(result):
    from mlflow import MlflowClient

    return MlflowClient(result.tracking_uri)


def _traces(result, **filters):
    traces = _client(result).search_traces(locations=[result.experiment_id], max_results=500)
    return [t for t in traces if all(t.info.tags.get(k) == v for k, v in filters.items())]


def _versions(client, name):
    return {int(v.version): v for v in client.search_prompt_versions(name, max_results=200)}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """One execution: seed + labeled (one demo), with the sample script augmented; then a second."""
    tmp = tmp_path_factory.mktemp("genai")
    spec = _spec(tmp, name="gen", lm='kind = "fake"\ncache = false', variants=LABELED, extra=f'script = "{SAMPLE}"')
    first = _run(tmp, spec, augment=augment_with_best)
    client = _client(first)
    before = {p.name: sorted(_versions(client, p.name)) for p in client.search_prompts()}
    second = _run(tmp, spec)
    return first, second, before


def test_every_variant_prompt_is_registered_once_with_lineage(executed) -> None:
    first, second, before = executed
    client = _client(first)
    names = sorted(before)
    # seed+seed: one scenario writer and one scene annotator -> two registry prompts (families)
    assert names == ["augmentlab-annotated-lines", "augmentlab-scenario"]
    # seed (no demos) and labeled (one demo) differ: two versions each
    assert all(len(v) == 2 for v in before.values()), before
    # the second execution evaluated the same texts: no new version (deduplicated by content)
    after = {p.name: sorted(_versions(client, p.name)) for p in client.search_prompts()}
    assert after == before
    for result in (first, second):
        for outcome in result.variants:
            run = client.get_run(outcome.run_id)
            linked = json.loads(run.data.tags["mlflow.linkedPrompts"])
            assert sorted(p["name"] for p in linked) == names
            for predictor, name, text in predictor_prompts(outcome.program):
                uri = run.data.tags[f"augmentlab.prompt.{predictor}"]
                assert uri.startswith(f"prompts:/{name}/")
                assert client.load_prompt(uri).template == text  # the run links to the text it used
    scenario = _versions(client, "augmentlab-scenario")
    seed_v, labeled_v = scenario[1], scenario[2]
    assert seed_v.tags["augmentlab.variant"] == "seed" and seed_v.tags["augmentlab.kind"] == "hand-written"
    assert seed_v.tags["augmentlab.variant_file"] == "prompts/scenario/seed.md"
    assert seed_v.tags["augmentlab.spec"] == "gen"
    assert labeled_v.tags["augmentlab.optimizer"] == "labeled" and labeled_v.tags["augmentlab.parent"] == "seed"
    assert labeled_v.tags["augmentlab.parent_version"] == "prompts:/augmentlab-scenario/1"
    assert "## Demos (1)" in labeled_v.template and "## Demos" not in seed_v.template
    # listed on the experiment's Prompts tab
    assert f",{first.experiment_id}," in client.get_prompt("augmentlab-scenario").tags["_mlflow_experiment_ids"]


def test_champion_alias_follows_the_reports_winner(executed) -> None:
    import mlflow

    from augmentlab.report.data import gather

    first, second, _ = executed
    client = _client(second)
    winner = gather("gen", tracking_uri=second.tracking_uri, run_id=second.parent_run_id).winner
    assert winner in {"seed", "labeled"}
    program = next(v.program for v in second.variants if v.name == winner)
    expected = {name: text for _, name, text in predictor_prompts(program)}
    for name, text in expected.items():
        for alias in (CHAMPION, alias_for_spec("gen")):
            assert client.get_prompt_version_by_alias(name, alias).template == text
    tags = client.get_run(second.parent_run_id).data.tags
    # one leaderboard: the champion is the variant the run used and tagged as best
    assert tags["augmentlab.champion"] == winner == tags["augmentlab.best_variant"] == second.best.name
    # the public two-liner, on the global tracking URI a user would set
    previous = mlflow.get_tracking_uri()
    try:
        mlflow.set_tracking_uri(second.tracking_uri)
        assert mlflow.genai.load_prompt("prompts:/augmentlab-scenario@champion").template == expected["augmentlab-scenario"]
    finally:
        mlflow.set_tracking_uri(previous)


def test_one_trace_per_example_with_assessments_and_table_link(executed) -> None:
    first, _, _ = executed
    back = load_experiment("gen", tracking_uri=first.tracking_uri, run_id=first.parent_run_id)
    for outcome in first.variants:
        traces = _traces(first, **{"augmentlab.variant": outcome.name, "augmentlab.kind": "evaluation"})
        traces = [t for t in traces if t.info.trace_metadata.get("mlflow.sourceRun") == outcome.run_id]
        by_id = {t.info.tags["augmentlab.example_id"]: t for t in traces}
        assert sorted(by_id) == sorted(e.example_id for e in outcome.examples)  # one trace per example
        rows = {r["example_id"]: r for r in back.variant(outcome.name).rows}
        for example in outcome.examples:
            trace = by_id[example.example_id]
            assert rows[example.example_id]["trace_id"] == trace.info.trace_id  # the table links to it
            feedback = {a.name: a for a in trace.info.assessments}
            assert feedback["score"].value == pytest.approx(example.score)
            assert feedback["score"].rationale == example.feedback
            for part, value in example.parts.items():
                assert feedback[f"part.{part}"].value == pytest.approx(value)
            assert "scenario" in feedback["gold"].value  # the gold labels as an expectation
            lm_spans = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
            assert len(lm_spans) == example.usage.calls == 2  # scenario writer + annotator
            for span in lm_spans:
                messages = span.inputs["messages"]
                assert messages[0]["role"] == "system" and messages[-1]["content"]  # the rendered prompt
                assert isinstance(span.outputs, list) and span.outputs[0]  # the raw answer
            usage = [s.attributes["mlflow.chat.tokenUsage"] for s in lm_spans]
            assert sum(u["input_tokens"] + u["output_tokens"] for u in usage) == example.usage.total_tokens
            root = next(s for s in trace.data.spans if s.parent_id is None)
            assert root.attributes["augmentlab.retries"] == 0
            assert root.outputs["annotated_lines"] == example.annotated_lines
            assert trace.info.execution_duration is not None  # latency


def test_augmented_scenes_are_traces(executed) -> None:
    first, _, _ = executed
    scenes = [json.loads(line) for line in (first.augmented_path).read_text().splitlines()]
    traces = _traces(first, **{"augmentlab.kind": "augment"})
    assert len(traces) == len(scenes) >= 2
    for trace in traces:
        assert trace.info.trace_metadata.get("mlflow.sourceRun") == first.parent_run_id
        root = next(s for s in trace.data.spans if s.parent_id is None)
        assert root.attributes["augmentlab.attempts"] >= 1
        assert root.attributes["augmentlab.retries"] == root.attributes["augmentlab.attempts"] - 1
        assert root.outputs["status"] in ("ok", "failed")
        assert any(s.span_type == "CHAT_MODEL" for s in trace.data.spans)


def test_tracing_leaves_the_global_mlflow_state_as_it_was(executed) -> None:
    import os

    import mlflow

    first, _, _ = executed
    assert mlflow.get_tracking_uri() != first.tracking_uri
    assert os.environ.get("MLFLOW_TRACKING_URI") != first.tracking_uri
    assert os.environ.get("MLFLOW_EXPERIMENT_ID") != first.experiment_id


def test_traces_off_in_the_spec_and_the_cli(tmp_path: Path) -> None:
    spec = _spec(tmp_path, name="quiet", lm='kind = "fake"\ncache = false', extra="traces = false")
    result = _run(tmp_path, spec)
    assert _traces(result) == []
    assert _client(result).search_prompts()  # the registry does not depend on tracing
    rows = load_experiment("quiet", tracking_uri=result.tracking_uri).variant("seed").rows
    assert all(r["trace_id"] == "" for r in rows)

    from augmentlab.cli import main

    other = tmp_path / "cli"
    other.mkdir()
    spec = _spec(other, name="loud", lm='kind = "fake"\ncache = false')
    code = main(["run", str(spec), "--tracking-uri", str(other / "mlruns"), "--no-augment", "--no-progress",
                 "--no-traces", "--out", str(other / "out"), "--programs-dir", str(other / "programs")])
    assert code == 0
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{other / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("loud")
    assert client.search_traces(locations=[exp.experiment_id]) == []


def test_spec_traces_must_be_a_boolean(tmp_path: Path) -> None:
    from experiments.spec import load_spec

    spec = _spec(tmp_path, name="bad", extra='traces = "sometimes"')
    with pytest.raises(AugmentlabError, match="traces"):
        load_spec(spec)


def test_secrets_in_a_failing_call_are_redacted_in_the_trace(tmp_path: Path, monkeypatch) -> None:
    """An LM error echoing the key (as a 401 body can) lands in the span's exception event redacted."""
    import dspy
    from mlflow import MlflowClient

    from experiments.tracing import Tracer
    from augmentlab.core.redact import Redactor
    from experiments.tracking import Tracker

    secret = "sk-trace-0123456789abcdef"
    monkeypatch.setenv("AUGMENTLAB_TRACE_CRED", secret)

    class LeakyLM(dspy.BaseLM):
        def __init__(self) -> None:
            super().__init__(model=f"leaky/{secret}")

        def forward(self, prompt=None, messages=None, **kwargs):
            raise RuntimeError(f"401 Unauthorized: bad key {secret}")

    tracker = Tracker("leaky", tracking_uri=str(tmp_path / "mlruns"), secret_env_names=["AUGMENTLAB_TRACE_CRED"])
    redactor = Redactor(["AUGMENTLAB_TRACE_CRED"])
    with Tracer(tracker.tracking_uri, tracker.experiment_id, redactor) as tracer:
        with pytest.raises(RuntimeError), tracer.trace(f"call with {secret}", inputs={"key": secret}) as handle:
            with dspy.context(lm=LeakyLM(), adapter=dspy.JSONAdapter()):
                dspy.Predict("question -> answer")(question=f"what is {secret}?")
    trace = MlflowClient(tracker.tracking_uri).get_trace(handle.trace_id)
    dumped = json.dumps(trace.to_dict())
    assert secret not in dumped
    assert "[REDACTED:AUGMENTLAB_TRACE_CRED]" in dumped
    lm = next(s for s in trace.data.spans if s.span_type == "CHAT_MODEL")
    assert lm.status.status_code == "ERROR" and lm.events and "401" in json.dumps(lm.events[0].attributes)
    stored = [p for p in (tmp_path / "mlruns").rglob("*") if p.is_file()]
    assert stored and not [p for p in stored if secret.encode() in p.read_bytes()]


def test_augment_cli_traces_each_scene(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from augmentlab.cli import main

    script = tmp_path / "play.txt"
    script.write_text("ANN: Did you bring the map?\nBOB: I left it at the station.\nANN: Then we walk.\n")
    code = main(["augment", str(script), "--out", str(tmp_path / "aug"), "--lm", "fake", "--trace-to",
                 str(tmp_path / "mlruns"), "--concurrency", "2"])
    assert code == 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("augment")
    traces = client.search_traces(locations=[exp.experiment_id])
    scenes = (tmp_path / "aug" / "augmented.jsonl").read_text().splitlines()
    assert len(traces) == len(scenes) >= 1
    assert {t.info.tags["augmentlab.kind"] for t in traces} == {"augment"}
    assert all(any(s.span_type == "CHAT_MODEL" for s in client.get_trace(t.info.trace_id).data.spans) for t in traces)
