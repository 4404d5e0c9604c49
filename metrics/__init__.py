"""Metrics: score an augmented scene against gold, explain the score, prove it catches defects.

- :mod:`metrics.similarity` — MiniLM embeddings (loaded once, cached) and similarity skill.
- :mod:`metrics.anchors` — what an uninformed output gets (the baseline of every skill).
- :mod:`metrics.relevance` — each action against its own line and scene (echoes, names, foreign).
- :mod:`metrics.consistency` — verbatim words, cast, grounding, contradictions (names read by
  :mod:`metrics.names`, persona facts by :mod:`metrics.facts`).
- :mod:`metrics.format` — asterisks, person, tense, lengths, leaks.
- :mod:`metrics.parts` — each part of the composite computed in one function.
- :mod:`metrics.composite` — :class:`Weights`, :func:`score`, :func:`score_many`,
  :func:`dspy_metric`, :func:`gepa_metric`.
- :mod:`metrics.mutations` — the defect suite behind ``augmentlab metrics check``.
- :mod:`metrics.ladder` — the calibration ladder (rungs of known quality and their bounds).

Importing this package is cheap: the embedding model loads on first use.
"""

from metrics.composite import Score, Weights, dspy_metric, gepa_metric, score, score_many

__all__ = ["Score", "Weights", "dspy_metric", "gepa_metric", "score", "score_many"]
