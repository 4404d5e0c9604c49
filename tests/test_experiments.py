"""Splits, optimizers and the runner on the fake LM (experiments.*)."""

from __future__ import annotations

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample, Line, Scene
from experiments.splits import group_key, split_gold


def _gold(i: int, group: str | None = None) -> GoldExample:
    scene = Scene(lines=[Line(speaker="A", text=f"line {i}")]).with_id()
    prov = {"source": "hand-written"}
    if group:
        prov["scene_id"] = group
    return GoldExample(id=f"g{i}", scene=scene, scenario=f"s{i}", provenance=prov)


def test_split_is_grouped_seeded_and_complete() -> None:
    examples = [_gold(i, group=f"scene{i // 3}") for i in range(30)]  # 10 source scenes of 3
    split = split_gold(examples, train=0.6, dev=0.2, test=0.2, seed=7)
    again = split_gold(examples, train=0.6, dev=0.2, test=0.2, seed=7)
    assert split.ids() == again.ids()
    assert sorted(ex.id for part in split.parts().values() for ex in part) == sorted(ex.id for ex in examples)
    groups = {name: {group_key(ex) for ex in part} for name, part in split.parts().items()}
    assert not groups["train"] & groups["test"] and not groups["dev"] & groups["test"]
    assert not groups["train"] & groups["dev"]
    assert split.sizes() == {"train": 18, "dev": 6, "test": 6}
    other = split_gold(examples, train=0.6, dev=0.2, test=0.2, seed=8)
    assert other.ids() != split.ids()


def test_split_caps_and_groups_by_scene_content() -> None:
    examples = [_gold(i) for i in range(12)]
    assert len({group_key(ex) for ex in examples}) == 12
    split = split_gold(examples, train=0.5, dev=0.25, test=0.25, seed=0, max_test=2, max_train=3)
    assert len(split.test) == 2 and len(split.train) == 3 and len(split.dev) == 3


def test_split_errors() -> None:
    with pytest.raises(AugmentlabError, match="sum to 1"):
        split_gold([_gold(1), _gold(2)], train=0.5, dev=0.5, test=0.5)
    with pytest.raises(AugmentlabError, match="one source scene"):
        split_gold([_gold(1, "same"), _gold(2, "same")], train=0.5, dev=0.0, test=0.5)
    with pytest.raises(AugmentlabError, match="duplicate gold example id"):
        split_gold([_gold(1), _gold(1)], train=0.5, dev=0.0, test=0.5)
    with pytest.raises(AugmentlabError, match="empty"):
        split_gold([], train=0.5, dev=0.0, test=0.5)


# ------------------------------------------------------------------------------ the runner (fake LM)
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from experiments.results import load_experiment  # noqa: E402
from augmentlab.augment.best import augment_with_best  # noqa: E402
from experiments.runner import run_experiment  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"
SAMPLE = REPO / "experiments" / "scripts" / "sample.txt"

SPEC = f"""
name = "{{name}}"
task = "{{task}}"
gold = ["{GOLD}"]
seed = 3
{{extra}}

[split]
train = 0.4
dev = 0.3
test = 0.3
max_train = 3
max_dev = 2
max_test = 3

[lm]
{{lm}}

[metrics]
threshold = 0.05  # the fake LM's stock gestures score ~0.1 on the anchored scale; bootstrapped demos must pass

[[variants]]
name = "seed"
{{files}}
{{variants}}
"""

FILES = {
    "both": 'scenario = "prompts/scenario/seed.md"\nactions = "prompts/actions/seed.md"',
    "actions": 'actions = "prompts/actions/seed.md"',
    "scenario": 'scenario = "prompts/scenario/seed.md"',
}


def _spec(tmp_path: Path, *, name: str = "t", task: str = "both", variants: str = "", lm: str = 'kind = "fake"',
          extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SPEC.format(name=name, task=task, extra=extra, lm=lm, files=FILES[task], variants=variants))
    return path


def _run(tmp_path: Path, spec: Path, **kwargs):
    return run_experiment(
        spec,
        tracking_uri=str(tmp_path / "mlruns"),
        programs_dir=tmp_path / "programs",
        out_dir=tmp_path / "out",
        progress=False,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("optimizer", "options"),
    [
        ("labeled", "max_labeled_demos = 1"),
        ("bootstrap", "max_bootstrapped_demos = 1\nmetric_threshold = 0.05"),
        ("random_search", "max_bootstrapped_demos = 1\nnum_candidate_programs = 1"),
        ("MIPROv2", "num_candidates = 2\nnum_trials = 2\nmax_bootstrapped_demos = 1\ndata_aware_proposer = false"),
        ("gepa", "max_metric_calls = 8"),
    ],
)
def test_each_optimizer_runs_and_is_logged(tmp_path: Path, optimizer: str, options: str) -> None:
    variants = f'\n[[variants]]\nname = "opt"\noptimizer = "{optimizer}"\nbase = "seed"\n{options}\n'
    result = _run(tmp_path, _spec(tmp_path, task="actions", variants=variants))
    assert [v.name for v in result.variants] == ["seed", "opt"]
    opt = result.variants[1]
    assert len(opt.examples) == 3 and all(0.0 <= e.score <= 1.0 for e in opt.examples)
    assert opt.compile_usage.calls > 0 or optimizer == "labeled"
    saved = json.loads((tmp_path / "programs" / "t-opt.json").read_text())
    assert saved["lineage"]["optimizer"] == opt.spec.optimizer
    assert saved["lineage"]["parent"] == "seed" and saved["lineage"]["spec"] == "t"
    assert saved["lineage"]["scores"]["test_mean"] == pytest.approx(opt.score)
    if optimizer in ("labeled", "bootstrap"):  # random search keeps whichever candidate scores best,
        assert any(p.demos for _, p in opt.program.named_predictors())  # zero-shot included
    logged = load_experiment("t", tracking_uri=str(tmp_path / "mlruns")).variant("opt")
    assert logged.params["optimizer"] == opt.spec.optimizer
    assert logged.scores == pytest.approx(opt.scores)
    # the trajectory: one step per candidate / trial scored on dev (none for labeled / bootstrap)
    from mlflow import MlflowClient

    from experiments.tracking import resolve_tracking_uri

    history = MlflowClient(resolve_tracking_uri(str(tmp_path / "mlruns"))).get_metric_history(logged.run_id, "optimizer_score")
    steps = sorted(m.step for m in history)
    assert steps == sorted(t.step for t in opt.trajectory if t.full)
    if opt.spec.optimizer in ("labeled", "bootstrap"):
        assert steps == []
    else:  # random search: 3 fixed candidates + 1 seed; MIPROv2: default + 2 trials; GEPA: the seed + accepted ones
        assert len(steps) >= {"random_search": 4, "mipro": 3, "gepa": 1}[opt.spec.optimizer]


def test_mlflow_contents_of_a_run(tmp_path: Path) -> None:
    result = _run(tmp_path, _spec(tmp_path, variants='\n[[variants]]\nname = "boot"\noptimizer = "bootstrap"\nbase = "seed"\nmax_bootstrapped_demos = 1\n'))
    back = load_experiment(tmp_path / "t.toml", tracking_uri=str(tmp_path / "mlruns"))
    assert back.parent_run_id == result.parent_run_id
    assert back.tags["augmentlab.best_variant"] == result.best.name
    assert back.params["n_test"] == "3"
    seed = back.variant("seed")
    # params: variant, LM, seeds, sources; metrics: score, CI, sub-scores, tokens
    assert seed.params["variant"] == "seed" and seed.params["lm.kind"] == "fake"
    assert seed.params["seed"] == "3" and seed.params["source.actions"] == "prompts/actions/seed.md"
    for key in ("score", "score_ci_low", "score_ci_high", "part.verbatim", "part.similarity", "total_tokens", "lm_calls"):
        assert key in seed.metrics, key
    assert seed.metrics["score"] == pytest.approx(result.variants[0].score)
    assert seed.metrics["lm_calls"] == 6  # 3 test scenes × (scenario + actions)
    # per-example table: ids are the test split, scores match the run
    assert seed.example_ids == [g.id for g in result.split.test]
    assert seed.scores == pytest.approx(result.variants[0].scores)
    assert set(seed.parts) >= {"similarity", "verbatim", "format"}
    assert all(row["feedback"] for row in seed.rows)
    # artifacts: instruction text, demos, saved program (optimized only)
    art = seed.artifact_dir
    assert art is not None
    instructions = (art / "instructions" / "scenario_writer.predict.md").read_text()
    assert "scenario" in instructions.lower()
    boot_art = back.variant("boot").artifact_dir
    assert (boot_art / "program" / "t-boot.json").is_file()
    demos = json.loads((boot_art / "demos" / "annotator.predict.json").read_text())
    assert len(demos) == 1
    # nothing leaked between the splits
    ids = result.split.ids()
    assert not set(ids["test"]) & (set(ids["train"]) | set(ids["dev"]))


def test_same_spec_twice_gives_same_numbers(tmp_path: Path) -> None:
    spec = _spec(tmp_path, variants='\n[[variants]]\nname = "boot"\noptimizer = "bootstrap"\nbase = "seed"\nmax_bootstrapped_demos = 1\n')
    first = _run(tmp_path, spec)
    second = _run(tmp_path, spec)
    for a, b in zip(first.variants, second.variants, strict=True):
        assert a.scores == b.scores
        assert (a.interval.low, a.interval.high) == (b.interval.low, b.interval.high)
    assert first.split.ids() == second.split.ids()


def test_no_secret_anywhere_in_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes.fake_server import StubServer

    secret = "sk-live-SECRET-ab12cd34ef56gh78"
    monkeypatch.setenv("AUGMENTLAB_TEST_KEY", secret)
    with StubServer() as server:
        lm = (f'kind = "endpoint"\nmodel = "openai/stub"\napi_base = "{server.base_url}"\n'
              f'api_key_env = "AUGMENTLAB_TEST_KEY"\ncache = false\nnum_retries = 0')
        # The secret also sits in the description, which is logged as a spec artifact.
        spec = _spec(tmp_path, name="secret", lm=lm, extra=f'description = "do not log {secret}"')
        _run(tmp_path, spec)
    store = tmp_path / "mlruns"
    files = [p for p in store.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert secret.encode() not in path.read_bytes(), path
    back = load_experiment("secret", tracking_uri=str(store))
    assert back.params["lm.api_key_env"] == "AUGMENTLAB_TEST_KEY"


def test_augments_the_script_with_the_best_variant(tmp_path: Path) -> None:
    spec = _spec(tmp_path, extra=f'script = "{SAMPLE}"')
    assert _run(tmp_path, spec).augmented_path is None  # no augment step: the script is not read
    result = _run(tmp_path, spec, augment=augment_with_best)
    assert result.augmented_path == tmp_path / "out" / "augmented.jsonl"
    rows = [json.loads(line) for line in result.augmented_path.read_text().splitlines()]
    assert len(rows) >= 1 and all(r.get("scenario") for r in rows)


def test_bad_gold_line_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(GOLD.read_text().splitlines()[0] + "\n{\"id\": 3}\n")
    spec = _spec(tmp_path)
    spec.write_text(spec.read_text().replace(str(GOLD), str(bad)))
    with pytest.raises(AugmentlabError, match=r"bad.jsonl:2: not a gold example"):
        _run(tmp_path, spec)


def test_warm_rerun_counts_the_same_tokens_from_the_dspy_cache(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    first = _run(tmp_path, spec)
    second = _run(tmp_path, spec)  # same prompts: every call is answered by the DSPy cache
    for a, b in zip(first.variants, second.variants):
        assert b.eval_usage.cached_calls == b.eval_usage.calls > 0
        assert (b.eval_usage.prompt_tokens, b.eval_usage.completion_tokens) == (
            a.eval_usage.prompt_tokens, a.eval_usage.completion_tokens)
        assert b.tokens_per_example() == a.tokens_per_example() > 0
    logged = load_experiment("t", tracking_uri=str(tmp_path / "mlruns")).variant("seed")
    assert logged.metrics["lm_cached_calls"] == logged.metrics["lm_calls"]


def test_cli_run_augments_with_the_best_variant_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``augmentlab run``: the leaderboard, then the augmented script (logged on the execution's
    run), then the best variant; ``--no-augment`` reads no script and writes no file."""
    from mlflow import MlflowClient

    from augmentlab.cli import main
    from experiments.tracking import resolve_tracking_uri

    spec = _spec(tmp_path, extra=f'script = "{SAMPLE}"')
    store = str(tmp_path / "mlruns")
    args = ["run", str(spec), "--tracking-uri", store, "--programs-dir", str(tmp_path / "programs"), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "plain"), "--no-augment"]) == 0
    assert not (tmp_path / "plain" / "augmented.jsonl").exists()
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "aug")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    board, augmented, best = err.index("test split (n=3)"), err.index("augmented "), err.index("best: seed")
    assert board < augmented < best
    assert "with seed (the baseline: no variant is detectably better)" in err
    rows = (tmp_path / "aug" / "augmented.jsonl").read_text().splitlines()
    assert rows and all(json.loads(r)["scenario"] for r in rows)
    back = load_experiment("t", tracking_uri=store)
    client = MlflowClient(resolve_tracking_uri(store))
    assert [a.path for a in client.list_artifacts(back.parent_run_id, "augmented")] == ["augmented/augmented.jsonl"]
    assert back.tags["augmentlab.best_variant"] == "seed"
