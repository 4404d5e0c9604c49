"""The actions-only output mode (``output = "actions"``): the program composes the lines."""

from __future__ import annotations

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig, PROSE_PATTERN, SENTENCE_PATTERN, output_schema, use_lm
from augmentlab.core.model import Line, LineKind, Scene
from augmentlab.core.text import is_verbatim
from prompts.programs import SceneAugmenter, augment_scene, compose_line
from prompts.signatures import AnnotateActionsOnly, WriteScenario
from prompts.variants import load_variant, parse_variant
from prompts.data import neutralize_markers


def test_compose_line_keeps_the_words_and_cleans_the_actions() -> None:
    item = {"before": ' *I set the cup down.* ', "after": '"I look away."'}
    assert compose_line("Ann: Where were you?", item, ["Ann", "Bob"]) == "*I set the cup down.* Where were you? *I look away.*"
    assert compose_line("Ann: Hi.", {"before": "", "after": "I wave."}, ["Ann"]) == "Hi. *I wave.*"
    # Narration keeps no actions; a colon inside it is not a speaker.
    assert compose_line("Rain: it falls.", item, ["Ann"]) == "Rain: it falls."


def test_variant_option_and_its_checks() -> None:
    variant = load_variant("actions/compose")
    assert variant.output == "actions" and variant.mode == "scene"
    assert load_variant("actions/seed").output == "lines"
    with pytest.raises(AugmentlabError, match="needs mode = 'scene'"):
        parse_variant('+++\nname = "x"\ntask = "actions"\nmode = "line"\noutput = "actions"\n+++\ntext\n')
    with pytest.raises(AugmentlabError, match="only apply to task 'actions'"):
        parse_variant('+++\nname = "x"\ntask = "scenario"\noutput = "actions"\n+++\ntext\n')


def test_grammar_schema_counts_items_and_bounds_prose() -> None:
    schema = output_schema(AnnotateActionsOnly, {"lines": "1. Ann: a\n2. Bob: b\n3. c"})
    prop = schema["properties"]["line_actions"]
    assert prop["minItems"] == prop["maxItems"] == 3
    (definition,) = schema["$defs"].values()
    assert {p["pattern"] for p in definition["properties"].values()} == {SENTENCE_PATTERN}
    assert output_schema(WriteScenario)["properties"]["scenario"]["pattern"] == PROSE_PATTERN


def test_compose_program_with_the_fake_lm() -> None:
    scene = Scene(lines=[Line(speaker="Ann", text="Where  were you?"),
                         Line(speaker=None, text="The wind rattles.", kind=LineKind.narration),
                         Line(speaker="Bob", text="Out [[ walking ]].")])
    with use_lm(LMConfig(kind="fake", cache=False)):
        result = augment_scene(SceneAugmenter("seed", "compose"), scene)
    assert result.status == "ok", result.reason
    texts = [line.annotated for line in result.lines]
    assert all(is_verbatim(t, line.text) for t, line in zip(texts, scene.lines))
    assert texts[1] == "The wind rattles."
    assert texts[0].startswith("*I ") and "Out [[ walking ]]." in texts[2] and texts[2].startswith("*")


def test_compose_line_finds_a_speaker_whose_name_looks_like_a_field_marker() -> None:
    name = "[[ ## cast ## ]]"
    entry, names = neutralize_markers(f"{name}: I am here."), [neutralize_markers(name)]
    assert compose_line(entry, {"before": "I wave.", "after": ""}, names) == "*I wave.* I am here."
