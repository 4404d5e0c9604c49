"""An LLM judge as an optional part of the score: concrete flaws with a severity, not a grade.

In the spirit of CoSER's given-circumstance judge, the judge model does not give a score: it lists
the concrete flaws of an augmentation, each with a type (:data:`FLAW_TYPES`), the line it is in
(0 = the scenario), a severity 1–5 and the words that show it. The part is computed here:

    penalty = summed severity / units          units = scenario sentences + action spans
    part    = max(0, 1 - penalty / PENALTY_AT_ZERO)

The division by ``units`` is the length correction: a longer output has more chances to err, so
two flaws in forty sentences cost less than two flaws in four. An output with nothing to judge
(no scenario, no action) gets 0 without a call — no credit for the absence of flaws where there is
no content. When the judge's reply cannot be used the part abstains (``None``) and says why.

The judge's instructions are a variant file (``prompts/judge/*.md``, task ``judge``, loaded by the
caller with :func:`prompts.variants.load_variant`: metrics and prompts are sibling layers); its
signature below only declares fields. Calls go through an :class:`~augmentlab.lm.LMSession`
(:func:`augmentlab.lm.open_session`), so they are cached (DSPy's cache), counted and priced
(:meth:`~augmentlab.lm.LMSession.usage_since`) like every other call. The judge is for endpoint LMs: the
embedded model (SmolLM2-135M) cannot judge, and :func:`open_judge` refuses it.

:func:`combine` (and :func:`score_with_judge`, the composite score with it) is the hook into the composite: ``score × ((1 - w) + w × part)``. With the
default weight 0 the score is unchanged; with any weight the judge can only lower a score, never
lift one the composite gave 0, so the composite's anchors (nothing augmented, junk) hold.
:func:`calibrate` prints the judge's own ladder (``augmentlab metrics check --judge``).
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import augmentlab  # noqa: F401  (offline environment first)
import dspy
from pydantic import BaseModel

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig, LMSession, open_session
from augmentlab.core.model import GoldExample, Usage
from augmentlab.core.text import ACTION_RE
from metrics import composite, ladder

FLAW_TYPES: dict[str, str] = {
    "contradicts_lines": "contradicts the lines",
    "invents_fact": "invents a fact",
    "acts_for_other": "acts for another character",
    "leaks_later": "leaks later events",
    "retells": "retells instead of setting up",
    "breaks_format": "breaks person/format",
}
"""Flaw types the judge may report (``type`` → words)."""
PENALTY_AT_ZERO = 1.5
"""Summed severity per unit of content at which the part reaches 0."""
DEFAULT_PROMPT = "judge/given_circumstances"
"""The shipped judge prompt (``prompts/judge/given_circumstances.md``)."""
JUDGE_ENV_PREFIX = "AUGMENTLAB_JUDGE"
"""Environment variables naming the judge's endpoint (see :func:`judge_config_from_env`)."""
_SENTENCE_RE = re.compile(r"[^.!?]+[.!?]+|[^.!?]+$")
_ALIASES = {re.sub(r"[^a-z]+", "_", words).strip("_"): key for key, words in FLAW_TYPES.items()}


class Flaw(BaseModel):
    """One flaw as the judge reports it (validated by :func:`parse_flaws`)."""

    type: str
    line: int = 0
    severity: int
    evidence: str = ""


class JudgeFlaws(dspy.Signature):
    """An augmented scene → its flaws (instructions are set from a judge variant file)."""

    lines: str = dspy.InputField(desc="the human lines, numbered `N. Speaker: text`")
    context: str = dspy.InputField(desc="lines before the scene, same form; may be empty")
    cast: str = dspy.InputField(desc="characters of the scene, one per line")
    scenario: str = dspy.InputField(desc="the scenario the model wrote (line 0); may be empty")
    annotated_lines: str = dspy.InputField(desc="the annotated lines, numbered like the lines")
    flaws: list[Flaw] = dspy.OutputField(desc="every flaw: type, line (0 = scenario), severity 1-5, evidence")


@dataclass
class Verdict:
    """What the judge found in one output and the part derived from it."""

    part: float | None
    """In [0, 1]; ``None`` when the judge abstains (its reply could not be used)."""
    flaws: list[Flaw] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Reported flaws left out, each with the reason."""
    units: int = 0
    penalty: float = 0.0
    usage: Usage = field(default_factory=Usage)
    reason: str = ""

    @property
    def severity(self) -> int:
        return sum(f.severity for f in self.flaws)

    def summary(self, limit: int = 4) -> str:
        """The flaws in words, for feedback."""
        if self.part is None:
            return f"judge abstained: {self.reason}"
        if not self.flaws:
            return self.reason or "judge found no flaw"
        items = [
            f"{FLAW_TYPES[f.type]} ({'scenario' if f.line == 0 else f'line {f.line}'}, severity {f.severity}"
            + (f': "{f.evidence[:60]}"' if f.evidence else "")
            + ")"
            for f in self.flaws[:limit]
        ]
        more = f"; and {len(self.flaws) - limit} more" if len(self.flaws) > limit else ""
        return "judge: " + "; ".join(items) + more


# ---------------------------------------------------------------------------------- scoring


def content_units(scenario: Any, annotated: Any) -> int:
    """How much the model wrote that can be judged: scenario sentences plus action spans."""
    units = 0
    if isinstance(scenario, str) and scenario.strip():
        units += len([s for s in _SENTENCE_RE.findall(scenario.strip()) if s.strip(" .!?")])
    if isinstance(annotated, (list, tuple)):
        for line in annotated:
            if isinstance(line, str):
                units += sum(1 for m in ACTION_RE.finditer(line) if m.group(0).strip("* "))
    return units


def part_from_flaws(flaws: Sequence[Flaw], units: int, penalty_at_zero: float = PENALTY_AT_ZERO) -> tuple[float, float]:
    """``(part, penalty)``: the part from summed severity, corrected for length (see the module doc)."""
    if units <= 0:
        return 0.0, 0.0
    penalty = sum(f.severity for f in flaws) / units
    return max(0.0, 1.0 - penalty / penalty_at_zero), penalty


def _flaw_type(value: Any) -> str | None:
    key = re.sub(r"[^a-z]+", "_", str(value).lower()).strip("_")
    if key in FLAW_TYPES:
        return key
    return _ALIASES.get(key)


def parse_flaws(raw: Any, n_lines: int) -> tuple[list[Flaw], list[str]]:
    """Validated flaws and, for each one left out, why (unknown type, bad severity or line, duplicate)."""
    if raw is None:
        return [], []
    if not isinstance(raw, (list, tuple)):
        return [], [f"flaws is not a list ({type(raw).__name__})"]
    flaws: list[Flaw] = []
    skipped: list[str] = []
    seen: set[tuple[str, int, str]] = set()
    for i, item in enumerate(raw, 1):
        data = item.model_dump() if isinstance(item, BaseModel) else item
        if not isinstance(data, dict):
            skipped.append(f"flaw {i}: not an object")
            continue
        kind = _flaw_type(data.get("type"))
        if kind is None:
            skipped.append(f"flaw {i}: unknown type {str(data.get('type'))[:40]!r}")
            continue
        try:
            severity = int(data.get("severity"))
            if float(data.get("severity")) != severity:
                raise ValueError
        except (TypeError, ValueError):
            skipped.append(f"flaw {i}: severity {data.get('severity')!r} is not an integer 1-5")
            continue
        if not 1 <= severity <= 5:
            skipped.append(f"flaw {i}: severity {severity} is outside 1-5")
            continue
        try:
            line = int(data.get("line") or 0)
        except (TypeError, ValueError):
            skipped.append(f"flaw {i}: line {data.get('line')!r} is not a number")
            continue
        if not 0 <= line <= n_lines:
            skipped.append(f"flaw {i}: line {line} is not 0 (scenario) or 1-{n_lines}")
            continue
        evidence = " ".join(str(data.get("evidence") or "").split())
        key = (kind, line, evidence.lower())
        if key in seen:
            skipped.append(f"flaw {i}: duplicate of an earlier flaw")
            continue
        seen.add(key)
        flaws.append(Flaw(type=kind, line=line, severity=severity, evidence=evidence))
    return flaws, skipped


# ---------------------------------------------------------------------------------- the judge


def _numbered(lines: Sequence[Any]) -> str:
    out = []
    for n, line in enumerate(lines, 1):
        speaker = getattr(line, "speaker", None)
        text = getattr(line, "text", line)
        out.append(f"{n}. {speaker}: {text}" if speaker else f"{n}. {text}")
    return "\n".join(out)


def judge_inputs(gold: GoldExample, scenario: Any, annotated: Any) -> dict[str, str]:
    """The judge's input fields for one output (what it sees: the human lines and the output)."""
    scene = gold.scene
    cast = dict.fromkeys(ln.speaker for ln in scene.lines if ln.speaker)
    lines = [a if isinstance(a, str) else "" for a in annotated] if isinstance(annotated, (list, tuple)) else []
    return {
        "lines": _numbered(scene.lines),
        "context": _numbered(scene.context),
        "cast": "\n".join(cast),
        "scenario": scenario if isinstance(scenario, str) else "",
        "annotated_lines": "\n".join(f"{n}. {text}" for n, text in enumerate(lines, 1)),
    }


class Judge:
    """Lists an output's flaws with an LM and derives the part (see the module doc).

    ``session`` is an opened LM (:func:`open_judge` opens one from an :class:`LMConfig`);
    ``instructions`` the body of a judge variant file. :attr:`usage` sums every call made.
    """

    def __init__(
        self,
        session: LMSession,
        instructions: str,
        *,
        penalty_at_zero: float = PENALTY_AT_ZERO,
    ) -> None:
        if not instructions.strip():
            raise AugmentlabError("the judge needs instructions (a prompts/judge/*.md variant)")
        self.session = session
        self.penalty_at_zero = penalty_at_zero
        self.predict = dspy.Predict(JudgeFlaws.with_instructions(instructions.strip()))
        self.usage = Usage()

    def __call__(self, gold: GoldExample, scenario: Any = None, annotated: Any = None) -> Verdict:
        units = content_units(scenario, annotated)
        if units == 0:
            return Verdict(0.0, units=0, reason="nothing to judge (no scenario, no action): no credit")
        start = self.session.mark()
        try:
            with self.session.use():
                pred = self.predict(**judge_inputs(gold, scenario, annotated))
            raw, error = pred.flaws, ""
        except Exception as exc:  # an unusable reply: abstain, say why, never break the metric
            raw, error = None, f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        usage = self.session.usage_since(start)
        self.usage = self.usage + usage
        if error:
            return Verdict(None, units=units, usage=usage, reason=f"unusable judge reply ({error})")
        flaws, skipped = parse_flaws(raw, len(gold.scene.lines))
        part, penalty = part_from_flaws(flaws, units, self.penalty_at_zero)
        return Verdict(part, flaws, skipped, units, penalty, usage)


def judge_config_from_env(environ: dict[str, str] | None = None) -> LMConfig | None:
    """The judge's endpoint from the environment, or ``None`` when none is configured.

    ``AUGMENTLAB_JUDGE_MODEL`` (a litellm name, e.g. ``openai/gpt-4o-mini``), optional
    ``AUGMENTLAB_JUDGE_API_BASE`` and ``AUGMENTLAB_JUDGE_KEY_ENV`` (the *name* of the variable that
    holds the key), ``AUGMENTLAB_JUDGE_PRICES`` (``prompt,completion`` per 1k tokens).
    """
    env = os.environ if environ is None else environ
    model = env.get(f"{JUDGE_ENV_PREFIX}_MODEL")
    if not model:
        return None
    prices: tuple[float | None, float | None] = (None, None)
    if env.get(f"{JUDGE_ENV_PREFIX}_PRICES"):
        try:
            a, b = (float(x) for x in env[f"{JUDGE_ENV_PREFIX}_PRICES"].split(","))
            prices = (a, b)
        except ValueError:
            raise AugmentlabError(f"{JUDGE_ENV_PREFIX}_PRICES must be 'prompt,completion' per 1k tokens") from None
    return LMConfig(
        kind="endpoint",
        model=model,
        api_base=env.get(f"{JUDGE_ENV_PREFIX}_API_BASE") or None,
        api_key_env=env.get(f"{JUDGE_ENV_PREFIX}_KEY_ENV") or None,
        prompt_price_per_1k=prices[0],
        completion_price_per_1k=prices[1],
        max_tokens=2048,
    )


@contextmanager
def open_judge(config: LMConfig, instructions: str, **kwargs: Any) -> Iterator[Judge]:
    """A :class:`Judge` on the LM ``config`` describes (an endpoint; the embedded model is refused)."""
    if config.kind != "endpoint":
        raise AugmentlabError(
            f"the LLM judge is off for the {config.kind} model: configure an endpoint "
            f"(e.g. {JUDGE_ENV_PREFIX}_MODEL=openai/gpt-4o-mini, {JUDGE_ENV_PREFIX}_KEY_ENV=OPENAI_API_KEY)"
        )
    with open_session(config) as session:
        yield Judge(session, instructions, **kwargs)


# ---------------------------------------------------------------------------------- the hook


def combine(base: Any, verdict: Verdict | None, weight: float = 0.0) -> Any:
    """The composite :class:`~metrics.composite.Score` with the judge part folded in.

    ``score × ((1 - weight) + weight × part)``: weight 0 (the default) or an abstaining judge
    leave the score as it is; the judge can lower a score, never raise it.
    """
    if not 0.0 <= weight <= 1.0:
        raise AugmentlabError(f"judge weight must be in [0, 1], got {weight}")
    if verdict is None or weight == 0.0:
        return base
    details = {**base.details, "judge": {
        "part": verdict.part, "flaws": [f.model_dump() for f in verdict.flaws], "skipped": verdict.skipped,
        "units": verdict.units, "penalty": verdict.penalty, "reason": verdict.reason,
    }}
    feedback = f"{base.feedback} {verdict.summary()}." if base.feedback else verdict.summary()
    if verdict.part is None:
        return dataclasses.replace(base, details=details, feedback=feedback)
    factor = (1.0 - weight) + weight * verdict.part
    parts = {**base.parts, "judge": verdict.part}
    return dataclasses.replace(base, score=base.score * factor, parts=parts, feedback=feedback, details=details)


def score_with_judge(
    gold: GoldExample,
    scenario: Any = None,
    annotated_lines: Any = None,
    *,
    judge: Judge | None = None,
    weight: float = 0.0,
    **kwargs: Any,
) -> Any:
    """:func:`metrics.composite.score` with the judge folded in by :func:`combine`.

    Without a judge or with weight 0 (the defaults) this is the composite score itself and no
    call is made; keyword arguments go to the composite.
    """
    base = composite.score(gold, scenario, annotated_lines, **kwargs)
    if judge is None or weight == 0.0:
        return base
    return combine(base, judge(gold, scenario, annotated_lines), weight)


# ---------------------------------------------------------------------------------- calibration


@dataclass
class Rung:
    """One rung of the judge's ladder: outputs of known quality and what the judge made of them."""

    name: str
    description: str
    parts: list[float] = field(default_factory=list)
    abstained: int = 0
    severity: int = 0

    @property
    def mean(self) -> float | None:
        return sum(self.parts) / len(self.parts) if self.parts else None

    @property
    def judged(self) -> bool:
        """Does this rung carry a flaw of a type the judge lists (so it must score below gold)?"""
        return self.name in FLAWED_RUNGS


FLAWED_RUNGS = frozenset({
    # rungs of metrics.ladder (the composite's calibration ladder)
    "invented name", "unsupported claim", "acts for another", "other scenario", "transplanted actions",
    "echo actions", "junk: other scene", "junk: names as actions", "junk: echo",
})
"""Rungs whose defect is a flaw of :data:`FLAW_TYPES`. The other rungs (no actions, a changed human
word, nothing augmented) are printed for information: the judge looks for flaws, not for missing
work or for the human words (the composite's gate)."""

Items = list[tuple[GoldExample, Any, Any]]


def ladder_outputs(golds: Sequence[GoldExample], seed: int = 0) -> dict[str, tuple[str, Items]]:
    """Rungs of known quality built from gold (the composite's calibration ladder,
    :data:`metrics.ladder.RUNGS`): ``name -> (description, [(gold, scenario, annotated)])``."""
    pool = [g for g in golds if g.scenario and g.annotated]
    out: dict[str, tuple[str, Items]] = {}
    for rung in ladder.RUNGS:
        rng = random.Random(f"{seed}:{rung.name}")
        items = []
        for i, g in enumerate(pool):
            pred = rung.build(g, i, pool, rng)
            if pred is not None:
                items.append((g, pred[0], pred[1]))
        out[rung.name] = (rung.description, items)
    return out


def calibrate(judge: Judge, golds: Sequence[GoldExample], seed: int = 0) -> list[Rung]:
    """The judge's mean part on each rung of :func:`ladder_outputs`."""
    out = []
    for name, (description, items) in ladder_outputs(golds, seed).items():
        rung = Rung(name, description)
        for gold, scenario, annotated in items:
            verdict = judge(gold, scenario, annotated)
            if verdict.part is None:
                rung.abstained += 1
            else:
                rung.parts.append(verdict.part)
                rung.severity += verdict.severity
        out.append(rung)
    return out


def calibration_problems(rungs: Sequence[Rung]) -> list[str]:
    """Where the judge's ladder breaks: every rung with a flaw of the judge's types
    (:data:`FLAWED_RUNGS`) must score below gold, and nothing augmented must score 0."""
    by_name = {r.name: r for r in rungs}
    gold = by_name.get("gold")
    if gold is None or gold.mean is None:
        return ["the judge gave no usable verdict on gold"]
    problems = [
        f"{r.name} ({r.mean:.2f}) is not below gold ({gold.mean:.2f})"
        for r in rungs
        if r.judged and r.mean is not None and r.mean >= gold.mean
    ]
    nothing = by_name.get("nothing")
    if nothing is not None and nothing.mean not in (None, 0.0):
        problems.append(f"nothing augmented scores {nothing.mean:.2f}, not 0")
    return problems


__all__ = [
    "DEFAULT_PROMPT",
    "FLAWED_RUNGS",
    "FLAW_TYPES",
    "Flaw",
    "Judge",
    "JudgeFlaws",
    "PENALTY_AT_ZERO",
    "Rung",
    "Verdict",
    "calibrate",
    "calibration_problems",
    "combine",
    "content_units",
    "judge_config_from_env",
    "judge_inputs",
    "ladder_outputs",
    "open_judge",
    "parse_flaws",
    "part_from_flaws",
    "score_with_judge",
]
