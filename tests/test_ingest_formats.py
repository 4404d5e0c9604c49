"""Ren'Py, stage play, Fountain and prose on small original samples (tests/data/scripts)."""

from __future__ import annotations

from pathlib import Path

from augmentlab.ingest import FORMAT_MODULES, FORMATS, load
from augmentlab.ingest.cast import Cast
from augmentlab.ingest.lines import render_annotated
from augmentlab.core.model import LineKind

DATA = Path(__file__).parent / "data" / "scripts"


def test_renpy_sample() -> None:
    script = load(DATA / "garden.rpy")
    assert script.format == "renpy"
    assert [c.name for c in script.characters] == ["Aiko", "Kenji"]
    first = script.scenes[0]
    assert first.heading == "scene bg garden night" and first.setting == "garden night"
    assert first.lines[0].kind is LineKind.narration and first.lines[0].text == "Crickets fill the silence."
    assert first.lines[1].speaker == "Aiko" and first.lines[1].text == "You found the lantern!"
    assert first.lines[2].text == 'It was under the bench, like you said "it would be".'
    texts = [ln.text for ln in script.lines]
    assert "Light it." not in texts and "Leave it dark." not in texts  # menu choices are not lines
    lit = script.scenes[1]
    assert lit.heading == "label lit"
    assert [(ln.speaker, ln.text) for ln in lit.lines] == [("Aiko", "Beautiful."), ("Aiko", "Thank you.")]
    assert script.scenes[2].lines[0].speaker is None  # Character(None) is the narrator


def test_play_sample() -> None:
    script = load(DATA / "tea_and_thunder.txt")
    assert script.format == "play"
    cast = {c.name: c for c in script.characters}
    assert cast["MRS. HALLORAN"].description == "a widow"
    assert cast["MRS. HALLORAN"].aliases == ["MRS HALLORAN"]
    assert cast["PIP"].description == "her nephew"
    scene = script.scenes[0]
    assert scene.setting == "A cramped parlour above a bakery. Rain against the window."
    assert scene.directions[0] == "MRS. HALLORAN is pouring tea. PIP sits on a trunk."
    assert scene.directions[-1] == "CURTAIN"
    assert scene.metadata["act"] == 1
    lines = scene.lines
    assert [ln.speaker for ln in lines] == ["MRS. HALLORAN", "PIP", "MRS. HALLORAN", "THE POSTMAN", "PIP", "MRS. HALLORAN"]
    assert lines[1].text == "It was already damp, Aunt." and lines[1].directions == ["Standing up at once."]
    assert lines[2].text == "Nonsense. Drink that and be grateful."
    assert render_annotated(lines[2]) == "Nonsense. *Hands him a cup.* Drink that and be grateful. *A knock at the door.*"
    assert lines[3].directions == ["Enter THE POSTMAN."]  # an entrance goes with the next speaker
    assert lines[4].text == "I'll take it."  # NAME alone on a line, speech below
    assert lines[5].text == "You will do no such thing."  # **NAME** cue
    assert all("[" not in ln.text and "_" not in ln.text for ln in lines)


def test_fountain_sample() -> None:
    script = load(DATA / "night_ferry.fountain")
    assert script.format == "fountain"
    assert script.title == "The Night Ferry"
    assert [s.heading for s in script.scenes] == ["EXT. FERRY DECK - NIGHT", "INT. FERRY CABIN - CONTINUOUS"]
    assert script.scenes[0].setting == "FERRY DECK - NIGHT"
    deck = script.scenes[0]
    assert deck.directions == ["Rain needles the railings. MARA (30s, soaked) grips a paper cup."]
    assert [ln.speaker for ln in deck.lines] == ["MARA", "JONAS", "JONAS", "MARA"]
    assert deck.lines[0].text == "Forty minutes. Forty." and deck.lines[0].directions == ["to herself"]
    assert deck.lines[1].metadata["extension"] == "(V.O.)"
    assert "Should he be older" not in deck.lines[2].directions[0]  # [[notes]] dropped
    assert "HARBOUR" not in " ".join(s.heading or "" for s in script.scenes)  # boneyard dropped
    cabin = script.scenes[1].lines
    assert [(ln.speaker, ln.metadata.get("dual")) for ln in cabin[:2]] == [("JONAS", True), ("MARA", True)]
    assert script.scenes[1].directions == ["The cabin lights flicker. Jonas drops onto a bench."]  # before any line
    assert cabin[-1].speaker == "McCLANE"
    assert [c.name for c in script.characters] == ["MARA", "JONAS", "McCLANE"]


def test_prose_sample_attribution() -> None:
    script = load(DATA / "moth_story.txt")
    assert script.format == "prose"
    assert [s.heading for s in script.scenes] == ["CHAPTER 1. THE MOTH", "CHAPTER 2. THE TRAIN"]
    lines = script.scenes[0].lines
    assert lines[0].kind is LineKind.narration
    tom = lines[1]
    assert (tom.speaker, tom.text, tom.metadata["attribution"]) == ("Tom", "You are still here,", "tag")
    assert tom.directions == ["said Tom, leaning in the doorway."]
    # Tom, ?, ?, Edith: two people in strict turns, so the untagged answer is Edith's.
    assert lines[2].speaker == "Edith" and lines[2].metadata["attribution"] == "alternation"
    edith = lines[4]
    assert edith.speaker == "Edith" and edith.text == "I have two columns left, and then I shall go."
    assert lines[5].kind is LineKind.narration
    wait = lines[6]
    assert (wait.speaker, wait.metadata["attribution"]) == ("Tom", "alternation")
    guard = script.scenes[1].lines[0]
    # curly quotes; "the guard" is a description, not a name: not guessed
    assert guard.text == "Tickets, please," and guard.metadata["attribution"] == "uncertain" and guard.speaker is None


def test_cast_merges_obvious_variants() -> None:
    cast = Cast(aliases={"THE FLOWER GIRL": "LIZA"})
    names = ["MRS HIGGINS", "MRS. HIGGINS", "Mrs. Higgins:", "JOHN (V.O.)", "JOHN (CONT'D)", "John.", "THE FLOWER GIRL", "Liza"]
    assert [cast.resolve(n) for n in names] == [
        "MRS HIGGINS", "MRS HIGGINS", "MRS HIGGINS", "JOHN", "JOHN", "JOHN", "LIZA", "LIZA",
    ]
    chars = {c.name: c for c in cast.characters()}
    assert set(chars) == {"MRS HIGGINS", "JOHN", "LIZA"}
    assert "THE FLOWER GIRL" in chars["LIZA"].aliases and "MRS. HIGGINS" in chars["MRS HIGGINS"].aliases
    assert cast.counts == {"MRS HIGGINS": 3, "JOHN": 3, "LIZA": 2}


def test_every_format_has_a_reading_module() -> None:
    # ``--format NAME`` is accepted for each of FORMATS; each must have a module with ``parse``.
    assert sorted(FORMAT_MODULES) == sorted(FORMATS)
    for name, module in FORMAT_MODULES.items():
        assert module.__name__ == f"augmentlab.ingest.{name}"
        assert callable(module.parse)
