"""A spec's [judge] table, the gates, the decision and the judge as an optimizer's metric (no LM)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample
from augmentlab.core.verdicts import Verdict
from augmentlab.ingest.gold import read_gold
from experiments.judging import Candidate, JudgeMetric, decide, gate, judge_outcomes, judge_pair
from experiments.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"
SCRIPT = REPO / "experiments" / "scripts" / "sample.txt"


class FavouriteJudge:
    """A judge that prefers one candidate id (a tie between two others), counting its calls."""

    def __init__(self, favourite: str, source: str = "lm:fake-judge") -> None:
        self.favourite = favourite
        self.source = source
        self.calls: list[tuple[str, str, str]] = []

    def prefer(self, gold: GoldExample, a: Any, b: Any) -> Verdict:
        self.calls.append((gold.id, a.id, b.id))
        winner = "a" if a.id == self.favourite else "b" if b.id == self.favourite else "tie"
        return Verdict(scene=gold.id, a=a.id, b=b.id, winner=winner, margin=2.0 if winner != "tie" else 0.0,
                       why=f"{self.favourite}'s actions fit the lines", source=self.source, kind="lm")


def _spec(tmp_path: Path, body: str, *, gold: bool = True, script: bool = False) -> Path:
    head = f'gold = ["{GOLD}"]\n' if gold else ""
    head += f'script = "{SCRIPT}"\n' if script else ""
    path = tmp_path / "s.toml"
    path.write_text(head + body + '\n[[variants]]\nname = "seed"\nactions = "prompts/actions/compose_scene.md"\n')
    return path


def _load(tmp_path: Path, body: str, **kw: bool):
    return load_spec(_spec(tmp_path, body, **kw))


def test_judge_table_defaults_and_a_valid_lm_judge(tmp_path: Path) -> None:
    spec = _load(tmp_path, "")
    assert spec.judge.kind == "composite" and not spec.judge.decides
    spec = _load(tmp_path, '[judge]\nkind = "lm"\nmargin = 2\n[judge.lm]\nkind = "endpoint"\nmodel = "openai/x"\n'
                           'api_base = "http://127.0.0.1:9/v1"\napi_key_env = "JUDGE_KEY"\n')
    assert spec.judge.decides and spec.judge.rubric == "judge/pairwise" and spec.judge.min_margin == 2
    assert "JUDGE_KEY" in spec.secret_env_names()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[judge]\nkind = "lm"\n', r"kind = \"lm\" needs a \[judge.lm\] table"),
        ('[judge]\nkind = "lm"\n[judge.lm]\nkind = "embedded"\n', "135M default cannot judge"),
        ('[judge]\nkind = "oracle"\n', r"'kind' in \[judge\]"),
        ('[judge]\nkind = "lm"\nfoo = 1\n', r"unknown key 'foo' in \[judge\]"),
        ('[judge]\nkind = "lm"\n[judge.lm]\nkind = "fake"\ncolour = 1\n', r"unknown key 'colour' in \[judge.lm\]"),
        ('[judge]\nprompt = "judge/pairwise"\n', "'prompt' is for kind = \"lm\""),
        ('[judge]\nkind = "lm"\nverdicts = "v.jsonl"\n[judge.lm]\nkind = "fake"\n', "'verdicts' is for kind = \"human\""),
        ('[judge]\nkind = "lm"\nmargin = 5\n[judge.lm]\nkind = "fake"\n', r"'margin' in \[judge\]"),
        ('[judge]\nkind = "lm"\n[judge.lm]\nkind = "fake"\napi_key_env = "sk-123 456"\n', "NAME of an environment"),
    ],
)
def test_judge_table_mistakes_are_one_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(AugmentlabError, match=message) as info:
        _load(tmp_path, body)
    assert "\n" not in str(info.value)


def test_a_spec_without_gold_needs_a_script_and_a_judge(tmp_path: Path) -> None:
    with pytest.raises(AugmentlabError, match="'gold' .* or a 'script'"):
        _load(tmp_path, '[judge]\nkind = "human"\n', gold=False)
    with pytest.raises(AugmentlabError, match="without 'gold' compares variants by verdicts"):
        _load(tmp_path, "", gold=False, script=True)
    with pytest.raises(AugmentlabError, match="task 'actions' reads the gold scenario"):
        _load(tmp_path, 'task = "actions"\n[judge]\nkind = "human"\n', gold=False, script=True)
    spec = _load(tmp_path, '[judge]\nkind = "human"\n', gold=False, script=True)
    assert spec.gold == [] and spec.judge.kind == "human"
    shipped = load_spec(REPO / "experiments" / "own_script.toml")
    assert shipped.gold == [] and shipped.judge.kind == "human" and shipped.script


def test_metric_judge_needs_an_optimizer_that_uses_a_metric_and_an_lm_judge(tmp_path: Path) -> None:
    lm_judge = '[judge]\nkind = "lm"\n[judge.lm]\nkind = "fake"\n'
    opt = '\n[[variants]]\nname = "opt"\noptimizer = "{o}"\nbase = "seed"\nmetric = "judge"\n'
    path = _spec(tmp_path, lm_judge)
    text = path.read_text()
    for optimizer, message in (("labeled", "uses no metric"), ("gepa", None), ("mipro", None)):
        path.write_text(text + opt.format(o=optimizer))
        if message:
            with pytest.raises(AugmentlabError, match=message):
                load_spec(path)
        else:
            assert load_spec(path).variant("opt").metric == "judge"
    path.write_text(text.replace(lm_judge, '[judge]\nkind = "human"\n') + opt.format(o="gepa"))
    with pytest.raises(AugmentlabError, match="needs \\[judge\\] kind = \"lm\""):
        load_spec(path)
    path.write_text(text + '\n[[variants]]\nname = "hand"\nactions = "prompts/actions/seed.md"\n'
                           'scenario = "prompts/scenario/seed.md"\nmetric = "judge"\n')
    with pytest.raises(AugmentlabError, match="needs an 'optimizer'"):
        load_spec(path)


# ------------------------------------------------------------------------------- gates and verdicts
@pytest.fixture(scope="module")
def gold() -> GoldExample:
    return read_gold([str(GOLD)], required=True)[0]


def test_the_gold_passes_its_gate_and_broken_outputs_do_not(gold: GoldExample) -> None:
    lines = list(gold.annotated or [])
    assert gate(gold, gold.scenario, lines) == []
    changed = [lines[0], lines[1].replace("eleven pages", "twelve pages"), *lines[2:]]
    assert any("changed the human words" in r for r in gate(gold, gold.scenario, changed))
    acting = [lines[0], "*Ilse grabs the pages from me.* " + gold.scene.lines[1].text, *lines[2:]]
    assert any("acts in June's line" in r for r in gate(gold, gold.scenario, acting))
    echo = [lines[0], f'*I say "{gold.scene.lines[1].text[:40]}" again.* {gold.scene.lines[1].text}', *lines[2:]]
    assert any("echoed" in r for r in gate(gold, gold.scenario, echo))
    assert "no scenario" in gate(gold, None, lines)
    assert gate(gold, None, lines, task="actions") == []


def test_a_failed_gate_decides_without_the_judge(gold: GoldExample) -> None:
    judge = FavouriteJudge("b-side")
    lines = list(gold.annotated or [])
    broken = [lines[0], "I finished it.", *lines[2:]]
    good = Candidate("vivid", gold.scenario, lines)
    bad = Candidate("seed", gold.scenario, broken)
    v = judge_pair(judge, gold, good, bad, kind="lm", task="both")
    assert v.winner == "a" and v.source == "gate" and "seed: line 2" in v.why and judge.calls == []
    both_bad = judge_pair(judge, gold, Candidate("x", gold.scenario, broken), bad, kind="lm", task="both")
    assert both_bad.winner == "tie"
    clean = judge_pair(judge, gold, good, Candidate("b-side", gold.scenario, lines), kind="lm", task="both")
    assert clean.winner == "b" and clean.source == "lm:fake-judge" and len(judge.calls) == 1


def test_decide_aggregates_against_the_baseline_and_says_who_decided() -> None:
    verdicts = [Verdict(scene=f"s{i}", a="vivid", b="seed", winner="a" if i < 10 else "b", source="lm:q", kind="lm")
                for i in range(12)]
    ev = decide(verdicts, ["seed", "vivid"], "seed", kind="lm", source="lm:fallback", seed=0)
    assert ev.decided and ev.winner == "vivid" and ev.decided_by == "lm:q"
    assert ev.sentence().startswith("decided by the LM judge (lm:q): vivid wins 10 of 12 vs seed, 0.83 [")
    even = [Verdict(scene=f"s{i}", a="vivid", b="seed", winner="a" if i % 2 else "b", source="human:ann",
                    kind="human") for i in range(10)]
    ev = decide(even, ["seed", "vivid"], "seed", kind="human", source="human", seed=0)
    assert ev.winner == "seed" and "no variant is detectably better than seed; keep it" in ev.sentence()
    none = decide([], ["seed", "vivid"], "seed", kind="human", source="human")
    assert not none.decided and none.decided_by == "composite" and none.sentence() == ""


def test_judge_outcomes_compares_each_variant_with_the_baseline_on_shared_scenes(gold: GoldExample) -> None:
    judge = FavouriteJudge("vivid")
    lines = list(gold.annotated or [])
    outputs = {name: {gold.id: Candidate(name, gold.scenario, lines)} for name in ("seed", "vivid", "other")}
    outputs["other"] = {}
    verdicts = judge_outcomes(judge, [gold], outputs, "seed")
    assert [(v.a, v.b, v.winner) for v in verdicts] == [("vivid", "seed", "a")]


def test_judge_metric_calls_the_judge_caches_the_baseline_and_gives_feedback(gold: GoldExample) -> None:
    from prompts.data import to_example

    example = to_example(gold, "both")
    judge = FavouriteJudge("climber")
    runs: list[str] = []

    class Out:
        scenario = gold.scenario
        annotated_lines = list(gold.annotated or [])

    def baseline_output(ex: Any) -> Any:
        runs.append(ex.gold_id)
        return Out()

    metric = JudgeMetric(judge, baseline_output, task="both", baseline="seed", name="climber", threshold=1.0)
    assert metric(example, Out()) == 1.0
    assert metric(example, Out(), trace=object()) is True
    feedback = metric.feedback()(example, Out())
    assert feedback.score == 1.0 and "climber's actions fit the lines" in feedback.feedback
    assert runs == [gold.id], "the baseline's output is computed once per example"
    assert len(judge.calls) == 3 and judge.calls[0][1:] == ("climber", "seed")
