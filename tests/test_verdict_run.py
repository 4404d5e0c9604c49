"""The run's verdict follows the judge: best, champion, leaderboard, MLflow, the report, no-gold specs
and optimizers climbing the judge — on the fake LM with a fake judge."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from augmentlab.core.model import GoldExample
from augmentlab.core.verdicts import Verdict, read_verdicts, write_verdicts
from experiments import judging, leaderboard
from experiments.results import load_experiment
from experiments.runner import run_experiment

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"

SPEC = f"""
name = "{{name}}"
task = "both"
gold = ["{GOLD}"]
seed = 3

[split]
train = {{train}}
dev = 0.0
test = {{test}}
max_train = 2
max_test = 5

[lm]
kind = "fake"

[metrics]
threshold = 0.05

{{judge}}

[[variants]]
name = "seed"
actions = "prompts/actions/compose_scene.md"

[[variants]]
name = "vivid"
actions = "prompts/actions/compose_scene.md"
{{more}}
"""
LM_JUDGE = '[judge]\nkind = "lm"\n[judge.lm]\nkind = "fake"\nmodel = "fake/judge"\n'


class FavouriteJudge:
    """Prefers one variant by name (a tie between two others), counting its calls."""

    def __init__(self, favourite: str) -> None:
        self.favourite = favourite
        self.calls: list[tuple[str, str, str]] = []

    def prefer(self, gold: GoldExample, a: Any, b: Any) -> Verdict:
        self.calls.append((gold.id, a.id, b.id))
        winner = "a" if a.id == self.favourite else "b" if b.id == self.favourite else "tie"
        return Verdict(scene=gold.id, a=a.id, b=b.id, winner=winner, margin=2.0 if winner != "tie" else 0.0,
                       why=f"JUDGE-WHY: {self.favourite} acts the line", source="lm:fake-judge", kind="lm")


def _write(tmp_path: Path, name: str, judge: str, more: str = "", train: float = 0.0) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SPEC.format(name=name, judge=judge, more=more, train=train, test=1.0 - train))
    return path


def _run(tmp_path: Path, spec: Path, **kwargs: Any):
    return run_experiment(spec, tracking_uri=str(tmp_path / "mlruns"), programs_dir=tmp_path / "programs",
                          out_dir=tmp_path / "out", progress=False, **kwargs)


def test_the_lm_judge_decides_best_champion_leaderboard_mlflow_and_report(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from augmentlab.report import gather
    from experiments.tracking import resolve_tracking_uri

    judge = FavouriteJudge("vivid")
    result = _run(tmp_path, _write(tmp_path, "judged", LM_JUDGE), judge=judge)
    n = len(result.split.test)
    assert n == 5 and len(judge.calls) == n and all(c[1:] == ("vivid", "seed") for c in judge.calls)
    # the same outputs (one fake LM, one prompt): the composite cannot tell them apart, the judge can
    assert leaderboard.best(result._entries(), "seed", seed=3) == "seed"
    assert result.best.name == "vivid" and result.decided_by == "lm:fake-judge"
    rate = result.evidence.rates["vivid"]
    assert (rate.wins, rate.n, rate.interval.mean) == (n, n, 1.0) and rate.better
    board = {r["variant"]: r for r in result.leaderboard()}
    assert board["vivid"]["win_rate"] == 1.0 and board["vivid"]["win_low"] > 0.5
    assert board["vivid"]["lc_win_rate"] is not None and board["seed"]["win_rate"] is None
    # MLflow: which evidence decided on the parent, the win rates on the variant's run, the verdicts
    back = load_experiment("judged", tracking_uri=str(tmp_path / "mlruns"))
    assert back.tags["augmentlab.best_variant"] == "vivid" and back.tags["augmentlab.champion"] == "vivid"
    assert back.tags["augmentlab.decided_by"] == "lm:fake-judge"
    assert back.tags["augmentlab.decision"].startswith(f"decided by the LM judge (lm:fake-judge): vivid wins {n} of {n}")
    vivid = back.variant("vivid").metrics
    assert vivid["win_rate_vs_baseline"] == 1.0 and vivid["win_rate_vs_baseline_low"] > 0.5
    assert vivid["win_rate_vs_baseline_high"] == 1.0 and "lc_win_rate" in vivid
    assert "win_rate_vs_baseline" not in back.variant("seed").metrics
    client = MlflowClient(resolve_tracking_uri(str(tmp_path / "mlruns")))
    assert [a.path for a in client.list_artifacts(back.parent_run_id, "verdicts")] == ["verdicts/verdicts.jsonl"]
    assert len(read_verdicts(tmp_path / "out" / "verdicts" / "lm.jsonl")) == n
    # `augmentlab compare` reads the logged win rates back
    compared = {r["variant"]: r for r in leaderboard.results_rows(back)}
    assert compared["vivid"]["win_rate"] == 1.0
    # the report's recommendation follows the judge and says so
    data = gather("judged", tracking_uri=str(tmp_path / "mlruns"))
    assert data.winner == "vivid" and data.decided_by == "lm:fake-judge"
    assert data.headline.startswith(f"Use vivid. Decided by the LM judge (lm:fake-judge): vivid wins {n} of {n} vs seed")


def test_human_verdicts_decide_once_people_have_judged(tmp_path: Path) -> None:
    from augmentlab.report import gather

    spec = _write(tmp_path, "people", '[judge]\nkind = "human"\n')
    first = _run(tmp_path, spec)
    assert first.decided_by == "composite" and first.best.name == "seed"
    assert any("augmentlab judge serve people" in note for note in first.evidence.notes)
    # a person judges the latest run's outputs (what `augmentlab judge serve` writes), seed wins most
    ids = [g.id for g in first.split.test]
    verdicts = [Verdict(scene=i, a="seed", b="vivid", winner="a" if k else "b", why="reads better",
                        source="human:ann", kind="human") for k, i in enumerate(ids)]
    write_verdicts(tmp_path / "out" / "verdicts" / "human.jsonl", verdicts)
    data = gather("people", tracking_uri=str(tmp_path / "mlruns"))  # the report reads them without a re-run
    assert data.decided_by == "human:ann" and data.winner == "seed"
    assert data.headline.startswith("Keep seed. Decided by human verdicts (human:ann): no variant is detectably better")
    imported = tmp_path / "more.jsonl"  # an imported file counts the same
    write_verdicts(imported, [Verdict(scene=i, a="vivid", b="seed", winner="a", source="import:more", kind="human")
                              for i in ids] * 2)
    (tmp_path / "out" / "verdicts" / "human.jsonl").unlink()
    second = _run(tmp_path, spec, verdicts=[imported])
    assert second.best.name == "vivid" and second.decided_by == "import:more"


def test_without_a_judge_the_run_says_when_the_composite_cannot_separate(tmp_path: Path) -> None:
    from rich.console import Console

    from augmentlab.report import gather

    console = Console(record=True, width=200)
    result = _run(tmp_path, _write(tmp_path, "plain", ""), console=console)
    assert result.decided_by == "composite" and result.evidence is not None and not result.evidence.decided
    scores = {v.name: v.score for v in result.variants}
    verdicts = {r["variant"]: r["vs_baseline"] for r in result.leaderboard() if r["variant"] != "seed"}
    if judging.cannot_separate(scores, verdicts):  # the fake LM's outputs score above the junk floor
        assert "composite cannot separate" in console.export_text()
        assert "augmentlab judge serve plain" in gather("plain", tracking_uri=str(tmp_path / "mlruns")).headline
    else:
        assert min(scores.values()) <= judging.JUNK_FLOOR or any(v != "no detectable difference" for v in verdicts.values())
    assert judging.cannot_separate({"a": 0.6, "b": 0.62}, {"b": "no detectable difference"})
    assert not judging.cannot_separate({"a": 0.1, "b": 0.62}, {"b": "no detectable difference"})
    assert not judging.cannot_separate({"a": 0.6, "b": 0.8}, {"b": "better"})


def test_own_script_without_gold_runs_end_to_end_on_the_fake_lm(tmp_path: Path) -> None:
    spec = tmp_path / "own_script.toml"
    text = (REPO / "experiments" / "own_script.toml").read_text()
    text = text.replace('script = "scripts/sample.txt"', f'script = "{REPO / "experiments" / "scripts" / "sample.txt"}"')
    text = text.replace('kind = "embedded"\nmax_tokens = 384', 'kind = "fake"')
    text = text.replace('[judge]\nkind = "human"', LM_JUDGE.strip())
    spec.write_text(text)
    judge = FavouriteJudge("direct_scene")
    result = _run(tmp_path, spec, judge=judge)
    n = len(result.split.test)
    assert n == 4 and all(g.scenario is None and g.annotated is None for g in result.split.test)
    assert all(g.provenance["source"] == "script" for g in result.split.test)
    assert len(result.evidence.verdicts) == n
    # the fake LM keeps every human word and acts only for the speaker: every output passes its gate
    assert not [v for v in result.evidence.verdicts if v.source == judging.GATE_SOURCE]
    assert len(judge.calls) == n
    assert result.best.name == "direct_scene" and result.decided_by == "lm:fake-judge"
    assert result.evidence.rates["direct_scene"].sentence() == f"direct_scene wins {n} of {n} vs compose_scene, 1.00 [0.51, 1.00]"
    assert all(e.annotated_lines for v in result.variants for e in v.examples)


def test_optimizers_climb_the_judge_with_its_feedback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[Any] = []
    original = judging.JudgeMetric.feedback

    def spying_feedback(self: judging.JudgeMetric):
        metric = original(self)

        def spy(*args: Any, **kwargs: Any) -> Any:
            out = metric(*args, **kwargs)
            received.append(out)
            return out

        return spy

    monkeypatch.setattr(judging.JudgeMetric, "feedback", spying_feedback)
    more = ('\n[[variants]]\nname = "climb"\noptimizer = "gepa"\nbase = "seed"\nmetric = "judge"\nmax_metric_calls = 6\n'
            '\n[[variants]]\nname = "mipro_climb"\noptimizer = "mipro"\nbase = "seed"\nmetric = "judge"\n'
            'num_candidates = 2\nnum_trials = 2\nmax_bootstrapped_demos = 1\ndata_aware_proposer = false\n')
    judge = FavouriteJudge("climb")
    result = _run(tmp_path, _write(tmp_path, "climbing", LM_JUDGE, more=more, train=0.5), judge=judge)
    assert [v.name for v in result.variants] == ["seed", "vivid", "climb", "mipro_climb"]
    train_ids = {g.id for g in result.split.train}
    during = [c for c in judge.calls if c[0] in train_ids]
    assert any(c[1:] == ("climb", "seed") for c in during), "GEPA's metric asked the judge"
    assert any(c[1:] == ("mipro_climb", "seed") for c in during), "MIPROv2's metric asked the judge"
    assert received and all("JUDGE-WHY" in p.feedback or p.feedback.startswith("vs seed: ") for p in received)
    assert any("JUDGE-WHY" in p.feedback for p in received), "GEPA received the judge's why as feedback"
    assert result.best.name == "climb"
    shutil.rmtree(tmp_path / "programs", ignore_errors=True)


def test_a_spec_lm_judge_opens_the_real_pairwise_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No judge injected: `[judge] kind = "lm"` opens metrics.pairwise's judge (both orders) on the
    spec's `[judge.lm]` (the fake LM here) with the prompts/judge/pairwise.md rubric."""
    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy"))
    result = _run(tmp_path, _write(tmp_path, "real_judge", LM_JUDGE))
    verdicts = read_verdicts(tmp_path / "out" / "verdicts" / "lm.jsonl")
    assert len(verdicts) == len(result.split.test)
    lm_made = [v for v in verdicts if v.source != "gate"]
    assert lm_made and all(v.source.startswith("lm:") and v.kind == "lm" for v in lm_made)
    # both orders were asked for each pair the gates let through (the rule keeps both answers)
    assert all({"order_ab", "order_ba", "flipped"} <= set(v.extra) for v in lm_made)
    # one prompt, one fake LM: the same outputs, so the judge finds no winner and seed stays
    assert all(v.winner == "tie" for v in lm_made) and result.best.name == "seed"
