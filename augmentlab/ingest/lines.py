"""Helpers shared by the format parsers: quotes, direction spans, and rendering them back.

A line's human directions live in ``Line.directions``; where each one stood in the spoken
text is kept in ``Line.metadata["direction_at"]`` (character offsets into ``Line.text``, one per
direction) so the gold miner can render ``*direction* words`` in the original order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel

from augmentlab.core.model import Line, LineKind

DIRECTION_AT = "direction_at"
_WS_RE = re.compile(r"[ \t\f\v\u00a0]+")
_ANY_WS_RE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.;:!?])")
_PAIRS = {'"': '"', "“": "”", "„": "“", "«": "»", "「": "」", "『": "』"}
OPENING_QUOTES = frozenset(_PAIRS)
"""Characters that :func:`strip_enclosing_quotes` treats as an opening quote."""


def collapse(text: str) -> str:
    """Runs of spaces/tabs as one space, lines trimmed, blank lines dropped."""
    if "\n" not in text and "  " not in text and "\t" not in text and "\u00a0" not in text:
        return text.strip()
    parts = [_tidy(part) if "  " in part or "\t" in part else part.strip() for part in text.split("\n")]
    return "\n".join(p for p in parts if p)


def _tidy(part: str) -> str:
    """``_WS_RE.sub(" ", part).strip()``, without the regex when only spaces need squeezing."""
    if "\t" in part or "\f" in part or "\v" in part or "\u00a0" in part:
        return _WS_RE.sub(" ", part).strip()
    while "  " in part:
        part = part.replace("  ", " ")
    return part.strip()


def strip_enclosing_quotes(text: str) -> str:
    """``"words"`` → ``words`` when one pair of quotes encloses the whole text."""
    text = text.strip()
    if len(text) >= 2 and text[0] in _PAIRS and text[-1] == _PAIRS[text[0]]:
        inner = text[1:-1]
        opening, closing = text[0], _PAIRS[text[0]]
        if opening not in inner and closing not in inner:
            return inner.strip()
    return text


def extract_directions(text: str, pattern: re.Pattern[str]) -> tuple[str, list[str], list[int]]:
    """Cut every ``pattern`` match out of ``text`` (its first matched group is the direction).

    Returns the spoken text (white space tidied), the directions and their offsets in it.
    """
    if pattern.search(text) is None:
        return collapse(text), [], []
    spoken: list[str] = []
    directions: list[str] = []
    offsets: list[int] = []
    pos = 0
    length = 0
    for match in pattern.finditer(text):
        piece = collapse(text[pos : match.start()])
        if piece:
            if spoken:
                length += 1
            spoken.append(piece)
            length += len(piece)
        direction = clean_direction(next((g for g in match.groups() if g is not None), ""))
        if direction:
            directions.append(direction)
            offsets.append(length)
        pos = match.end()
    piece = collapse(text[pos:])
    if piece:
        if spoken:
            length += 1
        spoken.append(piece)
    return " ".join(spoken), directions, offsets


def clean_direction(text: str) -> str:
    """Direction text without markup (``_`` italics, ``*``, brackets) and with tidy spaces."""
    text = text.replace("_", "").replace("*", "")
    text = _ANY_WS_RE.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text).strip(" []()")


_LINE_FIELDS = frozenset(Line.model_fields)
_new_object = object.__new__
_set = object.__setattr__


def make_line(
    speaker: str | None,
    text: str,
    *,
    source_line: int | None,
    directions: Sequence[str] = (),
    offsets: Sequence[int] = (),
    kind: LineKind | None = None,
    metadata: dict | None = None,
) -> Line:
    """A :class:`Line` built without re-validation (the hot path of every parser).

    Every field is given here with its declared type, so this is what ``Line.model_construct``
    would build (all fields marked as set), minus its per-call field walk.
    """
    meta = dict(metadata) if metadata else {}
    if directions:
        meta[DIRECTION_AT] = list(offsets)
    line = _new_object(Line)
    _set(
        line,
        "__dict__",
        {
            "speaker": speaker,
            "text": text,
            "kind": kind or (_DIALOGUE if speaker else _NARRATION),
            "directions": list(directions),
            "source_line": source_line,
            "metadata": meta,
        },
    )
    _set(line, "__pydantic_fields_set__", set(_LINE_FIELDS))
    _set(line, "__pydantic_extra__", None)
    _set(line, "__pydantic_private__", None)
    return line


_DIALOGUE = LineKind.dialogue
_NARRATION = LineKind.narration


_FIELDS_SET = set(_LINE_FIELDS)
# BaseModel's slots, set through their descriptors (what object.__setattr__ would find).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def plain_line(
    speaker: str | None,
    text: str,
    source_line: int | None,
    *,
    _new: Callable[[type[Line]], Line] = _new_object,  # bound once: the hot path of every VN speech
    _set: Callable[[Any, str, Any], None] = _set,
) -> Line:
    """``make_line(speaker, text, source_line=source_line)``: no directions, kind or metadata."""
    line = _new(Line)
    _set(
        line,
        "__dict__",
        {
            "speaker": speaker,
            "text": text,
            "kind": _DIALOGUE if speaker else _NARRATION,
            "directions": [],
            "source_line": source_line,
            "metadata": {},
        },
    )
    _set_fields_set(line, _FIELDS_SET.copy())
    _set_extra(line, None)
    _set_private(line, None)
    return line


def attach_direction(line: Line, direction: str, *, before: bool) -> None:
    """Add a standalone direction to ``line``, before its words or after them."""
    direction = clean_direction(direction)
    if not direction:
        return
    offsets = list(line.metadata.get(DIRECTION_AT, [0] * len(line.directions)))
    if before:
        line.directions.insert(0, direction)
        offsets.insert(0, 0)
    else:
        line.directions.append(direction)
        offsets.append(len(line.text))
    line.metadata[DIRECTION_AT] = offsets


def render_annotated(line: Line) -> str:
    """The line's words with its human directions as ``*direction*`` where they stood."""
    if not line.directions:
        return line.text
    offsets = list(line.metadata.get(DIRECTION_AT, []))
    if len(offsets) != len(line.directions):
        offsets = [0] * len(line.directions)
    parts: list[str] = []
    pos = 0
    for direction, at in sorted(zip(line.directions, offsets), key=lambda pair: pair[1]):
        at = max(pos, min(at, len(line.text)))
        words = line.text[pos:at].strip()
        if words:
            parts.append(words)
        parts.append(f"*{direction.replace('*', '').strip()}*")
        pos = at
    rest = line.text[pos:].strip()
    if rest:
        parts.append(rest)
    return " ".join(parts)


def paragraphs(source: Iterable[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """Blank-line separated paragraphs as ``(first line number, lines)``."""
    start = 0
    block: list[str] = []
    for number, raw in source:
        if raw.strip():
            if not block:
                start = number
            block.append(raw.rstrip())
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


_DASH_ENDS = ("--", "—")


def join_wrapped(pieces: list[str]) -> str:
    """The stripped lines of one paragraph hard-wrapped at a width, as one line of text.

    Lines are joined with a space, except after a line that ends in a dash or a hyphen joined to
    a word: ``are--`` + ``indeed`` → ``are--indeed``, ``well-`` + ``known`` → ``well-known``
    (Project Gutenberg texts break lines at hyphens of compound words, not inside words, so the
    hyphen is kept).
    """
    if len(pieces) == 1:
        return pieces[0]
    if not any(piece[-1] in "-—" for piece in pieces):
        return " ".join(pieces)
    out = [pieces[0]]
    for piece in pieces[1:]:
        before = out[-1]
        if _joins_next(before):
            out[-1] = before + piece
        else:
            out.append(piece)
    return " ".join(out)


def _joins_next(line: str) -> bool:
    """Whether ``line`` ends in a dash or hyphen attached to its last word (``are--``, ``well-``)."""
    if line.endswith(_DASH_ENDS):
        word = line[: -2 if line.endswith("--") else -1]
        return bool(word) and not word[-1].isspace()
    return line[-1] == "-" and len(line) > 1 and line[-2].isalpha()


WRAP_MIN_WIDTH = 40
WRAP_MAX_WIDTH = 100
WRAP_SLACK = 2
WRAP_SHARE = 0.8
WRAP_MIN_PAIRS = 10


def wrap_width(lines: Iterable[str]) -> int | None:
    """The width at which ``lines`` (a sample of a file) are hard-wrapped, or ``None`` if they are not.

    In a paragraph wrapped at a width (Project Gutenberg's ~72 columns), each line but the last
    was cut where the next line's first word would not fit: its length, a space and that word
    come to more than the paragraph's width (its longest line), give or take
    :data:`WRAP_SLACK`. In a dump where each line is its own text box, lines have any length.
    The sample is wrapped when at least :data:`WRAP_SHARE` of the (at least
    :data:`WRAP_MIN_PAIRS`) lines followed by a line of their paragraph were cut so, counting
    paragraphs at least :data:`WRAP_MIN_WIDTH` wide (narrower ones, verse or addresses, are left
    out) and none over :data:`WRAP_MAX_WIDTH`, and leaving out each paragraph's longest line
    (it passes whatever the text: two text boxes in a paragraph would pass half the time). Each paragraph is measured on its own, so a
    header wrapped at 64 columns before a text wrapped at 72 is wrapped too. The width returned
    is the paragraphs' median width.
    """
    pairs = cut = 0
    widths: list[int] = []
    for paragraph in _wrapped_paragraphs(lines):
        width = max(map(len, paragraph))
        if len(paragraph) < 2 or width < WRAP_MIN_WIDTH:
            continue
        widths.append(width)
        longest = next(i for i, line in enumerate(paragraph) if len(line) == width)
        pairs += len(paragraph) - 1 - (longest < len(paragraph) - 1)
        if width <= WRAP_MAX_WIDTH:
            cut += sum(
                1
                for i, (line, after) in enumerate(zip(paragraph, paragraph[1:]))
                if i != longest and len(line) + 1 + len(after.split(None, 1)[0]) > width - WRAP_SLACK
            )
    if pairs < WRAP_MIN_PAIRS or cut < WRAP_SHARE * pairs:
        return None
    return sorted(widths)[len(widths) // 2]


def _wrapped_paragraphs(lines: Iterable[str]) -> Iterator[list[str]]:
    """Blank-line separated paragraphs of ``lines``, right-stripped, tabs expanded."""
    paragraph: list[str] = []
    for raw in lines:
        text = raw.rstrip()
        if "\t" in text:
            text = text.expandtabs()
        if text.strip():
            paragraph.append(text)
        elif paragraph:
            yield paragraph
            paragraph = []
    if paragraph:
        yield paragraph
