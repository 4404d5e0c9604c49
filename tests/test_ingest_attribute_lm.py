"""LM-assisted speaker attribution (issue #13 item 5): only uncertain quotations go to the LM,
with the cast and the surrounding paragraphs; the answer must name a cast member or "unknown";
calls are cached, counted and priced."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import augmentlab  # noqa: F401  (offline environment first)
from augmentlab.cli import main
from augmentlab.core.errors import AugmentlabError
from augmentlab.ingest.attribute_lm import attribute_file, attribute_scenes, speaker_signature
from augmentlab.lm import LMConfig, open_session, output_schema
from augmentlab.core.model import Character, Line, LineKind, Scene
from fakes.fake_server import StubServer, input_sections

KEY_ENV = "AUGMENTLAB_TEST_ATTR_KEY"
CAST = [Character(name="Emma", aliases=["Miss Woodhouse"]), Character(name="Mr. Knightley"), Character(name="Harriet")]


def _uncertain(text: str, why: str, source: int) -> Line:
    return Line(text=text, source_line=source, metadata={"attribution": "uncertain", "why": why})


def _scenes() -> list[Scene]:
    """Two scenes: far-away narration, a tagged exchange, four uncertain quotations."""
    first = Scene(index=0, lines=[
        Line(text="The far-away paragraph that no prompt should show.", kind=LineKind.narration, source_line=1),
        Line(text="Filler one.", kind=LineKind.narration, source_line=2),
        Line(text="Filler two.", kind=LineKind.narration, source_line=3),
        Line(text="Filler three.", kind=LineKind.narration, source_line=4),
        Line(text="Filler four.", kind=LineKind.narration, source_line=5),
        Line(text="Harriet came into the parlour with a letter.", kind=LineKind.narration, source_line=6),
        Line(speaker="Emma", text="Who is it from?", directions=["said Emma,", "turning round."],
             source_line=7, metadata={"attribution": "tag", "direction_at": [0, 15]}),
        _uncertain("ASK-ONE It is from Mr. Martin.", "3 people in the exchange", 8),
    ]).with_id()
    second = Scene(index=1, context=[first.lines[-1].model_copy(deep=True)], lines=[
        _uncertain("ASK-TWO How very odd.", "'he' not resolved", 9),
        _uncertain("ASK-THREE I cannot say.", "3 people in the exchange", 10),
        _uncertain("ASK-FOUR Nor I.", "3 people in the exchange", 11),
        Line(speaker="Mr. Knightley", text="Good morning.", source_line=12, metadata={"attribution": "tag"}),
    ]).with_id()
    return [first, second]


ANSWERS = {"ASK-ONE": "Harriet", "ASK-TWO": "miss woodhouse", "ASK-THREE": "Bob", "ASK-FOUR": "unknown"}


def _responder(messages):
    user = messages[-1]["content"]
    quote = input_sections(user if isinstance(user, str) else "")["quotation"]
    return json.dumps({"speaker": ANSWERS[quote.split()[0]]})


def _config(server: StubServer, *, cache: bool = False, model: str = "openai/stub", **kw) -> LMConfig:
    return LMConfig(kind="endpoint", model=model, api_base=server.base_url, api_key_env=KEY_ENV,
                    cache=cache, adapter="json", num_retries=0, **kw)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test-attr")


def test_prompt_holds_the_cast_and_the_surrounding_paragraphs() -> None:
    scenes = _scenes()
    with open_session(LMConfig(kind="fake", cache=False)) as session:
        report = attribute_scenes(scenes, CAST, session, window=4)
        prompts = ["\n".join(str(m["content"]) for m in entry["messages"]) for entry in session.lm.history]
    assert report.asked == 4 and len(prompts) == 4  # the tagged and narration lines are never sent
    first = prompts[0]
    for name in ("Emma", "Mr. Knightley", "Harriet"):
        assert name in first
    assert "Harriet came into the parlour with a letter." in first
    # the tagged paragraph with its narration where it stood, and its known speaker
    assert "[Emma] said Emma, \u201cWho is it from?\u201d turning round." in first
    assert ">>> \u201cASK-ONE It is from Mr. Martin.\u201d <<<" in first
    assert "ASK-TWO How very odd." in first  # the next scene's paragraphs count too
    assert "far-away paragraph" not in first  # beyond the window
    assert "unknown" in first


def test_cast_answer_attributes_and_anything_else_abstains() -> None:
    scenes = _scenes()
    old_ids = [s.id for s in scenes]
    with StubServer(latency=0.0, responder=_responder) as server, open_session(_config(server)) as session:
        report = attribute_scenes(scenes, CAST, session)
    assert server.completed == 4
    one, two, three, four = scenes[0].lines[-1], *scenes[1].lines[:3]
    assert (one.speaker, one.metadata["attribution"], one.metadata["lm_answer"]) == ("Harriet", "lm", "Harriet")
    assert one.metadata["rules_why"] == "3 people in the exchange" and "why" not in one.metadata
    assert (two.speaker, two.metadata["attribution"]) == ("Emma", "lm")  # alias, any case
    for line, said in ((three, "'Bob', not a cast member"), (four, "the LM said unknown")):
        assert line.speaker is None and line.metadata["attribution"] == "uncertain"
        assert said in line.metadata["why"]
    assert (report.uncertain, report.asked, report.attributed, report.invalid, report.unknown, report.errors) == (
        4, 4, 2, 1, 1, 0)
    # the context copy of a resolved line follows it; both scenes changed, so both ids did
    assert scenes[1].context[0].speaker == "Harriet"
    assert [s.id for s in scenes] != old_ids and scenes[1].id == scenes[1].compute_id()


def test_rerun_is_served_from_the_cache_and_usage_is_counted_and_priced() -> None:
    model = f"openai/stub-{uuid.uuid4().hex[:8]}"  # a prompt no other test has cached
    with StubServer(latency=0.0, responder=_responder) as server:
        config = _config(server, cache=True, model=model, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)
        with open_session(config) as session:
            first = attribute_scenes(_scenes(), CAST, session, limit=2)
        assert server.completed == 2 and first.asked == 2 and first.uncertain == 4
        u = first.usage
        assert (u.calls, u.cached_calls) == (2, 0) and u.prompt_tokens > 100 and u.completion_tokens > 0
        assert u.cost == pytest.approx(u.prompt_tokens / 1000 + u.completion_tokens / 1000 * 2)
        with open_session(config) as session:  # interrupted after two: the re-run asks only the other two
            again = attribute_scenes(_scenes(), CAST, session)
        assert server.completed == 4
        assert (again.usage.calls, again.usage.cached_calls, again.new_calls) == (4, 2, 2)
        with open_session(config) as session:
            third = attribute_scenes(_scenes(), CAST, session)
        assert server.completed == 4 and third.new_calls == 0 and third.attributed == 2
        assert third.usage.prompt_tokens == again.usage.prompt_tokens


def test_sample_asks_quotes_spread_over_the_text() -> None:
    with StubServer(latency=0.0, responder=_responder) as server, open_session(_config(server)) as session:
        scenes = _scenes()
        uncertain = [ln.text for sc in scenes for ln in sc.lines if ln.metadata.get("attribution") == "uncertain"]
        report = attribute_scenes(scenes, CAST, session, sample=2)
    assert (report.uncertain, report.asked) == (4, 2) and server.completed == 2
    asked = [ln.text for sc in scenes for ln in sc.lines if "lm_answer" in ln.metadata]
    assert asked == [uncertain[1], uncertain[3]]  # the middle of each half, not the first two


def test_lm_error_leaves_the_line_uncertain() -> None:
    scenes = _scenes()
    with StubServer(latency=0.0, faults=["garbage"] + ["500"] * 10, responder=_responder) as server, \
            open_session(_config(server)) as session:
        report = attribute_scenes(scenes, CAST, session, limit=2)
    assert report.attributed == 0 and report.invalid + report.errors == 2
    assert all(ln.speaker is None for ln in scenes[1].lines[:3]) and scenes[0].lines[-1].speaker is None


def test_speaker_output_is_an_enum_without_a_prose_pattern() -> None:
    schema = output_schema(speaker_signature(["Emma", "Harriet"]))
    prop = schema["properties"]["speaker"]
    assert prop["enum"] == ["Emma", "Harriet", "unknown"] and "pattern" not in prop


def test_cli_attribute_writes_lm_speakers(tmp_path: Path, capsys) -> None:
    src, out = tmp_path / "scenes.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(s.model_dump_json() + "\n" for s in _scenes()), encoding="utf-8")
    assert main(["attribute", str(src), "-o", str(out), "--lm", "fake", "--cast", "Emma", "--cast", "Harriet"]) == 0
    printed = capsys.readouterr().out
    assert "4 uncertain quotations, 4 asked" in printed and "calls" in printed
    lines = [ln for row in out.read_text().splitlines() for ln in Scene.model_validate_json(row).lines]
    assert len(lines) == 12
    decided = {ln.text.split()[0]: ln for ln in lines if "lm_answer" in ln.metadata}
    assert set(decided) == {"ASK-ONE", "ASK-TWO", "ASK-THREE", "ASK-FOUR"}
    # the fake LM names the cast member mentioned last before the quotation, else "unknown"
    assert decided["ASK-ONE"].speaker == "Emma" and decided["ASK-ONE"].metadata["attribution"] == "lm"


def test_cli_attribute_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"lines": "not a list"}\n', encoding="utf-8")
    assert main(["attribute", str(bad), "-o", str(tmp_path / "o.jsonl"), "--lm", "fake"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jsonl:1: not a scene" in err[0]
    assert main(["attribute", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--lm", "fake"]) == 2
    assert not (tmp_path / "o.jsonl").exists()


def test_attribute_file_without_a_cast_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "s.jsonl"
    src.write_text(Scene(lines=[_uncertain("Hm.", "no one", 1)]).model_dump_json() + "\n", encoding="utf-8")
    with pytest.raises(AugmentlabError, match="no cast"):
        attribute_file(src, tmp_path / "o.jsonl", LMConfig(kind="fake"))


def test_benchmark_prints_rules_and_rules_plus_lm_side_by_side(capsys) -> None:
    import importlib.util
    import sys

    pdnc = Path(__file__).resolve().parent.parent.parent / "shared" / "pdnc-dev"
    novel = "AlicesAdventuresInWonderland"
    if not (pdnc / novel / "quotation_info.csv").is_file():
        pytest.skip(f"PDNC development novels not found at {pdnc}")
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_attribution.py"
    spec = importlib.util.spec_from_file_location("bench_attribution", path)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)

    assert bench.main([str(pdnc), "--novel", novel]) == 0
    alone = capsys.readouterr().out
    assert "no LM configured: rules only" in alone and "pdnc[rules+lm]" not in alone

    assert bench.main([str(pdnc), "--novel", novel, "--lm", "fake", "--limit", "20"]) == 0
    both = capsys.readouterr().out
    rules = next(ln for ln in both.splitlines() if ln.startswith("pdnc[rules]"))
    assert rules.split(" (")[0] == next(ln for ln in alone.splitlines() if ln.startswith("pdnc[rules]")).split(" (")[0]
    row = next(ln for ln in both.splitlines() if ln.startswith(novel))
    assert row.count("acc=") == 2 and "LM asked 20" in row
    assert "pdnc[rules+lm]" in both and "20 asked" in both and "calls" in both


def test_long_neighbouring_paragraphs_are_elided_but_the_quotation_is_whole() -> None:
    from augmentlab.ingest.attribute_lm import MAX_PARAGRAPH, passage

    long = "word " * 2000
    lines = [Line(text=long, kind=LineKind.narration), _uncertain("ASK " + long, "x", 2)]
    text = passage(lines, 1)
    before, marked = text.split(">>>")
    assert "[...]" in before and len(before) < MAX_PARAGRAPH + 20
    assert marked.count("word") == 2000
