"""Line accounting: every non-blank line of a script file is ingested or skipped with a reason.

A :class:`Ledger` travels in :class:`~augmentlab.ingest.segment.ParseState`. The framework
(:mod:`augmentlab.ingest`) counts the non-blank lines it hands a format parser
(:meth:`Ledger.count`), independently of the parser; the parser says what became of them:

* :meth:`Ledger.take` — ingested, as ``dialogue``, ``narration``, ``direction`` or ``heading``
  (act / scene headings and settings);
* :meth:`Ledger.skip` — not ingested, with a reason (``front matter``, ``cast list``,
  ``licence``, ``editorial note``, ...), and whether the skipped text looked like speech.

A format module that reports nothing itself (no ``ACCOUNTS_LINES = True``) is accounted for by
:func:`account_events`: the non-blank lines read since the previous event are credited to the
next event's kind (a :class:`~augmentlab.core.model.Line`'s kind, ``heading`` for a scene start,
``direction`` for a scene direction). Lines read after the last event stay unexplained.

``unexplained`` is what the parser read but did not report: it should be zero, and
:meth:`Ledger.problems` names it. Skipping more than :data:`SPEECH_SKIP_LIMIT` of the
speech-like lines of a play, screenplay or VN is a problem too (a warning; ``--strict`` makes
problems errors).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from augmentlab.core.model import Line

INGESTED_KINDS = ("dialogue", "narration", "direction", "heading")
SPEECH_SKIP_LIMIT = 0.01
"""Share of speech-like lines a play, screenplay or VN may skip before it is a warning."""
SPEECH_FORMATS = frozenset({"play", "fountain", "vn", "renpy"})
FRONT_MATTER = "front matter"
"""The skip reason of what comes before a script's first speech and is not the script."""
MISREAD_MIN = 3
"""Narration lines right after speeches that can make :meth:`Ledger.misread` a finding."""
_MAX_RANGES = 50
_MAX_PARTS = 200
_PART_MIN_SKIP = 5
"""A skip of fewer non-blank lines does not break a part (a comment, one empty cue)."""
"""Ranges kept per reason (counts stay exact beyond it)."""


@dataclass
class _Skipped:
    lines: int = 0
    speech_like: int = 0
    ranges: list[list[int]] = field(default_factory=list)
    more_ranges: int = 0


@dataclass
class Ledger:
    """What became of the non-blank lines of one file (see the module docstring)."""

    format: str = ""
    total: int = 0
    ingested: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, _Skipped] = field(default_factory=dict)
    parts: list[list[Any]] = field(default_factory=list)
    """Contiguous runs ``[first, last, what]``: ``what`` is ``read as <format>`` or ``skipped: <reason>``."""
    speeches: int = 0
    """Speeches ingested (dialogue lines), the base of the speech-like skip share."""
    narration_after_speech: int = 0
    """Narration lines that directly follow a speech line cut mid-sentence (no blank line between;
    also the next narration line of such a run): what wrapped speeches read line by line look
    like (:meth:`misread`)."""
    attribution: dict[str, int] = field(default_factory=dict)
    """Prose quotes by who speaks them: ``attributed``, ``unattributed`` and, of those,
    ``abstained`` (a speaker found, below the confidence threshold)."""
    _read_label: str | None = field(default=None, repr=False)

    # -- reporting ---------------------------------------------------------------------------
    def count(self, lines: int) -> None:
        """The framework read ``lines`` more non-blank lines."""
        self.total += lines

    def take(self, kind: str, first: int, lines: int = 1, *, last: int | None = None) -> None:
        """``lines`` non-blank lines from line ``first`` (to ``last``) were ingested as ``kind``."""
        if lines <= 0:
            return
        ingested = self.ingested
        ingested[kind] = ingested.get(kind, 0) + lines
        end = last if last is not None else first + lines - 1
        parts = self.parts
        if parts:
            part = parts[-1]
            if part[2] is self._read_label and part[0] <= first:  # the common case: reading on
                if end > part[1]:
                    part[1] = end
                return
        self._part(first, end, "")

    def skip(self, reason: str, first: int, lines: int = 1, *, last: int | None = None, speech_like: int = 0) -> None:
        """``lines`` non-blank lines from line ``first`` (to ``last``) were not ingested, for ``reason``."""
        if lines <= 0:
            return
        entry = self.skipped.get(reason)
        if entry is None:
            entry = self.skipped[reason] = _Skipped()
        entry.lines += lines
        entry.speech_like += speech_like
        end = last if last is not None else first + lines - 1
        ranges = entry.ranges
        if ranges and ranges[-1][1] + 3 >= first and ranges[-1][0] <= first:
            ranges[-1][1] = max(ranges[-1][1], end)
        elif len(ranges) < _MAX_RANGES:
            ranges.append([first, end])
        else:
            entry.more_ranges += 1
        inside_reading = bool(self.parts) and self.parts[-1][2].startswith("read as") and first <= self.parts[-1][1] + 3
        self._part(first, end, "" if lines < _PART_MIN_SKIP and inside_reading else reason)

    def _part(self, first: int, last: int, reason: str) -> None:
        if not reason:
            if self._read_label is None or self._read_label != f"read as {self.format}":
                self._read_label = f"read as {self.format}"
            what = self._read_label
        else:
            what = f"skipped: {reason}"
        parts = self.parts
        if parts and parts[-1][2] == what and parts[-1][0] <= first:
            if last > parts[-1][1]:
                parts[-1][1] = last
            return
        if len(parts) < _MAX_PARTS:
            parts.append([first, last, what])

    # -- results -----------------------------------------------------------------------------
    @property
    def ingested_lines(self) -> int:
        return sum(self.ingested.values())

    @property
    def skipped_lines(self) -> int:
        return sum(entry.lines for entry in self.skipped.values())

    @property
    def unexplained(self) -> int:
        return self.total - self.ingested_lines - self.skipped_lines

    @property
    def speech_like_skipped(self) -> int:
        return sum(entry.speech_like for entry in self.skipped.values())

    def speech_skip_share(self) -> float:
        skipped = self.speech_like_skipped
        return skipped / max(1, skipped + self.speeches)

    @property
    def front_matter(self) -> int:
        """Non-blank lines skipped as front matter (introduction, preface, title page, cast list)."""
        entry = self.skipped.get(FRONT_MATTER)
        return entry.lines if entry is not None else 0

    def misread(self) -> str | None:
        """A finding when most narration lines directly follow a speech without a blank line
        (more than half of them, at least :data:`MISREAD_MIN` lines), else ``None``."""
        after = self.narration_after_speech
        narration = self.ingested.get("narration", 0)
        if after < MISREAD_MIN or 2 * after <= narration:
            return None
        return (
            f"{after} of {narration} narration lines directly follow a speech without a blank line: "
            "probably wrapped speeches read as narration"
        )

    def problems(self) -> list[str]:
        """One-line findings that make ``--strict`` fail (empty when all is accounted for)."""
        found: list[str] = []
        if self.unexplained:
            where = self._gaps()
            found.append(
                f"{self.unexplained} non-blank line(s) were neither ingested nor skipped with a reason"
                + (f" (around lines {where})" if where else "")
            )
        if self.format in SPEECH_FORMATS and self.speech_skip_share() > SPEECH_SKIP_LIMIT:
            reasons = ", ".join(
                f"{reason} {entry.speech_like}" for reason, entry in self.skipped.items() if entry.speech_like
            )
            found.append(
                f"{self.speech_like_skipped} speech-like paragraph(s) skipped, "
                f"{self.speech_skip_share():.1%} of {self.speech_like_skipped + self.speeches} "
                f"(limit {SPEECH_SKIP_LIMIT:.0%}): {reasons}; check the format and the skipped ranges"
            )
        return found

    def _gaps(self) -> str:
        """Where unexplained lines may be: the spans between reported parts (few shown)."""
        spans: list[str] = []
        ordered = sorted(self.parts, key=lambda p: p[0])
        for before, after in zip(ordered, ordered[1:]):
            if after[0] > before[1] + 1:
                spans.append(f"{before[1] + 1}-{after[0] - 1}")
            if len(spans) >= 5:
                break
        return ", ".join(spans)

    def as_dict(self) -> dict[str, Any]:
        """The accounting for ``inspect --json`` and the ingest summary."""
        return {
            "non_blank_lines": self.total,
            "ingested": {"lines": self.ingested_lines, **dict(sorted(self.ingested.items()))},
            "skipped": {
                reason: {
                    "lines": entry.lines,
                    "speech_like": entry.speech_like,
                    "ranges": [f"{a}-{b}" if a != b else str(a) for a, b in entry.ranges]
                    + ([f"... {entry.more_ranges} more"] if entry.more_ranges else []),
                }
                for reason, entry in self.skipped.items()
            },
            "unexplained": self.unexplained,
            "front_matter": self.front_matter,
            "narration_after_speech": self.narration_after_speech,
            "findings": [finding for finding in (self.misread(),) if finding],
            "speech_like_skipped_share": round(self.speech_skip_share(), 4),
            "parts": [{"lines": f"{a}-{b}", "what": what} for a, b, what in sorted(self.parts, key=lambda p: p[0])],
            **({"attribution": dict(self.attribution)} if self.attribution else {}),
        }

    def summary_line(self) -> str:
        """One line for the ingest summary."""
        skipped = ", ".join(f"{reason} {entry.lines}" for reason, entry in self.skipped.items())
        return (
            f"lines: {self.total} non-blank, {self.ingested_lines} ingested, "
            f"{self.skipped_lines} skipped" + (f" ({skipped})" if skipped else "") + f", {self.unexplained} unexplained"
            + (self._attribution_note() if self.attribution else "")
        )

    def _attribution_note(self) -> str:
        a = self.attribution
        return (
            f"; quotes: {a.get('attributed', 0)} attributed, {a.get('unattributed', 0)} unattributed "
            f"({a.get('abstained', 0)} below the confidence threshold)"
        )


def report_runs(
    ledger: Ledger, taken: dict[str, int], skipped: dict[str, list[int]], speech_like: list[int], first: int, last: int
) -> None:
    """Give ``ledger`` the lines a line-by-line reader summed: ``taken`` (kind → lines, one part
    from ``first`` to ``last``) and ``skipped`` (reason → line numbers, in ascending order),
    reported in runs of consecutive lines; ``speech_like``: the skipped lines that looked like speech."""
    for kind, count in taken.items():
        ledger.take(kind, first, count, last=last)
    like = set(speech_like)
    for reason, numbers in skipped.items():
        if not numbers:
            continue
        start = previous = numbers[0]
        for number in numbers[1:] + [0]:
            if number != previous + 1:
                run = range(start, previous + 1)
                ledger.skip(reason, start, len(run), speech_like=sum(1 for n in run if n in like) if like else 0)
                start = number
            previous = number


def counted_blocks(blocks: Iterable[tuple[int, list[str]]], ledger: Ledger) -> Iterator[tuple[int, list[str]]]:
    """``blocks`` unchanged, their non-blank lines counted into ``ledger`` (in C, a block at a time)."""
    count = ledger.count
    strip = str.strip
    for item in blocks:
        lines = item[1]
        count(len(lines) - list(map(strip, lines)).count(""))
        yield item


def counted_lines(lines: Iterable[tuple[int, str]], ledger: Ledger, read: list[int]) -> Iterator[tuple[int, str]]:
    """``lines`` unchanged, counted into ``ledger``; ``read``: [non-blank lines so far, the number
    of the last one, the number of the first one]."""
    for item in lines:
        if item[1].strip():
            ledger.total += 1
            read[0] += 1
            read[1] = item[0]
            if not read[2]:
                read[2] = item[0]
        yield item


def account_events(events: Iterable[Any], ledger: Ledger, read: list[int]) -> Iterator[Any]:
    """Credit the lines read (``read``, kept by :func:`counted_lines`) to the events that follow.

    For a format module that does not report into the ledger itself (see the module docstring).
    Kinds are summed here and given to the ledger at the end, as one part.
    """
    credited = 0
    kinds: dict[str, int] = {}
    line_type = Line
    try:
        for event in events:
            new = read[0] - credited
            if new > 0:
                line = event[0] if type(event) is tuple else event
                if type(line) is line_type or isinstance(line, line_type):
                    kind = line.kind.value
                else:
                    kind = "direction" if type(event).__name__ == "SceneDirection" else "heading"
                kinds[kind] = kinds.get(kind, 0) + new
                credited += new
            yield event
    finally:
        for kind, count in kinds.items():
            ledger.take(kind, read[2], count, last=read[1])
