"""The LLM judge (metrics/judge.py): parsing, severity → part, length correction, the composite
hook, and real calls through the stub server (cached, counted, priced like every other call)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmentlab.cli import main as cli_main
from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig
from augmentlab.core.model import GoldExample
from fakes.fake_server import StubServer, input_sections
from metrics import judge as J
from metrics.composite import Score
from prompts.variants import load_variant

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"
KEY_ENV = "AUGMENTLAB_TEST_JUDGE_KEY"


def _gold(n: int = 3) -> list[GoldExample]:
    rows = [GoldExample.model_validate_json(x) for x in GOLD.read_text().splitlines() if x.strip()]
    return [g for g in rows if g.scenario and g.annotated][:n]


def _instructions() -> str:
    return load_variant(J.DEFAULT_PROMPT, task="judge").instructions


def _config(server: StubServer, **kw) -> LMConfig:
    return LMConfig(kind="endpoint", model="openai/stub-judge", api_base=server.base_url, api_key_env=KEY_ENV, **kw)


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "sk-judge-test")
    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy-cache"))


def _user(messages: list[dict]) -> dict[str, str]:
    text = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    return input_sections(text if isinstance(text, str) else "".join(p.get("text", "") for p in text))


def oracle(golds: list[GoldExample]):
    """A judge that knows the gold: a changed scenario is a contradiction (4), a changed line an
    invented fact (3) at that line."""
    by_lines = {J.judge_inputs(g, None, None)["lines"]: g for g in golds}

    def respond(messages: list[dict]) -> str:
        inputs = _user(messages)
        gold = by_lines[inputs["lines"]]
        flaws = []
        if inputs.get("scenario", "") != gold.scenario:
            flaws.append({"type": "contradicts_lines", "line": 0, "severity": 4, "evidence": inputs.get("scenario", "")[:30]})
        written = J.judge_inputs(gold, None, list(gold.annotated))["annotated_lines"].splitlines()
        for n, line in enumerate(inputs.get("annotated_lines", "").splitlines(), 1):
            if n > len(written) or line != written[n - 1]:
                flaws.append({"type": "invents_fact", "line": n, "severity": 3, "evidence": line[3:30]})
        return json.dumps({"flaws": flaws})

    return respond


# ----------------------------------------------------------------------------- pure parts


def test_parse_flaws_keeps_valid_ones_and_says_what_it_skipped():
    raw = [
        {"type": "contradicts_lines", "line": 0, "severity": 4, "evidence": "on the Moon"},
        {"type": "Acts for another character", "line": 2, "severity": "3", "evidence": "Bob sits"},
        {"type": "style", "line": 1, "severity": 2},
        {"type": "retells", "line": 1, "severity": 6},
        {"type": "retells", "line": 1, "severity": "high"},
        {"type": "retells", "line": 1, "severity": 2.5},
        {"type": "retells", "line": 9, "severity": 2},
        {"type": "contradicts_lines", "line": 0, "severity": 4, "evidence": "on  the Moon"},
        "not an object",
    ]
    flaws, skipped = J.parse_flaws(raw, n_lines=3)
    assert [(f.type, f.line, f.severity) for f in flaws] == [("contradicts_lines", 0, 4), ("acts_for_other", 2, 3)]
    assert len(skipped) == 7
    text = " | ".join(skipped)
    for reason in ("unknown type 'style'", "outside 1-5", "'high' is not an integer", "2.5", "line 9", "duplicate", "not an object"):
        assert reason in text
    assert J.parse_flaws("nonsense", 3) == ([], ["flaws is not a list (str)"])


def test_part_from_summed_severity_with_length_correction():
    flaws = [J.Flaw(type="invents_fact", severity=3), J.Flaw(type="retells", severity=2)]
    short, _ = J.part_from_flaws(flaws, units=4)
    long, penalty = J.part_from_flaws(flaws, units=40)
    assert penalty == pytest.approx(5 / 40)
    assert long == pytest.approx(1 - (5 / 40) / J.PENALTY_AT_ZERO)
    assert 0 < short < long < 1  # the same flaws cost less in a longer output
    assert J.part_from_flaws([], units=5) == (1.0, 0.0)
    assert J.part_from_flaws(flaws, units=0) == (0.0, 0.0)  # nothing written: no credit
    worse, _ = J.part_from_flaws([*flaws, J.Flaw(type="leaks_later", severity=5)], units=4)
    assert worse == 0.0 < short


def test_content_units_count_scenario_sentences_and_actions():
    assert J.content_units("A room. Night falls! Who knocks?", ["*I sit.* Hello. *I wave.*", "Hi.", None]) == 5
    assert J.content_units("", ["Hello.", "Hi."]) == 0
    assert J.content_units(None, None) == 0


def test_combine_is_off_by_default_and_can_only_lower_a_score():
    base = Score(0.8, {"similarity": 0.9}, "score 0.80.", {})
    verdict = J.Verdict(0.5, [J.Flaw(type="retells", line=1, severity=2, evidence="hello")], units=4, penalty=0.5)
    assert J.combine(base, verdict) is base  # weight 0: unchanged
    mixed = J.combine(base, verdict, weight=0.5)
    assert mixed.score == pytest.approx(0.8 * 0.75)
    assert mixed.parts["judge"] == 0.5 and "retells instead of setting up (line 1, severity 2" in mixed.feedback
    assert J.combine(base, J.Verdict(1.0, units=3), weight=1.0).score == pytest.approx(0.8)
    assert J.combine(Score(0.0, {}, "no output", {}), J.Verdict(1.0, units=3), weight=1.0).score == 0.0
    abstained = J.combine(base, J.Verdict(None, reason="unusable judge reply (x)"), weight=0.5)
    assert abstained.score == 0.8 and "judge abstained" in abstained.feedback
    with pytest.raises(AugmentlabError):
        J.combine(base, verdict, weight=1.5)


def test_judge_is_off_for_the_embedded_and_fake_models():
    for kind in ("embedded", "fake"):
        with pytest.raises(AugmentlabError, match=f"off for the {kind} model") as info:
            with J.open_judge(LMConfig(kind=kind), _instructions()):
                pass
        assert "\n" not in str(info.value)


def test_judge_config_from_env():
    assert J.judge_config_from_env({}) is None
    cfg = J.judge_config_from_env({
        "AUGMENTLAB_JUDGE_MODEL": "openai/gpt-4o-mini", "AUGMENTLAB_JUDGE_KEY_ENV": "OPENAI_API_KEY",
        "AUGMENTLAB_JUDGE_PRICES": "0.15,0.6",
    })
    assert (cfg.kind, cfg.model, cfg.api_key_env, cfg.prompt_price_per_1k) == ("endpoint", "openai/gpt-4o-mini", "OPENAI_API_KEY", 0.15)
    with pytest.raises(AugmentlabError, match="PRICES"):
        J.judge_config_from_env({"AUGMENTLAB_JUDGE_MODEL": "x/y", "AUGMENTLAB_JUDGE_PRICES": "cheap"})


def test_judge_prompt_is_a_variant_file_naming_every_flaw_type():
    variant = load_variant(J.DEFAULT_PROMPT)
    assert variant.task == "judge" and variant.path.parent.name == "judge"
    for kind in J.FLAW_TYPES:
        assert f'"{kind}"' in variant.instructions


# ----------------------------------------------------------------------------- real calls (stub server)


def test_judge_calls_are_parsed_cached_counted_and_priced():
    golds = _gold(2)
    gold = golds[0]
    junk_scenario = "Two astronauts fix an air pump on the Moon."
    seen: list[str] = []

    def respond(messages):
        seen.append(next(m["content"] for m in messages if m["role"] == "system"))
        return oracle(golds)(messages)

    with StubServer(latency=0.0, responder=respond) as server:
        config = _config(server, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)
        with J.open_judge(config, _instructions()) as judge:
            good = judge(gold, gold.scenario, list(gold.annotated))
            bad = judge(gold, junk_scenario, list(gold.annotated))
            again = judge(gold, junk_scenario, list(gold.annotated))  # same prompt: the DSPy cache answers
            nothing = judge(gold, "", [ln.text for ln in gold.scene.lines])  # nothing to judge: no call
        assert server.completed == 2
    assert "You review training data for role-play" in seen[0]  # the variant file's instructions
    assert good.part == 1.0 and good.flaws == [] and good.usage.calls == 1
    assert [(f.type, f.line, f.severity) for f in bad.flaws] == [("contradicts_lines", 0, 4)]
    units = J.content_units(junk_scenario, gold.annotated)
    assert bad.units == units and bad.part == pytest.approx(max(0.0, 1 - 4 / units / J.PENALTY_AT_ZERO))
    assert bad.usage.prompt_tokens > 0 and bad.usage.cost == pytest.approx(
        bad.usage.prompt_tokens / 1000 * 1.0 + bad.usage.completion_tokens / 1000 * 2.0
    )
    assert again.part == bad.part and again.usage.cached_calls == 1
    assert again.usage.total_tokens == bad.usage.total_tokens
    assert nothing.part == 0.0 and nothing.usage.calls == 0
    total = judge.usage
    assert (total.calls, total.cached_calls) == (3, 1)
    assert total.cost == pytest.approx(good.usage.cost + bad.usage.cost + again.usage.cost)


def test_unusable_judge_replies_abstain_with_the_reason():
    gold = _gold(1)[0]
    with StubServer(latency=0.0, faults=["garbage"], responder=lambda m: json.dumps({"flaws": [
        {"type": "poetry", "line": 1, "severity": 2}, {"type": "retells", "line": 1, "severity": 2, "evidence": "x"},
    ]})) as server:
        with J.open_judge(_config(server, cache=False, num_retries=0), _instructions()) as judge:
            first = judge(gold, gold.scenario, list(gold.annotated))
            second = judge(gold, gold.scenario, list(gold.annotated))
    assert first.part is None and "unusable judge reply" in first.reason and first.usage.calls >= 1
    assert [f.type for f in second.flaws] == ["retells"] and second.skipped == ["flaw 1: unknown type 'poetry'"]


def test_calibration_ladder_orders_defects_below_gold_and_can_fail():
    golds = _gold(3)
    with StubServer(latency=0.0, responder=oracle(golds)) as server:
        with J.open_judge(_config(server), _instructions()) as judge:
            rungs = J.calibrate(judge, golds)
    by = {r.name: r for r in rungs}
    assert by["gold"].mean == 1.0 and by["nothing"].mean == 0.0 and by["nothing"].severity == 0
    judged = [r for r in rungs if r.judged]
    assert len(judged) >= 5 and all(r.parts for r in judged)  # the ladder's flawed rungs were built and judged
    assert all(r.mean < 1.0 and r.severity > 0 for r in judged)
    assert J.calibration_problems(rungs) == []
    with StubServer(latency=0.0, responder=lambda m: json.dumps({"flaws": []})) as server:
        # another model name: DSPy's cache key is the model and the messages
        with J.open_judge(_config(server).model_copy(update={"model": "openai/stub-blind"}), _instructions()) as judge:
            blind = J.calibrate(judge, golds)
    problems = J.calibration_problems(blind)
    assert len(problems) == len(judged) and all("not below gold (1.00)" in p for p in problems)


def test_metrics_check_judge_needs_an_endpoint(monkeypatch, capsys):
    monkeypatch.delenv("AUGMENTLAB_JUDGE_MODEL", raising=False)
    assert cli_main(["metrics", "check", "--gold", str(GOLD), "--judge"]) == 2
    assert "AUGMENTLAB_JUDGE_MODEL" in capsys.readouterr().err


def test_metrics_check_judge_prints_its_ladder(monkeypatch, capsys, tmp_path):
    golds = _gold(3)
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(g.model_dump_json() + "\n" for g in golds))
    with StubServer(latency=0.0, responder=oracle(golds)) as server:
        monkeypatch.setenv("AUGMENTLAB_JUDGE_MODEL", "openai/stub-judge")
        monkeypatch.setenv("AUGMENTLAB_JUDGE_API_BASE", server.base_url)
        monkeypatch.setenv("AUGMENTLAB_JUDGE_KEY_ENV", KEY_ENV)
        cli_main(["metrics", "check", "--gold", str(path), "--judge", "--judge-limit", "3"])
    out = capsys.readouterr().out
    assert "LLM judge (openai/stub-judge, judge/given_circumstances)" in out
    assert "gold" in out and "nothing" in out and "must" in out and "judge usage:" in out
    assert "judge ladder:" not in out  # the oracle's ladder holds


def test_metrics_check_judge_takes_the_lm_options(monkeypatch, capsys, tmp_path):
    """The judge's endpoint from the command line (--model/--api-base/--api-key-env), as every
    command that opens an LM takes it; no environment variables."""
    for var in ("AUGMENTLAB_JUDGE_MODEL", "AUGMENTLAB_JUDGE_API_BASE", "AUGMENTLAB_JUDGE_KEY_ENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no augmentlab.toml
    golds = _gold(3)
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(g.model_dump_json() + "\n" for g in golds))
    with StubServer(latency=0.0, responder=oracle(golds)) as server:
        cli_main(["metrics", "check", "--gold", str(path), "--judge", "--judge-limit", "3",
                  "--lm", "endpoint", "--model", "openai/flag-judge", "--api-base", server.base_url,
                  "--api-key-env", KEY_ENV])
    out = capsys.readouterr().out
    assert "LLM judge (openai/flag-judge, judge/given_circumstances)" in out


def test_score_with_judge_is_the_composite_until_weighted():
    from metrics.composite import score

    gold = _gold(1)[0]
    junk = "Two astronauts fix an air pump on the Moon."
    plain = score(gold, junk, list(gold.annotated))
    with StubServer(latency=0.0, responder=oracle([gold])) as server:
        # a model name of its own: DSPy's in-memory cache (model + messages) spans the tests
        with J.open_judge(_config(server).model_copy(update={"model": "openai/stub-hook"}), _instructions()) as judge:
            off = J.score_with_judge(gold, junk, list(gold.annotated), judge=judge)
            assert server.completed == 0  # weight 0: no call
            on = J.score_with_judge(gold, junk, list(gold.annotated), judge=judge, weight=0.5)
            assert server.completed == 1
    assert off.score == plain.score
    assert on.score < plain.score and 0 < on.parts["judge"] < 1
    assert "contradicts the lines (scenario, severity 4" in on.feedback
