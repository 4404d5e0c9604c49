"""Every script in the shared corpus, with facts checked by reading the files (and grep)."""

from __future__ import annotations

from pathlib import Path

from augmentlab.ingest import load
from augmentlab.ingest.lines import render_annotated
from augmentlab.core.model import LineKind


def _corpus_scripts(corpus: Path) -> list[Path]:
    skip = {"INFO.md", "debian-copyright.txt", "renpy-license.rst"}
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name not in skip)


def test_every_corpus_script_ingests(corpus_dir: Path) -> None:
    expected = {
        "input.txt": "vn",
        "script.rpy": "renpy",
        "pg844.txt": "play",
        "pg885-0.txt": "play",
        "pg1661.txt": "prose",
    }
    paths = _corpus_scripts(corpus_dir)
    assert paths, "no corpus scripts found"
    for path in paths:
        script = load(path)
        assert script.format == expected[path.name], path
        assert script.scenes and all(s.id and s.lines for s in script.scenes)
        assert [s.index for s in script.scenes] == list(range(len(script.scenes)))
        assert any(ln.speaker for ln in script.lines)


def test_renpy_the_question(corpus_dir: Path) -> None:
    script = load(corpus_dir / "renpy_the_question" / "script.rpy")
    # grep -c '^\s+s "' = 18 and '^\s+m "' = 22 (INFO.md agrees)
    assert script.metadata["lines_per_speaker"] == {"Sylvie": 18, "Me": 22}
    assert [c.name for c in script.characters] == ["Sylvie", "Me"]
    settings = [s.setting for s in script.scenes if s.heading and s.heading.startswith("scene")]
    assert settings[:4] == ["lecturehall", "uni", "meadow", "black"]
    assert "club" in settings
    lines = script.lines
    assert lines[0].kind is LineKind.narration
    assert lines[0].text.startswith("It's only when I hear the sounds of shuffling feet")
    assert lines[-1].text == "Bad Ending."  # {b} text tags removed
    visual = next(ln for ln in lines if ln.text.startswith("Sure, but what's a"))
    assert visual.speaker == "Sylvie" and visual.text == 'Sure, but what\'s a "visual novel?"'  # menu caption
    assert "To ask her right away." not in [ln.text for ln in lines]


def test_importance_of_being_earnest(corpus_dir: Path) -> None:
    script = load(corpus_dir / "wilde_importance_of_being_earnest" / "pg844.txt", token_budget=100_000)
    assert script.title == "The Importance of Being Earnest"
    # cue paragraphs counted with grep over paragraph starts (INFO.md agrees)
    assert script.metadata["lines_per_speaker"] == {
        "Algernon": 201, "Lane": 21, "Jack": 218, "Lady Bracknell": 84, "Gwendolen": 101,
        "Miss Prism": 41, "Cecily": 152, "Chasuble": 42, "Merriman": 17,
    }  # fmt: skip
    assert [s.metadata["act"] for s in script.scenes] == [1, 2, 3]
    first, second, third = script.scenes
    assert first.setting.startswith("Morning-room in Algernon's flat in Half-Moon Street.")
    assert second.setting.startswith("Garden at the Manor House.")
    assert third.setting == "Morning-room at the Manor House."
    assert first.directions[0].startswith("Lane is arranging afternoon tea on the table")
    assert first.directions[-1] == "ACT DROP" and third.directions[-1] == "TABLEAU"
    assert (first.lines[0].speaker, first.lines[0].text) == ("Algernon", "Did you hear what I was playing, Lane?")
    last = script.lines[-1]
    assert last.speaker == "Jack" and last.text.endswith("the vital Importance of Being Earnest.")
    sofa = first.lines[6]
    assert sofa.directions == ["Inspects them, takes two, and sits down on the sofa."]
    assert render_annotated(sofa).startswith("*Inspects them, takes two, and sits down on the sofa.* Oh! . . .")
    cast = {c.name: c for c in script.characters}
    assert cast["Merriman"].description == "Butler" and cast["Lane"].description == "Manservant"
    assert "Hon. Gwendolen Fairfax" in cast["Gwendolen"].aliases
    assert sum(len(ln.directions) for ln in script.lines) > 250
    assert all("[" not in ln.text for ln in script.lines)
    assert all("Gutenberg" not in ln.text for ln in script.lines)  # header/footer stripped


def test_an_ideal_husband(corpus_dir: Path) -> None:
    script = load(corpus_dir / "wilde_ideal_husband" / "pg885-0.txt", token_budget=100_000)
    counts = script.metadata["lines_per_speaker"]
    assert len(counts) == 15
    assert counts["LORD GORING"] == 360 and counts["SIR ROBERT CHILTERN"] == 209
    assert counts["MRS. CHEVELEY"] == 176 and counts["HAROLD"] == 1
    assert [s.metadata["act"] for s in script.scenes] == [1, 2, 3, 4]
    assert script.scenes[0].setting == "The octagon room at Sir Robert Chiltern’s house in Grosvenor Square."
    assert script.scenes[3].setting == "Same as Act II."
    assert script.scenes[3].directions[-1] == "CURTAIN"
    cast = {c.name: c for c in script.characters}
    assert "VISCOUNT GORING" in cast["LORD GORING"].aliases and cast["LORD GORING"].description == "his Son"
    assert "THE EARL OF CAVERSHAM" in cast["LORD CAVERSHAM"].aliases
    assert cast["PHIPPS"].description == "Lord Goring’s Servant"
    chev = next(ln for ln in script.lines if ln.text.startswith("Indeed? I have forgotten all about my"))
    assert chev.speaker == "MRS. CHEVELEY" and chev.directions == ["Superciliously."]  # cue without a period
    assert script.lines[-1].text.endswith("For both of us a new life is beginning.")
    assert all("_" not in ln.text and "NORTHUMBERLAND" not in ln.text for ln in script.lines)


def test_sherlock_holmes_prose(corpus_dir: Path) -> None:
    script = load(corpus_dir / "doyle_adventures_of_sherlock_holmes" / "pg1661.txt", token_budget=100_000)
    headings = [s.heading for s in script.scenes if s.heading]
    assert headings[0] == "ADVENTURE I. A SCANDAL IN BOHEMIA I."
    assert "XII. THE ADVENTURE OF THE COPPER BEECHES" in headings
    assert sum(1 for h in headings if "ADVENTURE" in h and not h.endswith(("I.", "II.", "III."))) >= 11
    dialogue = [ln for ln in script.lines if ln.kind is LineKind.dialogue]
    seven = next(ln for ln in dialogue if ln.text == "Seven!")
    # "Seven!" I answered. The first-person narrator is named from the text: the others call
    # him Watson ("my dear Watson"), so "said I" is Watson's (it was "Narrator" before).
    assert script.metadata["narrator"] == "Watson"
    assert seven.speaker == "Watson" and seven.metadata["attribution"] == "tag"
    dear = next(ln for ln in dialogue if ln.text.startswith("My dear Holmes,"))
    assert dear.speaker == "Watson" and dear.directions[0] == "said I,"
    peculiar = next(ln for ln in dialogue if ln.text.startswith("Peculiar--that is the very word,"))
    assert peculiar.speaker == "Holmes"  # "... word," said Holmes
    # Rules of augmentlab.ingest.attribution; an unresolved quote is "uncertain" with no speaker
    # (the export convention), where it used to be "unknown".
    assert {ln.metadata["attribution"] for ln in dialogue} >= {"tag", "alternation", "pronoun", "uncertain"}
    assert all(ln.speaker is None for ln in dialogue if ln.metadata["attribution"] == "uncertain")
    assert all(ln.speaker for ln in dialogue if ln.metadata["attribution"] != "uncertain")
    assert script.metadata["lines_per_speaker"]["Holmes"] > 100
    # "said Holmes" and "asked Sherlock Holmes" are one character, under the name the book mostly
    # calls him by (Holmes), the fuller one an alias.
    speakers = {ln.speaker for ln in dialogue if ln.speaker}
    cast = {c.name: c for c in script.characters}
    assert "Sherlock Holmes" not in speakers and cast["Holmes"].aliases == ["Sherlock Holmes"]
    obliging = next(ln for ln in dialogue if ln.text == "What is the name of this obliging youth?")
    assert obliging.speaker == "Holmes" and obliging.directions == ["asked Sherlock Holmes."]
    # "said Mr. Wilson" / "said Mr. Jabez Wilson" / "said Jabez Wilson": one client.
    assert {"Mr. Wilson", "Jabez Wilson"} <= set(cast["Mr. Jabez Wilson"].aliases)
    assert "Inspector Bradstreet" in cast["Bradstreet"].aliases
    # "said Lord St. Simon": the period of "St." does not end the name.
    assert "Lord St" not in speakers and not any(s.endswith(" St") for s in speakers)
    slight = next(ln for ln in dialogue if ln.text == "It was a slight, sir, a public slight,")
    assert slight.speaker == "Lord St. Simon" and slight.metadata["attribution"] == "tag"
    assert not any("left unmerged" in w for w in script.warnings)
    assert any(ln.kind is LineKind.narration for ln in script.lines)
    assert script.lines[-1].text.endswith("where I believe that she has met with considerable success.")
