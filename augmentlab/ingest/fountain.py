"""Fountain screenplays (https://fountain.io).

Title page (``Title: ...`` keys before the first blank line) gives the title; scene headings
(``INT.``/``EXT.``/``EST.``/``INT./EXT.``/``I/E`` or a forced ``.HEADING``) start scenes, the
heading's location becoming ``Scene.setting``; a character cue is an upper-case line (or a
forced ``@Name``) after a blank line with text below it, extensions like ``(V.O.)`` /
``(CONT'D)`` are dropped from the name (kept in ``metadata["extension"]``) and a trailing ``^``
marks dual dialogue (``metadata["dual"]``); ``(parentheticals)`` inside dialogue are
directions of that line; action paragraphs are directions (the scene's before the first line,
the next line's when they name its speaker, else the previous line's); transitions
(``CUT TO:``, ``> FADE OUT.``), sections (``#``), synopses (``=``), page breaks (``===``),
boneyard ``/* ... */`` and notes ``[[ ... ]]`` are dropped. Emphasis markers (``*``, ``_``)
are removed from spoken words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from augmentlab.ingest.accounting import Ledger
from augmentlab.ingest.lines import attach_direction, clean_direction, collapse, make_line
from augmentlab.ingest.segment import Event, ParseState, SceneDirection, SceneStart
from augmentlab.core.model import Line

HEADING_RE = re.compile(r"^(?:(?:INT|EXT|EST|INT\.?/EXT|I/E)[. ]\s*|\.(?=[^.]))(?P<rest>.+)$", re.I)
SCENE_NUMBER_RE = re.compile(r"\s*#[\w.\-]+#\s*$")
CUE_RE = re.compile(
    r"^(?:@(?P<forced>[^(^]+?)|(?P<name>[A-Z][A-Z0-9 .'’\-&]*?))\s*(?P<ext>(?:\([^)]*\)\s*)*)\s*(?P<dual>\^)?\s*$"
)
TRANSITION_RE = re.compile(r"^(?:[A-Z][A-Z0-9 .'’\-]*TO:|>[^<]*)$")
TITLE_KEY_RE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]{0,30}):\s*(?P<value>.*)$")
_EMPHASIS_RE = re.compile(r"(?<!\\)[*_]+")
_NOTE_RE = re.compile(r"\[\[.*?\]\]", re.S)


def _without_markup(lines: Iterable[tuple[int, str]], ledger: Ledger | None = None) -> Iterator[tuple[int, str]]:
    """Remove boneyard ``/* */`` and notes ``[[ ]]``, also across lines (a line left empty by
    it is reported to ``ledger`` as skipped)."""
    for number, raw, out in _markup_removed(lines):
        if out is None or not out.strip():
            if ledger is not None and raw.strip():
                ledger.skip("editorial note (boneyard, [[note]])", number)
            if out is None:
                continue
        yield number, out


def _markup_removed(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str, str | None]]:
    """``(number, raw, text without markup)``; ``None`` for a line inside a note or boneyard."""
    in_bone = False
    note: list[str] | None = None
    for number, raw in lines:
        text = raw
        out = ""
        while text:
            if in_bone:
                end = text.find("*/")
                if end < 0:
                    text = ""
                    break
                text = text[end + 2 :]
                in_bone = False
                continue
            start = text.find("/*")
            if start < 0:
                out += text
                break
            out += text[:start]
            text = text[start + 2 :]
            in_bone = True
        if note is not None:
            end = out.find("]]")
            if end < 0:
                yield number, raw, None
                continue
            out = out[end + 2 :]
            note = None
        out = _NOTE_RE.sub("", out)
        if "[[" in out:
            out, note = out[: out.index("[[")], []
        if in_bone and not out.strip():
            yield number, raw, None
            continue
        yield number, raw, out


def _paragraphs(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    start, block = 0, []
    for number, raw in lines:
        if raw.strip() or (block and raw == "  "):  # two spaces keep a paragraph open
            if not block:
                start = number
            block.append(raw.rstrip() if raw != "  " else "")
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a Fountain screenplay."""
    ledger = state.ledger
    claims: list[tuple[str, bool]] = []
    _scene: dict = {"pending": None, "waiting": [], "lines_in_scene": 0, "first": True}
    for number, block in _paragraphs(_without_markup(source, ledger)):
        claims.clear()
        yield from _paragraph(number, block, state, claims, _scene)
        if claims:
            what, skipped = claims[-1]
            lines = sum(1 for text in block if text.strip())
            if skipped:
                ledger.skip(what, number, lines, last=number + len(block) - 1, speech_like=int(what == _NO_WORDS))
            else:
                ledger.take(what, number, lines, last=number + len(block) - 1)
    yield from _end(_scene)


_NO_WORDS = "speech with no words"
ACCOUNTS_LINES = True
"""This module reports every paragraph it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


def _end(scene: dict) -> Iterator[Event]:
    if scene["pending"] is not None:
        yield scene["pending"]
    for direction in scene["waiting"]:
        yield SceneDirection(direction)


def _paragraph(number: int, block: list[str], state: ParseState, claims: list[tuple[str, bool]], scene: dict) -> Iterator[Event]:
    """The events of one paragraph; what became of it goes to ``claims``."""
    pending: Line | None = scene["pending"]
    waiting: list[str] = scene["waiting"]
    lines_in_scene = scene["lines_in_scene"]
    try:
        head = block[0].strip()
        if scene["first"]:
            scene["first"] = False
            if TITLE_KEY_RE.match(head) and not HEADING_RE.match(head):
                for i, line in enumerate(block):
                    key = TITLE_KEY_RE.match(line.strip())
                    if key and key.group("key").lower() == "title":
                        value = key.group("value").strip()
                        if not value:  # the value on the indented lines below (``Title:\n\tNAME``)
                            below = []
                            for more in block[i + 1 :]:
                                if not more[:1].isspace():
                                    break
                                below.append(more.strip())
                            value = " ".join(below)
                        if value:
                            state.title = _plain(value)
                claims.append(("title page", True))
                return
        if head.startswith(("#", "=")) and not head.startswith("==="):
            claims.append(("outline (section, synopsis)", True))
            return
        if head.startswith("==="):
            claims.append(("page break", True))
            return
        if TRANSITION_RE.match(head) and len(block) == 1:
            claims.append(("transition", True))
            return
        heading = HEADING_RE.match(head) if len(block) == 1 or not CUE_RE.match(head) else None
        if heading and (head[:1] == "." or len(block) == 1):
            if pending is not None:
                for direction in waiting:
                    attach_direction(pending, direction, before=False)
                waiting = []
                yield pending
                pending = None
            for direction in waiting:
                yield SceneDirection(direction)
            waiting = []
            title = SCENE_NUMBER_RE.sub("", head.lstrip(".")).strip()
            location = re.sub(r"^(?:INT|EXT|EST|INT\.?/EXT|I/E)[. ]\s*", "", title, flags=re.I)
            claims.append(("heading", False))
            yield SceneStart(heading=title, setting=location or None)
            lines_in_scene = 0
            return
        cue = CUE_RE.match(head)
        is_cue = cue is not None and len(block) > 1 and (cue.group("forced") or _caps_name(cue.group("name") or ""))
        if is_cue:
            assert cue is not None
            name = (cue.group("forced") or cue.group("name") or "").strip()
            line = _dialogue(name, cue.group("ext"), bool(cue.group("dual")), block[1:], number)
            if line is None:
                claims.append((_NO_WORDS, True))
                return
            claims.append(("dialogue", False))
            if pending is not None:
                for direction in waiting:
                    if _names(direction, name):
                        attach_direction(line, direction, before=True)
                    else:
                        attach_direction(pending, direction, before=False)
                yield pending
            else:
                for direction in waiting:
                    if lines_in_scene:
                        attach_direction(line, direction, before=True)
                    else:
                        yield SceneDirection(direction)
            waiting = []
            pending = line
            lines_in_scene += 1
            return
        action = clean_direction(collapse(" ".join(b.strip().lstrip("!") for b in block)))
        if head.startswith(">") and head.endswith("<"):
            action = clean_direction(head.strip("><"))
        if action:
            waiting.append(action)
            claims.append(("direction", False))
        else:
            claims.append(("markup only", True))
    finally:
        scene["pending"], scene["waiting"], scene["lines_in_scene"] = pending, waiting, lines_in_scene


def _caps_name(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return bool(letters) and name == name.upper() and not TRANSITION_RE.match(name)


def _names(direction: str, speaker: str) -> bool:
    words = [w for w in re.findall(r"[\w']+", speaker.casefold()) if len(w) > 2]
    lowered = direction.casefold()
    return any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)


def _plain(text: str) -> str:
    return collapse(_EMPHASIS_RE.sub("", text))


def _dialogue(name: str, ext: str | None, dual: bool, body: list[str], number: int) -> Line | None:
    spoken: list[str] = []
    directions: list[str] = []
    offsets: list[int] = []
    length = 0
    for raw in body:
        text = raw.strip()
        if text.startswith("(") and text.endswith(")"):
            directions.append(clean_direction(text))
            offsets.append(length)
            continue
        words = _plain(text.lstrip("~"))
        if words:
            length += len(words) + (1 if spoken else 0)
            spoken.append(words)
    if not spoken:
        return None
    metadata: dict = {}
    if ext and ext.strip():
        metadata["extension"] = ext.strip()
    if dual:
        metadata["dual"] = True
    return make_line(name, " ".join(spoken), source_line=number, directions=directions, offsets=offsets, metadata=metadata)
