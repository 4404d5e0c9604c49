"""What an uninformed output gets: the baselines that similarity is measured against.

Raw cosine is not a score: MiniLM gives two unrelated scenarios of this genre 0.2–0.5, and a
stock stage direction ("*I nod.*") is 0.3–0.4 from most real actions. So :mod:`metrics.composite`
turns each cosine into a **skill score** over the best *uninformed* output::

    skill = clip((cos(pred, gold) − b) / (1 − b), 0, 1),   b = min(B_MAX, max_k cos(gold, uninformed_k))

where ``uninformed_k`` are the texts below: scenarios a program could write without reading the
scene (placeholders and other stories) and stock actions (nods, pauses, crossing the room, the
bare stage directions of printed plays). An output no closer to the gold than the closest of
them earns nothing; the gold itself earns 1. ``b`` is capped at :data:`B_MAX` so that a gold
action that *is* a stock direction ("Sits down.") can still be matched by a prediction.

The texts are original to augmentlab, shipped with the code (no data at run time), embedded once
per process and pinned in the embedder's cache; they do not depend on any gold set, so the same
baseline applies to gold nobody here has seen (mined plays, other tools' gold).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["B_MAX", "UNINFORMED_ACTIONS", "UNINFORMED_SCENARIOS", "baselines", "skill"]

B_MAX = 0.8
"""Highest baseline used: above it, a near-copy of the gold is still needed for credit."""

UNINFORMED_SCENARIOS: tuple[str, ...] = (
    "Two people talk in a room.",
    "A conversation between two characters.",
    "The characters meet and talk about something important.",
    "It is evening. Someone arrives and they speak.",
    "A tense conversation in an ordinary place.",
    "A scene from a story.",
    "A ship's crew argues on deck during a storm at sea, the captain shouting orders over the wind.",
    "In a crowded school cafeteria, a teacher tries to settle a fight between two boys over a lost phone.",
    "A detective questions a nervous witness in a smoky police station late at night.",
    "Two farmers lean on a fence at dawn, worried about the drought and the failing harvest.",
    "A queen receives an ambassador in her throne room while courtiers whisper behind their fans.",
    "Astronauts on a damaged space station decide who will go outside to repair the antenna.",
    "At a wedding reception, the best man loses his speech and the bride's mother is furious.",
    "A young chef burns the sauce on the busiest night in a small restaurant kitchen.",
    "Old friends meet again at a railway station after many years apart.",
    "A knight and a dragon bargain over a stolen treasure in a mountain cave.",
    "A family gathers around a hospital bed, waiting for news from the doctor.",
    "A drawing room in a large house in town. Guests talk over tea in the afternoon.",
)
"""Scenarios written without reading the scene: placeholders and other stories."""

UNINFORMED_ACTIONS: tuple[str, ...] = (
    "I nod.", "I look at them.", "I pause.", "I smile.", "I sigh.", "I shrug.", "I take a breath.",
    "I look away.", "I sit down.", "I stand up.", "I cross the room.", "I turn to face them.",
    "I speak.", "I say this.", "I listen.", "I wait.",
    "Nods.", "Pauses.", "Smiles.", "Sits down.", "Rises.", "Crosses the room.", "Looks at him.",
    "Looks at her.", "Speaking.", "Turning.",
)
"""Stock actions: fit any line of any scene, so they show no reading of this one."""


def skill(cos: float, baseline: float) -> float:
    """``clip((cos − b) / (1 − b), 0, 1)`` with ``b`` capped at :data:`B_MAX`."""
    b = min(B_MAX, max(0.0, baseline))
    return float(min(1.0, max(0.0, (cos - b) / (1.0 - b))))


def baselines(gold_vecs: np.ndarray, pool: Sequence[str], embedder: Any) -> np.ndarray:
    """``max_k cos(gold_i, pool_k)`` for each row of ``gold_vecs`` (capped by :func:`skill`)."""
    if len(gold_vecs) == 0:
        return np.zeros(0, dtype=np.float32)
    pvecs = _pool_vecs(tuple(pool), embedder)
    return (np.asarray(gold_vecs) @ pvecs.T).max(axis=1)


def _pool_vecs(pool: tuple[str, ...], embedder: Any) -> np.ndarray:
    """The pool's embeddings, memoised on the embedder (hashing 40 texts per example adds up)."""
    memo = embedder.__dict__.setdefault("_anchor_vecs", {}) if hasattr(embedder, "__dict__") else {}
    vecs = memo.get(pool)
    if vecs is None:
        vecs = memo[pool] = embedder.encode(list(pool), pin=True)
    return vecs
