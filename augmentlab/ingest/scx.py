"""sc3tools text (``SG01_01.SCX.txt``): the MAGES. engine's script strings, one text box a line.

``[name]Rintaro[line]“Hey, you.”[%p]`` is Rintaro's line (its enclosing quotes dropped); a line
with no ``[name]`` is narration (in a first-person game, the protagonist's inner voice: kept as
narration, in its place). The markup is sc3tools' own (``src/coz.rs``): ``[name]``, ``[line]``,
``[%p]`` / ``[%e]`` / ``[%05]`` / ``[%18]`` (end of a box), ``[linebreak]`` /
``[alt-linebreak]`` (a new line in the box), ``[color index="…"]``, ``[font size="…"]``,
``[margin top|left="…"]``, ``[center]``, ``[parallel]``, ``[hardcoded-value index="…"]``,
``[evaluate expr="…"]``, ``[auto-forward]`` and ruby ``[ruby-base]base[ruby-text-start]reading
[ruby-text-end]`` (the base is the words; the reading goes to ``Line.metadata["ruby"]``).

A bracket sc3tools does not know is text to it: a short one (``[ü]``, ``[キタ]``) is a compound
character and stays as its characters; a longer one stays as written when it is words
(``[Hello]``) and is counted as unknown markup when it has attributes. A ``NNN:`` line-number
prefix (``5300:[name]…``, written by some extractors) is dropped. A name shown as ``???`` maps to
a character only with ``--alias ???=Name``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from augmentlab.ingest.accounting import report_runs
from augmentlab.ingest.lines import make_line, strip_enclosing_quotes
from augmentlab.ingest.markup import RUBY, MarkupTally, is_words, speaker_metadata
from augmentlab.ingest.segment import Event, ParseState

_TAG_RE = re.compile(r"\[(?P<name>[^\s\[\]]+)(?:\s+(?P<attr>[^\[\]]*))?\]")
_PREFIX_RE = re.compile(r"^\d{1,7}:(?=\[)")
KNOWN_TAGS = frozenset(
    "linebreak alt-linebreak name line %p %e %05 %18 color ruby-base rubybase ruby-text-start rubytextstart "
    "ruby-text-end rubytextend ruby-center-per-char parallel center margin font hardcoded-value "
    "hardcodedvalue auto-forward autoforward auto-forward-1a evaluate".split()
)
"""Every tag sc3tools writes (``StringToken::from_tag`` in sc3tools' ``src/coz.rs``)."""
_BREAKS = frozenset({"linebreak", "alt-linebreak"})
_RUBY_TEXT = frozenset({"ruby-text-start", "rubytextstart"})
_RUBY_END = frozenset({"ruby-text-end", "rubytextend"})
_COMPOUND_MAX = 4
"""A compound character (sc3tools' ``compound_chars.map``) is written ``[x]``, 1-4 characters."""


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield one line per text box of an sc3tools dump (no scene breaks: a file is a chapter)."""
    tally = MarkupTally()
    taken: dict[str, int] = {}
    skipped: dict[str, list[int]] = {}
    first = last = 0
    for number, raw in source:
        text = raw.strip()
        if not text:
            continue
        first = first or number
        last = number
        if text[0].isdigit():
            text = _PREFIX_RE.sub("", text)
        if "[" not in text:  # plain narration, no markup at all
            taken["narration"] = taken.get("narration", 0) + 1
            yield make_line(None, text, source_line=number)
            continue
        shown, words, ruby = split_box(text, number, tally)
        if not words:
            reason = "speech with no words" if shown else "markup only (no words)"
            skipped.setdefault(reason, []).append(number)
            continue
        metadata = speaker_metadata(shown, tally)
        if ruby:
            metadata[RUBY] = ruby
        if shown:
            words = strip_enclosing_quotes(words) or words
        kind = "dialogue" if shown else "narration"
        taken[kind] = taken.get(kind, 0) + 1
        yield make_line(shown or None, words, source_line=number, metadata=metadata, kind=None)
    report_runs(state.ledger, taken, skipped, [], first, last)
    tally.report(state)


ACCOUNTS_LINES = True
"""This module reports every line it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


def split_box(text: str, number: int, tally: MarkupTally) -> tuple[str, str, list[list[str]]]:
    """``(shown name, words, ruby pairs)`` of one text box; markup counted into ``tally``."""
    name: list[str] = []
    words: list[str] = []
    target = words
    owner = words  # where the ruby base (and the words after the reading) go
    reading: list[str] | None = None
    ruby: list[list[str]] = []
    base_start = 0
    pos = 0
    for match in _TAG_RE.finditer(text):
        target.append(text[pos : match.start()])
        pos = match.end()
        tag = match.group("name")
        if tag not in KNOWN_TAGS:
            body = match.group(0)[1:-1]
            if len(body) <= _COMPOUND_MAX and " " not in body and "=" not in body:
                target.append(body)  # a compound character: its characters
            elif is_words(body):
                target.append(match.group(0))  # literal text to sc3tools
            else:
                tally.tag(tag, False, number)
            continue
        tally.tag(tag, True, number)
        if tag == "name":
            target = owner = name
        elif tag == "line":
            target = owner = words
        elif tag in _BREAKS:
            target.append("\n")
        elif tag in ("ruby-base", "rubybase"):
            owner, base_start = target, len("".join(target))
        elif tag in _RUBY_TEXT and reading is None:
            reading = target = []  # the reading is not the words
        elif tag in _RUBY_END and reading is not None:
            ruby.append(["".join(owner)[base_start:].strip(), "".join(reading).strip()])
            tally.ruby += 1
            target, reading = owner, None
    target.append(text[pos:])
    if reading is not None:  # an unclosed reading: it was words after all
        owner.extend(reading)
    spoken = "".join(words)
    if "\n" in spoken:
        spoken = "\n".join(part.strip() for part in spoken.split("\n") if part.strip())
    return "".join(name).strip(), spoken.strip(), ruby
