"""Detail consistency: verbatim words, cast, grounding and contradictions.

Each check is a small function returning a :class:`Check` (a score in [0, 1], the issues found
as short sentences, and details). :mod:`metrics.composite` combines them.

- :func:`verbatim` — every human word kept, in order, per line; no line dropped, merged,
  duplicated or reattributed. Score = share of lines kept exactly.
- :func:`cast` — no invented characters (capitalised names must be known) and no character
  acting in another character's line.
- :func:`grounding` — each scenario sentence is supported by the scene / personas.
- :func:`contradiction` — rule-based persona fact checker (hair/eye colour, height, age,
  relationships), with an optional judge hook.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from augmentlab.model import GoldExample, Line, Scene
from augmentlab.text import (
    actions,
    collapse_ws,
    is_verbatim,
    normalize_spoken,
    spoken_text,
    words,
)

__all__ = [
    "Check",
    "cast",
    "contradiction",
    "grounding",
    "known_names_for",
    "persona_facts",
    "verbatim",
]


@dataclass
class Check:
    """The result of one check."""

    score: float
    issues: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# verbatim


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


def _missing_words(spoken: str, original: str) -> tuple[list[str], list[str]]:
    sm = difflib.SequenceMatcher(None, words(original), words(spoken), autojunk=False)
    ow, sw = words(original), words(spoken)
    lost: list[str] = []
    added: list[str] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op in ("delete", "replace"):
            lost.extend(ow[i1:i2])
        if op in ("insert", "replace"):
            added.extend(sw[j1:j2])
    return lost, added


def _speaker_prefix(annotated: str, names: Iterable[str]) -> str | None:
    head = re.sub(r"^\W+", "", annotated)
    for name in names:
        if name and re.match(re.escape(name) + r"\s*:", head, flags=re.IGNORECASE):
            return name
    return None


def verbatim(lines: Sequence[Line], annotated: Sequence[Any] | None) -> Check:
    """Check that the annotated lines give back each human line exactly, in order.

    Lines are aligned by index. Missing lines, extra lines, non-string entries, speaker-name
    prefixes and words that belong to another line (merged / duplicated / reattributed) are
    reported. Score = exactly-kept lines / max(#gold lines, #predicted lines).
    """
    if annotated is None:
        return Check(0.0, ["no annotated lines were produced"], {"exact": []})
    names = sorted({ln.speaker for ln in lines if ln.speaker}, key=len, reverse=True)
    originals = [ln.text for ln in lines]
    norm_orig = [normalize_spoken(t) for t in originals]
    issues: list[str] = []
    exact: list[bool] = []
    ratios: list[float] = []
    for i, line in enumerate(lines):
        n = i + 1
        if i >= len(annotated):
            exact.append(False)
            ratios.append(0.0)
            continue
        ann = annotated[i]
        if not isinstance(ann, str):
            exact.append(False)
            ratios.append(0.0)
            issues.append(f"line {n} is not text ({type(ann).__name__})")
            continue
        ok = is_verbatim(ann, line.text)
        spoken = spoken_text(ann, line.text)
        ratios.append(1.0 if ok else _ratio(spoken, line.text))
        exact.append(ok)
        if ok:
            continue
        prefix = _speaker_prefix(ann, names)
        if prefix is not None:
            other = "" if prefix == line.speaker else f" (another speaker's name, line is {line.speaker}'s)"
            issues.append(f"line {n} starts with a speaker prefix '{prefix}:'{other}")
            continue
        others = [j for j, o in enumerate(norm_orig) if j != i and o and o == spoken]
        if others:
            issues.append(
                f"line {n} holds the words of line {others[0] + 1} (lines swapped or reattributed)"
            )
            continue
        contained = [
            j + 1 for j, o in enumerate(norm_orig) if j != i and len(words(o)) >= 3 and o in spoken
        ]
        if contained and normalize_spoken(line.text) in spoken:
            issues.append(f"line {n} also holds the words of line(s) {contained} (lines merged)")
            continue
        lost, added = _missing_words(spoken, line.text)
        what = []
        if lost:
            what.append("missing " + ", ".join(f"'{w}'" for w in lost[:4]))
        if added:
            what.append("added " + ", ".join(f"'{w}'" for w in added[:4]))
        if not what:
            what.append("punctuation or quotes changed")
        if not spoken:
            what = ["the human words were dropped"]
        issues.append(f"line {n} changed the human words ({'; '.join(what)})")
    if len(annotated) < len(lines):
        missing = len(lines) - len(annotated)
        issues.append(f"{missing} line(s) missing: got {len(annotated)} annotated lines for {len(lines)} scene lines")
    elif len(annotated) > len(lines):
        issues.append(f"{len(annotated) - len(lines)} extra line(s): got {len(annotated)} for {len(lines)}")
    denom = max(len(lines), len(annotated), 1)
    score = sum(exact) / denom
    return Check(
        score,
        issues,
        {"exact": exact, "ratio": ratios, "fuzzy": sum(ratios) / max(len(ratios), 1)},
    )


# --------------------------------------------------------------------------------------------
# grounding


def grounding_sources(gold: GoldExample) -> list[str]:
    """The texts a scenario sentence may be supported by: scene lines, setting, directions,
    personas and the gold scenario itself."""
    scene = gold.scene
    out: list[str] = []
    for line in list(scene.context) + list(scene.lines):
        if line.text.strip():
            out.append(line.render())
        out.extend(d for d in line.directions if d.strip())
    out.extend(t for t in (scene.heading, scene.setting) if t and t.strip())
    out.extend(d for d in scene.directions if d.strip())
    out.extend(f"{name}: {text}" for name, text in gold.personas.items() if text.strip())
    if gold.scenario:
        out.extend(_sentences(gold.scenario))
    return out


def _sentences(text: str) -> list[str]:
    from metrics.format import sentences

    return sentences(text)
