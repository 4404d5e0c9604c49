"""Ingest's fast paths give what the plain paths give: word counts, block cuts, scene splits."""

from __future__ import annotations

from pathlib import Path

import pytest

import augmentlab.ingest.io as ingest_io
from augmentlab.ingest import iter_scenes
from augmentlab.ingest.cast import Cast
from augmentlab.ingest.segment import ParseState, Segmenter
from augmentlab.ingest.vn import parse, parse_blocks
from augmentlab.core.model import Line

DATA = Path(__file__).parent / "data" / "scripts"

# Speeches and lines with every kind of white space and markup the fast paths must notice.
TRICKY = [
    "ANNA:",
    "One two three.",
    "Four five",
    "",
    "BEN:",
    "Tab\tinside here.",
    "Double  space here.",
    "",
    "CARA:",
    "Vertical\x0btab and\x1cfile separator.",
    "",
    "DAN: inline words,\x0cform feed.",
    "DAN: inline simple words.",
    "EVE: no\u00a0break and\u3000ideographic space.",
    'FAY: "quoted words here"',
    "GIL: *waves* hello there [grins]",
    "Narration line with words.",
    "Narration\x1fwith unit separator.",
    "",
    "",
    "HAL:",
    "   indented   words   ",
    "last line:",
]


def _events(lines: list[str], block_size: int) -> list:
    blocks = [(1 + i, lines[i : i + block_size]) for i in range(0, len(lines), block_size)]
    return list(parse_blocks(blocks, ParseState(cast=Cast())))


@pytest.mark.parametrize("block_size", [1, 2, 3, 50])
def test_counted_lines_have_the_split_word_count(block_size: int) -> None:
    clean = ["ZED:", "Plain words here,", "and more words.", "", "ZED: one more line."]
    for lines in (TRICKY, clean, TRICKY + clean, clean + TRICKY):
        for event in _events(lines, block_size):
            if type(event) is tuple:
                line, words = event
                assert words == len(line.text.split())
                assert line.directions == []
    counted = [e[0].text for e in _events(clean, block_size) if type(e) is tuple]
    assert counted == ["Plain words here,\nand more words.", "one more line."]


def test_only_simple_text_is_counted() -> None:
    counted = {e[0].text for e in _events(TRICKY, 1) if type(e) is tuple}
    assert counted == {"One two three.\nFour five", "inline simple words.", "Narration line with words."}


@pytest.mark.parametrize("block_size", [1, 2, 3, 50])
def test_blocks_and_pairs_give_the_same_lines(block_size: int) -> None:
    def plain(events: list) -> list:
        return [(e[0] if type(e) is tuple else e).model_dump() if type(e) in (tuple, Line) else repr(e) for e in events]

    pairs = list(parse(list(enumerate(TRICKY, 1)), ParseState(cast=Cast())))
    assert plain(_events(TRICKY, block_size)) == plain(pairs)


def test_segmenter_counted_and_plain_lines_split_alike() -> None:
    events = _events(TRICKY * 20, 50)
    stripped = [e[0].model_copy(deep=True) if type(e) is tuple else e for e in events]
    counted_scenes = list(Segmenter(cast=Cast(), token_budget=25).run(events))
    plain_scenes = list(Segmenter(cast=Cast(), token_budget=25).run(stripped))
    assert len(counted_scenes) > 5
    assert [s.model_dump_json() for s in counted_scenes] == [s.model_dump_json() for s in plain_scenes]


def test_small_read_blocks_give_the_same_scenes(monkeypatch: pytest.MonkeyPatch, corpus_dir: Path) -> None:
    """Speeches cut across read blocks (and blocks that are not simple text) change nothing."""
    sources = [DATA / "vn_lighthouse.txt", DATA / "vn_crlf_mixed.txt", corpus_dir / "tinyshakespeare" / "input.txt"]
    for path in sources:
        normal = [s.model_dump_json() for s in iter_scenes(path)]
        monkeypatch.setattr(ingest_io, "_BLOCK", 97)
        small = [s.model_dump_json() for s in iter_scenes(path)]
        monkeypatch.undo()
        assert small == normal, path.name
