"""An output that repeats the prompt's own instructions is a gated failure (metrics.copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.ingest.gold import read_gold
from augmentlab.lm import LMConfig, fake
from metrics import composite
from metrics.copied import ISSUE, Instructions, copied_spans, span_copied
from prompts.programs import SceneAugmenter, instruction_text
from test_augment import make_script

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"
# What SmolLM2-135M wrote as the quick start's scenario: the field's description given back.
COPIED = ("Up to five sentences in the present tense that set the scene up: where and when it is, who the "
          "characters are to each other, what each one feels and wants, and the mood.")


@pytest.fixture(scope="module")
def instructions() -> str:
    return instruction_text(SceneAugmenter(None, "compose_scene"))


def test_instruction_text_has_the_prompt_and_the_field_descriptions(instructions):
    assert "You direct a scene of a play" in instructions
    assert "set the scene up" in instructions


def test_the_copied_scenario_is_caught(instructions):
    found = copied_spans(COPIED, None, instructions)
    assert found.copied and found.spans == ["scenario"]
    assert found.reason().startswith(f"{ISSUE} (scenario)")


def test_a_copied_action_is_caught_with_its_line(instructions):
    lines = ["*I turn to Bob.* Hello.", "*I start it with I and a verb of movement, then say to whom or to what* No."]
    found = copied_spans("Ann and Bob stand in a rainy street at night.", lines, instructions)
    assert found.spans == ["line 2"]


def test_short_or_plain_spans_are_not_copies(instructions):
    index = Instructions.of(instructions)
    assert span_copied("I turn.", index) == (False, 0.0)  # shorter than N words: never flagged
    assert not span_copied("I turn to Bob and smile at him.", index)[0]  # the instructions' own verbs, used


def test_no_gold_scenario_or_action_counts_as_copied(instructions):
    gold = read_gold(GOLD)
    assert gold
    for g in gold:
        found = copied_spans(g.scenario, g.annotated, instructions)
        assert not found.copied, (g.id, found.reason())


def test_composite_gates_a_copied_output_to_zero(instructions):
    g = next(x for x in read_gold(GOLD) if x.scenario and x.annotated)
    lines = g.annotated
    honest = composite.score(g, g.scenario, lines, instructions=instructions)
    copied = composite.score(g, COPIED, lines, instructions=instructions)
    unchecked = composite.score(g, COPIED, lines)
    assert honest.score > 0.5
    assert copied.score == 0.0 and ISSUE in copied.feedback and copied.details["copied"] == ["scenario"]
    assert unchecked.score > 0.0  # without the instruction text, nothing to compare with


def test_augment_fails_scenes_whose_scenario_is_the_prompt(tmp_path, monkeypatch):
    monkeypatch.setattr(fake, "write_scenario", lambda prompt: COPIED)
    report = augment_scripts([make_script(2)], tmp_path / "out", LMConfig(kind="fake"),
                             AugmentOptions(concurrency=1, max_attempts=2, write_personas=False))
    assert report.ok == 0 and report.failed == 2 and report.copied == 2
    assert all(f.reason.startswith(ISSUE) for f in report.failures)
    assert any("copied its instructions" in note for note in report.notes())
