"""Prompt variants and programs, end to end on the FakeLM."""

from __future__ import annotations

import json

import dspy
import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig, use_lm
from augmentlab.core.model import GoldExample, Line, LineKind, Scene
from augmentlab.core.text import is_verbatim
from prompts.data import format_lines, scene_inputs, to_example
from prompts.programs import SceneAugmenter, augment_scene, compose_line, load_program, save_program
from prompts.variants import list_variants, load_variant, parse_variant, save_variant

SCENE = Scene(
    heading="A kitchen",
    lines=[
        Line(speaker=None, text="Rain on the window.", kind=LineKind.narration),
        Line(speaker="Ann", text="Where were you last night?"),
        Line(speaker="Bob", text="Out. Walking by the harbour."),
        Line(speaker="Ann", text="In this weather? You hate the rain."),
    ],
    context=[Line(speaker="Bob", text="I'm home.")],
).with_id()
PERSONAS = {"Ann": "Ann Price, a retired lighthouse keeper with a limp.", "Bob": "Bob Price, her son."}

VARIANT = """+++
name = "tiny"
task = "actions"
description = "test"
mode = "line"
sees_scenario = false
+++
Add actions.
"""


@pytest.fixture()
def fake():
    with use_lm(LMConfig(kind="fake", cache=False)) as lm:
        yield lm


def test_shipped_variants_load():
    ids = {v.id for v in list_variants()}
    assert {"scenario/seed", "actions/seed", "actions/seed_with_scenario", "actions/per_line",
            "actions/third_person", "actions/persona", "scenario/persona", "persona/default"} <= ids
    seed = load_variant("seed", task="actions")
    assert seed.sees_scenario is False and seed.mode == "scene" and seed.min_action_sentences == 2
    assert load_variant("actions/per_line").mode == "line"
    assert load_variant("actions/third_person").person == "third"
    assert load_variant("scenario/seed").max_sentences == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter\n", "must start"),
        ("+++\nname = 'x'\ntask = 'actions'\nAdd.\n", "not closed"),
        ("+++\nname = 'x\n+++\nAdd.\n", "malformed front matter"),
        ("+++\nname = 'x'\ntask = 'actions'\ncolour = 'red'\n+++\nAdd.\n", "unknown option 'colour'"),
        ("+++\nname = 'x'\ntask = 'actions'\nmode = 'word'\n+++\nAdd.\n", "mode"),
        ("+++\nname = 'x'\ntask = 'poem'\n+++\nAdd.\n", "task"),
        ("+++\nname = 'x'\ntask = 'actions'\n+++\n\n", "empty"),
        ("+++\ntask = 'actions'\n+++\nAdd.\n", "needs 'name'"),
        ("+++\nname = 'x'\ntask = 'scenario'\nmode = 'line'\n+++\nAdd.\n", "only apply"),
        ("+++\nname = 'x'\ntask = 'actions'\nactions_per_line = 1\n+++\nAdd.\n", "needs output = 'actions'"),
        ("+++\nname = 'x'\ntask = 'actions'\noutput = 'actions'\nactions_per_line = 3\n+++\nAdd.\n", "actions_per_line"),
    ],
)
def test_malformed_variants_give_one_line(text, message):
    with pytest.raises(AugmentlabError, match=message) as info:
        parse_variant(text, "bad.md")
    assert "\n" not in str(info.value)


def test_missing_variant_names_the_known_ones(tmp_path):
    with pytest.raises(AugmentlabError, match="actions/seed"):
        load_variant("nope", task="actions")
    with pytest.raises(AugmentlabError, match="not found"):
        load_variant(tmp_path / "gone.md")


def test_save_and_load_variant_round_trip(tmp_path):
    variant = parse_variant(VARIANT)
    variant.demos = [{"line": "Ann: Hi.", "annotated_line": "*I wave.* Hi."}]
    path = save_variant(variant, tmp_path)
    again = load_variant(path)
    assert again.model_dump(exclude={"path"}) == variant.model_dump(exclude={"path"})
    assert (tmp_path / "tiny.demos.json").exists()


def test_format_lines_numbers_and_drops_speaker_for_narration():
    assert format_lines(SCENE.lines[:2]) == "1. Rain on the window.\n2. Ann: Where were you last night?"
    inputs = scene_inputs(SCENE, PERSONAS)
    assert inputs["context"] == "1. Bob: I'm home."
    assert inputs["cast"] == "Ann\nBob"
    assert inputs["persona"].splitlines()[0].startswith("Ann: Ann Price")


@pytest.mark.parametrize("actions", ["seed", "seed_with_scenario", "per_line", "third_person", "persona"])
def test_scene_augmenter_end_to_end(fake, actions):
    program = SceneAugmenter("seed", actions)
    result = augment_scene(program, SCENE, PERSONAS)
    assert result.status == "ok", result.reason
    assert result.scenario and len(result.lines) == len(SCENE.lines)
    for augmented in result.lines:
        assert is_verbatim(augmented.annotated, augmented.line.text)
    assert "*" in result.lines[1].annotated
    calls = 1 + (len(SCENE.lines) if actions == "per_line" else 1)
    assert result.usage.calls == calls and result.usage.prompt_tokens > 0
    assert result.program == f"scenario/seed+actions/{actions}"


def test_line_mode_sends_previous_lines(fake):
    program = SceneAugmenter(None, "per_line")
    program(**scene_inputs(SCENE), scenario="A wet night.")
    last = fake.history[-1]["messages"][-1]["content"]
    assert "Walking by the harbour." in last and "I'm home." in last  # previous + context
    assert "You hate the rain." in last


def _prompt_text(lm) -> str:
    return "\n".join(m["content"] for entry in lm.history for m in entry["messages"])


def test_sees_scenario_false_hides_the_scenario(fake):
    secret_scenario = "Zanzibar lighthouse at midnight."
    SceneAugmenter(None, "seed")(**scene_inputs(SCENE), scenario=secret_scenario)
    assert "Zanzibar" not in _prompt_text(fake)
    assert "[[ ## scenario ## ]]" not in _prompt_text(fake)
    fake.history.clear()
    SceneAugmenter(None, "seed_with_scenario")(**scene_inputs(SCENE), scenario=secret_scenario)
    assert "Zanzibar" in _prompt_text(fake)


def test_generated_scenario_reaches_annotator_only_when_seen(fake):
    program = SceneAugmenter("seed", "seed")
    pred = program(**scene_inputs(SCENE))
    annotator_prompt = fake.history[-1]["messages"][-1]["content"]
    assert pred.scenario and pred.scenario not in annotator_prompt


def test_instructions_come_from_the_variant_file(fake):
    SceneAugmenter("seed", None)(**scene_inputs(SCENE))
    system = fake.history[-1]["messages"][0]["content"]
    assert load_variant("scenario/seed").instructions.splitlines()[0] in system


def test_wrong_line_count_fails_with_reason_and_raw(fake, monkeypatch):
    program = SceneAugmenter(None, "seed")
    real = program.annotator.forward

    def short(**kwargs):
        pred = real(**kwargs)
        return dspy.Prediction(annotated_lines=pred.annotated_lines[:-1])

    monkeypatch.setattr(program.annotator, "forward", short)
    result = augment_scene(program, SCENE)
    assert result.status == "failed" and "expected 4 annotated lines, got 3" in result.reason
    assert json.loads(result.raw)["annotated_lines"]


def test_changed_words_are_recorded(fake, monkeypatch):
    program = SceneAugmenter(None, "seed")
    real = program.annotator.forward

    def altered(**kwargs):
        lines = real(**kwargs).annotated_lines
        lines[2] = lines[2].replace("harbour", "harbor")
        return dspy.Prediction(annotated_lines=lines)

    monkeypatch.setattr(program.annotator, "forward", altered)
    result = augment_scene(program, SCENE)
    assert result.status == "failed" and result.reason.endswith("line(s) 3")
    assert len(result.lines) == 4  # nothing thrown away


def test_to_example_fields():
    gold = GoldExample(id="g1", scene=SCENE, scenario="A wet night.", annotated=[ln.text for ln in SCENE.lines],
                       personas=PERSONAS)
    actions = to_example(gold, "actions")
    assert set(actions.inputs().keys()) == {"lines", "context", "cast", "persona", "scenario"}
    assert actions.annotated_lines == gold.annotated and actions.gold_id == "g1"
    assert GoldExample.model_validate_json(actions.gold) == gold
    scenario = to_example(gold, "scenario")
    assert "scenario" not in scenario.inputs().keys() and scenario.labels().scenario == "A wet night."
    with pytest.raises(AugmentlabError, match="no annotated lines"):
        to_example(GoldExample(id="g2", scene=SCENE, scenario="x"), "actions")


def test_save_and_load_program_round_trip(fake, tmp_path):
    program = SceneAugmenter("seed", "seed_with_scenario")
    program.annotator.predict.signature = program.annotator.predict.signature.with_instructions("Optimized text.")
    program.scenario_writer.predict.demos = [dspy.Example(lines="1. A: hi", context="", cast="A", scenario="Dawn.")]
    path = save_program(program, tmp_path / "best.json", {"optimizer": "MIPROv2", "parent": program.name})
    loaded = load_program(path)
    assert loaded.lineage == {"optimizer": "MIPROv2", "parent": "scenario/seed+actions/seed_with_scenario"}
    assert loaded.annotator.predict.signature.instructions == "Optimized text."
    assert len(loaded.scenario_writer.predict.demos) == 1
    inputs = scene_inputs(SCENE)
    assert loaded(**inputs).annotated_lines == program(**inputs).annotated_lines
    assert loaded.name == "optimized/best"


def test_load_program_errors(tmp_path):
    with pytest.raises(AugmentlabError, match="not found"):
        load_program(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(AugmentlabError, match="not a saved program"):
        load_program(bad)


def test_program_needs_a_half():
    with pytest.raises(AugmentlabError):
        SceneAugmenter()
    with pytest.raises(AugmentlabError, match="not a 'actions' variant|expected task"):
        SceneAugmenter(None, load_variant("scenario/seed"))


def test_variants_give_different_fake_outputs(fake):
    inputs = scene_inputs(SCENE)
    outputs = {name: SceneAugmenter("seed", name)(**inputs).annotated_lines for name in ("seed", "seed_with_scenario")}
    assert outputs["seed"] != outputs["seed_with_scenario"]


def test_one_action_per_line_program(fake):
    """``actions_per_line = 1`` (actions/direct_scene): the model is asked for one ``before`` per
    line, the program puts it before the words and writes nothing after them; narration stays bare."""
    variant = load_variant("actions/direct_scene")
    assert variant.actions_per_line == 1 and variant.writes_scenario
    program = SceneAugmenter(None, variant)
    fields = program.annotator.predict.signature.output_fields
    item = fields["line_actions"].annotation.__args__[0]
    assert list(item.model_fields) == ["before"]
    result = augment_scene(program, SCENE, PERSONAS)
    assert result.status == "ok", result.reason
    assert result.scenario and result.usage.calls == 1
    assert result.lines[0].annotated == "Rain on the window."
    for augmented in result.lines[1:]:
        text = augmented.annotated
        assert is_verbatim(text, augmented.line.text)
        assert text.startswith("*") and text.endswith(augmented.line.text)  # one action, before the words
    item = item(before="I lean on the sill.")  # what the parser makes of the model's entry
    assert compose_line("Ann: Out.", item, ["Ann"]) == "*I lean on the sill.* Out."
