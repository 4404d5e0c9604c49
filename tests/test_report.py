"""The report (augmentlab.report): numbers, verdicts, examples, HTML/Markdown, CLI and bad input."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from report_store import EXPERIMENT, real_store, synthetic_store

from augmentlab.core.errors import AugmentlabError
from augmentlab.report import build_report, gather
from augmentlab.report.plots import frontier
from augmentlab.core.stats import bootstrap_ci, compare
from experiments.results import load_experiment


def _esc(text: str) -> str:
    """Text as the report's autoescaping template writes it."""
    from markupsafe import escape

    return str(escape(text))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return real_store(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def syn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store for every synthetic experiment (creating a store costs seconds)."""
    return tmp_path_factory.mktemp("synthetic") / "mlruns"


@pytest.fixture(scope="module")
def built(store: str, tmp_path_factory: pytest.TempPathFactory):
    return build_report(EXPERIMENT, tracking_uri=store, out_dir=tmp_path_factory.mktemp("report"))


# ------------------------------------------------------------------------------ real run (fake LM)
def test_numbers_match_an_independent_recomputation(store: str, built) -> None:
    data = built.data
    back = load_experiment(EXPERIMENT, tracking_uri=store)
    assert [v.name for v in data.variants] == ["seed", "third", "boot"]
    assert data.baseline == "seed"  # the spec's first variant
    seed = int(back.params["seed"])  # the spec's seed (3): the one seed rule of the leaderboard
    assert seed != 0
    for v in data.variants:
        raw = back.variant(v.name)
        iv = bootstrap_ci(raw.scores, seed=seed)
        assert (v.score.mean, v.score.low, v.score.high) == pytest.approx((iv.mean, iv.low, iv.high))
        # the same interval the run printed and logged
        assert (v.score.low, v.score.high) == pytest.approx((raw.metrics["score_ci_low"], raw.metrics["score_ci_high"]))
        assert v.tokens_per_example == pytest.approx(raw.metrics["tokens_per_example"])
        assert set(v.parts) == set(raw.parts)
    base = back.variant("seed").scores_by_id()
    for c in data.comparisons:
        mine = back.variant(c.variant).scores_by_id()
        ids = [k for k in mine if k in base]
        expected = compare([mine[k] for k in ids], [base[k] for k in ids], seed=seed)
        assert c.n == len(ids) == 6
        assert c.verdict == expected.verdict
        assert c.difference.mean == pytest.approx(expected.difference.mean)
        assert c.p_value == pytest.approx(expected.test.p_value)
        assert data.variant(c.variant).verdict == c.verdict
    # the winner is a variant detectably better than the baseline, else the baseline itself
    better = [c.variant for c in data.comparisons if c.verdict == "better"]
    assert data.winner in better if better else data.winner == "seed"


def test_compare_the_report_and_the_run_print_one_leaderboard(store: str, built) -> None:
    """``augmentlab compare`` rows recomputed from MLflow equal the leaderboard the run logged (same
    seed, same pairing), and the report's verdicts and winner agree with them."""
    import tempfile

    from experiments.leaderboard import results_rows
    from experiments.tracking import LEADERBOARD_TABLE, client

    back = load_experiment(EXPERIMENT, tracking_uri=store)
    with tempfile.TemporaryDirectory() as tmp:
        local = client(store).download_artifacts(back.parent_run_id, LEADERBOARD_TABLE, tmp)
        table = json.loads(Path(local).read_text(encoding="utf-8"))
    logged = [dict(zip(table["columns"], row)) for row in table["data"]]
    rows = results_rows(back)
    assert [r["variant"] for r in rows] == [r["variant"] for r in logged]
    for mine, run in zip(rows, logged):
        for key in ("score", "ci_low", "ci_high", "n"):
            assert mine[key] == pytest.approx(run[key])
        assert (mine["vs_baseline"] or "") == (run["vs_baseline"] or "")
        assert built.data.variant(mine["variant"]).verdict == (mine["vs_baseline"] or "")
    assert built.data.winner == back.tags["augmentlab.best_variant"]


def test_disagreements_are_the_examples_with_the_largest_spread(store: str, built) -> None:
    data = built.data
    back = load_experiment(EXPERIMENT, tracking_uri=store)
    by_id = [v.scores_by_id() for v in back.variants]
    spreads = {i: max(s[i] for s in by_id) - min(s[i] for s in by_id) for i in by_id[0]}
    top = sorted(spreads.values(), reverse=True)[: len(data.disagreements)]
    assert [d.spread for d in data.disagreements] == pytest.approx(top)
    first = data.disagreements[0]
    assert {o.variant for o in first.outputs} == {"seed", "third", "boot"}
    assert first.human_lines, "the gold scene's human lines are shown"
    gold = {json.loads(line)["id"]: json.loads(line) for line in
            (Path(__file__).parent.parent / "experiments/gold/handwritten.jsonl").read_text().splitlines() if line}
    assert [t for _, t in first.human_lines] == [ln["text"] for ln in gold[first.example_id]["scene"]["lines"]]
    worst = data.winner_worst
    scores = back.variant(data.winner).scores
    assert [w.outputs[0].score for w in worst] == pytest.approx(sorted(scores)[: len(worst)])


def test_html_is_self_contained_and_shows_everything(store: str, built) -> None:
    page = built.html.read_text(encoding="utf-8")
    data = built.data
    # no external request: no remote src/href, no stylesheet link, no remote url()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 4 and len(images) == len(built.images)
    for b64 in images:
        assert base64.b64decode(b64).startswith(b"\x89PNG\r\n\x1a\n")
    board = page[page.index('id="leaderboard"') : page.index("</table>", page.index('id="leaderboard"'))]
    for v in data.variants:
        assert f"<strong>{v.name}</strong>" in board
        assert f"{v.score.low:.3f}, {v.score.high:.3f}" in board
    assert _esc(data.headline) in page
    for c in data.comparisons:
        assert _esc(c.sentence()) in page
    # side-by-side examples with human lines and metric feedback
    first = data.disagreements[0]
    assert _esc(first.human_lines[1][1]) in page
    assert _esc(first.outputs[0].feedback)[:60] in page
    # the winning prompt in full, as logged
    art = load_experiment(EXPERIMENT, tracking_uri=store).variant(data.winner).artifact_dir
    for path in (art / "instructions").iterdir():
        assert _esc(path.read_text()) in page


def test_markdown_twin(built) -> None:
    text = built.markdown.read_text(encoding="utf-8")
    data = built.data
    assert data.headline in text
    for v in data.variants:
        assert f"**{v.name}**" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == len(built.images) >= 4
    for link in links:
        assert (built.markdown.parent / link).is_file()


def test_baseline_override_and_unknown_baseline(store: str) -> None:
    data = gather(EXPERIMENT, tracking_uri=store, baseline="third")
    assert data.baseline == "third" and {c.variant for c in data.comparisons} == {"seed", "boot"}
    assert all(c.baseline == "third" for c in data.comparisons)
    with pytest.raises(AugmentlabError, match="no variant 'nope'"):
        gather(EXPERIMENT, tracking_uri=store, baseline="nope")


def test_cli_report_and_unknown_experiment(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from augmentlab.cli import main

    out = tmp_path / "cli"
    assert main(["report", EXPERIMENT, "--tracking-uri", store, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert str(out / "report.html") in printed
    assert main(["report", "no-such-experiment", "--tracking-uri", store, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no experiment named 'no-such-experiment'")


# ------------------------------------------------------------------------------ synthetic stores
def test_clear_winner_and_no_detectable_difference(syn: Path, tmp_path: Path) -> None:
    base = [0.40, 0.55, 0.35, 0.60, 0.50, 0.45, 0.52, 0.38, 0.47, 0.58, 0.42, 0.49]
    better = [s + 0.12 + 0.01 * (i % 3) for i, s in enumerate(base)]
    noisy = [s + (0.03 if i % 2 else -0.03) for i, s in enumerate(base)]
    store = synthetic_store(syn, "syn", [
        {"name": "base", "scores": base, "metrics": {"tokens_per_example": 100.0, "lm_calls": 24}},
        {"name": "noisy", "scores": noisy, "metrics": {"tokens_per_example": 90.0, "lm_calls": 24}},
        {"name": "good", "scores": better, "metrics": {"tokens_per_example": 150.0, "lm_calls": 24}},
    ])
    data = gather("syn", tracking_uri=store)
    assert data.variant("good").verdict == "better"
    assert data.variant("noisy").verdict == "no detectable difference"
    assert data.winner == "good"
    assert data.headline.startswith("Use good.") and "+50%" in data.headline  # 150 vs 100 tokens
    # without the better variant the baseline stays the winner
    store2 = synthetic_store(syn, "syn2", [
        {"name": "base", "scores": base}, {"name": "noisy", "scores": noisy},
    ])
    data2 = gather("syn2", tracking_uri=store2)
    assert data2.winner == "base" and data2.headline.startswith("No variant is detectably better than the baseline base")


def test_one_variant_gives_a_leaderboard_and_a_note(syn: Path, tmp_path: Path) -> None:
    store = synthetic_store(syn, "solo", [{"name": "only", "scores": [0.2, 0.4, 0.6]}])
    paths = build_report("solo", tracking_uri=store, out_dir=tmp_path / "r")
    data = paths.data
    assert data.comparisons == [] and data.winner == "only"
    assert any("Only one variant" in n for n in data.notes)
    page = paths.html.read_text()
    assert 'id="leaderboard"' in page and 'id="no-comparisons"' in page and "only one variant was run" in page
    assert "<strong>only</strong>" in page


def test_failed_half_way_and_missing_metrics(syn: Path, tmp_path: Path) -> None:
    store = synthetic_store(syn, "broken", [
        {"name": "a", "scores": [0.5, 0.6, 0.7, 0.4]},           # no metrics at all
        {"name": "b", "fail": True, "table": False, "metrics": {"lm_calls": 3}},
        {"name": "c", "scores": [0.5, 0.7, 0.9], "ids": ["e0", "e1", "x9"]},
    ], fail_parent=True, parent_params={"variants": ["a", "b", "c", "d"]})
    paths = build_report("broken", tracking_uri=store, out_dir=tmp_path / "r")
    data = paths.data
    assert data.status == "FAILED"
    notes = " ".join(data.notes)
    assert "did not finish" in notes and "never run: d" in notes
    b = data.variant("b")
    assert b.score is None and "no per-example scores logged" in b.notes and "run failed" in b.notes
    assert data.variant("a").tokens_per_example is None
    comp_b, comp_c = data.comparison("b"), data.comparison("c")
    assert comp_b.comparison is None and "no per-example scores" in comp_b.sentence()
    assert comp_c.n == 2 and "left out of the pairing" in comp_c.note
    page = paths.html.read_text()
    assert "no per-example scores logged" in page and "fig-quality_cost" not in page  # no tokens → no cost plot
    assert "fig-distributions" in page


def test_no_shared_examples_and_unscored_baseline(syn: Path, tmp_path: Path) -> None:
    store = synthetic_store(syn, "apart", [
        {"name": "a", "scores": [0.5, 0.6], "ids": ["p", "q"]},
        {"name": "b", "scores": [0.5, 0.6], "ids": ["r", "s"]},
    ])
    data = gather("apart", tracking_uri=store)
    assert data.comparison("b").comparison is None and "share no test example" in data.comparison("b").sentence()
    store2 = synthetic_store(syn, "nobase", [
        {"name": "a", "table": False}, {"name": "b", "scores": [0.5, 0.6]},
    ])
    paths = build_report("nobase", tracking_uri=store2, out_dir=tmp_path / "r")
    assert paths.data.comparisons == [] and paths.data.winner == "b"
    assert "baseline a has no per-example scores" in " ".join(paths.data.notes)


def test_unreadable_or_missing_gold_is_a_note_not_a_crash(syn: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 3}\n', encoding="utf-8")
    store = synthetic_store(syn, "badgold", [{"name": "a", "scores": [0.5, 0.6]}, {"name": "b", "scores": [0.4, 0.7]}],
                            parent_params={"gold": [str(bad), "nowhere/gold.jsonl"]})
    data = gather("badgold", tracking_uri=store)
    notes = " ".join(data.notes)
    assert data.gold == {} and data.winner == "a"
    assert "Gold set not found (nowhere/gold.jsonl)" in notes
    assert "Gold set unreadable (" in notes and "bad.jsonl:1: not a gold example" in notes


def test_experiment_without_execution_is_one_clear_error(syn: Path, tmp_path: Path) -> None:
    from experiments.tracking import Tracker

    Tracker("empty", tracking_uri=str(syn))  # creates the experiment only
    with pytest.raises(AugmentlabError, match="no execution"):
        gather("empty", tracking_uri=str(syn))
    with pytest.raises(AugmentlabError, match="no experiment named 'missing'"):
        build_report("missing", tracking_uri=str(syn), out_dir=tmp_path / "r")


def test_frontier() -> None:
    points = [("cheap", 100.0, 0.5), ("dear", 300.0, 0.8), ("dominated", 200.0, 0.45), ("mid", 200.0, 0.6)]
    assert frontier(points) == ["cheap", "dear", "mid"]


# ------------------------------------------------------------------------------ which evidence decides
def test_the_judges_verdicts_decide_the_recommendation_and_are_shown(syn: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from augmentlab.core.verdicts import Verdict, write_verdicts
    from experiments.tracking import resolve_tracking_uri

    base = [0.40, 0.55, 0.35, 0.60, 0.50, 0.45, 0.52, 0.38, 0.47, 0.58, 0.42, 0.49]
    noisy = [s + (0.03 if i % 2 else -0.03) for i, s in enumerate(base)]
    store = synthetic_store(syn, "judged", [{"name": "base", "scores": base}, {"name": "vivid", "scores": noisy}])
    before = gather("judged", tracking_uri=store)
    assert before.decided_by == "composite" and before.winner == "base" and before.cannot_separate
    assert "cannot separate" in before.headline and "augmentlab judge serve judged" in before.headline
    # the LM judge's verdicts, as the runner logs them: vivid wins 11 of 12 scenes
    verdicts = [Verdict(scene=f"e{i}", a="vivid", b="base", winner="a" if i else "b", margin=2, why="fits the line",
                        source="lm:test-judge", kind="lm") for i in range(12)]
    path = tmp_path / "verdicts.jsonl"
    write_verdicts(path, verdicts)
    client = MlflowClient(resolve_tracking_uri(store))
    parent = load_experiment("judged", tracking_uri=store).parent_run_id
    client.log_artifact(parent, str(path), "verdicts")
    client.set_tag(parent, "augmentlab.judge.kind", "lm")
    data = gather("judged", tracking_uri=store)
    assert data.winner == "vivid" and data.decided_by == "lm:test-judge" and not data.cannot_separate
    assert data.headline.startswith("Use vivid. Decided by the LM judge (lm:test-judge): vivid wins 11 of 12 vs base")
    rate = data.evidence.rates["vivid"]
    assert rate.interval.low > 0.5 and data.evidence.lc["vivid"] is not None
    paths = build_report("judged", tracking_uri=store, out_dir=tmp_path / "r")
    html = paths.html.read_text()
    assert 'id="judge"' in html and "decided by lm:test-judge" in html
    md = paths.markdown.read_text()
    assert "## The judge's verdicts (decided by lm:test-judge)" in md
    assert re.search(r"\| \*\*vivid\*\* 🏆 \| 12 \| 11 \| 0 \| 1 \| 0\.92 \|", md)
