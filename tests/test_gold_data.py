"""The project's own data: the hand-written gold set and the shipped sample script."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from augmentlab.core.model import GoldExample, LineKind
from augmentlab.core.text import actions, balanced_asterisks, is_verbatim
from augmentlab.ingest.gold import read_gold

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"
SCRIPTS = REPO / "experiments" / "scripts"
SAMPLE = SCRIPTS / "sample.txt"
PERSONAS = SCRIPTS / "personas.toml"

SPEAKER_RE = re.compile(r"^([A-Z][\w'-]*(?: [A-Z][\w'-]*){0,2}):\s*(.+)$")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _build_module() -> ModuleType:
    path = REPO / "experiments" / "gold" / "build.py"
    spec = importlib.util.spec_from_file_location("gold_build", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gold() -> list[GoldExample]:
    return read_gold(GOLD)


# --------------------------------------------------------------------------------- gold set


def test_gold_has_enough_unique_examples(gold: list[GoldExample]) -> None:
    assert len(gold) >= 16
    ids = [example.id for example in gold]
    assert len(set(ids)) == len(ids)
    assert [example.scene.index for example in gold] == list(range(len(gold)))


def test_gold_ids_are_content_hashes(gold: list[GoldExample]) -> None:
    for example in gold:
        assert example.id == example.scene.id == example.scene.compute_id(), example.scene.heading


def test_gold_scene_shape(gold: list[GoldExample]) -> None:
    for example in gold:
        scene = example.scene
        assert 4 <= len(scene.lines) <= 10, scene.heading
        assert 2 <= len(scene.speakers) <= 3, scene.heading
        assert scene.heading
        for line in scene.lines:
            assert (line.kind is LineKind.dialogue) == (line.speaker is not None)
            assert line.text.strip() and line.text[0] != '"' and line.text[-1] != '"'
            assert "*" not in line.text


def test_gold_annotated_lines_keep_human_words(gold: list[GoldExample]) -> None:
    for example in gold:
        annotated = example.annotated
        assert annotated is not None and len(annotated) == len(example.scene.lines)
        for line, text in zip(example.scene.lines, annotated):
            assert balanced_asterisks(text), text
            assert is_verbatim(text, line.text), (line.text, text)


def test_gold_dialogue_lines_have_first_person_actions(gold: list[GoldExample]) -> None:
    for example in gold:
        for line, text in zip(example.scene.lines, example.annotated or []):
            if line.kind is not LineKind.dialogue:
                continue
            spans = actions(text)
            assert 2 <= sum(len(_sentences(span)) for span in spans) <= 3, text
            assert re.search(r"\b(I|my|me)\b", " ".join(spans)), text
            assert not text.lstrip("* ").startswith(f"{line.speaker}:"), text
            assert not any('"' in span for span in spans), text


def test_gold_scenarios_are_short(gold: list[GoldExample]) -> None:
    for example in gold:
        assert example.scenario, example.scene.heading
        assert 1 <= len(_sentences(example.scenario)) <= 5, example.scenario


def test_gold_personas_cover_every_speaker(gold: list[GoldExample]) -> None:
    for example in gold:
        for speaker in example.scene.speakers:
            assert example.personas.get(speaker, "").strip(), (example.scene.heading, speaker)
        assert set(example.personas) <= set(example.scene.speakers), example.scene.heading


def test_gold_provenance(gold: list[GoldExample]) -> None:
    for example in gold:
        assert example.provenance == {
            "source": "hand-written",
            "author": "augmentlab",
            "set": "handwritten-v1",
        }


def test_gold_jsonl_matches_its_source() -> None:
    build = _build_module()
    examples = build.build()
    assert build.check_all(examples) == []
    assert build.render(examples) == GOLD.read_text(encoding="utf-8"), "run experiments/gold/build.py"


def test_gold_validator_rejects_broken_examples(gold: list[GoldExample]) -> None:
    build = _build_module()
    good = gold[0]
    assert build.problems(good) == []
    first_dialogue = next(
        i for i, line in enumerate(good.scene.lines) if line.kind is LineKind.dialogue
    )

    dropped = good.model_copy(deep=True)
    assert dropped.annotated is not None
    words = dropped.scene.lines[first_dialogue].text.split()
    dropped.annotated[first_dialogue] = "*I nod. I wait.* " + " ".join(words[1:])
    assert any("not verbatim" in p for p in build.problems(dropped))

    unbalanced = good.model_copy(deep=True)
    assert unbalanced.annotated is not None
    unbalanced.annotated[first_dialogue] += " *I sigh."
    assert any("unbalanced" in p for p in build.problems(unbalanced))

    bare = good.model_copy(deep=True)
    assert bare.annotated is not None
    bare.annotated[first_dialogue] = bare.scene.lines[first_dialogue].text
    assert any("0 action sentences" in p for p in build.problems(bare))

    busy = good.model_copy(deep=True)
    assert busy.annotated is not None
    busy.annotated[first_dialogue] += " *I blink. I cough. I shrug. I sit.*"
    assert any("action sentences (want 2-3)" in p for p in build.problems(busy))

    wordy = good.model_copy(deep=True)
    wordy.scenario = "One. Two. Three. Four. Five. Six."
    assert any("scenario has 6 sentences" in p for p in build.problems(wordy))

    no_persona = good.model_copy(deep=True)
    no_persona.personas.pop(good.scene.speakers[0])
    assert any("no persona" in p for p in build.problems(no_persona))

    assert any("duplicate id" in p for p in build.check_all([good, good]))


# ------------------------------------------------------------------------- sample script


def _sample_scenes() -> list[list[str]]:
    scenes: list[list[str]] = []
    for raw in SAMPLE.read_text(encoding="utf-8").splitlines():
        if raw.startswith("## "):
            scenes.append([])
        elif raw.strip():
            assert scenes, "text before the first scene heading"
            scenes[-1].append(raw.strip())
    return scenes


def test_sample_script_shape() -> None:
    scenes = _sample_scenes()
    assert 3 <= len(scenes) <= 4
    speakers: set[str] = set()
    for lines in scenes:
        assert 8 <= len(lines) <= 12
        for line in lines:
            match = SPEAKER_RE.match(line)
            if match:
                speakers.add(match.group(1))
                assert match.group(2).strip()
    assert 2 <= len(speakers) <= 3
    cards = tomllib.loads(PERSONAS.read_text(encoding="utf-8"))
    assert set(cards) == speakers
    for card in cards.values():
        assert {"appearance", "relationships", "manner"} <= set(card)


def test_sample_script_ingests() -> None:
    ingest = pytest.importorskip("augmentlab.ingest")
    load = getattr(ingest, "load", None)
    if load is None:
        pytest.skip("augmentlab.ingest.load not available yet")
    script = load(SAMPLE)
    assert len(script.scenes) >= 3
    speakers = {speaker for scene in script.scenes for speaker in scene.speakers}
    assert len(speakers) >= 2
    assert speakers <= set(tomllib.loads(PERSONAS.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------------- the one gold reader
def test_read_gold_reads_one_file_or_several_and_names_the_bad_line(tmp_path: Path) -> None:
    """``augmentlab.ingest.gold.read_gold`` (the runner, ``metrics`` and the report read gold with it)."""
    from augmentlab.core.errors import AugmentlabError

    first = GOLD.read_text(encoding="utf-8").splitlines()[0]
    everything = read_gold(GOLD)
    assert read_gold([GOLD, GOLD]) == everything + everything
    assert read_gold(str(GOLD))[0] == GoldExample.model_validate_json(first)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f"{first}\n\n{{\"id\": 3}}\n", encoding="utf-8")  # the blank line counts
    with pytest.raises(AugmentlabError, match=r"bad\.jsonl:3: not a gold example \("):
        read_gold(bad)
    bad.write_text(f"{first}\nnot json\n", encoding="utf-8")
    with pytest.raises(AugmentlabError, match=r"bad\.jsonl:2: not valid JSON"):
        read_gold(bad)
    with pytest.raises(AugmentlabError, match=r"gold file not found: .*missing\.jsonl"):
        read_gold(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert read_gold(empty) == []
    with pytest.raises(AugmentlabError, match=r"the gold set is empty: .*empty\.jsonl"):
        read_gold([empty], required=True)
