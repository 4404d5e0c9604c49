"""The run's verdict from the best evidence present: pairwise verdicts (LM judge, people) or the composite.

- **Gates** (:func:`gate`): before any judge looks at an output, the deterministic checks of the
  composite (:mod:`metrics.consistency`, :mod:`metrics.format`) — no reference needed — rule out
  what is unusable as training data whatever its style: a human line whose words changed, a
  character acting in another's line, spoken words echoed in an action, leaked field markers /
  JSON / markdown, a speaker prefix, unbalanced asterisks. An output that fails its gate loses to
  one that passes (verdict ``source = "gate"``); two failing outputs tie; the judge is not asked.
- **Verdicts of a run** (:func:`judge_outcomes`): every variant against the baseline on each test
  scene both answered, by a :class:`PairJudge` (``prefer(gold, a, b) -> Verdict``, both orders
  inside). **Human verdicts** (:func:`read_human`) come from files (``augmentlab judge serve``
  writes ``out/<spec>/verdicts/human.jsonl``; ``--verdicts FILE`` imports more) and count the same.
- **The decision** (:func:`decide` → :class:`Evidence`): win rate vs the baseline with its
  interval, the length-controlled win rate, Bradley–Terry strengths when there are several variants
  (:mod:`augmentlab.core.preference_stats`), the winner (detectably better, else the baseline) and
  the sentence saying which evidence decided.
- **A judge as an optimizer's metric** (:class:`JudgeMetric`): the win of a prediction against
  the baseline's output on the same training example (computed once, cached), with the judge's
  ``why`` as GEPA's feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample
from augmentlab.core.preference_stats import (
    WinRate,
    bradley_terry,
    judged_winner,
    length_controlled_win_rate,
    win_rate,
)
from augmentlab.core.stats import Interval
from augmentlab.core.text import words
from augmentlab.core.verdicts import Verdict, read_verdicts
from metrics import consistency
from metrics.format import FormatConfig, check_format
from metrics.pairwise import Candidate, open_pairwise_judge
from prompts.variants import load_variant


JUNK_FLOOR = 0.2
"""The composite's junk tier (``metrics/README.md``): above it, an output is at least competent."""
GATE_SOURCE = "gate"
_HARD_FORMAT = ("echoed", "leaked field marker", "JSON in the text", "markdown header", "speaker prefix",
                "unbalanced asterisks")
_EVIDENCE_NAMES = {"lm": "the LM judge", "human": "human verdicts", "composite": "the composite"}


class PairJudge(Protocol):
    """What decides between two outputs for one scene (``metrics.pairwise.PairwiseJudge`` is one)."""

    def prefer(self, gold: GoldExample, a: Any, b: Any) -> Verdict: ...


def gate(gold: GoldExample, scenario: str | None, lines: Sequence[Any] | None, *, task: str = "both") -> list[str]:
    """Why this output is unusable whatever a judge thinks (empty when it passes)."""
    reasons: list[str] = []
    if task in ("both", "scenario") and not (isinstance(scenario, str) and scenario.strip()):
        reasons.append("no scenario")
    if task in ("both", "actions"):
        if not isinstance(lines, list | tuple) or not lines:
            return reasons + ["no annotated lines"]
        v = consistency.verbatim(gold.scene.lines, list(lines))
        if v.score < 1.0:
            reasons.append(v.issues[0] if v.issues else "the human words were not kept")
        acting = consistency.cast(gold, scenario, list(lines)).details.get("acting") or []
        reasons.extend(f"line {n}: {who} acts in {speaker}'s line" for n, who, speaker in acting[:2])
    result = check_format(scenario if isinstance(scenario, str) else None,
                          list(lines) if isinstance(lines, list | tuple) else None, gold.scene.lines,
                          FormatConfig(tense="any"))
    reasons.extend(i for i in result.issues if any(h in i for h in _HARD_FORMAT))
    return reasons


def output_words(scenario: str | None, lines: Sequence[Any] | None) -> int:
    """The length of an output in words (scenario plus annotated lines): the length control's Δ."""
    text = (scenario or "") + " " + " ".join(x for x in (lines or []) if isinstance(x, str))
    return len(words(text))


def open_lm_judge(stack: ExitStack, judge_spec: Any) -> PairJudge:
    """The spec's LM judge (``[judge.lm]``, ``prompt``, ``margin``) from ``metrics.pairwise``, kept
    open (its LM) until ``stack`` closes."""
    instructions = load_variant(judge_spec.rubric, task="judge").instructions
    return stack.enter_context(open_pairwise_judge(judge_spec.lm, instructions, min_margin=int(judge_spec.min_margin)))


def judge_pair(judge: PairJudge, gold: GoldExample, a: Candidate, b: Candidate, *, kind: str, task: str) -> Verdict:
    """The gate first (no judge call when either fails), then ``judge.prefer``."""
    fail_a = gate(gold, a.scenario, a.annotated_lines, task=task)
    fail_b = gate(gold, b.scenario, b.annotated_lines, task=task)
    if fail_a or fail_b:
        winner = "tie" if fail_a and fail_b else ("b" if fail_a else "a")
        why = "; ".join([f"{a.id}: {r}" for r in fail_a[:2]] + [f"{b.id}: {r}" for r in fail_b[:2]])
        return Verdict(scene=gold.id, a=a.id, b=b.id, winner=winner, margin=0.0 if winner == "tie" else 4.0,
                       why=f"gate: {why}", source=GATE_SOURCE, kind=kind,  # type: ignore[arg-type]
                       extra={"gate": {a.id: fail_a, b.id: fail_b}})
    return judge.prefer(gold, a, b)


def judge_outcomes(
    judge: PairJudge,
    golds: Sequence[GoldExample],
    outputs: Mapping[str, Mapping[str, Candidate]],
    baseline: str,
    *,
    kind: str = "lm",
    task: str = "both",
) -> list[Verdict]:
    """Every variant of ``outputs`` (name → example id → its output) against ``baseline`` on each
    scene both answered; ``a`` is the variant, ``b`` the baseline."""
    base = outputs.get(baseline, {})
    out = []
    for name, mine in outputs.items():
        if name == baseline:
            continue
        for gold in golds:
            if gold.id in mine and gold.id in base:
                out.append(judge_pair(judge, gold, mine[gold.id], base[gold.id], kind=kind, task=task))
    return out


def read_human(paths: Iterable[str | Path], names: Iterable[str]) -> tuple[list[Verdict], list[str]]:
    """The verdicts of the files that exist among ``paths`` between two of ``names``; and notes."""
    known = set(names)
    verdicts: list[Verdict] = []
    notes = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            notes.append(f"no verdicts file at {p} yet")
            continue
        got = read_verdicts(p)
        kept = [v for v in got if v.a in known and v.b in known]
        if len(kept) < len(got):
            notes.append(f"{len(got) - len(kept)} verdict(s) of {p} compare candidates that are not variants of this run")
        verdicts.extend(kept)
    return verdicts, notes


# ------------------------------------------------------------------------------- the decision
@dataclass
class Evidence:
    """What decided (or would decide) the run: verdicts aggregated against the baseline."""

    kind: str
    """``lm`` | ``human`` | ``composite``."""
    source: str
    """Who gave the verdicts (``lm:<identity>``, ``human``), for the sentence and the tag."""
    baseline: str
    verdicts: list[Verdict] = field(default_factory=list)
    rates: dict[str, WinRate | None] = field(default_factory=dict)
    lc: dict[str, Interval | None] = field(default_factory=dict)
    strengths: dict[str, Interval] = field(default_factory=dict)
    """Bradley–Terry log-strengths (baseline = 0), when more than one variant was judged."""
    winner: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        """True when verdicts exist, so they (not the composite) choose the winner."""
        return any(r is not None for r in self.rates.values())

    @property
    def decided_by(self) -> str:
        """The parent run's ``augmentlab.decided_by`` tag: the verdicts' source, else ``composite``."""
        return self.source if self.decided else "composite"

    def sentence(self) -> str:
        """``decided by the LM judge (lm:...): vivid wins 9 of 12 vs seed, 0.79 [0.62, 0.92]``."""
        if not self.decided:
            return ""
        who = f"decided by {_EVIDENCE_NAMES.get(self.kind, self.kind)} ({self.source})"
        rate = self.rates.get(self.winner or "") if self.winner != self.baseline else None
        if rate is not None:
            return f"{who}: {rate.sentence()}"
        best = max((r for r in self.rates.values() if r is not None), key=lambda r: r.interval.mean)
        return f"{who}: no variant is detectably better than {self.baseline}; keep it (closest: {best.sentence()})"


def judge_source(verdicts: Sequence[Verdict], fallback: str) -> str:
    """The source of the verdicts that are not the gate's (the judge's identity), else ``fallback``."""
    sources = sorted({v.source for v in verdicts if v.source != GATE_SOURCE})
    if not sources:
        return fallback
    return sources[0] if len(sources) == 1 else f"{sources[0]} +{len(sources) - 1}"


def decide(
    verdicts: Sequence[Verdict],
    variants: Sequence[str],
    baseline: str,
    *,
    kind: str,
    source: str,
    lengths: Mapping[tuple[str, str], float] | None = None,
    seed: int = 0,
) -> Evidence:
    """Aggregate ``verdicts`` among ``variants`` against ``baseline`` (see the module doc)."""
    evidence = Evidence(kind=kind, source=judge_source(verdicts, source), baseline=baseline, verdicts=list(verdicts))
    for name in variants:
        if name == baseline:
            continue
        evidence.rates[name] = win_rate(verdicts, name, baseline, seed=seed)
        evidence.lc[name] = (length_controlled_win_rate(verdicts, name, baseline, lengths, seed=seed)
                             if lengths else None)
    judged = [n for n, r in evidence.rates.items() if r is not None]
    if len(judged) > 1:
        relevant = [v for v in verdicts if v.a in variants and v.b in variants]
        evidence.strengths = bradley_terry(relevant, baseline, seed=seed)
    if evidence.decided:
        evidence.winner = judged_winner(baseline, evidence.rates)
    elif verdicts:
        evidence.notes.append(f"no verdict compares a variant with the baseline {baseline}")
    return evidence


def cannot_separate(scores: Mapping[str, float], verdicts_by_variant: Mapping[str, str]) -> bool:
    """Every variant above the junk floor and no composite difference detectable: the composite
    cannot tell these variants apart, a judge or people must."""
    return (len(scores) > 1 and all(s > JUNK_FLOOR for s in scores.values())
            and all(v == "no detectable difference" for v in verdicts_by_variant.values()) and bool(verdicts_by_variant))


def separate_hint(spec_name: str) -> str:
    return (
        f"the composite cannot separate these variants (every one above the junk floor {JUNK_FLOOR}, no difference "
        f"detectable): add a judge — [judge] kind = \"lm\" with a capable [judge.lm] — or human verdicts "
        f"(`augmentlab judge serve {spec_name}`, then [judge] kind = \"human\")"
    )


# ------------------------------------------------------------------------------- optimizers
class JudgeMetric:
    """An optimizer's metric: the win (1 / 0.5 / 0) of a prediction against the baseline's output
    on the same example, by ``judge``; with ``feedback=True`` a ``dspy.Prediction(score, feedback)``
    (GEPA), the feedback being the judge's ``why``. The baseline's output per example is computed
    once (``baseline_output(example)``) and cached by example id."""

    def __init__(self, judge: PairJudge, baseline_output: Callable[[Any], Any], *, task: str,
                 threshold: float = 0.5, baseline: str = "baseline", name: str = "candidate") -> None:
        self.judge = judge
        self.baseline_output = baseline_output
        self.task = task
        self.threshold = threshold
        self.baseline = baseline
        self.name = name if name != baseline else f"{name}-candidate"
        self.cache: dict[str, Candidate] = {}
        self.calls = 0
        self.__name__ = "augmentlab_judge_metric"

    def _baseline_for(self, example: Any, gold: GoldExample) -> Candidate:
        if gold.id not in self.cache:
            out = self.baseline_output(example)
            self.cache[gold.id] = _candidate(self.baseline, out)
        return self.cache[gold.id]

    def verdict(self, example: Any, pred: Any) -> Verdict:
        gold = _gold_of(example)
        self.calls += 1
        return judge_pair(self.judge, gold, _candidate(self.name, pred), self._baseline_for(example, gold),
                          kind="lm", task=self.task)

    def __call__(self, example: Any, pred: Any, trace: Any = None) -> float | bool:
        score = self.verdict(example, pred).score_for(self.name)
        return score >= self.threshold if trace is not None else score

    def feedback(self) -> Callable[..., Any]:
        """The GEPA form ``metric(gold, pred, trace, pred_name, pred_trace) -> Prediction(score, feedback)``."""
        import dspy

        def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
            v = self.verdict(gold, pred)
            why = v.why or "no reason given"
            return dspy.Prediction(score=v.score_for(self.name), feedback=f"vs {self.baseline}: {v.winner}; {why}")

        metric.__name__ = "augmentlab_judge_gepa_metric"
        return metric


def _candidate(name: str, output: Any) -> Candidate:
    scenario = getattr(output, "scenario", None)
    lines = getattr(output, "annotated_lines", None)
    return Candidate(name, scenario if isinstance(scenario, str) else None,
                     list(lines) if isinstance(lines, list | tuple) else None)


def _gold_of(example: Any) -> GoldExample:
    gold = example.get("gold") if hasattr(example, "get") else getattr(example, "gold", None)
    if isinstance(gold, GoldExample):
        return gold
    if isinstance(gold, str):
        return GoldExample.model_validate_json(gold)
    if isinstance(gold, dict):
        return GoldExample.model_validate(gold)
    raise AugmentlabError("a judged example needs its 'gold' (the scene) to show the judge")


__all__ = [
    "Candidate",
    "Evidence",
    "GATE_SOURCE",
    "JUNK_FLOOR",
    "JudgeMetric",
    "PairJudge",
    "cannot_separate",
    "decide",
    "gate",
    "judge_outcomes",
    "judge_pair",
    "judge_source",
    "open_lm_judge",
    "output_words",
    "read_human",
    "separate_hint",
]
