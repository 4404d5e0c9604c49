"""The composite metric: one score in [0, 1], the parts it came from, and feedback in words.

Parts (each in [0, 1]; ``None`` when it does not apply, e.g. no gold scenario):

===============  ======================================================================
similarity       content: skill over an uninformed output (:mod:`metrics.anchors`); one signal
relevance        content: each action fits its own line and scene, weighed by its craft
                 (:mod:`metrics.relevance`, :mod:`metrics.craft`); needs no gold
setup            content: the scenario sets the scene up without retelling it, or matches the
                 gold scenario (:mod:`metrics.craft`); needs no gold
verbatim         defect + gate: share of lines whose human words are kept exactly
cast             defect: 1/(1+problems): invented names, a character acting in another's line
grounding        defect: share of scenario sentences supported by the scene / personas
contradiction    defect: 1/(1+n) for n contradicted persona facts
format           defect: asterisks, person, tense, lengths, no leaked markers
judge            defect, optional (weight 0 by default): an extra part passed to :func:`score`
===============  ======================================================================

Each part is computed by one function of :mod:`metrics.parts`; this module validates the
prediction, calls them and combines the parts (:func:`combine`).

The scale is anchored (see ``metrics/README.md`` and :mod:`metrics.ladder`): nothing augmented
scores 0, junk ≤ 0.2, the gold ≥ 0.95. A defect part earns its weight only in proportion to the
content score, so the absence of a defect is no credit where nothing was said::

    content = Σ_content w·p / Σ_content w
    score   = verbatim² × (Σ_content w·p + content × Σ_defect w·p) / Σ w  =  verbatim² × content × hygiene

Verbatim is a **gate**: a line that changes a human word is unusable as training data, so it is
worth 0 to similarity and relevance, and one broken line out of eight costs ~23 % of the whole
score (0.875² ≈ 0.77). For task ``scenario`` there are no annotated lines and no gate.

Bad predictions never raise: ``None``, non-strings, wrong lengths or huge outputs score 0 (or
the fair partial) with feedback saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from augmentlab.core.model import GoldExample
from augmentlab.core.text import action_text, actions
from metrics import anchors, consistency, copied, format as fmt, relevance, similarity
from metrics.format import detect_person
from metrics.parts import (
    PartFn,
    Parts,
    consistency_parts,
    format_part,
    optional_parts,
    relevance_part,
    setup_part,
    similarity_part,
    verbatim_part,
)

Task = Literal["both", "scenario", "actions"]
PART_NAMES = ("similarity", "relevance", "setup", "verbatim", "cast", "grounding", "contradiction", "format", "judge")
CONTENT_PARTS = frozenset({"similarity", "relevance", "setup"})
"""Parts that measure what was said; all others measure the absence of a defect."""
MAX_CHARS = 20_000
"""Longest scenario / annotated line accepted; anything longer scores 0 (a runaway output)."""
MAX_FEEDBACK = 900

__all__ = [
    "CONTENT_PARTS",
    "MAX_CHARS",
    "anchor_texts",
    "combine",
    "texts_to_encode",
    "PART_NAMES",
    "Score",
    "Weights",
    "dspy_metric",
    "gepa_metric",
    "score",
    "score_examples",
    "score_many",
    "task_of",
]


class Weights(BaseModel):
    """Relative weight of each part (non-negative, not all zero; normalised on use)."""

    model_config = ConfigDict(extra="forbid")

    similarity: float = Field(0.15, ge=0)
    relevance: float = Field(0.2, ge=0)
    setup: float = Field(0.15, ge=0)
    verbatim: float = Field(0.15, ge=0)
    cast: float = Field(0.1, ge=0)
    grounding: float = Field(0.1, ge=0)
    contradiction: float = Field(0.1, ge=0)
    format: float = Field(0.2, ge=0)
    judge: float = Field(0.0, ge=0)
    """An optional LM judge part (0: off; its part function is passed to :func:`score`)."""

    @model_validator(mode="after")
    def _not_all_zero(self) -> Weights:
        if sum(self.as_dict().values()) <= 0:
            raise ValueError("metric weights must not all be zero")
        if self.similarity + self.relevance + self.setup <= 0:
            raise ValueError(
                "similarity, relevance and setup must not all be zero (without a content part, the absence "
                "of a defect would earn credit where nothing was said)"
            )
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in PART_NAMES}

    def normalised(self) -> dict[str, float]:
        raw = self.as_dict()
        total = sum(raw.values())
        return {k: v / total for k, v in raw.items()}


@dataclass
class Score:
    """A composite score, its parts and what failed, in words."""

    score: float
    parts: dict[str, float] = field(default_factory=dict)
    feedback: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return self.score


def _zero(reason: str, **details: Any) -> Score:
    return Score(0.0, {}, reason, {"error": reason, **details})


def _validate(
    gold: GoldExample, scenario: Any, annotated: Any, task: str
) -> tuple[str | None, list[Any] | None, list[str]]:
    """Normalise the prediction; return (scenario, lines, fatal problems)."""
    fatal: list[str] = []
    if task not in ("both", "scenario", "actions"):
        fatal.append(f"unknown task {task!r}")
        return None, None, fatal
    if task in ("both", "scenario"):
        if scenario is None:
            fatal.append("no scenario was produced")
        elif not isinstance(scenario, str):
            fatal.append(f"scenario must be text, got {type(scenario).__name__}")
            scenario = None
        elif not scenario.strip():
            fatal.append("the scenario is empty")
        elif len(scenario) > MAX_CHARS:
            fatal.append(f"the scenario is too long ({len(scenario):,} chars > {MAX_CHARS:,})")
            scenario = None
    else:
        scenario = None
    lines: list[Any] | None = None
    if task in ("both", "actions"):
        if annotated is None:
            fatal.append("no annotated lines were produced")
        elif isinstance(annotated, (str, bytes)) or not isinstance(annotated, (list, tuple)):
            fatal.append(f"annotated_lines must be a list of strings, got {type(annotated).__name__}")
        else:
            lines = list(annotated)
            if not lines:
                fatal.append("annotated_lines is empty")
            too_long = [i + 1 for i, x in enumerate(lines) if isinstance(x, str) and len(x) > MAX_CHARS]
            if too_long:
                fatal.append(f"annotated line(s) {too_long[:5]} are too long (> {MAX_CHARS:,} chars)")
                lines = None
    return scenario, lines, fatal


def score(
    gold: GoldExample,
    scenario: Any = None,
    annotated_lines: Any = None,
    *,
    task: Task = "both",
    weights: Weights | dict[str, float] | None = None,
    person: Literal["first", "third"] = "first",
    known_names: Iterable[str] = (),
    embedder: similarity.Embedder | None = None,
    format_config: fmt.FormatConfig | None = None,
    judge: Callable[[GoldExample, str, list[str]], list[str]] | None = None,
    extra_parts: Mapping[str, PartFn] | None = None,
    instructions: str | Sequence[str] | copied.Instructions | None = None,
) -> Score:
    """Score one prediction against its gold example (never raises).

    ``instructions``: the program's own instruction text; an output whose scenario or actions
    repeat it scores 0 (a gate, :mod:`metrics.copied`: "the model copied its instructions").

    ``extra_parts``: optional parts by name (a weight of that name must be set in ``weights``,
    e.g. ``judge``); each is called as ``fn(gold, scenario, annotated_lines)`` and returns a
    :class:`metrics.consistency.Check` (or ``None`` when it does not apply). Parts whose weight is
    0 are not called. They count as defect parts (credit scaled by the content score).
    """
    try:
        return _score(
            gold, scenario, annotated_lines, task=task, weights=weights, person=person,
            known_names=tuple(known_names), embedder=embedder, format_config=format_config,
            judge=judge, extra_parts=extra_parts, instructions=instructions,
        )
    except Exception as exc:  # a metric must never break an optimizer run
        return _zero(f"metric error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")


def _score(
    gold: GoldExample,
    scenario: Any,
    annotated_lines: Any,
    *,
    task: str,
    weights: Weights | dict[str, float] | None,
    person: str,
    known_names: tuple[str, ...],
    embedder: similarity.Embedder | None,
    format_config: fmt.FormatConfig | None,
    judge: Callable[[GoldExample, str, list[str]], list[str]] | None,
    extra_parts: Mapping[str, PartFn] | None = None,
    instructions: str | Sequence[str] | copied.Instructions | None = None,
) -> Score:
    if not isinstance(gold, GoldExample):
        return _zero(f"gold must be a GoldExample, got {type(gold).__name__}")
    if isinstance(weights, dict):
        weights = Weights(**weights)
    w = (weights or Weights()).normalised()
    scen, lines, fatal = _validate(gold, scenario, annotated_lines, task)
    if task == "both" and scen is None and lines is None or task != "both" and fatal:
        return _zero("; ".join(fatal))
    emb = embedder or similarity.default_embedder()
    if isinstance(scen, str) and not scen.strip():
        scen = None  # an empty scenario is no scenario (the input issue already says so)

    acc = Parts()
    if fatal:
        acc.issues["input"] = fatal
    gate: float = 1.0
    exact: list[bool] = []
    if task in ("both", "actions"):
        gate, exact = verbatim_part(acc, gold, lines)
    found = copied.copied_spans(scen, lines, instructions) if instructions else None
    if found is not None and found.copied:  # the prompt given back is no output at all: a gate
        gate = 0.0
        acc.issue("copied", found.reason())
        acc.details["copied"] = found.spans
    per_line = similarity_part(acc, gold, scen, lines, task=task, exact=exact, embedder=emb)
    if task in ("both", "actions"):
        relevance_part(acc, gold, lines, exact=exact, gold_skill=per_line, embedder=emb)
    setup_part(acc, gold, scen, task=task, embedder=emb)
    consistency_parts(
        acc, gold, scen, lines, task=task, known_names=known_names, person=person, judge=judge, embedder=emb
    )
    format_part(acc, gold, scen, lines, person=person, config=format_config)
    optional_parts(acc, gold, scen, lines, extra_parts or {}, w)

    final, content, hygiene = combine(acc.parts, w, gate)
    clean_parts = {k: float(v) for k, v in acc.parts.items() if v is not None}
    acc.details["gate"] = gate
    acc.details["content"] = content
    acc.details["hygiene"] = hygiene
    return Score(final, clean_parts, _feedback(final, clean_parts, acc.issues), acc.details)


def combine(parts: dict[str, float | None], weights: dict[str, float], gate: float) -> tuple[float, float, float]:
    """``(score, content, hygiene)`` from the applicable parts (see the module doc).

    ``content`` is the weighted mean of the content parts (similarity, relevance, setup); every other
    part earns its weight only in proportion to ``content``::

        score = gate × (Σ_c w_c·p_c + content × Σ_d w_d·p_d) / Σ w   =   gate × content × hygiene
    """
    used = {k: v for k, v in parts.items() if v is not None and weights.get(k, 0.0) > 0}
    total = sum(weights[k] for k in used)
    if not total:
        return 0.0, 0.0, 0.0
    cw = sum(weights[k] for k in used if k in CONTENT_PARTS)
    content = sum(weights[k] * used[k] for k in used if k in CONTENT_PARTS) / cw if cw else 1.0
    defect = sum(weights[k] * used[k] for k in used if k not in CONTENT_PARTS)
    raw = (sum(weights[k] * used[k] for k in used if k in CONTENT_PARTS) + content * defect) / total
    hygiene = (cw + defect) / total
    return max(0.0, min(1.0, raw * gate)), content, hygiene


def _feedback(final: float, parts: dict[str, float], issues: dict[str, list[str]]) -> str:
    if not issues:
        return f"score {final:.2f}: all checks passed."
    chunks = [f"score {final:.2f}."]
    for name, found in issues.items():
        chunks.append(f"{name}: " + "; ".join(found[:4]) + ("; …" if len(found) > 4 else "") + ".")
    text = " ".join(chunks)
    return text if len(text) <= MAX_FEEDBACK else text[: MAX_FEEDBACK - 1] + "…"


# --------------------------------------------------------------------------------------------
# batch


def score_many(
    pairs: Sequence[tuple[GoldExample, Any, Any]],
    *,
    embedder: similarity.Embedder | None = None,
    **kwargs: Any,
) -> list[Score]:
    """Score many ``(gold, scenario, annotated_lines)`` triples, encoding all texts in one batch.

    Gold texts are pinned in the embedder cache; the per-example scoring then only hits the
    cache. Keyword arguments are those of :func:`score`.
    """
    emb = embedder or similarity.default_embedder()
    gold_texts: list[str] = anchor_texts()
    pred_texts: list[str] = []
    for gold, scen, lines in pairs:
        g, p = texts_to_encode(gold, scen, lines)
        gold_texts.extend(g)
        pred_texts.extend(p)
    try:
        # One model call for every miss (a length-sorted batch is fastest), then pin the gold.
        if gold_texts or pred_texts:
            emb.encode(gold_texts + pred_texts)
        if gold_texts:
            emb.encode(gold_texts, pin=True)
    except Exception:  # fall back to per-example scoring, which reports the error itself
        pass
    return [score(g, s, a, embedder=emb, **kwargs) for g, s, a in pairs]


def score_examples(
    pairs: Sequence[tuple[GoldExample, Any, Any]],
    *,
    embedder: similarity.Embedder | None = None,
    **kwargs: Any,
) -> list[Score]:
    """:func:`score_many` with each example's task (what its gold has) and person (what its gold
    actions use), one batch per (task, person); results in input order."""
    out: list[Score | None] = [None] * len(pairs)
    groups: dict[tuple[str, str], list[int]] = {}
    for k, (gold, _, _) in enumerate(pairs):
        if not isinstance(gold, GoldExample):
            out[k] = _zero(f"gold must be a GoldExample, got {type(gold).__name__}")
            continue
        task = task_of(gold)
        person = detect_person(gold.annotated) if gold.annotated else "first"
        groups.setdefault((task, person), []).append(k)
    for (task, person), idx in groups.items():
        opts = {"task": task, "person": person, **kwargs}
        for k, sc in zip(idx, score_many([pairs[k] for k in idx], embedder=embedder, **opts)):
            out[k] = sc
    return [sc if sc is not None else _zero("not scored") for sc in out]


def task_of(gold: GoldExample) -> Task:
    """The task a gold example can score: what its gold has (scenario, annotated lines or both)."""
    if gold.scenario and gold.annotated:
        return "both"
    return "scenario" if gold.scenario else "actions"


def anchor_texts() -> list[str]:
    """The uninformed baselines' texts (:mod:`metrics.anchors`), encoded once per embedder."""
    return list(anchors.UNINFORMED_SCENARIOS) + list(anchors.UNINFORMED_ACTIONS)


def texts_to_encode(gold: Any, scenario: Any, lines: Any) -> tuple[list[str], list[str]]:
    """(gold-side texts, prediction texts) that scoring one example encodes (for one batch)."""
    if not isinstance(gold, GoldExample):
        return [], []
    scen = scenario if isinstance(scenario, str) and len(scenario) <= MAX_CHARS else None
    lst = lines if isinstance(lines, list) else None
    g, p = similarity.texts_for_similarity(gold.scenario, gold.annotated, scen, lst)
    g.extend(consistency.grounding_sources(gold))
    g.append(relevance.scene_text(gold))
    if scen:
        p.append(scen)  # the setup part (metrics.craft)
        p.extend(fmt.sentences(scen))
    if lst:
        ok = [x for x in lst if isinstance(x, str) and len(x) <= MAX_CHARS]
        p.extend(t for t in (action_text(x) for x in ok) if t)
        p.extend(sp for x in ok for sp in actions(x))  # each span's craft (metrics.craft)
    return g, p


# --------------------------------------------------------------------------------------------
# DSPy adapters


@lru_cache(maxsize=4096)
def _parse_gold(blob: str) -> GoldExample:
    return GoldExample.model_validate_json(blob)


def _gold_of(example: Any) -> GoldExample:
    gold = example.get("gold") if hasattr(example, "get") else getattr(example, "gold", None)
    if gold is None:
        gold = getattr(example, "gold", None)
    if isinstance(gold, GoldExample):
        return gold
    if isinstance(gold, dict):
        return GoldExample.model_validate(gold)
    if isinstance(gold, (str, bytes)):
        return _parse_gold(gold if isinstance(gold, str) else gold.decode("utf-8"))
    raise ValueError("example has no 'gold' field (GoldExample JSON)")


def _pred_field(pred: Any, name: str) -> Any:
    if pred is None:
        return None
    if isinstance(pred, dict):
        return pred.get(name)
    try:
        return getattr(pred, name)
    except Exception:
        try:
            return pred.get(name)  # dspy.Prediction / Example
        except Exception:
            return None


def _score_example(example: Any, pred: Any, task: str, **kwargs: Any) -> Score:
    try:
        gold = _gold_of(example)
    except Exception as exc:
        return _zero(f"bad gold example: {' '.join(str(exc).split())[:200]}")
    return score(
        gold, _pred_field(pred, "scenario"), _pred_field(pred, "annotated_lines"), task=task, **kwargs
    )


def dspy_metric(
    task: Task = "both",
    weights: Weights | dict[str, float] | None = None,
    threshold: float = 0.5,
    **kwargs: Any,
) -> Callable[..., float | bool]:
    """A DSPy metric ``metric(example, pred, trace=None)``.

    Reads ``example.gold`` (a :class:`GoldExample` as JSON) and ``pred.scenario`` /
    ``pred.annotated_lines``. Returns the score, or ``score >= threshold`` when ``trace`` is
    given (bootstrapping keeps only good demos). Extra keyword arguments go to :func:`score`.
    """
    w = Weights(**weights) if isinstance(weights, dict) else weights

    def metric(example: Any, pred: Any, trace: Any = None) -> float | bool:
        s = _score_example(example, pred, task, weights=w, **kwargs).score
        return s >= threshold if trace is not None else s

    metric.__name__ = f"augmentlab_{task}_metric"
    return metric


def gepa_metric(
    task: Task = "both",
    weights: Weights | dict[str, float] | None = None,
    **kwargs: Any,
) -> Callable[..., Any]:
    """A GEPA feedback metric ``metric(gold, pred, trace, pred_name, pred_trace)``.

    Returns ``dspy.Prediction(score=..., feedback=...)``; the feedback names what failed so
    GEPA's reflection can fix the prompt.
    """
    import dspy

    w = Weights(**weights) if isinstance(weights, dict) else weights

    def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        s = _score_example(gold, pred, task, weights=w, **kwargs)
        return dspy.Prediction(score=s.score, feedback=s.feedback)

    metric.__name__ = f"augmentlab_{task}_gepa_metric"
    return metric
