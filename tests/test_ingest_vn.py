"""Visual-novel dumps: cues, narration, quotes, directions, scenes, cast merging."""

from __future__ import annotations

from pathlib import Path

from augmentlab.ingest import iter_scenes, load
from augmentlab.ingest.lines import render_annotated
from augmentlab.core.model import LineKind

DATA = Path(__file__).parent / "data" / "scripts"


def test_lighthouse_sample_lines_and_scenes() -> None:
    script = load(DATA / "vn_lighthouse.txt")
    assert script.format == "vn"
    assert [s.heading for s in script.scenes] == ["Chapter 1: The Lighthouse Stairs", None, "The Lamp Room"]
    assert script.scenes[0].setting == "The Lighthouse Stairs"
    assert [s.index for s in script.scenes] == [0, 1, 2]
    assert all(s.id == s.compute_id() for s in script.scenes)
    first = script.scenes[0].lines
    assert first[0].kind is LineKind.narration and first[0].speaker is None
    assert first[1].speaker == "Juno" and first[1].text == "You're late again."
    assert first[1].directions == ["She taps the railing with one finger."]
    assert render_annotated(first[1]) == "You're late again. *She taps the railing with one finger.*"
    assert first[3].speaker == "Juno" and first[3].text == "Then you'd better climb faster."  # [Name] tag
    assert first[4].text == "Fine, fine."  # quotes removed
    multi = script.scenes[1].lines[0]
    assert multi.speaker == "Teo" and multi.text == "Is it always this windy up here?\nEvery single night?"
    lamp = script.scenes[2].lines
    assert lamp[1].speaker == "Juno" and lamp[1].text == "Hold this."  # Name「line」
    assert lamp[2].text == "(It's heavier than it looks...) Got it."  # parentheses are words in a VN


def test_lighthouse_cast_merges_variants() -> None:
    script = load(DATA / "vn_lighthouse.txt")
    names = [c.name for c in script.characters]
    assert names == ["Juno", "Teo", "MRS. ODA", "The Keeper"]
    oda = script.characters[2]
    assert oda.aliases == ["Mrs Oda"]
    speakers = [line.speaker for line in script.scenes[2].lines]
    assert speakers == [None, "Juno", "Teo", "MRS. ODA", "MRS. ODA", "The Keeper"]


def test_user_aliases_map_names() -> None:
    script = load(DATA / "vn_lighthouse.txt", aliases={"The Keeper": "Mrs. Oda"})
    assert script.scenes[2].lines[-1].speaker == "MRS. ODA"
    assert "The Keeper" in script.characters[2].aliases


def test_context_carries_previous_lines() -> None:
    script = load(DATA / "vn_lighthouse.txt", context_lines=2)
    assert script.scenes[0].context == []
    assert [ln.text for ln in script.scenes[1].context] == ["Then you'd better climb faster.", "Fine, fine."]
    none = load(DATA / "vn_lighthouse.txt", context_lines=0)
    assert all(scene.context == [] for scene in none.scenes)


def test_token_budget_splits_on_line_boundaries() -> None:
    whole = load(DATA / "vn_lighthouse.txt", token_budget=10_000)
    small = load(DATA / "vn_lighthouse.txt", token_budget=12)
    assert len(small.scenes) > len(whole.scenes)
    assert [ln.text for ln in small.lines] == [ln.text for ln in whole.lines]
    assert [s.index for s in small.scenes] == list(range(len(small.scenes)))
    assert len({s.id for s in small.scenes}) == len(small.scenes)
    parts = [s.metadata["part"] for s in small.scenes if s.heading == "The Lamp Room"]
    assert parts[0] == 1 and parts[-1] > 1


def test_crlf_mixed_endings_and_bom() -> None:
    script = load(DATA / "vn_crlf_mixed.txt")
    assert [s.heading for s in script.scenes] == ["Scene 1: Kitchen", "Scene 2: Garden"]
    assert [ln.text for ln in script.lines] == ["Morning.", "Morning. — coffee?", "Later.", "Suit yourself."]
    assert script.lines[-1].directions == ["shrugs"]
    assert all("\r" not in ln.text for ln in script.lines)
    bom = load(DATA / "vn_bom.txt")
    assert bom.lines[0].speaker == "Anna" and bom.lines[0].text == "BOM first."


def test_streaming_matches_load() -> None:
    stream = iter_scenes(DATA / "vn_lighthouse.txt")
    scenes = list(stream)
    assert [s.id for s in scenes] == [s.id for s in load(DATA / "vn_lighthouse.txt").scenes]
    assert stream.script().characters[0].name == "Juno"


def test_tinyshakespeare(corpus_dir: Path) -> None:
    path = corpus_dir / "tinyshakespeare" / "input.txt"
    script = load(path)
    assert script.format == "vn"
    lines = script.lines
    assert all(ln.speaker for ln in lines)  # every turn has a cue; no narration
    assert lines[0].speaker == "First Citizen"
    assert lines[0].text == "Before we proceed any further, hear me speak."
    assert lines[-1].speaker == "ANTONIO"
    assert lines[-1].text.endswith("Whiles thou art waking.")
    counts = script.metadata["lines_per_speaker"]
    # 229 "GLOUCESTER:" cues, 18 of them with no speech after them (verified with grep).
    assert counts["GLOUCESTER"] == 211
    assert counts["MENENIUS"] == 161
    # verse lines ending in ':' stay inside the speech
    menenius = next(ln for ln in lines if ln.text.startswith("There was a time when all the body's members"))
    assert "Rebell'd against the belly, thus accused it:" in menenius.text
    assert counts["Senators, &C"] == 2  # names with a comma and an ampersand
    assert "Ghost of King Henry VI" not in counts  # its cue has no speech (line 11401)
    assert max(len(s.lines) for s in script.scenes) > 1 and len(script.scenes) > 100
