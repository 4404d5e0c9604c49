"""Preference sets: candidates of known quality for the same scenes, ranked by blind readers, and
how well an evaluator keeps the readers' order.

A preference set is a directory (``../shared/preference-dev/<name>/`` has two)::

    scenes.jsonl       GoldExample rows (the reference: scenario + annotated)
    candidates.jsonl   {"id", "scene", "source", "scenario", "annotated"}
    judgements.jsonl   {"scene", "judge", "ranking": [candidate ids, best first], "grades", "why"}

A pair of candidates of one scene is **decisive** when every reading of that scene orders it the
same way (:func:`decisive_pairs`). An evaluator's **agreement** is the share of decisive pairs
whose order it keeps, a tie counting half (:func:`agreement`); it is also reported on the pairs
that do not involve the reference (``source == "reference"``), the only fair ones for an evaluator
that is shown the reference. The **length baseline** is the evaluator "the longer wins", on the
total characters of the candidate's *actions* (the spoken words are the same in every candidate)
plus its scenario: what any content score must beat (AlpacaEval measured 62 % for it on people's
preferences).

Evaluators. Everything that can judge a pair implements :class:`PairEvaluator`: a ``name`` and
``prefer(gold, a, b) -> Verdict`` (:class:`augmentlab.core.verdicts.Verdict`, the one type every
evaluator answers with). Adapters:

- :class:`ScoreEvaluator` — any per-candidate score ``fn(gold, candidate) -> float`` (higher is
  better; equal scores are a tie); :func:`composite_evaluator` is the composite, with the
  reference or without any gold (:func:`strip_gold`);
- :class:`VerdictsEvaluator` — imported verdicts (a verdicts JSONL whose ``scene`` / ``a`` / ``b``
  are the set's scene and candidate ids); a pair it has no verdict for is a tie;
- :func:`length_evaluator` — the length baseline.

An LM judge or a person plugs in by implementing ``prefer``; nothing else is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import read_jsonl
from augmentlab.core.model import GoldExample
from augmentlab.core.text import action_text, is_verbatim
from augmentlab.core.verdicts import MAX_MARGIN, Verdict
from metrics import composite

__all__ = [
    "Agreement",
    "Candidate",
    "Judgement",
    "Pair",
    "PairEvaluator",
    "PreferenceSet",
    "REFERENCE",
    "ScoreEvaluator",
    "VerdictsEvaluator",
    "agreement",
    "candidate_length",
    "composite_evaluator",
    "decisive_pairs",
    "evaluate",
    "length_evaluator",
    "read_set",
    "strip_gold",
]

REFERENCE = "reference"
"""The ``source`` of the candidate that is the gold itself."""


@dataclass(frozen=True)
class Candidate:
    """One augmentation of a scene: a scenario and the scene's lines annotated."""

    id: str
    scene: str
    source: str
    scenario: str | None
    annotated: list[str]


@dataclass(frozen=True)
class Judgement:
    """One reader's ranking of a scene's candidates, best first."""

    scene: str
    judge: str
    ranking: list[str]
    grades: dict[str, float] = field(default_factory=dict)
    why: str = ""


@dataclass(frozen=True)
class Pair:
    """A decisive pair: every reading of ``scene`` ranks ``better`` above ``worse``."""

    scene: str
    better: str
    worse: str


@dataclass
class PreferenceSet:
    name: str
    path: Path
    scenes: dict[str, GoldExample]
    candidates: dict[str, Candidate]
    judgements: list[Judgement]

    def of_scene(self, scene: str) -> list[Candidate]:
        return [c for c in self.candidates.values() if c.scene == scene]

    def is_reference(self, candidate: str) -> bool:
        return self.candidates[candidate].source == REFERENCE


# --------------------------------------------------------------------------------------------
# reading


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise AugmentlabError(f"preference set: {path} not found")
    try:
        rows = read_jsonl(path)
    except AugmentlabError:
        raise
    except Exception as exc:  # bad JSON, not UTF-8
        raise AugmentlabError(f"{path}: not a JSONL file ({' '.join(str(exc).split())[:120]})") from None
    out = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise AugmentlabError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        out.append((n, row))
    return out


def _str(row: dict[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = row.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise AugmentlabError(f"{where}: '{key}' must be a non-empty string")
    return value


def _read_scenes(path: Path) -> dict[str, GoldExample]:
    scenes: dict[str, GoldExample] = {}
    for n, row in _rows(path):
        try:
            gold = GoldExample.model_validate(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ())) or "row"
            raise AugmentlabError(f"{path}:{n}: bad scene ({loc}: {first['msg']})") from None
        if gold.id in scenes:
            raise AugmentlabError(f"{path}:{n}: scene {gold.id!r} appears twice")
        scenes[gold.id] = gold
    return scenes


def _read_candidate(row: dict[str, Any], where: str, scenes: dict[str, GoldExample]) -> Candidate:
    cid, scene, source = (_str(row, k, where) for k in ("id", "scene", "source"))
    scenario = _str(row, "scenario", where, optional=True) if row.get("scenario") != "" else ""
    annotated = row.get("annotated")
    if not isinstance(annotated, list) or not all(isinstance(a, str) for a in annotated):
        raise AugmentlabError(f"{where}: 'annotated' must be a list of strings")
    gold = scenes.get(scene)
    if gold is None:
        raise AugmentlabError(f"{where}: candidate {cid!r} names an unknown scene {scene!r}")
    lines = gold.scene.lines
    if len(annotated) != len(lines):
        raise AugmentlabError(f"{where}: candidate {cid!r} has {len(annotated)} line(s), its scene has {len(lines)}")
    bad = [i + 1 for i, (a, ln) in enumerate(zip(annotated, lines)) if not is_verbatim(a, ln.text)]
    if bad:
        raise AugmentlabError(f"{where}: candidate {cid!r} does not keep the words of its scene's line(s) {bad[:5]}")
    return Candidate(cid, scene, source, scenario, list(annotated))


def _read_judgement(row: dict[str, Any], where: str, candidates: dict[str, Candidate]) -> Judgement:
    scene, judge = _str(row, "scene", where), _str(row, "judge", where)
    ranking = row.get("ranking")
    if not isinstance(ranking, list) or len(ranking) < 2 or not all(isinstance(r, str) for r in ranking):
        raise AugmentlabError(f"{where}: 'ranking' must be a list of two or more candidate ids")
    if len(set(ranking)) != len(ranking):
        raise AugmentlabError(f"{where}: 'ranking' names a candidate twice")
    for cid in ranking:
        cand = candidates.get(cid)
        if cand is None or cand.scene != scene:
            raise AugmentlabError(f"{where}: 'ranking' names {cid!r}, not a candidate of scene {scene!r}")
    grades = row.get("grades") or {}
    if not isinstance(grades, dict) or not all(isinstance(v, (int, float)) for v in grades.values()):
        raise AugmentlabError(f"{where}: 'grades' must map candidate ids to numbers")
    why = row.get("why") if isinstance(row.get("why"), str) else ""
    return Judgement(scene, judge, list(ranking), {str(k): float(v) for k, v in grades.items()}, why)


def read_set(path: str | Path) -> PreferenceSet:
    """Read a preference set directory; any bad file or row is one :class:`AugmentlabError`."""
    root = Path(path)
    if not root.is_dir():
        raise AugmentlabError(f"preference set not found: {root} (a directory with scenes.jsonl, "
                              "candidates.jsonl, judgements.jsonl)")
    scenes = _read_scenes(root / "scenes.jsonl")
    candidates: dict[str, Candidate] = {}
    for n, row in _rows(root / "candidates.jsonl"):
        cand = _read_candidate(row, f"{root / 'candidates.jsonl'}:{n}", scenes)
        if cand.id in candidates:
            raise AugmentlabError(f"{root / 'candidates.jsonl'}:{n}: candidate {cand.id!r} appears twice")
        candidates[cand.id] = cand
    judgements = [_read_judgement(row, f"{root / 'judgements.jsonl'}:{n}", candidates)
                  for n, row in _rows(root / "judgements.jsonl")]
    if not judgements:
        raise AugmentlabError(f"{root / 'judgements.jsonl'}: no judgements")
    return PreferenceSet(root.name, root, scenes, candidates, judgements)


# --------------------------------------------------------------------------------------------
# decisive pairs and agreement


def decisive_pairs(pset: PreferenceSet) -> list[Pair]:
    """Pairs of one scene that every reading of the scene orders the same way (a pair some
    reading leaves out is not decisive)."""
    by_scene: dict[str, list[Judgement]] = {}
    for j in pset.judgements:
        by_scene.setdefault(j.scene, []).append(j)
    pairs: list[Pair] = []
    for scene in sorted(by_scene):
        readings = by_scene[scene]
        first = readings[0].ranking
        for i, x in enumerate(first):
            for y in first[i + 1 :]:
                if all(x in r.ranking and y in r.ranking and r.ranking.index(x) < r.ranking.index(y)
                       for r in readings):
                    pairs.append(Pair(scene, x, y))
    return pairs


@dataclass
class Agreement:
    """How often one evaluator keeps the readers' order."""

    name: str
    n: int
    kept: float
    n_nonref: int
    kept_nonref: float

    @property
    def rate(self) -> float:
        return self.kept / self.n if self.n else float("nan")

    @property
    def rate_nonref(self) -> float:
        return self.kept_nonref / self.n_nonref if self.n_nonref else float("nan")


@runtime_checkable
class PairEvaluator(Protocol):
    """Anything that says which of two candidates of a scene is better data."""

    name: str

    def prefer(self, gold: GoldExample, a: Candidate, b: Candidate) -> Verdict:
        """A :class:`Verdict` on ``(a, b)`` (``a`` / ``b`` are the candidates' ids)."""
        ...


def evaluate(pset: PreferenceSet, evaluator: PairEvaluator, pairs: Sequence[Pair] | None = None) -> list[Verdict]:
    """The evaluator's verdict on each decisive pair, asked as ``(better, worse)`` in the readers'
    order (an evaluator that cares about position must judge both orders itself)."""
    out = []
    for p in pairs if pairs is not None else decisive_pairs(pset):
        out.append(evaluator.prefer(pset.scenes[p.scene], pset.candidates[p.better], pset.candidates[p.worse]))
    return out


def agreement(pset: PreferenceSet, evaluator: PairEvaluator, pairs: Sequence[Pair] | None = None) -> Agreement:
    """Share of decisive pairs whose order ``evaluator`` keeps (tie = half), overall and on the
    pairs without the reference."""
    pairs = list(pairs if pairs is not None else decisive_pairs(pset))
    kept = kept_nr = 0.0
    n_nr = 0
    for p, v in zip(pairs, evaluate(pset, evaluator, pairs)):
        got = v.score_for(p.better) if {v.a, v.b} == {p.better, p.worse} else 0.5
        kept += got
        if not (pset.is_reference(p.better) or pset.is_reference(p.worse)):
            n_nr += 1
            kept_nr += got
    return Agreement(evaluator.name, len(pairs), kept, n_nr, kept_nr)


# --------------------------------------------------------------------------------------------
# evaluators


def _verdict(scene: str, a: str, b: str, sa: float, sb: float, source: str, why: str = "") -> Verdict:
    diff = sa - sb
    winner = "tie" if abs(diff) < 1e-9 else ("a" if diff > 0 else "b")
    return Verdict(scene=scene, a=a, b=b, winner=winner, margin=min(MAX_MARGIN, abs(diff) * 4), why=why,
                   source=source, kind="composite", extra={"a_score": sa, "b_score": sb})


class ScoreEvaluator:
    """A per-candidate score as a :class:`PairEvaluator` (higher wins; equal is a tie). Scores are
    memoised by candidate id."""

    def __init__(self, name: str, fn: Callable[[GoldExample, Candidate], float], *, source: str = "composite") -> None:
        self.name = name
        self.fn = fn
        self.source = source
        self.scores: dict[str, float] = {}

    def score(self, gold: GoldExample, cand: Candidate) -> float:
        if cand.id not in self.scores:
            self.scores[cand.id] = float(self.fn(gold, cand))
        return self.scores[cand.id]

    def prefer(self, gold: GoldExample, a: Candidate, b: Candidate) -> Verdict:
        return _verdict(gold.id, a.id, b.id, self.score(gold, a), self.score(gold, b), self.source)


class VerdictsEvaluator:
    """Imported verdicts as an evaluator: the verdict on ``(a, b)`` or ``(b, a)``; a pair with no
    verdict is a tie (counted in :attr:`missing`)."""

    def __init__(self, name: str, verdicts: Iterable[Verdict]) -> None:
        self.name = name
        self.by_pair: dict[tuple[str, str, str], Verdict] = {}
        for v in verdicts:
            self.by_pair[(v.scene, v.a, v.b)] = v
        self.missing = 0

    def check_ids(self, pset: PreferenceSet) -> int:
        """How many verdicts name this set's scenes and candidates."""
        return sum(1 for (s, a, b) in self.by_pair if s in pset.scenes and a in pset.candidates and b in pset.candidates)

    def prefer(self, gold: GoldExample, a: Candidate, b: Candidate) -> Verdict:
        v = self.by_pair.get((gold.id, a.id, b.id))
        if v is None and (w := self.by_pair.get((gold.id, b.id, a.id))) is not None:
            v = w.swapped()
        if v is None:
            self.missing += 1
            return Verdict(scene=gold.id, a=a.id, b=b.id, winner="tie", source=f"import:{self.name}",
                           kind="human", why="no verdict for this pair")
        return v


def candidate_length(cand: Candidate) -> int:
    """Characters a candidate adds: its scenario plus its actions (the spoken words are the same
    in every candidate of a scene, so they are left out)."""
    return len(cand.scenario or "") + sum(len(action_text(a)) for a in cand.annotated)


def length_evaluator() -> ScoreEvaluator:
    """The length baseline: the longer candidate (scenario + actions, in characters) wins."""
    return ScoreEvaluator("length baseline (longer wins: scenario + actions chars)",
                          lambda g, c: float(candidate_length(c)), source="length")


def strip_gold(gold: GoldExample) -> GoldExample:
    """The scene without its reference outputs: what a user with a new script has."""
    return gold.model_copy(update={"scenario": None, "annotated": None})


def composite_evaluator(pset: PreferenceSet, *, with_reference: bool, **score_kwargs: Any) -> ScoreEvaluator:
    """The composite (:mod:`metrics.composite`) as an evaluator, every candidate of the set scored
    in one batch: against the reference, or against the bare scene (``with_reference=False``,
    task ``both``, person first)."""
    cands = list(pset.candidates.values())
    golds = [pset.scenes[c.scene] if with_reference else strip_gold(pset.scenes[c.scene]) for c in cands]
    triples = [(g, c.scenario, c.annotated) for g, c in zip(golds, cands)]
    if with_reference:
        results = composite.score_examples(triples, **score_kwargs)
    else:
        results = composite.score_many(triples, task="both", person="first", **score_kwargs)
    by_id = {c.id: r.score for c, r in zip(cands, results)}
    name = "composite, with the reference" if with_reference else "composite, no gold"
    ev = ScoreEvaluator(name, lambda g, c: by_id[c.id])
    ev.scores.update(by_id)
    return ev
