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
    screenplay = _Screenplay(state)
    for number, block in _paragraphs(_without_markup(source, ledger)):
        screenplay.claim = None
        yield from screenplay.paragraph(number, block)
        if screenplay.claim is not None:
            what, skipped = screenplay.claim
            lines = sum(1 for text in block if text.strip())
            if skipped:
                ledger.skip(what, number, lines, last=number + len(block) - 1, speech_like=int(what == _NO_WORDS))
            else:
                ledger.take(what, number, lines, last=number + len(block) - 1)
    yield from screenplay.end()


_NO_WORDS = "speech with no words"
ACCOUNTS_LINES = True
"""This module reports every paragraph it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


class _Screenplay:
    """A screenplay read paragraph by paragraph: the last line (``pending``) and the action
    paragraphs after it (``waiting``) wait for the next cue or heading to settle whose they are."""

    def __init__(self, state: ParseState) -> None:
        self.state = state
        self.pending: Line | None = None
        self.waiting: list[str] = []
        self.lines_in_scene = 0
        self.first = True
        self.claim: tuple[str, bool] | None = None
        """What became of the last paragraph's lines: ``(kind or reason, skipped)``."""

    def paragraph(self, number: int, block: list[str]) -> Iterator[Event]:
        """The events of one paragraph; what became of it goes to :attr:`claim`."""
        head = block[0].strip()
        if self.first:
            self.first = False
            if TITLE_KEY_RE.match(head) and not HEADING_RE.match(head):
                self._title_page(block)
                self.claim = ("title page", True)
                return
        if head.startswith(("#", "=")) and not head.startswith("==="):
            self.claim = ("outline (section, synopsis)", True)
        elif head.startswith("==="):
            self.claim = ("page break", True)
        elif TRANSITION_RE.match(head) and len(block) == 1:
            self.claim = ("transition", True)
        elif (
            (HEADING_RE.match(head) if len(block) == 1 or not CUE_RE.match(head) else None)
            and (head[:1] == "." or len(block) == 1)
        ):
            yield from self._heading(head)
        else:
            cue = CUE_RE.match(head)
            if cue is not None and len(block) > 1 and (cue.group("forced") or _caps_name(cue.group("name") or "")):
                yield from self._speech(cue, block, number)
            else:
                self._action(head, block)

    def _title_page(self, block: list[str]) -> None:
        """The title from the title page's ``Title:`` key (its value may be on the indented lines below)."""
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
                    self.state.title = _plain(value)

    def _heading(self, head: str) -> Iterator[Event]:
        """A scene heading: the waiting action goes to the last line, or to the scene before."""
        if self.pending is not None:
            for direction in self.waiting:
                attach_direction(self.pending, direction, before=False)
            self.waiting = []
            yield self.pending
            self.pending = None
        for direction in self.waiting:
            yield SceneDirection(direction)
        self.waiting = []
        title = SCENE_NUMBER_RE.sub("", head.lstrip(".")).strip()
        location = re.sub(r"^(?:INT|EXT|EST|INT\.?/EXT|I/E)[. ]\s*", "", title, flags=re.I)
        self.claim = ("heading", False)
        yield SceneStart(heading=title, setting=location or None)
        self.lines_in_scene = 0

    def _speech(self, cue: re.Match[str], block: list[str], number: int) -> Iterator[Event]:
        """A cue and its dialogue: waiting action naming the speaker goes to the new line, the rest
        to the line before (or to the scene before its first line)."""
        name = (cue.group("forced") or cue.group("name") or "").strip()
        line = _dialogue(name, cue.group("ext"), bool(cue.group("dual")), block[1:], number)
        if line is None:
            self.claim = (_NO_WORDS, True)
            return
        self.claim = ("dialogue", False)
        if self.pending is not None:
            for direction in self.waiting:
                if _names(direction, name):
                    attach_direction(line, direction, before=True)
                else:
                    attach_direction(self.pending, direction, before=False)
            yield self.pending
        else:
            for direction in self.waiting:
                if self.lines_in_scene:
                    attach_direction(line, direction, before=True)
                else:
                    yield SceneDirection(direction)
        self.waiting = []
        self.pending = line
        self.lines_in_scene += 1

    def _action(self, head: str, block: list[str]) -> None:
        action = clean_direction(collapse(" ".join(b.strip().lstrip("!") for b in block)))
        if head.startswith(">") and head.endswith("<"):
            action = clean_direction(head.strip("><"))
        if action:
            self.waiting.append(action)
            self.claim = ("direction", False)
        else:
            self.claim = ("markup only", True)

    def end(self) -> Iterator[Event]:
        if self.pending is not None:
            yield self.pending
        for direction in self.waiting:
            yield SceneDirection(direction)


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
