"""Front matter of a colon/VN-style script: what comes before the first speech and is not the dialogue.

A Project Gutenberg dialogue or play prints a translator's introduction, a preface, a title
page and a cast list (``PERSONS OF THE DIALOGUE: Socrates, Euthyphro.``) before its first
speech. :func:`split_front_matter` holds back the lines before the first speech (at most
:data:`MAX_HELD` of them), decides which of them are front matter, reports those to the
ledger as skipped (``front matter``), adds the cast list's names to the cast, and hands on the
rest unchanged. What is front matter:

* with a cast list: every line up to the end of the cast list's paragraph (the scene heading
  or setting after it, and any narration there, stay the dialogue's);
* else, with an introduction/preface/contents heading, or when the file is hard-wrapped prose
  and at least :data:`LONG_FRONT` non-blank lines come before the first speech: every line
  before the first speech but the headings right before it;
* else nothing: a visual-novel dump's opening narration stays narration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from augmentlab.ingest.accounting import FRONT_MATTER
from augmentlab.ingest.segment import ParseState

MAX_HELD = 5000
"""Lines held back while looking for the first speech; a file with none by then has no front matter."""
LONG_FRONT = 20
"""Non-blank lines of wrapped prose before the first speech that make them front matter."""

CAST_RE = re.compile(
    r"^\W*(?:(?:THE\s+)?PERSONS\s+(?:OF|IN)\s+THE\s+(?:DIALOGUE|PLAY|DRAMA)|DRAMATIS\s+PERSON\w*"
    r"|CHARACTERS(?:\s+(?:IN|OF)\s+THE\s+(?:PLAY|DIALOGUE))?|CAST(?:\s+OF\s+CHARACTERS)?)\b\s*"
    r"(?:[:.—-]\s*(?P<rest>.*))?$",
    re.IGNORECASE,
)
_INTRO_RE = re.compile(
    r"^\W*(?:INTRODUCTION|INTRODUCTORY\s+NOTE|PREFACE|FOREWORD|(?:TABLE\s+OF\s+)?CONTENTS|ANALYSIS"
    r"|(?:TRANSLATOR|EDITOR)[’']?S?[’']?\s+(?:NOTE|PREFACE|INTRODUCTION))\W*$",
    re.IGNORECASE,
)
_PAREN_RE = re.compile(r"^(?P<name>[^()]+?)\s*\((?P<inner>[^()]+)\)$")


def split_front_matter(
    blocks: Iterable[tuple[int, list[str]]],
    state: ParseState,
    *,
    wrapped: bool,
    opens_speech: Callable[[str, bool], bool],
    is_heading: Callable[[str], bool],
) -> Iterator[tuple[int, list[str]]]:
    """``blocks`` without their front matter (see the module docstring).

    ``opens_speech(text, after_blank)``: whether a stripped, non-blank line is a speech's first
    line; ``is_heading(text)``: whether it is a scene heading.
    """
    held: list[tuple[int, str]] = []
    after_blank = True
    rest: Iterator[tuple[int, list[str]]] = iter(blocks)
    for first, lines in rest:
        for offset, raw in enumerate(lines):
            text = raw.strip()
            if text and opens_speech(text, after_blank):
                cut = _front_end(held, wrapped, is_heading)
                if cut:
                    _report(held[:cut], state, is_heading)
                    yield from _regroup(held[cut:])
                else:
                    yield from _regroup(held)
                yield first + offset, lines[offset:]
                yield from rest
                return
            held.append((first + offset, raw))
            after_blank = not text or is_heading(text)
        if len(held) > MAX_HELD:
            break
    yield from _regroup(held)
    yield from rest


def _regroup(held: list[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """Held lines as blocks again (a new block wherever line numbers jump)."""
    start = 0
    for i in range(1, len(held) + 1):
        if i == len(held) or held[i][0] != held[i - 1][0] + 1:
            yield held[start][0], [raw for _, raw in held[start:i]]
            start = i


def _front_end(held: list[tuple[int, str]], wrapped: bool, is_heading: Callable[[str], bool]) -> int:
    """How many of the ``held`` lines (those before the first speech) are front matter."""
    texts = [raw.strip() for _, raw in held]
    cast_at = max((i for i, text in enumerate(texts) if text and CAST_RE.match(text) and _starts_paragraph(texts, i)), default=-1)
    if cast_at >= 0:
        return _cast_list(texts, cast_at, is_heading)[0]
    nonblank = sum(1 for text in texts if text)
    if not any(_INTRO_RE.match(text) for text in texts if text) and not (wrapped and nonblank >= LONG_FRONT):
        return 0
    end = len(texts)
    while end and (not texts[end - 1] or is_heading(texts[end - 1])):
        end -= 1
    return end


def _cast_list(texts: list[str], at: int, is_heading: Callable[[str], bool]) -> tuple[int, list[str]]:
    """The end (index after it) and the entries of the cast list headed at ``texts[at]``: the rest
    of its line and of its paragraph, or the next paragraph when the heading stands alone."""
    match = CAST_RE.match(texts[at])
    rest = ((match.group("rest") if match else None) or "").strip()
    entries = [rest] if rest else []
    end = at + 1
    if not rest and (end >= len(texts) or not texts[end]):
        while end < len(texts) and not texts[end]:
            end += 1
    while end < len(texts) and texts[end] and not is_heading(texts[end]):
        entries.append(texts[end])
        end += 1
    return end, entries


def _starts_paragraph(texts: list[str], i: int) -> bool:
    return i == 0 or not texts[i - 1]


def _report(front: list[tuple[int, str]], state: ParseState, is_heading: Callable[[str], bool]) -> None:
    """Skip the front matter's non-blank lines in the ledger; its cast list's names go to the cast."""
    numbers = [number for number, raw in front if raw.strip()]
    if not numbers:
        return
    state.ledger.skip(FRONT_MATTER, numbers[0], len(numbers), last=numbers[-1])
    texts = [raw.strip() for _, raw in front]
    for i, text in enumerate(texts):
        if text and CAST_RE.match(text) and _starts_paragraph(texts, i):
            for name, description in cast_names(_cast_list(texts, i, is_heading)[1]):
                state.cast.add_listed(name, description)


def cast_names(entries: list[str]) -> list[tuple[str, str | None]]:
    """``(name, description)`` of a cast list: one entry a line (``SOCRATES, a philosopher``), or
    one line of names (``Socrates, Euthyphro.``; ``A Slave of Meno (Boy)`` is ``Boy``, a slave of Meno)."""
    if len(entries) == 1:
        parts = [p for p in re.split(r"\s*[,;]\s*|\s+and\s+", entries[0].strip().rstrip(".")) if p]
        pairs: list[tuple[str, str | None]] = [(part, None) for part in parts]
    else:
        pairs = []
        for entry in entries:
            name, _, description = entry.strip().rstrip(".").partition(",")
            pairs.append((name, description.strip() or None))
    out: list[tuple[str, str | None]] = []
    for name, description in pairs:
        paren = _PAREN_RE.match(name.strip())
        if paren and len(paren.group("inner").split()) <= 2:
            name, description = paren.group("inner"), paren.group("name")
        name = name.strip(" .")
        if name and name[0].isupper() and len(name.split()) <= 5:
            out.append((name, description))
    return out
