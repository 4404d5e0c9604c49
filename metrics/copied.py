"""Did the model copy its instructions? The scenario / action spans against the prompt's own text.

A weak model (SmolLM2-135M) often answers with the prompt's wording: a scenario that reads "up to
five sentences in the present tense that set the scene up: where and when it is, ..." is the
field's description given back, not a scene. Such an output is no training data whatever its
similarity to the reference, so it is a **gated failure** (:func:`metrics.composite.score` with
``instructions=``) and ``augment`` counts it in its summary.

The check is word n-gram overlap with the instruction text the caller passes (metrics cannot
import prompts: the caller has the program and its instructions): a span is *copied* when it
repeats a run of at least :data:`MIN_RUN` consecutive words of the instructions, or when at least
:data:`MAX_SHARE` of its word :data:`N`-grams occur in them. Short spans (fewer than ``N`` words)
are never flagged: "she nods" is no copy of anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from augmentlab.core.text import actions

N = 4
"""The n-gram size of the overlap share."""
MAX_SHARE = 0.5
"""A span with at least this share of its N-grams in the instructions is copied."""
MIN_RUN = 8
"""A span repeating this many consecutive instruction words is copied."""
ISSUE = "the model copied its instructions"

_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _grams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


@dataclass(frozen=True)
class Instructions:
    """The instruction text, indexed once (pass it to :func:`copied_spans` for many outputs)."""

    grams: frozenset[tuple[str, ...]]
    runs: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, text: str | Iterable[str]) -> Instructions:
        joined = text if isinstance(text, str) else "\n".join(text)
        words = _words(joined)
        return cls(frozenset(_grams(words, N)), frozenset(_grams(words, MIN_RUN)))


@dataclass
class Copied:
    """Which spans of one output repeat the instructions (empty: none)."""

    spans: list[str] = field(default_factory=list)
    """``scenario`` and/or ``line N`` for each copied span."""
    share: float = 0.0
    """The highest N-gram share among the spans checked."""
    example: str = ""
    """The start of the first copied span."""

    @property
    def copied(self) -> bool:
        return bool(self.spans)

    def reason(self) -> str:
        """``the model copied its instructions (scenario, line 2): "up to five sentences ..."``."""
        return f'{ISSUE} ({", ".join(self.spans[:4])}): "{self.example}"' if self.spans else ""


def span_copied(text: str, index: Instructions) -> tuple[bool, float]:
    """``(copied, share)`` for one span (see the module doc)."""
    words = _words(text)
    if len(words) < N or not index.grams:
        return False, 0.0
    grams = _grams(words, N)
    share = len(grams & index.grams) / len(grams)
    long_run = len(words) >= MIN_RUN and bool(_grams(words, MIN_RUN) & index.runs)
    return (share >= MAX_SHARE or long_run), share


def copied_spans(scenario: object, annotated_lines: object, instructions: Instructions | str | Iterable[str]) -> Copied:
    """Check the scenario and each line's action spans (non-strings are skipped, never raise)."""
    index = instructions if isinstance(instructions, Instructions) else Instructions.of(instructions)
    out = Copied()
    spans: list[tuple[str, str]] = []
    if isinstance(scenario, str):
        spans.append(("scenario", scenario))
    if isinstance(annotated_lines, (list, tuple)):
        for i, line in enumerate(annotated_lines, 1):
            if isinstance(line, str):
                spans.extend((f"line {i}", a) for a in actions(line))
    for name, text in spans:
        hit, share = span_copied(text, index)
        out.share = max(out.share, share)
        if hit:
            if not out.spans:
                out.example = " ".join(text.split())[:80]
            if name not in out.spans:
                out.spans.append(name)
    return out


__all__ = ["ISSUE", "MAX_SHARE", "MIN_RUN", "N", "Copied", "Instructions", "copied_spans", "span_copied"]
