"""Prose fiction: quoted dialogue inside narrative paragraphs.

Each paragraph with quoted speech (straight ``"..."`` or curly ``“...”``) becomes one dialogue
line whose text is the quoted words (joined by a space); the narration between and after the
quotes (``he remarked, lighting a cigarette``) becomes the line's directions, and a long lead-in
before the first quote stays a narration line of its own. Paragraphs without quotes are
narration lines. Chapter / story headings (``ADVENTURE I. A SCANDAL IN BOHEMIA``, ``CHAPTER 3``,
``II.``) start scenes.

Who speaks is recorded with how it was decided, in ``Line.metadata["attribution"]``:
``tag`` (``said Holmes``, ``Holmes replied``; ``said I`` is the first-person ``Narrator``),
``alternation`` (an untagged or ``said he`` line in a two-person exchange goes to the other
person), ``continuation`` (a quote that runs on from the previous paragraph), or ``unknown``
(speaker left empty rather than guessed).

A name is the cast's name for it: :func:`speakers` lists the tagged names in a first pass, so
the cast merges ``Holmes`` into ``Sherlock Holmes`` (see :meth:`~augmentlab.ingest.cast.Cast.expect`)
before alternation compares speakers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from augmentlab.ingest.cast import Cast
from augmentlab.ingest.lines import collapse, make_line
from augmentlab.ingest.play import paragraphs
from augmentlab.ingest.segment import Event, ParseState, SceneStart
from augmentlab.model import Line, LineKind

NARRATOR = "Narrator"
QUOTE_RE = re.compile(r'"([^"]*)(?:"|$)|“([^”]*)(?:”|$)')
HEADING_RE = re.compile(
    r"^(?:(?:ADVENTURE|CHAPTER|BOOK|PART|STORY)\b[^a-z]*|[IVXLC]+\.\s+[^a-z]+|[IVXLC]+\.|CHAPTER\s+\S+.*|Chapter\s+\S+.*)$"
)
_SAID_VERBS = (
    "said says asked asks cried cries replied remarked answered observed continued exclaimed "
    "whispered shouted muttered returned repeated added began ejaculated interrupted suggested "
    "explained murmured groaned gasped laughed sobbed screamed inquired protested declared "
    "thundered snarled growled sighed urged insisted responded roared called"
).split()
_SAID = f"(?:{'|'.join(_SAID_VERBS)})"
_SAID_SET = frozenset(_SAID_VERBS)
_LOWER_WORD_RE = re.compile(r"[a-z]+")
_ABBREVIATED_TITLES = "Mr|Mrs|Ms|Dr|St|Col|Capt|Gen|Maj|Lt|Sgt|Prof|Rev|Hon|Mme|Mlle"
_TITLES = (
    "Miss|Sir|Lord|Lady|Dame|Inspector|Colonel|Captain|Major|General|Lieutenant|Sergeant|Professor|"
    "Doctor|Madame|Mademoiselle|Monsieur|Mister|Master"
)
_WORD = r"(?:Mc|Mac|O')?[A-Z][a-z]+"
# A title, then one or two words; the period of an abbreviation (``Mr.``, ``Col.``, ``St.`` of
# ``Lord St. Simon`` / ``Neville St. Clair``) is part of the name, not the end of it.
_NAME = (
    rf"(?:(?:{_ABBREVIATED_TITLES})\.\s|(?:{_TITLES})\s)?"
    rf"(?:St\.\s)?{_WORD}(?:\s(?:St\.\s)?{_WORD})?"
)
TAG_AFTER_RE = re.compile(rf"\b{_SAID}\s+(?P<name>{_NAME}|he|she|I)\b")
TAG_BEFORE_RE = re.compile(rf"(?:^|[\s,;])(?P<name>{_NAME}|[Hh]e|[Ss]he|I)\s+(?:[a-z]+ly\s+)?{_SAID}\b")
_NOT_NAMES = {
    "The", "Then", "But", "And", "It", "This", "That", "There", "When", "As", "So", "Yes", "No",
    "Oh", "Well", "What", "Now", "Here", "If", "Why", "How", "Who", "She", "He", "They", "We",
    "You", "Ah", "Pray", "Very", "Quite", "Only", "Holmes's",
}  # fmt: skip
LEAD_IN_WORDS = 12


def _attribution(pieces: list[str]) -> str | None:
    for piece in pieces:
        # Both tag patterns need a speech verb standing as a whole lower-case word: skip
        # pieces without one before running them (the verb alternation is slow to scan).
        if _SAID_SET.isdisjoint(_LOWER_WORD_RE.findall(piece)):
            continue
        for pattern in (TAG_AFTER_RE, TAG_BEFORE_RE):
            for match in pattern.finditer(piece):
                name = match.group("name")
                if name in _NOT_NAMES and name not in {"She", "He"}:
                    continue
                return name
    return None


class _Exchange:
    """The last two distinct speakers, for alternation."""

    def __init__(self) -> None:
        self.recent: list[str] = []

    def note(self, speaker: str | None) -> None:
        if not speaker:
            return
        if self.recent and self.recent[-1] == speaker:
            return
        self.recent = (self.recent + [speaker])[-2:]

    def other(self) -> str | None:
        return self.recent[0] if len(self.recent) == 2 else None

    def reset(self) -> None:
        self.recent = []


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from prose."""
    exchange = _Exchange()
    resolve = state.cast.resolve
    story: str | None = None
    open_quote = False
    last_speaker: str | None = None
    for number, block in paragraphs(source):
        text = collapse(" ".join(line.strip() for line in block))
        if len(block) == 1 and len(text) < 100 and HEADING_RE.match(text):
            if re.match(r"^[IVXLC]+\.$", text):
                heading = f"{story} {text}" if story else text
            else:
                story = text
                heading = text
            exchange.reset()
            open_quote = False
            yield SceneStart(heading=heading, metadata={"story": story})
            continue
        matches = list(QUOTE_RE.finditer(text))
        quoted = [next((g for g in m.groups() if g is not None), "").strip() for m in matches]
        if not matches or all(len(q) <= 3 for q in quoted):
            open_quote = False
            yield make_line(None, text, source_line=number)
            continue
        lead = text[: matches[0].start()].strip()
        between = [text[a.end() : b.start()].strip() for a, b in zip(matches, matches[1:])]
        after = text[matches[-1].end() :].strip()
        continues = open_quote and matches[0].start() == 0
        open_quote = not (text.endswith('"') or text.endswith("”")) and (
            text.count('"') % 2 == 1 or text.count("“") > text.count("”")
        )
        if lead and len(lead.split()) >= LEAD_IN_WORDS:
            yield make_line(None, lead, source_line=number)
            lead = ""
        spoken_parts: list[str] = []
        directions: list[str] = []
        offsets: list[int] = []
        length = 0
        if lead:
            directions.append(lead)
            offsets.append(0)
        for i, words in enumerate(quoted):
            if words:
                length += len(words) + (1 if spoken_parts else 0)
                spoken_parts.append(words)
            narration = between[i] if i < len(between) else after
            if narration:
                directions.append(narration)
                offsets.append(length)
        spoken = " ".join(spoken_parts)
        if not spoken:
            yield make_line(None, text, source_line=number)
            continue
        name = _attribution(between + [after, lead])
        speaker, how = _resolve(name, continues, last_speaker, exchange)
        if how == "tag":
            speaker = resolve(speaker, count=False)
        metadata = {"attribution": how}
        if name and how != "tag":
            metadata["tag"] = name
        exchange.note(speaker)
        if speaker:
            last_speaker = speaker
        yield make_line(
            speaker,
            spoken,
            source_line=number,
            directions=directions,
            offsets=offsets,
            kind=LineKind.dialogue,
            metadata=metadata,
        )


def speakers(source: Iterable[tuple[int, str]]) -> Iterator[str]:
    """The names of tagged speakers (``said Holmes``), in order: a first pass for the cast."""
    for event in parse(source, ParseState(cast=Cast())):
        if isinstance(event, Line) and event.speaker and event.metadata.get("attribution") == "tag":
            yield event.speaker


def _resolve(
    name: str | None, continues: bool, last: str | None, exchange: _Exchange
) -> tuple[str | None, str]:
    if name == "I":
        return NARRATOR, "tag"
    if name and name.lower() not in {"he", "she"}:
        return name, "tag"
    if continues and last:
        return last, "continuation"
    other = exchange.other()
    if other and other != NARRATOR or (other == NARRATOR and name is None):
        return other, "alternation"
    return None, "unknown"

