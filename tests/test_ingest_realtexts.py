"""Real texts the parsers were not written against (tests/data/*/SOURCE.md): plays in other
typographic styles, a mixed prose-and-play book, a Ren'Py game, a Fountain screenplay.

Speech counts are checked against a count made here by grep-like rules on the raw text."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from augmentlab.ingest import iter_scenes, load

DATA = Path(__file__).parent / "data"


def _unzip(name: str, tmp_path: Path) -> Path:
    source = DATA / name
    target = tmp_path / source.name.removesuffix(".gz")
    target.write_bytes(gzip.decompress(source.read_bytes()))
    return target


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8").splitlines()


def _within(found: int, expected: int, share: float = 0.05) -> bool:
    return abs(found - expected) <= share * expected


def _ingest(path: Path) -> tuple[object, list]:
    stream = iter_scenes(path)
    lines = [line for scene in stream for line in scene.lines]
    return stream, lines


def test_pinero_cues_alone_indented_acts_crlf(tmp_path: Path) -> None:
    path = _unzip("plays/pinero_mind_the_paint_girl_pg21849.txt.gz", tmp_path)
    raw = path.read_bytes()
    assert b"\r\n" in raw
    text = _lines(path)
    first_act = next(i for i, line in enumerate(text) if line.strip() == "THE FIRST ACT")
    end = next(i for i, line in enumerate(text) if line.strip() == "THE END.")
    # A cue is a capitals line standing alone, ending in a period, with a blank line above.
    cues = sum(
        1
        for i in range(first_act, end)
        if re.fullmatch(r"[A-Z][A-Z .'-]+\.", text[i]) and not text[i - 1].strip()
    )
    stream, lines = _ingest(path)
    assert stream.format == "play"
    speeches = [line for line in lines if line.speaker]
    assert _within(len(speeches), cues), (len(speeches), cues)
    # The first speech of the play is kept (an act heading inside a speech no longer hides it).
    assert speeches[0].source_line < first_act + 200
    smythe = next(line for line in speeches if line.text.startswith("Second act; what's the matter"))
    assert smythe.speaker == "SMYTHE"
    ledger = stream.ledger
    assert ledger.unexplained == 0
    assert ledger.skipped["cast list"].lines >= 20
    assert ledger.speech_skip_share() < 0.01
    cast = {c.name: c.description for c in stream.script().characters}
    assert cast.get("SMYTHE") == "Manager of the Pandora Theatre"
    assert all(not name.startswith("(") for name in cast)


def test_pinero_act_headings_are_scenes(tmp_path: Path) -> None:
    script = load(_unzip("plays/pinero_mind_the_paint_girl_pg21849.txt.gz", tmp_path))
    assert sorted({s.metadata["act"] for s in script.scenes}) == [1, 2, 3, 4]
    assert script.scenes[0].heading == "THE FIRST ACT"


def test_pygmalion_is_detected_as_a_play_inside_prose(tmp_path: Path) -> None:
    path = _unzip("plays/shaw_pygmalion_pg3825.txt.gz", tmp_path)
    text = _lines(path)
    act1 = text.index("ACT I")
    rule = next(i for i, line in enumerate(text) if line.strip().startswith("*****"))
    # Speeches: paragraphs opening with a capitals cue, ``NAME. text`` or ``NAME [direction] text``.
    cues = sum(
        1
        for i in range(act1, rule)
        if not text[i - 1].strip() and re.match(r"[A-Z][A-Z .'-]+(?:\. | ?\[)", text[i])
    )
    stream, lines = _ingest(path)
    assert stream.format == "play"
    speeches = [line for line in lines if line.speaker]
    assert _within(len(speeches), cues), (len(speeches), cues)
    liar = [line for line in speeches if line.speaker == "HIGGINS" and line.text.startswith("Liar.")]
    assert liar and liar[0].directions == ["shocked at girl's mendacity"]
    # An unbracketed direction paragraph is a direction, not words of the speech before it.
    assert not any("Freddy rushes in out of the rain" in line.text for line in lines)
    assert not any("HIGGINS. I" == line.speaker for line in speeches)
    parts = stream.ledger.as_dict()["parts"]
    whats = [part["what"] for part in parts]
    assert whats == [
        "skipped: Project Gutenberg header",
        "skipped: front matter",
        "read as play",
        "skipped: prose section after the play",
        "skipped: Project Gutenberg footer (licence)",
    ]
    assert parts[2]["lines"].startswith(f"{act1 + 1}-")
    assert stream.ledger.unexplained == 0


def test_sheridan_single_space_cues_and_dashed_scene_headings(tmp_path: Path) -> None:
    path = _unzip("plays/sheridan_school_for_scandal_pg1929_excerpt.txt.gz", tmp_path)
    text = _lines(path)
    act1 = text.index("ACT I")
    cues = sum(
        1
        for i in range(act1, len(text))
        if not text[i - 1].strip() and re.match(r"[A-Z][A-Z .'-]+\. \S", text[i])
    )
    stream, lines = _ingest(path)
    assert stream.format == "play"
    speeches = [line for line in lines if line.speaker]
    assert _within(len(speeches), cues), (len(speeches), cues)
    assert speeches[0].speaker == "LADY SNEERWELL"
    assert speeches[0].text == "The Paragraphs you say were all inserted:"
    first = load(path).scenes[0]
    assert first.heading == "ACT I, SCENE I.--LADY SNEERWELL'S House"
    assert (first.setting or "").startswith("LADY SNEERWELL'S House LADY SNEERWELL at her dressing table")
    assert stream.ledger.unexplained == 0


def test_learn_to_code_rpg_renpy(tmp_path: Path) -> None:
    path = _unzip("games/learntocoderpg_script.rpy.gz", tmp_path)
    text = _lines(path)
    stream, lines = _ingest(path)
    assert stream.format == "renpy"
    # Says: a line opening with a name that is not a Ren'Py statement word, then a string (any
    # image attributes in between: -sweat, @ laugh; either quote).
    statements = set(
        "play show hide scene call jump define default image with voice menu label return if elif else "
        "python window pause stop queue nvl extend init transform screen style renpy camera".split()
    )
    says = sum(
        1
        for line in text
        if (m := re.match(r"\s*([A-Za-z_]\w*)\b[^=(]*?[\"']", line)) and m.group(1) not in statements
    )
    dialogue = [line for line in lines if line.speaker]
    assert _within(len(dialogue), says, 0.05), (len(dialogue), says)
    assert any(line.text.startswith("How big is \"big\" data anyway?") for line in dialogue)
    ledger = stream.ledger
    assert ledger.unexplained == 0
    assert ledger.speech_like_skipped == 0
    assert ledger.skipped["menu choice"].lines > 10


def test_library_freak_out_fountain() -> None:
    path = DATA / "screenplays" / "hall_the_library_freak_out.fountain"
    text = _lines(path)
    cues = sum(
        1
        for i, line in enumerate(text)
        if re.fullmatch(r"[A-Z][A-Z ]+", line) and not text[i - 1].strip() and i + 1 < len(text) and text[i + 1].strip()
    )
    stream, lines = _ingest(path)
    assert stream.format == "fountain"
    assert stream.script().title == "THE LIBRARY FREAK-OUT"
    speeches = [line for line in lines if line.speaker]
    assert len(speeches) == cues
    sung = next(line for line in speeches if line.text.startswith("Neema-sasim"))
    assert sung.speaker == "NAR" and sung.directions[-1] == "sings"
    ledger = stream.ledger
    assert ledger.unexplained == 0
    assert ledger.skipped["title page"].lines == 11
    assert ledger.skipped["transition"].lines == 2


@pytest.mark.parametrize(
    "name",
    ["plays/pinero_mind_the_paint_girl_pg21849.txt.gz", "plays/shaw_pygmalion_pg3825.txt.gz"],
)
def test_forcing_play_gives_the_same_as_detection(name: str, tmp_path: Path) -> None:
    path = _unzip(name, tmp_path)
    detected = [s.id for s in load(path).scenes]
    forced = [s.id for s in load(path, "play").scenes]
    assert detected == forced


def test_hedda_gabler_act_first_cues_alone_and_a_long_front_matter(tmp_path: Path) -> None:
    path = _unzip("plays/ibsen_hedda_gabler_pg4093.txt.gz", tmp_path)
    text = _lines(path)
    start = text.index("ACT FIRST.")
    end = text.index("THE END")
    cues = sum(
        1 for i in range(start, end) if re.fullmatch(r"[A-Z][A-Z .'-]+\.", text[i]) and not text[i - 1].strip()
    )
    stream, lines = _ingest(path)
    # The translator's introduction fills the head: detected from windows further in.
    assert stream.format == "play" and "windows" in stream.detection_reason
    speeches = [line for line in lines if line.speaker]
    assert _within(len(speeches), cues), (len(speeches), cues)
    # ``MRS. ELVSTED enters from the hall.`` is a direction, not a speech of "MRS".
    assert "MRS" not in {line.speaker for line in speeches}
    assert "FOOTNOTES" not in {line.speaker for line in speeches}
    whats = [part["what"] for part in stream.ledger.as_dict()["parts"]]
    assert whats[2:4] == ["read as play", "skipped: after the end of the play"]
    assert stream.ledger.unexplained == 0


def test_enemy_of_the_people_title_case_cues_with_a_direction(tmp_path: Path) -> None:
    path = _unzip("plays/ibsen_enemy_of_the_people_pg2446_excerpt.txt.gz", tmp_path)
    text = _lines(path)
    start = text.index("ACT I")
    cue = re.compile(r"(?:Mr\.|Mrs\.|Dr\. )?[A-Z][a-z]+(?: [A-Z][a-z]+)?(?: \([^)]*\))?\. ")
    cues = sum(1 for i in range(start, len(text)) if not text[i - 1].strip() and cue.match(text[i]))
    stream, lines = _ingest(path)
    assert stream.format == "play"
    speeches = [line for line in lines if line.speaker]
    assert _within(len(speeches), cues), (len(speeches), cues)
    billing = next(line for line in speeches if line.text.startswith("It is uncommonly good"))
    assert billing.speaker == "Billing" and billing.directions == ["as he eats"]
    names = {c.name for c in stream.script().characters}
    assert {"Dr. Stockmann", "Peter Stockmann", "Petra", "Hovstad", "Aslaksen"} <= names
    assert not any("Constable" in name for name in names)  # a wrapped cast-list line is no person
    assert stream.ledger.unexplained == 0
