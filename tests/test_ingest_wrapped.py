"""Speeches wrapped over several lines (``NAME: words`` dialogues from Project Gutenberg), front
matter before the first speech, and the flag for wrapped speeches read as narration (#24, part 2).

The expected speeches are counted from the raw text here, not with the reader: a paragraph
(blank-line separated) opening with a capitals cue and a colon is one speech.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import augmentlab.ingest.vn as vn
from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.cli import main
from augmentlab.core.text import spoken_text, words
from augmentlab.export import build_examples, load_output
from augmentlab.lm import LMConfig
from augmentlab.core.model import LineKind
from augmentlab.ingest import iter_scenes, load
from augmentlab.ingest.accounting import Ledger
from augmentlab.ingest.detect import detect
from augmentlab.ingest.front_matter import cast_names
from augmentlab.ingest.lines import join_wrapped, wrap_width

DATA = Path(__file__).parent / "data" / "wrapped"
EUTHYPHRO = DATA / "euthyphro_pg1642_excerpt.txt"
MENO = DATA / "meno_pg1643_excerpt.txt"
CRITO = DATA / "crito_pg1657_excerpt.txt"
_CUE = re.compile(r"^([A-Z][A-Z ]*[A-Z]):\s+(\S.*)$")
_NOT_SPEAKERS = {"PERSONS OF THE DIALOGUE", "SCENE"}


def _paragraphs(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    return [[line.strip() for line in block.split("\n") if line.strip()] for block in re.split(r"\n\s*\n", text)]


def _expected_speeches(path: Path) -> list[tuple[str, str]]:
    """``(speaker, words)`` of every paragraph that opens with a cue, from the raw text."""
    speeches = []
    for block in _paragraphs(path):
        match = _CUE.match(block[0]) if block else None
        if match and match.group(1) not in _NOT_SPEAKERS:
            speeches.append((match.group(1), " ".join([match.group(2), *block[1:]])))
    return speeches


def _squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("path", [EUTHYPHRO, MENO, CRITO], ids=lambda p: p.stem)
def test_every_wrapped_speech_comes_out_whole(path: Path) -> None:
    script = load(path)
    assert script.format == "vn"
    speeches = [line for line in script.lines if line.kind is LineKind.dialogue]
    expected = _expected_speeches(path)
    assert len(expected) > 60
    assert len(speeches) == len(expected)  # one line per speech, none cut into pieces
    assert [line.speaker for line in speeches] == [speaker for speaker, _ in expected]
    for line, (_, words) in zip(speeches, expected):
        assert "\n" not in line.text
        assert _squeezed(line.text) == _squeezed(words)  # the whole speech, every word in order
    multi = sum(1 for block in _paragraphs(path) if block and _CUE.match(block[0]) and len(block) > 1)
    assert multi > len(expected) / 3  # most of these are wrapped speeches
    assert script.metadata["accounting"]["unexplained"] == 0


def test_euthyphro_gives_the_issues_figures() -> None:
    """#24: 232 speeches of two speakers (it read 235 dialogue and 611 narration lines before)."""
    stream = iter_scenes(EUTHYPHRO)
    scenes = list(stream)
    lines = [line for scene in scenes for line in scene.lines]
    script = stream.script(scenes)
    dialogue = [line for line in lines if line.kind is LineKind.dialogue]
    assert len(dialogue) == 232
    assert script.metadata["lines_per_speaker"] == {"EUTHYPHRO": 116, "SOCRATES": 116}
    assert [c.name for c in script.characters] == ["EUTHYPHRO", "SOCRATES"]
    # The only narration: the verse Socrates quotes and his words after it (uncued paragraphs).
    assert [line.text for line in lines if line.kind is LineKind.narration] == [
        "'Of Zeus, the author and creator of all these things, You will not tell: "
        "for where there is fear there is also reverence.'",
        "Now I disagree with this poet. Shall I tell you in what respect?",
    ]
    assert dialogue[0].text == (
        "Why have you left the Lyceum, Socrates? and what are you doing in the Porch of the King "
        "Archon? Surely you cannot be concerned in a suit before the King, like myself?"
    )
    raw = EUTHYPHRO.read_text(encoding="utf-8").splitlines()
    assert raw[dialogue[0].source_line - 1].startswith("EUTHYPHRO: Why have you left")  # its cue line
    assert script.scenes[0].setting == "The Porch of the King Archon."  # from ``SCENE: ...``
    assert script.metadata["wrap_width"] == 72


def test_euthyphro_front_matter_is_reported_not_read() -> None:
    stream = iter_scenes(EUTHYPHRO)
    texts = [line.text for scene in stream for line in scene.lines]
    raw = EUTHYPHRO.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(raw, 1) if line.startswith("*** START"))
    persons = next(i for i, line in enumerate(raw, 1) if line.startswith("PERSONS OF THE DIALOGUE"))
    front = sum(1 for line in raw[start:persons] if line.strip())  # from after START to PERSONS, inclusive
    ledger = stream.ledger
    assert ledger.front_matter == front == 60
    assert ledger.skipped["front matter"].ranges[0][1] == persons
    assert ledger.unexplained == 0
    intro = next(i for i, line in enumerate(raw, 1) if line.strip() == "INTRODUCTION.")
    part = next(p for p in ledger.as_dict()["parts"] if p["what"] == "skipped: front matter")
    first, last = (int(n) for n in part["lines"].split("-"))
    assert first < intro < last == persons
    assert not any("Anytus had parted from Socrates" in text for text in texts)


def test_inspect_shows_front_matter_and_wrapping(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(EUTHYPHRO), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["line_kinds"] == {"dialogue": 232, "narration": 2}
    assert summary["accounting"]["front_matter"] == 60
    assert summary["accounting"]["findings"] == []
    assert summary["wrap_width"] == 72
    assert main(["inspect", str(EUTHYPHRO)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"front matter\s*│\s*60 lines", out)
    assert "wrapped at 72 columns" in out
    assert "probably wrapped speeches" not in out


def test_flag_fires_on_the_old_misread(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Read line by line (as before #24: wrapping not seen), the continuation lines become
    narration right after a speech line cut mid-sentence, and inspect says so."""
    monkeypatch.setattr(vn, "wrap_width", lambda lines: None)
    stream = iter_scenes(EUTHYPHRO)
    lines = [line for scene in stream for line in scene.lines]
    narration = sum(1 for line in lines if line.kind is LineKind.narration)
    assert sum(1 for line in lines if line.kind is LineKind.dialogue) == 233  # one prose line reads as a cue
    assert narration > 300  # the continuation lines of 124 wrapped speeches
    ledger = stream.ledger
    assert 2 * ledger.narration_after_speech > narration
    finding = ledger.misread()
    assert finding == (
        f"{ledger.narration_after_speech} of {narration} narration lines directly follow a speech "
        "without a blank line: probably wrapped speeches read as narration"
    )
    assert main(["inspect", str(EUTHYPHRO)]) == 0
    assert "probably wrapped speeches read as narration" in capsys.readouterr().out
    assert main(["ingest", str(EUTHYPHRO), "-o", "-"]) == 0
    assert f"warning: {finding}" in capsys.readouterr().err


def test_misread_needs_most_narration_after_speeches() -> None:
    ledger = Ledger()
    ledger.take("narration", 1, 10)
    ledger.narration_after_speech = 5
    assert ledger.misread() is None  # half is not most
    ledger.narration_after_speech = 6
    assert ledger.misread() == (
        "6 of 10 narration lines directly follow a speech without a blank line: probably wrapped speeches read as narration"
    )
    few = Ledger()
    few.take("narration", 1, 2)
    few.narration_after_speech = 2
    assert few.misread() is None  # two lines are not a pattern


def _colon_dump(rpy: Path) -> tuple[str, int, int]:
    """The Ren'Py demo as a box-per-line ``Name: "words"`` dump (narration as bare lines, no blank
    lines between, as dump extractors write them); with its counts of speeches and narration."""
    names = {"s": "Sylvie", "m": "Me"}
    out: list[str] = []
    speeches = narration = 0
    for line in rpy.read_text(encoding="utf-8-sig").splitlines():
        said = re.match(r'^\s+([sm]) "(.*)"$', line)
        told = re.match(r'^\s+"(.*)"$', line)
        if said:
            out.append(f'{names[said.group(1)]}: "{said.group(2)}"'.replace('\\"', '"'))
            speeches += 1
        elif told:
            out.append(re.sub(r"\{/?\w+\}", "", told.group(1)).replace('\\"', '"'))
            narration += 1
    return "\n".join(out) + "\n", speeches, narration


def test_box_per_line_dump_keeps_each_line(corpus_dir: Path, tmp_path: Path) -> None:
    text, speeches, narration = _colon_dump(corpus_dir / "renpy_the_question" / "script.rpy")
    path = tmp_path / "the_question.txt"
    path.write_text(text, encoding="utf-8")
    assert wrap_width(text.splitlines()) is None
    narrow = [box for box in text.splitlines() if len(box) <= 100]  # as wide as wrapped text may be
    for every in (2, 3):  # boxes in short paragraphs are not wrapped text either
        spaced = [box + ("\n" if i % every == every - 1 else "") for i, box in enumerate(narrow)]
        assert wrap_width("\n".join(spaced).split("\n")) is None
    stream = iter_scenes(path)
    lines = [line for scene in stream for line in scene.lines]
    assert stream.format == "vn"
    assert sum(1 for line in lines if line.speaker) == speeches == 40
    assert sum(1 for line in lines if line.speaker is None) == narration
    assert len(lines) == len(text.splitlines())  # every text box its own line, narration kept in place
    assert stream.ledger.front_matter == 0
    assert stream.ledger.misread() is None


def test_short_dump_narration_before_the_first_speech_stays(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("# Chapter 1\n\nThe rain has not stopped for days.\nMika: You came.\nRen: I said I would.\n", encoding="utf-8")
    stream = iter_scenes(path)
    lines = [line for scene in stream for line in scene.lines]
    assert [(line.speaker, line.text) for line in lines] == [
        (None, "The rain has not stopped for days."),
        ("Mika", "You came."),
        ("Ren", "I said I would."),
    ]
    assert stream.ledger.front_matter == 0


def test_crito_old_header_and_introduction_are_front_matter() -> None:
    """The 1999 'Etext' header has no START line: it and the introduction, all before the cast
    list, are front matter; ``--`` at a line's end joins the next word."""
    stream = iter_scenes(CRITO)
    lines = [line for scene in stream for line in scene.lines]
    assert stream.format == "vn"
    raw = CRITO.read_text(encoding="utf-8").splitlines()
    persons = next(i for i, line in enumerate(raw, 1) if line.startswith("PERSONS OF THE DIALOGUE"))
    assert stream.ledger.front_matter == sum(1 for line in raw[:persons] if line.strip())
    dash = next(line for line in lines if "the greatest good--and what a fine thing" in line.text)
    assert dash.speaker == "SOCRATES"


def test_cast_list_names_go_to_the_cast() -> None:
    assert cast_names(["Meno, Socrates, A Slave of Meno (Boy), Anytus."]) == [
        ("Meno", None),
        ("Socrates", None),
        ("Boy", "A Slave of Meno"),
        ("Anytus", None),
    ]
    assert cast_names(["SOCRATES, a philosopher", "EUTHYPHRO, a prophet"]) == [
        ("SOCRATES", "a philosopher"),
        ("EUTHYPHRO", "a prophet"),
    ]
    script = load(MENO)
    listed = {c.name: c for c in script.characters}
    assert script.metadata["lines_per_speaker"] == {"MENO": 45, "SOCRATES": 44}
    assert listed["Boy"].description == "A Slave of Meno" and "Anytus" in listed


def test_join_wrapped_and_wrap_width(corpus_dir: Path) -> None:
    assert join_wrapped(["the greatest good--", "and what a fine thing"]) == "the greatest good--and what a fine thing"
    assert join_wrapped(["a well-", "known man"]) == "a well-known man"
    assert join_wrapped(["he paused -", "and went on"]) == "he paused - and went on"
    assert join_wrapped(["one", "two", "three"]) == "one two three"
    head = EUTHYPHRO.read_text(encoding="utf-8").splitlines()[:400]
    assert wrap_width(head) == 72
    shakespeare = (corpus_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").splitlines()[:400]
    assert wrap_width(shakespeare) is None  # verse: line lengths are the poet's
    crito = CRITO.read_text(encoding="utf-8").splitlines()
    persons = next(i for i, line in enumerate(crito) if line.startswith("PERSONS OF THE DIALOGUE"))
    assert wrap_width(crito[:persons]) is not None  # the old header is wrapped narrower than the dialogue


def test_dialogue_after_a_prose_head_is_detected_by_its_cues() -> None:
    """A head of header and introduction with quotation marks reads as prose; when windows further
    in are mostly ``NAME: speech`` cues, the file is a dialogue (1657.txt whole: 2 of 3 windows)."""
    raw = CRITO.read_text(encoding="utf-8").splitlines()
    persons = next(i for i, line in enumerate(raw) if line.startswith("PERSONS OF THE DIALOGUE"))
    head = raw[:persons]  # the header's "Small Print!" quotation marks make it look like prose
    assert detect(CRITO, head).format == "prose"
    windows = [raw[persons : persons + 150], raw[persons + 150 : persons + 300]]
    found = detect(CRITO, head, windows)
    assert found.format == "vn" and found.reason == "Name: line dialogue in 2 of 2 windows (prose before it)"


def test_cast_list_under_a_heading_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "play.txt"
    path.write_text(
        "THE PERSONS OF THE PLAY\n\nNORA, a young wife\nHELMER, her husband\n\nSCENE: A room in the Helmers' flat.\n\n"
        "NORA: Hide the tree well, Helene.\nHELMER: Is that my little lark twittering out there?\n",
        encoding="utf-8",
    )
    script = load(path, format="vn")
    assert [(line.speaker, line.text) for line in script.lines] == [
        ("NORA", "Hide the tree well, Helene."),
        ("HELMER", "Is that my little lark twittering out there?"),
    ]
    assert [(c.name, c.description) for c in script.characters] == [("NORA", "a young wife"), ("HELMER", "her husband")]
    assert script.metadata["accounting"]["front_matter"] == 3
    assert script.scenes[0].setting == "A room in the Helmers' flat."


def test_wrapped_speeches_reach_the_export_whole(tmp_path: Path) -> None:
    """#24: of a 60-line excerpt augmented and exported for SOCRATES, only some of his sentences
    reached his turns (the rest were narration); now every word of his speeches is in them."""
    raw = EUTHYPHRO.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(raw) if line.startswith("EUTHYPHRO: Why have you left"))
    excerpt = tmp_path / "euthyphro_60.txt"
    excerpt.write_text("\n".join(raw[start : start + 60]) + "\n", encoding="utf-8")
    expected = [w for speaker, text in _expected_speeches(excerpt) if speaker == "SOCRATES" for w in words(text)]
    assert len(expected) > 150
    script = load(excerpt)
    out = tmp_path / "out"
    augment_scripts([script], out, LMConfig(kind="fake", cache=False), AugmentOptions(concurrency=1))
    scenes, personas = load_output(out)
    turns = [m.content for ex in build_examples(scenes, "SOCRATES", personas, mask="all") for m in ex.messages if m.role == "assistant"]
    assert [w for turn in turns for w in words(spoken_text(turn))] == expected
