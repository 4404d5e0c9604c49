"""Content without gold: how specific an action is, and how well a scenario sets its scene up.

Similarity (:mod:`metrics.similarity`) asks "is this like the one reference?"; readers ask "is this
good data for these lines?" (``../shared/preference-dev/RUBRIC.md``: specific, varied actions, not
stock filler; a scenario that sets the scene up without retelling the lines). These are the
signals a reader uses that need no reference; every one is normalised per action span or per
scenario, so more spans or a longer text earn nothing by themselves.

**Action craft** (per span, in [0, 1]) = ``not_stock × detail``:

- ``not_stock = clip(2 · (1 − c), 0, 1)`` with ``c`` the best cosine of the span to a stock action
  of :mod:`metrics.anchors` ("I nod.", "Pauses."): a stock action earns 0, one no closer to them
  than half way earns 1;
- ``detail = min(1, n / DETAIL_WORDS)`` with ``n`` the span's content words other than names
  (:func:`metrics.consistency.content_words`): "I smile." has one, "I fold both hands over the head
  of my cane and gaze up at him" seven. Past :data:`DETAIL_WORDS` a longer span earns nothing.

A line's craft is the *mean* over its spans (a second span adds nothing unless it is as good).

**Scenario setup** (in [0, 1]) = ``grounded × (1 − retold) × covered``:

- ``grounded = max(min(1, 2 · skill), named)``: ``skill`` the skill (:func:`metrics.anchors.skill`)
  of the scenario's cosine to the scene (heading, setting, lines) over the best uninformed
  scenario of :mod:`metrics.anchors`; ``named`` the share of the scene's speakers the scenario
  names (:func:`cast_named`; the embedding of a long scene sees only its first lines). Another
  story's scenario or a placeholder earns 0;
- ``retold`` = share of the scenario's content words that are words of the spoken lines (a
  summary of the dialogue, "Mrs. Pearce tells Higgins that he should be careful about his
  habits", retells instead of setting up);
- ``covered = min(1, m / SETUP_WORDS)`` with ``m`` the scenario's content words that are *not*
  spoken in the lines: what it adds — place, time, relationships, wants, mood. Past
  :data:`SETUP_WORDS` a longer scenario earns nothing.

The two constants were chosen on one dev preference set and checked on the other (see
``metrics/README.md``); they are word counts, not fitted weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from augmentlab.core.model import GoldExample
from metrics import anchors
from augmentlab.core.text import words
from metrics.consistency import content_words
from metrics.names import NOT_NAMES, name_tokens

_TITLES = {"mr", "mrs", "ms", "miss", "sir", "lady", "lord", "dr", "madam", "master", "captain"}

__all__ = ["DETAIL_WORDS", "cast_named", "SETUP_WORDS", "span_craft", "scenario_setup", "spoken_words"]

DETAIL_WORDS = 8
"""Content words at which an action span counts as fully specific."""
SETUP_WORDS = 20
"""Content words beyond the lines' own at which a scenario counts as fully setting the scene up."""


def _not_stock(cos: float) -> float:
    return float(min(1.0, max(0.0, 2.0 * (1.0 - cos))))


def span_craft(spans: Sequence[str], names: set[str], embedder: Any) -> list[float]:
    """The craft of each action span (see the module doc); ``names``: the scene's name tokens."""
    if not spans:
        return []
    vecs = embedder.encode(list(spans))
    stock = anchors.baselines(vecs, anchors.UNINFORMED_ACTIONS, embedder)
    out = []
    for span, c in zip(spans, stock):
        n = len(content_words(span) - names)
        out.append(_not_stock(float(c)) * min(1.0, n / DETAIL_WORDS))
    return out


def spoken_words(gold: GoldExample) -> set[str]:
    """Content words of the scene's spoken lines (context included)."""
    out: set[str] = set()
    for ln in list(gold.scene.context) + list(gold.scene.lines):
        out |= content_words(ln.text)
    return out


def cast_named(gold: GoldExample, text: str) -> float:
    """Share of the scene's speakers that ``text`` names (any token of the name, titles aside)."""
    speakers = {ln.speaker for ln in gold.scene.lines if ln.speaker}
    if not speakers:
        return 0.0
    toks = set(words(text))
    named = sum(1 for sp in speakers if (name_tokens(sp) - NOT_NAMES - _TITLES) & toks)
    return named / len(speakers)


def scenario_setup(gold: GoldExample, scenario: str | None, scene_vec: np.ndarray, embedder: Any) -> tuple[float, dict[str, float]]:
    """``(setup, details)`` of a scenario (see the module doc); ``scene_vec``: the scene text's
    embedding (:func:`metrics.relevance.scene_text`)."""
    if not scenario or not scenario.strip():
        return 0.0, {}
    vec = embedder.encode([scenario])[0]
    base = float(anchors.baselines(scene_vec[None, :], anchors.UNINFORMED_SCENARIOS, embedder)[0])
    grounded = max(min(1.0, 2.0 * anchors.skill(float(np.dot(vec, scene_vec)), base)), cast_named(gold, scenario))
    mine = content_words(scenario)
    spoken = spoken_words(gold)
    retold = len(mine & spoken) / len(mine) if mine else 1.0
    covered = min(1.0, len(mine - spoken) / SETUP_WORDS)
    setup = grounded * (1.0 - retold) * covered
    return setup, {"grounded": grounded, "retold": retold, "covered": covered}
