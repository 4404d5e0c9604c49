"""Visual-novel dumps: ``Name: "line"``, ``Name: line``, ``[Name] line``, ``【名前】「line」``, ``Name「line」``,
a ``Name:`` cue alone on a line followed by its speech (Shakespeare-style dumps), and
narration lines with no speaker.

Scene boundaries: heading lines (``# Title``, ``== Title ==``, ``Scene 2: The roof``,
``[Scene: ...]``, ``Chapter 3``, ``INT. ...``, ``***`` / ``---`` rules) and runs of two or
more blank lines. ``*action*`` spans and ``[action]`` spans inside a speech are human
directions and move to ``Line.directions``; the enclosing quotes of a speech are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import chain, islice

from augmentlab.ingest.accounting import Ledger
from augmentlab.ingest.front_matter import split_front_matter
from augmentlab.ingest.lines import (
    OPENING_QUOTES,
    collapse,
    extract_directions,
    join_wrapped,
    make_line,
    plain_line,
    strip_enclosing_quotes,
    wrap_width,
)
from augmentlab.ingest.segment import CountedLine, Event, ParseState, SceneStart
from augmentlab.core.model import Line

_NAME = r"[^\W\d_][\w.'’\- ]{0,40}?"
_EXT = r"(?:\s*\([^)\n]{1,30}\))?"
CUE_ONLY_RE = re.compile(rf"^\s*(?P<name>[^\W\d_][\w.'’\-,& ]{{0,48}}?){_EXT}\s*:\s*$")
INLINE_RE = re.compile(rf"^\s*(?P<name>{_NAME}){_EXT}\s*(?::[ \t]+|：\s*)(?P<text>\S.*)$")
BRACKET_RE = re.compile(r"^\s*[\[【](?P<name>[^\]】\n]{1,40})[\]】]\s*[:：]?\s*(?P<text>\S.*)$")
KAGI_RE = re.compile(r"^\s*(?P<name>[^「『\s][^「『]{0,30}?)\s*(?P<text>[「『].*[」』])\s*$")
HEADING_RE = re.compile(
    r"^\s*(?:"
    r"#{1,6}\s*(?P<hash>.+?)\s*#*"
    r"|={2,}\s*(?P<eq>.+?)\s*={2,}"
    r"|\[\s*(?P<bracket>(?:scene|chapter|act|part|episode|setting|location)\b[^\]]*)\]"
    r"|(?P<word>(?:scene|chapter|act|part|episode)\s+[\w.]+(?:\s*[:.\-–—]\s*.*)?)"
    r"|(?P<colon>(?:scene|setting|place)\s*:\s*\S.*)"
    r"|(?P<slug>(?:INT|EXT|INT\./EXT|I/E)\.\s+.+)"
    r"|(?P<rule>(?:\*\s*){3,}|-{3,}|~{3,}|_{3,})"
    r")\s*$",
    re.IGNORECASE,
)
_SETTING_SPLIT_RE = re.compile(r"^(?:scene|chapter|act|part|episode|setting|location)\b[^:.\-–—]*[:.\-–—]\s*(.+)$", re.I)
_HEADING_START = set("#=[*-~_") | set("sScCaApPeEiI")
VN_DIRECTION_RE = re.compile(r"\*([^*\n]+)\*|\[([^\]\n]+)\]")
_NOT_NAMES = {
    "http", "https", "note", "notes", "warning", "edit", "source", "ps", "nb", "tl", "tn",
    "persons of the dialogue", "persons of the play", "dramatis personae", "characters", "cast", "scene", "setting",
    "title", "author", "translator", "translated by", "produced by", "release date", "posting date", "language",
}  # fmt: skip
_SENTENCE_ENDS = frozenset(".!?\"”’'»」』)]*…")
"""Last characters of a line that ends a sentence (a line ending otherwise was cut mid-sentence)."""
_PARTICLES = frozenset({"de", "van", "von", "of", "the", "la", "le", "da", "di"})
"""Lower-case words a name of capitalised words may have (``Lady of the Lake``)."""
_SENTENCE_BREAK_RE = re.compile(r"[a-z]{3}\. ")
HEAD_LINES = 400
"""Lines at the head of a file that tell whether it is hard-wrapped (:func:`~augmentlab.ingest.lines.wrap_width`)."""


def looks_like_name(name: str, max_words: int = 4) -> bool:
    """A plausible speaker name: 1–4 words, starts with a capital, not a URL scheme or label."""
    name = name.strip()
    words = name.split()
    if not words or len(words) > max_words or len(name) > 50 or name[0].islower():
        return False
    return name.casefold() not in _NOT_NAMES


def bracket_is_name(name: str) -> bool:
    """``[Name]`` is a speaker tag when every word is capitalised (``[sighs]`` is an action)."""
    words = name.split()
    if not looks_like_name(name):
        return False
    return all(w[0].isupper() or w in _PARTICLES for w in words if w) and words[0][0].isupper()


def heading(text: str) -> tuple[str | None, str | None] | None:
    """``(heading, setting)`` when ``text`` is a scene heading line, else ``None``."""
    match = HEADING_RE.match(text)
    if not match:
        return None
    if match.group("rule") is not None:
        return (None, None)
    title = next(g for g in match.groups() if g is not None).strip()
    setting_match = _SETTING_SPLIT_RE.match(title)
    setting = setting_match.group(1).strip() if setting_match else None
    if match.group("slug"):
        setting = title
    return (title, setting)


def _dialogue(speaker: str, raw: str, number: int, pieces: int = 0) -> Line | CountedLine | None:
    # ``raw`` is made of stripped, non-empty pieces joined by newlines, so without direction
    # markup (``*`` / ``[``) or runs of spaces/tabs, tidying it would give it back unchanged;
    # without an opening quote first, there are no enclosing quotes to drop either.
    if pieces:
        # The caller vouches that ``raw`` (``pieces`` pieces) is simple text (see
        # ``_simple_block``): no markup, tabs or white space but single spaces and the newlines
        # between pieces, so its words are its spaces and newlines plus one.
        if raw[0] not in OPENING_QUOTES and "  " not in raw:
            return plain_line(speaker, raw, number), raw.count(" ") + pieces
    elif raw and raw[0] not in OPENING_QUOTES and not ("*" in raw or "[" in raw or "  " in raw or "\t" in raw):
        return plain_line(speaker, raw, number)
    if "*" in raw or "[" in raw or "  " in raw or "\t" in raw:
        spoken, directions, offsets = extract_directions(raw, VN_DIRECTION_RE)
    else:
        spoken, directions, offsets = raw, [], []
    unquoted = strip_enclosing_quotes(spoken)
    if unquoted != spoken:
        offsets = [max(0, min(at - 1, len(unquoted))) for at in offsets]
        spoken = unquoted
    if not spoken:
        return None
    return make_line(speaker, spoken, source_line=number, directions=directions, offsets=offsets)


_NOT_SIMPLE = ("*", "[", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
"""ASCII characters that make a block of lines not simple: direction markup, and the white
space (besides ``" "``; ``\\r`` is gone by now) that ``str.split`` splits on."""


def _simple_block(lines: list[str]) -> bool:
    """Whether ``lines`` are simple text: ASCII with no ``_NOT_SIMPLE`` character.

    A stripped, non-empty simple line with no double space has ``count(" ") + 1`` words.
    """
    joined = "".join(lines)
    if not joined.isascii():
        return False
    for char in _NOT_SIMPLE:
        if char in joined:
            return False
    return True


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a VN dump."""
    return parse_blocks(((number, [text]) for number, text in source), state)


def parse_blocks(blocks: Iterable[tuple[int, list[str]]], state: ParseState) -> Iterator[Event]:
    """:func:`parse` over blocks of lines: ``(number of the first, [text, ...])``.

    The first :data:`HEAD_LINES` lines tell whether the file is hard-wrapped
    (:func:`~augmentlab.ingest.lines.wrap_width`): then a speech with its cue on its first line
    (``EUTHYPHRO: Why have you left the Lyceum, Socrates? and what are you``) goes on, like a
    speech under a cue standing alone, until a blank line or the next speaker's cue, and its
    lines are joined into one (:func:`~augmentlab.ingest.lines.join_wrapped`); else every such
    line is a speech of its own (a dump with one text box a line). Front matter before the first
    speech is skipped and reported (:mod:`augmentlab.ingest.front_matter`).
    """
    source = iter(blocks)
    head: list[tuple[int, list[str]]] = []
    held = 0
    for item in source:
        head.append(item)
        held += len(item[1])
        if held >= HEAD_LINES:
            break
    width = wrap_width(islice((line for _, lines in head for line in lines), HEAD_LINES))
    wrapped = width is not None
    if wrapped:
        state.metadata["wrap_width"] = width
    body = split_front_matter(
        chain(head, source),
        state,
        wrapped=wrapped,
        opens_speech=partial(_opens_speech, wrapped=wrapped),
        is_heading=_is_heading,
    )
    return _read(body, state, wrapped)


def _read(blocks: Iterable[tuple[int, list[str]]], state: ParseState, wrapped: bool) -> Iterator[Event]:
    """A VN dump's events (see :func:`parse_blocks`); a speech of simple lines (:func:`_simple_block`) is counted."""
    emitted = open_end = False  # open_end: the line before was a speech's (or narration right after one), cut mid-sentence
    block_speaker: str | None = None  # the current speech's speaker ("": a wrapped paragraph of narration)
    block: list[str] = []
    cue_lines = 1  # non-blank lines of the current speech's cue besides its words: 1 standing alone, 0 inline
    known: set[str] = set()
    cue_cache: dict[str, tuple[str | None, tuple[str | None, str | None] | None]] = {}
    # ``dirty``: the serial number of the last block that was not simple; ``block_serial``: the current speech's.
    blank_run = block_start = serial = dirty = block_serial = 0
    ledger = state.ledger  # line accounting: counted here, reported at the end
    read = [0, 0, 0]  # lines of speeches, of narration, of headings
    first_number = number = after_speech = 0
    for first, raw_lines in blocks:
        first_number = first_number or first
        serial += 1
        dirty = dirty if _simple_block(raw_lines) else serial
        for number, text in enumerate(map(str.strip, raw_lines), first):
            found: tuple[str | None, str | None] | None = None
            if text:
                if blank_run >= 2 and emitted:
                    yield SceneStart()
                    emitted = False
                blank_run = 0
                if text[-1] == ":":
                    cue_name, found = _cue_line(text, cue_cache)
                    inside = block_speaker is not None and (cue_name is None or not _new_cue(cue_name, known))
                else:
                    cue_name, inside = None, block_speaker is not None
                    if not inside and text[0] in _HEADING_START:
                        found = heading(text)
                if inside:
                    if not (wrapped and _cue_in_speech(text, known)):
                        block.append(text)  # more of the speech (a line ending in ':' is verse unless it is a cue)
                        continue
                    cue_name = found = None
            else:
                blank_run += 1
                open_end = False
                if block_speaker is None:
                    continue
            if block_speaker is not None:  # the speech ends: a blank line, a heading, a cue, a line
                line = _speech(ledger, block_speaker, block, block_start, dirty < block_serial, cue_lines, wrapped)
                if line is not None:
                    read[not block_speaker] += len(block) + cue_lines
                    emitted = True
                    yield line
                block_speaker, block = None, []
                if not text:
                    continue
            if found is not None:
                read[2] += 1
                open_end = False
                yield SceneStart(heading=found[0], setting=found[1])
                emitted = False
            elif cue_name is not None:
                block_speaker, block_start, block_serial, cue_lines = cue_name, number, serial, 1
                known.add(cue_name)
            elif wrapped and ((cue := _inline_cue(text)) is not None or not _kagi_speech(text)):
                block_speaker, words = cue if cue is not None else ("", text)
                block, block_start, block_serial, cue_lines = [words], number, serial, 0
                known.add(block_speaker)
            else:
                line = _parse_single(text, number, dirty < serial)
                if line is None:
                    ledger.skip("speech with no words", number, 1, speech_like=1)
                    continue
                narration = (line[0] if type(line) is tuple else line).speaker is None
                read[narration] += 1
                after_speech += open_end and narration
                open_end = (open_end or not narration) and text[-1] not in _SENTENCE_ENDS
                emitted = True
                yield line
    line = None if block_speaker is None else _speech(ledger, block_speaker, block, block_start, dirty < block_serial, cue_lines, wrapped)
    if line is not None:
        read[not block_speaker] += len(block) + cue_lines
        yield line
    for kind, count in zip(("dialogue", "narration", "heading"), read):
        ledger.take(kind, first_number, count, last=number)
    ledger.narration_after_speech += after_speech


ACCOUNTS_LINES = True
"""This module reports every line it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


def _skip_speech(ledger: Ledger, start: int, block: list[str], cue_lines: int = 1) -> None:
    """A ``Name:`` cue whose speech has no words (empty, or directions only)."""
    if block:  # directions only: the speech's words are not there, its directions are lost
        ledger.skip("speech with no words", start, len(block) + cue_lines, speech_like=1)
    else:  # the source has a cue and no speech under it: nothing of a speech is lost
        ledger.skip("cue with no speech", start, 1)


_CUE_CACHE_SIZE = 4096


def _cue_line(
    text: str, cache: dict[str, tuple[str | None, tuple[str | None, str | None] | None]]
) -> tuple[str | None, tuple[str | None, str | None] | None]:
    """A line ending in ``:``: its cue name and its heading reading. Such lines repeat (speaker
    cues), so their readings are cached, up to :data:`_CUE_CACHE_SIZE` of them."""
    cached = cache.get(text)
    if cached is None:
        cached = (_cue_name(text), heading(text) if text[0] in _HEADING_START else None)
        if len(cache) < _CUE_CACHE_SIZE:
            cache[text] = cached
    return cached


def _cue_name(text: str) -> str | None:
    """The speaker of a ``Name:`` line standing alone, else ``None``."""
    cue_only = CUE_ONLY_RE.match(text)
    cue_name = cue_only.group("name").strip() if cue_only else None
    if cue_name is not None and not looks_like_name(cue_name, max_words=6):
        return None
    return cue_name


def _new_cue(name: str, known: set[str]) -> bool:
    return name in known or (name.isupper() and len(name) > 1)


def _speech(
    ledger: Ledger, speaker: str, block: list[str], number: int, simple: bool, cue_lines: int = 1, wrapped: bool = False
) -> Line | CountedLine | None:
    """The speech of a cue's ``block`` (stripped, non-empty lines; ``simple``: all from simple
    blocks; ``cue_lines``: lines of the cue besides; ``wrapped``: the lines are one paragraph
    wrapped at a width, joined into one line, else kept as lines); a speech with no words is
    reported skipped."""
    if not block:
        line = None
    elif not speaker:
        return _narration(join_wrapped(block), number, simple)
    elif wrapped:
        line = _dialogue(speaker, join_wrapped(block), number, 1 if simple else 0)
    else:
        line = _dialogue(speaker, "\n".join(block), number, len(block) if simple else 0)
    if line is None:
        _skip_speech(ledger, number, block, cue_lines)
    return line


def _narration(text: str, number: int, simple: bool) -> Line | CountedLine:
    """A wrapped paragraph of narration, its lines joined (``simple``: from simple blocks)."""
    if simple and "  " not in text:
        return plain_line(None, text, number), text.count(" ") + 1
    return make_line(None, collapse(text), source_line=number)


def _kagi_speech(text: str) -> bool:
    """Whether a line is a ``Name「words」`` speech."""
    match = KAGI_RE.match(text) if ("「" in text or "『" in text) else None
    return bool(match and looks_like_name(match.group("name")))


def _inline_cue(text: str) -> tuple[str, str] | None:
    """``(speaker, words)`` of a line opening with its speaker's cue (``Name: words``, ``[Name] words``)."""
    if ":" in text or "：" in text:
        match = INLINE_RE.match(text)
        if match and looks_like_name(match.group("name")):
            return match.group("name").strip(), match.group("text")
    if text[0] in "[【":
        match = BRACKET_RE.match(text)
        if match and bracket_is_name(match.group("name")):
            return match.group("name").strip(), match.group("text")
    return None


def _cue_in_speech(text: str, known: set[str]) -> bool:
    """Whether a line inside a wrapped speech opens the next speech: the cue of a speaker seen
    before, or a cue in capitals (a ``Name: words`` line of prose, ``In the Meno: he``, is words)."""
    cue = _inline_cue(text) if (":" in text or "：" in text or text[0] in "[【") else None
    return cue is not None and _new_cue(cue[0], known)


def _opens_speech(text: str, after_blank: bool, *, wrapped: bool) -> bool:
    """Whether a stripped line before the first speech is the first speech's first line (for
    :func:`~augmentlab.ingest.front_matter.split_front_matter`). In a wrapped file an inline
    cue must open a paragraph and be a name of capitalised words (prose has colons too)."""
    if text[0] in _HEADING_START and heading(text) is not None:
        return False
    name = _cue_name(text) if text[-1] == ":" else None
    if name is None:
        cue = _inline_cue(text)
        if cue is None:
            return _kagi_speech(text)
        name = cue[0]
    if not wrapped:
        return True
    words = name.split()
    capitalised = words[0][:1].isupper() and all(word[:1].isupper() or word in _PARTICLES for word in words)
    return after_blank and capitalised and not _SENTENCE_BREAK_RE.search(name + " ")


def _is_heading(text: str) -> bool:
    return text[0] in _HEADING_START and heading(text) is not None


def _parse_single(text: str, number: int, simple: bool = False) -> Line | CountedLine | None:
    """A line standing alone (``text`` stripped; ``simple``: from a simple block)."""
    match = INLINE_RE.match(text) if ":" in text or "：" in text else None
    if match and looks_like_name(match.group("name")):
        return _dialogue(match.group("name").strip(), match.group("text"), number, 1 if simple else 0)
    match = BRACKET_RE.match(text) if text[0] in "[【" else None
    # ``【名前】`` is always a name tag (lenticular brackets are not directions); ``[Name]`` when capitalised.
    if match and (looks_like_name(match.group("name")) if text[0] == "【" else bracket_is_name(match.group("name"))):
        return _dialogue(match.group("name").strip(), match.group("text"), number)
    match = KAGI_RE.match(text) if ("「" in text or "『" in text) else None
    if match and looks_like_name(match.group("name")):
        return _dialogue(match.group("name").strip(), match.group("text"), number)
    if simple and "  " not in text:
        # ``collapse`` would give ``text`` back unchanged.
        return plain_line(None, text, number), text.count(" ") + 1
    spoken = collapse(text)
    return make_line(None, spoken, source_line=number) if spoken else None
