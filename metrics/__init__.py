"""Metrics: score an augmented scene against gold, explain the score, prove it catches defects.

- :mod:`metrics.similarity` — MiniLM embeddings (loaded once, cached) and similarity.
- :mod:`metrics.consistency` — verbatim words, cast, grounding, contradictions.
- :mod:`metrics.format` — asterisks, person, tense, lengths, leaks.
- :mod:`metrics.composite` — :class:`Weights`, :func:`score`, :func:`score_many`,
  :func:`dspy_metric`, :func:`gepa_metric`.
- :mod:`metrics.mutations` — the defect suite behind ``augmentlab metrics check``.

Importing this package is cheap: the embedding model loads on first use.
"""

from metrics.composite import Score, Weights, dspy_metric, gepa_metric, score, score_many

__all__ = ["Score", "Weights", "dspy_metric", "gepa_metric", "score", "score_many"]
