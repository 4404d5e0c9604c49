"""The pairwise LM judge (metrics/pairwise.py): the both-orders rule, the fake LM and the stub
server answering it, caching, pricing, unusable answers, position bias, batches, and verdicts
landing in MLflow as LLM_JUDGE feedback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample
from augmentlab.lm import LMConfig, LMSession
from augmentlab.lm.fake import FakeLM
from fakes.fake_server import StubServer, always_first, input_sections, pairwise_responder, prefer_varied
from metrics import pairwise as P
from prompts.variants import load_variant

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"
KEY_ENV = "AUGMENTLAB_TEST_PAIRWISE_KEY"


def _gold(n: int = 3) -> list[GoldExample]:
    rows = [GoldExample.model_validate_json(x) for x in GOLD.read_text().splitlines() if x.strip()]
    return [g for g in rows if g.scenario and g.annotated][:n]


def _instructions() -> str:
    return load_variant(P.DEFAULT_PROMPT, task="judge").instructions


def _vivid(gold: GoldExample, cid: str = "vivid") -> P.Candidate:
    return P.Candidate(cid, gold.scenario, tuple(gold.annotated or ()))


def _stock(gold: GoldExample, cid: str = "stock") -> P.Candidate:
    """The same stock action on every speaker's line: no variety at all."""
    lines = [f"*I nod.* {ln.text}" if ln.speaker else ln.text for ln in gold.scene.lines]
    return P.Candidate(cid, "Two people talk.", tuple(lines))


def _config(server: StubServer, model: str = "openai/stub-pairwise", **kw) -> LMConfig:
    return LMConfig(kind="endpoint", model=model, api_base=server.base_url, api_key_env=KEY_ENV, **kw)


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "sk-pairwise-test")
    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy-cache"))


def _sent(server: StubServer) -> list[dict[str, str]]:
    """The input sections of each request the server kept."""
    out = []
    for body in server.bodies:
        user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        out.append(input_sections(user if isinstance(user, str) else "".join(p.get("text", "") for p in user)))
    return out


def _answer(label: str | None, error: str = "") -> P.Answer:
    return P.Answer(label, P.read_preference(label), {"craft": f"note on {label}"}, error)


# ----------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("ab", "ba", "min_margin", "winner", "margin", "flipped"),
    [
        ("A better", "B better", 1, "a", 2.0, False),  # both orders prefer a
        ("A much better", "B much better", 1, "a", 4.0, False),
        ("A better", "same", 1, "a", 1.0, False),  # "better" once and not the opposite: a win
        ("A better", "same", 2, "tie", 0.0, False),  # ... but below a threshold of 2
        ("A much better", "same", 2, "a", 2.0, False),
        ("same", "same", 1, "tie", 0.0, False),
        ("B better", "A better", 1, "b", 2.0, False),  # b shown first and preferred: b both times
        ("A better", "A better", 1, "tie", 0.0, True),  # whoever is shown first wins: a flip
        ("B much better", "B better", 1, "tie", 0.0, True),
        ("A much better", "A better", 4, "tie", 0.0, True),
    ],
)
def test_both_orders_rule(ab, ba, min_margin, winner, margin, flipped):
    v = P.decide("s1", "x", "y", _answer(ab), _answer(ba), source="lm:test", min_margin=min_margin)
    assert (v.winner, v.margin, v.extra["flipped"]) == (winner, margin, flipped)
    assert (v.extra["order_ab"], v.extra["order_ba"]) == (ab, ba)
    assert v.extra["signed_ab"] == P.SCALE[ab] and v.extra["signed_ba"] == -P.SCALE[ba]
    assert v.kind == "lm" and v.source == "lm:test" and (v.scene, v.a, v.b) == ("s1", "x", "y")
    if flipped:
        assert "flips" in v.why and v.extra["bias"] == ("first" if P.SCALE[ab] > 0 else "second")
    elif winner == "tie":
        assert "tie" in v.why
    else:
        assert "better in both orders" in v.why and "note on" in v.why


def test_an_unusable_answer_is_a_tie_with_the_reason():
    v = P.decide("s", "x", "y", _answer("A better"), _answer(None, "unusable reply, ValueError: no JSON"), source="lm:t")
    assert v.winner == "tie" and v.margin == 0.0
    assert "unusable judge answer in order b,a (unusable reply, ValueError: no JSON)" in v.why
    assert v.extra["signed_ba"] is None and P.flip_rate([v]) is None  # not counted as a flip or not
    off = P.decide("s", "x", "y", _answer("A better"), _answer("C better", "preference 'C better' is not on the scale"),
                   source="lm:t")
    assert off.winner == "tie" and "not on the scale" in off.why


def test_read_preference_and_flip_rate():
    assert [P.read_preference(x) for x in ("A better", " b much better ", "same.", "A", None, 3)] == [1, None, 0, None, None, None]
    flips = [P.decide("s", "x", "y", _answer(ab), _answer(ba), source="lm:t")
             for ab, ba in (("A better", "A better"), ("A better", "B better"), ("same", "same"), ("B better", "B better"))]
    assert P.flip_rate(flips) == 0.5
    assert P.flip_rate([]) is None


def test_rubric_is_a_judge_variant_that_says_length_is_no_virtue():
    variant = load_variant(P.DEFAULT_PROMPT)
    assert variant.task == "judge" and variant.path.parent.name == "judge"
    text = variant.instructions
    assert "Length is not a virtue" in text
    for label in P.SCALE:
        assert f'"{label}"' in text
    for word in ("Faithful", "Fits the line and the speaker", "sets the scene up", "Craft"):
        assert word in text


def test_candidates_from_duck_typed_rows_and_the_prompt_form():
    @dataclass(frozen=True)
    class Row:  # a preference set's candidate row: "annotated", not "annotated_lines"
        id: str
        scenario: str
        annotated: list[str]

    gold = _gold(1)[0]
    c = P.as_candidate(Row("r1", "A room.", list(gold.annotated)))
    assert c == P.Candidate("r1", "A room.", tuple(gold.annotated))
    inputs = P.pair_inputs(gold, c, _stock(gold))
    speaker = next(ln for ln in gold.scene.lines if ln.speaker)
    n = gold.scene.lines.index(speaker) + 1
    assert f"{n}. {speaker.speaker}: {gold.annotated[n - 1]}" in inputs["candidate_a"]
    assert inputs["candidate_a"].startswith("Scenario: A room.") and "*I nod.*" in inputs["candidate_b"]
    with pytest.raises(AugmentlabError):
        P.Candidate("", None, ())


# ----------------------------------------------------------------------------- the fake LM


def test_fake_lm_prefers_the_varied_candidate_in_both_orders():
    gold = _gold(1)[0]
    lm = FakeLM()
    judge = P.PairwiseJudge(LMSession.of(LMConfig(kind="fake"), lm), _instructions())
    v = judge.prefer(gold, _vivid(gold), _stock(gold))
    assert len(lm.history) == 2  # both orders asked
    assert (v.winner, v.margin, v.extra["flipped"]) == ("a", 4.0, False)  # "much better" both times
    assert v.extra["order_ab"] == "A much better" and v.extra["order_ba"] == "B much better"
    swapped = judge.prefer(gold, _stock(gold), _vivid(gold))
    assert swapped.winner == "b" and swapped.preferred() == "vivid"
    same = judge.prefer(gold, _vivid(gold, "v1"), _vivid(gold, "v2"))
    assert same.winner == "tie" and not same.extra["flipped"]
    assert judge.usage.calls == 6 and v.source == "lm:fake fake/augmentlab"


def test_open_pairwise_judge_refuses_the_embedded_default_model():
    with pytest.raises(AugmentlabError, match="SmolLM2-135M") as info:
        with P.open_pairwise_judge(LMConfig(kind="embedded"), _instructions()):
            pass
    assert "\n" not in str(info.value) and "--gguf" in str(info.value)
    assert P.judge_can_run(LMConfig(kind="embedded", gguf="/models/own.gguf")) is None
    with P.open_pairwise_judge(LMConfig(kind="fake"), _instructions()) as judge:
        assert isinstance(judge, P.PairwiseJudge)
    with pytest.raises(AugmentlabError, match="min_margin"):
        P.PairwiseJudge(LMSession.of(LMConfig(kind="fake"), FakeLM()), _instructions(), min_margin=0)


# ----------------------------------------------------------------------------- real calls (stub server)


def test_both_orders_are_sent_cached_counted_and_priced():
    gold = _gold(1)[0]
    vivid, stock = _vivid(gold), _stock(gold)
    with StubServer(latency=0.0) as server:  # the default responder answers the pairwise signature
        config = _config(server, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)
        with P.open_pairwise_judge(config, _instructions()) as judge:
            first = judge.prefer(gold, vivid, stock)
            again = judge.prefer(gold, vivid, stock)  # same prompts: DSPy's cache answers both
        assert server.completed == 2
        sent = _sent(server)
    assert sent[0]["candidate_a"] == sent[1]["candidate_b"] == P.render_candidate(gold, vivid)
    assert sent[0]["candidate_b"] == sent[1]["candidate_a"] == P.render_candidate(gold, stock)
    assert first.winner == "a" and first.preferred() == "vivid"
    assert first.source == f"lm:openai/stub-pairwise @ {server.base_url}"
    u = first.extra["usage"]
    assert (u["calls"], u["cached_calls"]) == (2, 0) and u["prompt_tokens"] > 0
    assert u["cost"] == pytest.approx(u["prompt_tokens"] / 1000 * 1.0 + u["completion_tokens"] / 1000 * 2.0)
    assert again.winner == first.winner and again.extra["usage"]["cached_calls"] == 2
    total = judge.usage
    assert (total.calls, total.cached_calls) == (4, 2)
    assert total.cost == pytest.approx(u["cost"] + again.extra["usage"]["cost"])


def test_always_first_judge_gives_only_ties():
    golds = _gold(3)
    pairs = [(g.id, _vivid(g), _stock(g)) for g in golds] + [(g.id, _stock(g), _vivid(g)) for g in golds]
    with StubServer(latency=0.0, responder=pairwise_responder(always_first)) as server:
        with P.open_pairwise_judge(_config(server, model="openai/stub-first"), _instructions()) as judge:
            verdicts = P.judge_preference_pairs(judge, {g.id: g for g in golds}, pairs)
        # (b, a) sends the same two prompts as (a, b): the swapped pairs are answered from the cache
        assert server.completed == 2 * len(golds) and judge.usage.cached_calls == 2 * len(golds)
    assert [v.winner for v in verdicts] == ["tie"] * len(pairs)
    assert all(v.extra["flipped"] and v.extra["bias"] == "first" for v in verdicts)
    assert P.flip_rate(verdicts) == 1.0
    with pytest.raises(AugmentlabError, match="unknown scene"):
        P.judge_preference_pairs(judge, {}, pairs[:1])


def test_a_margin_below_the_threshold_is_a_tie():
    gold = _gold(1)[0]

    def lukewarm(a: str, b: str) -> str:  # "A better" when A is the varied one, else "same"
        return "A better" if prefer_varied(a, b).startswith("A") else "same"

    with StubServer(latency=0.0, responder=pairwise_responder(lukewarm)) as server:
        config = _config(server, model="openai/stub-lukewarm")
        with P.open_pairwise_judge(config, _instructions()) as loose:
            won = loose.prefer(gold, _vivid(gold), _stock(gold))
        with P.open_pairwise_judge(config, _instructions(), min_margin=2) as strict:
            held = strict.prefer(gold, _vivid(gold), _stock(gold))
    assert (won.winner, won.margin, won.extra["total"]) == ("a", 1.0, 1)
    assert (held.winner, held.margin, held.extra["total"]) == ("tie", 0.0, 1)
    assert "margin 1 below 2" in held.why


def test_unusable_answers_from_the_server_are_ties_with_the_reason():
    gold = _gold(1)[0]
    off_scale = lambda messages: json.dumps({"faithful": "x", "fit": "x", "setup": "x", "craft": "x", "preference": "C better"})
    with StubServer(latency=0.0, faults=["garbage"]) as server:
        with P.open_pairwise_judge(_config(server, model="openai/stub-garbage", cache=False, num_retries=0),
                                   _instructions()) as judge:
            broken = judge.prefer(gold, _vivid(gold), _stock(gold))
            fine = judge.prefer(gold, _vivid(gold), _stock(gold))
    assert broken.winner == "tie" and "unusable judge answer in order a,b (unusable reply" in broken.why
    assert broken.extra["signed_ab"] is None and broken.extra["signed_ba"] is not None
    assert fine.winner == "a"
    with StubServer(latency=0.0, responder=off_scale) as server:
        with P.open_pairwise_judge(_config(server, model="openai/stub-off", num_retries=0), _instructions()) as judge:
            off = judge.prefer(gold, _vivid(gold), _stock(gold))
    assert off.winner == "tie" and "unusable judge answer in order a,b" in off.why and "order b,a" in off.why


def test_judge_against_baseline_pairs_every_variant_with_the_baseline():
    golds = _gold(3)
    by_id = {g.id: g for g in golds}
    outputs = {
        "seed": {g.id: _stock(g, "whatever") for g in golds},
        "vivid": {g.id: _vivid(g) for g in golds},
        "half": {golds[0].id: _vivid(golds[0]), "not-a-scene": _vivid(golds[1])},
    }
    judge = P.PairwiseJudge(LMSession.of(LMConfig(kind="fake"), FakeLM()), _instructions())
    verdicts = P.judge_against_baseline(judge, by_id, outputs, baseline="seed")
    assert [(v.a, v.b, v.scene) for v in verdicts] == (
        [("vivid", "seed", s) for s in sorted(by_id)] + [("half", "seed", golds[0].id)]
    )
    assert all(v.winner == "a" for v in verdicts)
    with pytest.raises(AugmentlabError, match="baseline 'nope'"):
        P.judge_against_baseline(judge, by_id, outputs, baseline="nope")


# ----------------------------------------------------------------------------- MLflow


def test_judge_calls_are_traced_and_verdicts_land_as_llm_judge_feedback(tmp_path):
    from mlflow import MlflowClient

    from augmentlab.core.redact import Redactor
    from experiments.tracing import Tracer
    from experiments.tracking import Tracker

    golds = _gold(2)
    tracker = Tracker("judged", tracking_uri=str(tmp_path / "mlruns"))
    client = MlflowClient(tracker.tracking_uri)
    run_id = client.create_run(tracker.experiment_id).info.run_id
    judge = P.PairwiseJudge(LMSession.of(LMConfig(kind="fake"), FakeLM()), _instructions())
    with Tracer(tracker.tracking_uri, tracker.experiment_id, Redactor(include_common=False)) as tracer:
        with tracer.trace("evaluate vivid", run_id=run_id) as handle:
            traced = judge.prefer(golds[0], _vivid(golds[0]), _stock(golds[0]))
        untraced = judge.prefer(golds[1], _vivid(golds[1]), _stock(golds[1]))
        tracer.flush()
        landed = P.log_assessments([traced, untraced], trace_ids={(golds[0].id, "vivid"): handle.trace_id},
                                   run_id=run_id, experiment_id=tracker.experiment_id)
    assert landed[0] == handle.trace_id and landed[1] and landed[1] != handle.trace_id
    spans = client.get_trace(handle.trace_id).data.spans
    assert sum(s.span_type == "CHAT_MODEL" for s in spans) == 2  # each order's call is a span
    found = client.search_traces(locations=[tracker.experiment_id])
    assert {t.info.trace_id for t in found} >= set(landed)
    for trace_id, verdict in zip(landed, (traced, untraced)):
        feedback = [a for a in client.get_trace(trace_id).info.assessments if a.name == P.ASSESSMENT_NAME]
        assert len(feedback) == 1
        fb = feedback[0]
        assert fb.source.source_type == "LLM_JUDGE" and fb.source.source_id == verdict.source
        assert fb.value == 1.0 and fb.rationale == verdict.why
        assert fb.metadata["winner"] == "a" and fb.metadata["b"] == "stock" and fb.metadata["scene"] == verdict.scene
        assert fb.metadata["augmentlab.order_ab"] == "A much better" and fb.run_id == run_id
    own = client.get_trace(landed[1])
    assert own.info.tags["augmentlab.kind"] == "judgement" and own.info.request_metadata["mlflow.sourceRun"] == run_id



def test_the_grammar_holds_a_small_model_to_the_five_labels():
    """With llama.cpp's grammar (the adapter of an embedded GGUF) the preference can only be one of
    the scale's labels, written after the four notes."""
    from augmentlab.lm.schema import output_schema

    schema = output_schema(P.JudgePair.with_instructions(_instructions()))
    assert schema["properties"]["preference"]["enum"] == list(P.SCALE)
    assert list(schema["properties"]) == [*P.NOTE_FIELDS, "preference"]
    assert set(schema["required"]) == {*P.NOTE_FIELDS, "preference"}
