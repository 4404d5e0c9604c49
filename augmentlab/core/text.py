"""The annotated-line convention, in one place.

An annotated line is the human words with physical actions added in ``*asterisks*``::

    *I push my glasses up and squint at the screen.* What do you mean? *I lean closer.*

Removing every ``*...*`` span (and quote marks the model may have wrapped the speech in, when
the human line had none) must give back the human words exactly, up to runs of white space.
Metrics, the augment verbatim check and export all use these functions.
"""

from __future__ import annotations

import re

ACTION_RE = re.compile(r"\*([^*\n]+?)\*")
_WS_RE = re.compile(r"\s+")
_DOUBLE_QUOTES = "\"“”„«»"
_DROP_QUOTES = str.maketrans("", "", _DOUBLE_QUOTES)
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.;:!?…])")


def collapse_ws(text: str) -> str:
    """Runs of white space as one space, trimmed."""
    return _WS_RE.sub(" ", text).strip()


def actions(annotated: str) -> list[str]:
    """The action spans of an annotated line, without their asterisks."""
    return [collapse_ws(m.group(1)) for m in ACTION_RE.finditer(annotated) if m.group(1).strip()]


def action_text(annotated: str) -> str:
    """All actions of a line joined by spaces (what similarity compares)."""
    return " ".join(actions(annotated))


def spoken_text(annotated: str, original: str | None = None) -> str:
    """The annotated line with its actions removed.

    When the human line has no double quotes, quote marks the model added around the speech are
    dropped too; when it has some, only one enclosing pair is dropped.
    """
    rest = collapse_ws(ACTION_RE.sub(" ", annotated))
    has_quotes = original is not None and any(q in original for q in _DOUBLE_QUOTES)
    if not has_quotes:
        rest = collapse_ws(rest.translate(_DROP_QUOTES))  # (a per-character filter was ~15 % of augment's CPU)
    elif len(rest) >= 2 and rest[0] in _DOUBLE_QUOTES and rest[-1] in _DOUBLE_QUOTES:
        if not (original or "").strip()[:1] in _DOUBLE_QUOTES:
            rest = rest[1:-1].strip()
    # Punctuation separated from a word by a removed action ("Well, *I pause.* no" keeps the
    # comma); white space before closing punctuation left by removal is folded away.
    rest = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", rest)
    return rest


def normalize_spoken(text: str) -> str:
    """The form human words are compared in."""
    return _SPACE_BEFORE_PUNCT_RE.sub(r"\1", collapse_ws(text))


def is_verbatim(annotated: str, original: str) -> bool:
    """True when the annotated line gives back the human words exactly."""
    return spoken_text(annotated, original) == normalize_spoken(original)


def balanced_asterisks(annotated: str) -> bool:
    return annotated.count("*") % 2 == 0


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, apostrophes)."""
    return re.findall(r"[\w']+", text.lower())
