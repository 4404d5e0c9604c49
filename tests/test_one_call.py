"""One call per scene (``writes_scenario = true``) and the grammar adapter's compact prompt."""

from __future__ import annotations

import dspy
import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import GrammarJSONAdapter, LMConfig, compact_field_structure, use_lm
from augmentlab.core.model import Line, LineKind, Scene
from augmentlab.core.text import is_verbatim
from prompts.data import scene_inputs
from prompts.programs import SceneAugmenter, augment_scene
from prompts.signatures import AnnotateActionsOnly, WriteScenario, WriteScenarioAndActions
from prompts.variants import load_variant, parse_variant, render_variant

SCENE = Scene(lines=[
    Line(speaker="Ann", text="Where  were you?"),
    Line(speaker=None, text="The wind rattles the shutters.", kind=LineKind.narration),
    Line(speaker="Bob", text="Out walking. Mind your own business."),
    Line(speaker="Ann", text="It is two in the morning, Bob."),
])


def _front(**options: str) -> str:
    body = "\n".join(f"{k} = {v}" for k, v in options.items())
    return f'+++\nname = "x"\ntask = "actions"\n{body}\n+++\nDo it.\n'


def test_writes_scenario_option_and_its_checks() -> None:
    variant = load_variant("actions/compose_scene")
    assert variant.writes_scenario and variant.output == "actions" and not variant.sees_scenario
    assert not load_variant("actions/compose").writes_scenario
    assert parse_variant(render_variant(variant)).writes_scenario  # survives a save
    with pytest.raises(AugmentlabError, match="needs output = 'actions' and sees_scenario = false"):
        parse_variant(_front(writes_scenario="true", sees_scenario="false"))  # output defaults to lines
    with pytest.raises(AugmentlabError, match="needs output = 'actions' and sees_scenario = false"):
        parse_variant(_front(writes_scenario="true", output='"actions"', sees_scenario="true"))
    with pytest.raises(AugmentlabError, match="only apply to task 'actions'"):
        parse_variant('+++\nname = "x"\ntask = "scenario"\nwrites_scenario = true\n+++\ntext\n')


def test_one_call_program_writes_scenario_and_lines_in_one_call() -> None:
    program = SceneAugmenter(None, "compose_scene")
    assert program.task == "both" and program.writes_scenario and program.scenario_writer is None
    with use_lm(LMConfig(kind="fake", cache=False)):
        one = augment_scene(program, SCENE)
        two = augment_scene(SceneAugmenter("seed", "compose"), SCENE)
    assert one.status == "ok", one.reason
    assert one.usage.calls == 1 and two.usage.calls == 2
    assert one.scenario and "Ann" in one.scenario
    texts = [line.annotated for line in one.lines]
    assert all(is_verbatim(t, line.text) for t, line in zip(texts, SCENE.lines))
    assert texts[1] == SCENE.lines[1].text and texts[0].startswith("*I ")
    # Same scene, the scene sent once instead of twice: fewer tokens in all.
    assert one.usage.total_tokens < two.usage.total_tokens


def test_one_call_program_without_a_scenario_fails_the_scene(monkeypatch: pytest.MonkeyPatch) -> None:
    program = SceneAugmenter(None, "compose_scene")
    real = program.annotator.forward

    def blank(**kwargs):
        pred = real(**kwargs)
        return dspy.Prediction(annotated_lines=pred.annotated_lines, scenario="  ")

    monkeypatch.setattr(program.annotator, "forward", blank)
    with use_lm(LMConfig(kind="fake", cache=False)):
        result = augment_scene(program, SCENE)
    assert result.status == "failed" and result.reason == "empty scenario"


def test_one_call_variant_refuses_a_second_scenario_writer() -> None:
    with pytest.raises(AugmentlabError, match="writes its own scenario"):
        SceneAugmenter("seed", "compose_scene")


def test_compact_structure_names_fields_and_types_without_the_schema() -> None:
    text = compact_field_structure(AnnotateActionsOnly)
    assert text.startswith("Inputs:\n[[ ## lines ## ]]: the scene, numbered `N. Speaker: text`\n")
    assert '"line_actions" (list of {"before": text, "after": text}): one entry per numbered line' in text
    assert "$defs" not in text and "pattern" not in text
    assert '"scenario" (text): the scenario, plain prose' in compact_field_structure(WriteScenario)
    # No input described: no Inputs block; outputs in the order the grammar enforces.
    one_call = compact_field_structure(WriteScenarioAndActions)
    assert "Inputs" not in one_call and "[[ ##" not in one_call
    assert one_call.index('"scenario" (text)') < one_call.index('"line_actions" (list of {"before": text, "after": text})')


def test_grammar_adapter_prompt_is_compact_and_keeps_instructions() -> None:
    adapter = GrammarJSONAdapter()
    program = SceneAugmenter(None, "compose_scene")
    signature = program.annotator.predict.signature
    inputs = {k: v for k, v in scene_inputs(SCENE).items() if k in signature.input_fields}
    system, user = adapter.format(signature, [], inputs)
    assert system["content"].startswith(load_variant("actions/compose_scene").instructions.strip()[:60])
    assert "JSON schema" not in system["content"] and "{scenario}" not in system["content"]
    assert "1. Ann: Where were you?" in user["content"]  # white space collapsed by scene_inputs
    assert user["content"].rstrip().endswith("`scenario`, then `line_actions`.")
    # DSPy's own JSON adapter says the same in far more words.
    dspy_system = dspy.JSONAdapter().format(signature, [], inputs)[0]["content"]
    assert len(system["content"]) < 0.7 * len(dspy_system)


def test_grammar_adapter_demo_answers_are_one_line_json() -> None:
    adapter = GrammarJSONAdapter()
    demo = {"lines": "1. Ann: Hi.", "context": "", "cast": "Ann", "scenario": "Dawn on a pier."}
    messages = adapter.format(WriteScenario.with_instructions("Write it."), [demo], {"lines": "1. Ann: Yo.", "context": "", "cast": "Ann"})
    assert messages[2] == {"role": "assistant", "content": '{"scenario": "Dawn on a pier."}'}
    parsed = adapter.parse(AnnotateActionsOnly, '{"line_actions": [{"before": "I wave.", "after": "I sit."}]}')
    assert parsed["line_actions"][0].before == "I wave."


def test_grammar_leaves_narration_actions_empty() -> None:
    from augmentlab.lm import output_schema

    lines = "1. Ann: Hi.\n2. Rain: it falls on Ann: hard.\n3. Bob: Yo."
    schema = output_schema(WriteScenarioAndActions, {"lines": lines, "cast": "Ann\nBob"})
    prop = schema["properties"]["line_actions"]
    first, narration, last = prop["prefixItems"]
    assert first == last == {"$ref": "#/$defs/LineActions"} and "items" not in prop
    assert narration["properties"] == {"before": {"const": ""}, "after": {"const": ""}}
    assert prop["minItems"] == prop["maxItems"] == 3
    # All speakers, no cast, or a list of plain strings: one item schema for every line.
    assert "prefixItems" not in output_schema(WriteScenarioAndActions, {"lines": "1. Ann: a\n2. Bob: b", "cast": "Ann\nBob"})["properties"]["line_actions"]
    assert "prefixItems" not in output_schema(WriteScenarioAndActions, {"lines": lines, "cast": ""})["properties"]["line_actions"]
    from prompts.signatures import AnnotateActions

    assert "prefixItems" not in output_schema(AnnotateActions, {"lines": lines, "cast": "Ann\nBob"})["properties"]["annotated_lines"]
