"""What the engine-dump readers (:mod:`.scx`, :mod:`.kag`, :mod:`.tyrano`) share: a tally of
the markup they strip, bracket tags and their attributes, and where a ``???`` speaker came from.

Every tag a reader strips is counted here, by name: known engine markup as ``known``, markup
the reader does not know as ``unknown`` (never silently dropped: :meth:`MarkupTally.report`
puts the counts in ``Script.metadata["markup"]`` and names the unknown tags in a warning).
A bracket that is words (``[Hello]`` in a line of text) is kept as words and not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from augmentlab.ingest.cast import is_placeholder
from augmentlab.ingest.segment import ParseState

ATTR_RE = re.compile(r"""([^\s=\]]+)\s*=\s*("[^"]*"|'[^']*'|[^\s\]]*)""")
_IDENTIFIER_RE = re.compile(r"^[a-z_][\w\-]*$")
SHOWN_AS = "shown_as"
"""``Line.metadata`` key: the name the game showed (``???``) when it is not the speaker's own."""
RUBY = "ruby"
"""``Line.metadata`` key: ``[[base, reading], ...]`` of the line's ruby (furigana) glosses."""
_MAX_EXAMPLES = 3


def attributes(body: str) -> dict[str, str]:
    """``name=value`` pairs of a tag body (``bg storage="room.jpg" time=100``), quotes removed."""
    out: dict[str, str] = {}
    for key, value in ATTR_RE.findall(body):
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        out[key] = value
    return out


def is_words(body: str) -> bool:
    """Whether an unknown bracket's ``body`` reads as words rather than engine markup.

    Markup has attributes (``name=value``) or is a lowercase identifier (``[wait2]``,
    ``[se_boom]``), the way engine tags and macros are named; ``[Hello]``, ``[Hello there]``
    and ``[笑]`` are words. (A line of tags only is a command line: the readers never ask.)"""
    if "=" in body or not body.strip():
        return False
    return not _IDENTIFIER_RE.match(body.strip())


@dataclass
class MarkupTally:
    """Tags stripped from one file, by name, and where unknown ones were."""

    known: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    unknown_at: dict[str, list[int]] = field(default_factory=dict)
    ruby: int = 0
    placeholders: int = 0
    """Lines whose speaker was shown as ``???`` (and no alias or the file said who)."""

    def tag(self, name: str, known: bool, number: int) -> None:
        if known:
            self.known[name] = self.known.get(name, 0) + 1
            return
        self.unknown[name] = self.unknown.get(name, 0) + 1
        where = self.unknown_at.setdefault(name, [])
        if len(where) < _MAX_EXAMPLES:
            where.append(number)

    def as_dict(self) -> dict[str, Any]:
        return {
            "known_tags": sum(self.known.values()),
            "unknown_tags": sum(self.unknown.values()),
            "by_tag": dict(sorted(self.known.items(), key=lambda kv: -kv[1])),
            "unknown": {name: {"count": n, "lines": self.unknown_at.get(name, [])} for name, n in self.unknown.items()},
            "ruby": self.ruby,
            "placeholder_speakers": self.placeholders,
        }

    def report(self, state: ParseState) -> None:
        """Put the counts in ``state.metadata["markup"]``; unknown markup is a warning too."""
        state.metadata["markup"] = self.as_dict()
        if self.unknown:
            names = ", ".join(
                f"[{name}] x{count} (line {', '.join(map(str, self.unknown_at.get(name, [])))})"
                for name, count in sorted(self.unknown.items(), key=lambda kv: -kv[1])[:8]
            )
            state.warnings.append(f"{sum(self.unknown.values())} unknown markup tag(s) stripped, not read as words: {names}")


def speaker_metadata(shown: str | None, tally: MarkupTally) -> dict[str, Any]:
    """``{"shown_as": "???"}`` when the speaker's shown name is a placeholder (counted in ``tally``)."""
    if shown is not None and shown and is_placeholder(shown):
        tally.placeholders += 1
        return {SHOWN_AS: shown}
    return {}
