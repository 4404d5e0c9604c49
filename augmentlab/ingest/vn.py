"""Visual-novel dumps: ``Name: "line"``, ``Name: line``, ``[Name] line``, ``Name「line」``,
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

from augmentlab.ingest.lines import OPENING_QUOTES, collapse, extract_directions, make_line, plain_line, strip_enclosing_quotes
from augmentlab.ingest.segment import Event, ParseState, SceneStart
from augmentlab.model import Line

_NAME = r"[^\W\d_][\w.'’\- ]{0,40}?"
_EXT = r"(?:\s*\([^)\n]{1,30}\))?"
CUE_ONLY_RE = re.compile(rf"^\s*(?P<name>[^\W\d_][\w.'’\-,& ]{{0,48}}?){_EXT}\s*:\s*$")
INLINE_RE = re.compile(rf"^\s*(?P<name>{_NAME}){_EXT}\s*:[ \t]+(?P<text>\S.*)$")
BRACKET_RE = re.compile(r"^\s*[\[【](?P<name>[^\]】\n]{1,40})[\]】]\s*[:：]?\s*(?P<text>\S.*)$")
KAGI_RE = re.compile(r"^\s*(?P<name>[^「『\s][^「『]{0,30}?)\s*(?P<text>[「『].*[」』])\s*$")
HEADING_RE = re.compile(
    r"^\s*(?:"
    r"#{1,6}\s*(?P<hash>.+?)\s*#*"
    r"|={2,}\s*(?P<eq>.+?)\s*={2,}"
    r"|\[\s*(?P<bracket>(?:scene|chapter|act|part|episode|setting|location)\b[^\]]*)\]"
    r"|(?P<word>(?:scene|chapter|act|part|episode)\s+[\w.]+(?:\s*[:.\-–—]\s*.*)?)"
    r"|(?P<slug>(?:INT|EXT|INT\./EXT|I/E)\.\s+.+)"
    r"|(?P<rule>(?:\*\s*){3,}|-{3,}|~{3,}|_{3,})"
    r")\s*$",
    re.IGNORECASE,
)
_SETTING_SPLIT_RE = re.compile(r"^(?:scene|chapter|act|part|episode|setting|location)\b[^:.\-–—]*[:.\-–—]\s*(.+)$", re.I)
_HEADING_START = set("#=[*-~_") | set("sScCaApPeEiI")
VN_DIRECTION_RE = re.compile(r"\*([^*\n]+)\*|\[([^\]\n]+)\]")
_NOT_NAMES = {"http", "https", "note", "notes", "warning", "edit", "source", "ps", "nb", "tl", "tn"}


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
    particles = {"de", "van", "von", "of", "the", "la", "le", "da", "di"}
    return all(w[0].isupper() or w in particles for w in words if w) and words[0][0].isupper()


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


def _dialogue(speaker: str, raw: str, number: int) -> Line | None:
    # ``raw`` is made of stripped, non-empty pieces joined by newlines, so without direction
    # markup (``*`` / ``[``) or runs of spaces/tabs, tidying it would give it back unchanged;
    # without an opening quote first, there are no enclosing quotes to drop either.
    if raw and raw[0] not in OPENING_QUOTES and not ("*" in raw or "[" in raw or "  " in raw or "\t" in raw):
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


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a VN dump."""
    blank_run = 0
    emitted = False
    block_speaker: str | None = None
    block_start = 0
    block: list[str] = []
    known: set[str] = set()

    # Lines ending in ":" repeat (speaker cues): their cue name and heading reading, bounded.
    cue_cache: dict[str, tuple[str | None, tuple[str | None, str | None] | None]] = {}
    heading_start = _HEADING_START
    for number, raw in source:
        text = raw.strip()
        if not text:
            if block_speaker is not None:
                line = _dialogue(block_speaker, "\n".join(block), block_start) if block else None
                block_speaker, block = None, []
                if line is not None:
                    emitted = True
                    yield line
            blank_run += 1
            continue
        if blank_run:
            if blank_run >= 2 and emitted:
                yield SceneStart()
                emitted = False
            blank_run = 0
        found: tuple[str | None, str | None] | None | bool
        if text[-1] == ":":
            cached = cue_cache.get(text)
            if cached is None:
                cached = (_cue_name(text), heading(text) if text[0] in heading_start else None)
                if len(cue_cache) < _CUE_CACHE_SIZE:
                    cue_cache[text] = cached
            cue_name, found = cached
            if block_speaker is not None and (cue_name is None or not _new_cue(cue_name, known)):
                # Inside a speech, a line ending in a colon is verse unless it names a known speaker.
                block.append(text)
                continue
        elif block_speaker is not None:
            block.append(text)  # the hot path: one more line of the current speech
            continue
        else:
            cue_name, found = None, False  # False: heading not looked up yet
        if block_speaker is not None:
            line = _dialogue(block_speaker, "\n".join(block), block_start) if block else None
            block_speaker, block = None, []
            if line is not None:
                emitted = True
                yield line
        if found is False:
            found = heading(text) if text[0] in heading_start else None
        if found is not None:
            title, setting = found
            yield SceneStart(heading=title, setting=setting)
            emitted = False
            continue
        if cue_name is not None:
            block_speaker = cue_name
            known.add(cue_name)
            block_start = number
            continue
        line = _parse_single(text, number)
        if line is not None:
            emitted = True
            yield line
    if block_speaker is not None and block:
        line = _dialogue(block_speaker, "\n".join(block), block_start)
        if line is not None:
            yield line


_CUE_CACHE_SIZE = 4096


def _cue_name(text: str) -> str | None:
    """The speaker of a ``Name:`` line standing alone, else ``None``."""
    cue_only = CUE_ONLY_RE.match(text)
    cue_name = cue_only.group("name").strip() if cue_only else None
    if cue_name is not None and not looks_like_name(cue_name, max_words=6):
        return None
    return cue_name


def _new_cue(name: str, known: set[str]) -> bool:
    return name in known or (name.isupper() and len(name) > 1)


def _parse_single(text: str, number: int) -> Line | None:
    match = INLINE_RE.match(text) if ":" in text else None
    if match and looks_like_name(match.group("name")):
        return _dialogue(match.group("name").strip(), match.group("text"), number)
    match = BRACKET_RE.match(text) if text[0] in "[【" else None
    if match and bracket_is_name(match.group("name")):
        return _dialogue(match.group("name").strip(), match.group("text"), number)
    match = KAGI_RE.match(text) if ("「" in text or "『" in text) else None
    if match and looks_like_name(match.group("name")):
        return _dialogue(match.group("name").strip(), match.group("text"), number)
    spoken = collapse(text)
    return make_line(None, spoken, source_line=number) if spoken else None
