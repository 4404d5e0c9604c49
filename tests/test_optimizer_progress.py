"""Optimizer trajectories as MLflow step metrics, and the report's "Optimizer progress" plot (fake LM)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experiments.tracking import resolve_tracking_uri
from experiments.results import load_experiment
from experiments.optimizers import (
    BEST_METRIC,
    MINIBATCH_METRIC,
    SCORE_METRIC,
    Trial,
    trajectory_metrics,
)
from experiments.runner import RunResult, run_experiment
from test_experiments import _spec

NAME = "progress"
OPTIMIZER_METRICS = (SCORE_METRIC, BEST_METRIC, MINIBATCH_METRIC)

RANDOM_SEARCH = """
[[variants]]
name = "labeled"
optimizer = "labeled"
base = "seed"
max_labeled_demos = 1

[[variants]]
name = "rs"
optimizer = "random_search"
base = "seed"
max_bootstrapped_demos = 1
num_candidate_programs = 1
"""


def _run(folder: Path, name: str, variants: str) -> tuple[RunResult, str]:
    folder.mkdir(parents=True, exist_ok=True)
    spec = _spec(folder, name=name, task="actions", variants=variants)
    store = str(folder / "mlruns")
    result = run_experiment(
        spec, tracking_uri=store, programs_dir=folder / "programs", out_dir=folder / "out", progress=False
    )
    return result, store


def _history(store: str, run_id: str, key: str) -> list[tuple[int, float]]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=resolve_tracking_uri(store, create=False))
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _running_max(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in values:
        out.append(v if not out else max(out[-1], v))
    return out


@pytest.fixture(scope="module")
def rs_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, str]:
    return _run(tmp_path_factory.mktemp("progress"), NAME, RANDOM_SEARCH)


# ------------------------------------------------------------------------------ pure
def test_best_so_far_is_the_running_max_of_full_scores_only() -> None:
    trials = [Trial(2, 0.4), Trial(0, 0.5), Trial(1, 0.9, full=False), Trial(3, 0.7)]
    logged = trajectory_metrics(trials)
    assert [step for step, _ in logged] == [0, 1, 2, 3]
    assert logged[1] == (1, {MINIBATCH_METRIC: 0.9})  # a minibatch score never becomes the best
    assert [v[BEST_METRIC] for _, v in logged if BEST_METRIC in v] == [0.5, 0.5, 0.7]
    assert [v[SCORE_METRIC] for _, v in logged if SCORE_METRIC in v] == [0.5, 0.4, 0.7]
    assert trajectory_metrics([]) == []


# ------------------------------------------------------------------------------ random search, end to end
def test_random_search_logs_each_candidate_as_a_step(rs_run: tuple[RunResult, str]) -> None:
    result, store = rs_run
    outcome = next(v for v in result.variants if v.name == "rs")
    logged = load_experiment(NAME, tracking_uri=store).variant("rs")
    scores = _history(store, logged.run_id, SCORE_METRIC)
    best = _history(store, logged.run_id, BEST_METRIC)
    # zero-shot, labeled only, unshuffled bootstrap, then num_candidate_programs random seeds
    assert [s for s, _ in scores] == [s for s, _ in best] == [0, 1, 2, 3]
    assert [v for _, v in scores] == pytest.approx([t.score for t in outcome.trajectory])
    assert all(0.0 <= v <= 1.0 for _, v in scores)  # the metric's scale, not Evaluate's percent
    best_values = [v for _, v in best]
    assert all(a <= b for a, b in zip(best_values, best_values[1:], strict=False))
    assert best_values == pytest.approx(_running_max([v for _, v in scores]))
    assert logged.metrics[BEST_METRIC] == pytest.approx(max(v for _, v in scores))  # latest = final best
    # DSPy's bookkeeping (every candidate program) is not left on the saved program
    assert not hasattr(outcome.program, "candidate_programs")


def test_first_step_is_the_base_program_scored_on_dev(rs_run: tuple[RunResult, str]) -> None:
    """Step 0 (zero-shot candidate) recomputed independently: the seed program's mean metric on dev."""
    import dspy

    from augmentlab.lm import adapter_for, open_lm
    from experiments.optimizers import OptimizerContext
    from metrics.similarity import default_embedder
    from prompts.data import to_example

    result, store = rs_run
    spec = result.spec
    config = spec.lm_configs()["lm"]
    ctx = OptimizerContext(task=spec.task, weights=spec.weights(), threshold=spec.metrics.threshold,
                           embedder=default_embedder())
    metric = ctx.metric()
    dev = [to_example(g, spec.task) for g in result.split.dev]
    assert len(dev) == 2
    program = result.variants[0].program.reset_copy()
    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        values: list[Any] = [metric(ex, program(**ex.inputs())) for ex in dev]
    expected = sum(float(v) for v in values) / len(values)
    logged = load_experiment(NAME, tracking_uri=store).variant("rs")
    first = _history(store, logged.run_id, SCORE_METRIC)[0]
    assert first[0] == 0
    assert first[1] == pytest.approx(expected, abs=1e-4)  # Evaluate rounds its percentage to 2 places


def test_optimizers_without_a_trajectory_log_no_step_metrics(rs_run: tuple[RunResult, str]) -> None:
    result, store = rs_run
    back = load_experiment(NAME, tracking_uri=store)
    for name in ("seed", "labeled"):
        assert not set(back.variant(name).metrics) & set(OPTIMIZER_METRICS), name
    assert next(v for v in result.variants if v.name == "labeled").trajectory == []


def test_report_plots_the_logged_progress(rs_run: tuple[RunResult, str]) -> None:
    from augmentlab.report import gather
    from augmentlab.report.plots import optimizer_progress, render_all

    _, store = rs_run
    data = gather(NAME, tracking_uri=store)
    assert set(data.progress) == {"rs"}
    run_id = load_experiment(NAME, tracking_uri=store).variant("rs").run_id
    assert set(data.progress["rs"]) == {SCORE_METRIC, BEST_METRIC}
    for key in (SCORE_METRIC, BEST_METRIC):
        points, logged = data.progress["rs"][key], _history(store, run_id, key)
        assert [s for s, _ in points] == [s for s, _ in logged] == [0, 1, 2, 3]
        assert [v for _, v in points] == pytest.approx([v for _, v in logged])
    fig = optimizer_progress(data)
    assert fig is not None
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert lines == {
        f"rs: {key}": pytest.approx([v for _, v in data.progress["rs"][key]]) for key in (BEST_METRIC, SCORE_METRIC)
    }
    assert "progress" in render_all(data)


# ------------------------------------------------------------------------------ MIPROv2 with minibatches
def test_mipro_minibatch_trials_are_logged_apart_from_full_evaluations(tmp_path: Path) -> None:
    variants = (
        '\n[[variants]]\nname = "mipro"\noptimizer = "mipro"\nbase = "seed"\nnum_candidates = 2\nnum_trials = 2\n'
        "max_bootstrapped_demos = 1\ndata_aware_proposer = false\nminibatch = true\nminibatch_size = 1\n"
    )
    result, store = _run(tmp_path, "mb", variants)
    outcome = result.variants[1]
    run_id = load_experiment("mb", tracking_uri=store).variant("mipro").run_id
    full = _history(store, run_id, SCORE_METRIC)
    best = _history(store, run_id, BEST_METRIC)
    minibatch = _history(store, run_id, MINIBATCH_METRIC)
    assert len(minibatch) == 2  # one per trial
    assert full[0][0] == 0 and len(full) >= 2  # the default program, then the full evaluation(s)
    assert not {s for s, _ in full} & {s for s, _ in minibatch}
    assert [s for s, _ in best] == [s for s, _ in full]
    assert [v for _, v in best] == pytest.approx(_running_max([v for _, v in full]))
    assert sorted(t.step for t in outcome.trajectory) == sorted(s for s, _ in full + minibatch)
    assert not hasattr(outcome.program, "trial_logs")
