"""A pairwise LM judge: which of two augmentations of the same scene is better training data.

The judge model sees the scene (numbered human lines, context, cast with persona cards) and two
candidates, A and B, each a scenario plus the annotated lines, and answers with one short note per
dimension of the rubric (faithful to the lines, fits the line and the speaker, the scenario sets up,
craft) and a preference on a 5-point scale (:data:`SCALE`)::

    "A much better" +2 · "A better" +1 · "same" 0 · "B better" -1 · "B much better" -2

Both orders. :meth:`PairwiseJudge.prefer` asks twice, (a, b) then (b, a), and reads both answers
as a signed preference for ``a`` (``s_ab`` as given, ``s_ba`` negated, since in the second order
"A" is ``b``). The rule (:func:`decide`), exactly:

- either answer unusable (no reply, a reply that does not parse, a preference off the scale)
  → **tie**, ``why`` says which order failed and how;
- the two orders name opposite winners (``s_ab × s_ba < 0``: the order-flip, e.g. a judge that
  answers "A" whatever is shown first) → **tie**, ``extra["flipped"] = True``;
- otherwise ``total = s_ab + s_ba`` (−4…4); ``|total| ≥ min_margin`` → a win for the side it
  points to, else a **tie**. The default ``min_margin = 1`` (:data:`DEFAULT_MIN_MARGIN`) means: at
  least "better" in one order and not the opposite in the other ("better" + "same" wins;
  "same" + "same" is a tie). ``min_margin = 2`` asks for "better" in both orders or "much better"
  in one. The mean margin on the 5-point scale is ``total / 2``.

The :class:`~augmentlab.core.verdicts.Verdict` it returns: ``winner``; ``margin = |total|`` for a
win (the verdict's 0–4 scale: "better" twice is 2, "much better" twice 4), 0 for a tie;
``why`` (the decision and the first order's notes); ``source = "lm:<identity>"`` (who answers:
:meth:`~augmentlab.lm.LMConfig.identity_label`), ``kind = "lm"``; ``extra``: ``order_ab`` and
``order_ba`` (each order's raw preference as the model wrote it, ``None`` when unusable),
``signed_ab`` / ``signed_ba`` (for ``a``), ``total``, ``min_margin``, ``flipped``, ``notes``
(both orders' notes), ``usage`` (calls, cached calls, tokens, cost) and, for a flip, ``bias``
(``"first"``: the shown-first candidate won both times, or ``"second"``).

Calls go through an :class:`~augmentlab.lm.LMSession` like every other call: cached by DSPy's
cache, whose key holds the LM's identity (a second identical ``prefer`` is two cache hits, counted
in ``Usage.cached_calls``), counted and priced (:meth:`~augmentlab.lm.LMSession.usage_since`), and
traced — inside an :class:`experiments.tracing.Tracer` trace each judge call is a ``CHAT_MODEL``
span like any DSPy LM call (the tracer's DSPy callback; nothing judge-specific is needed).
:func:`log_assessments` puts verdicts on MLflow traces as feedback with an ``LLM_JUDGE`` source.

The rubric is a variant file (``prompts/judge/pairwise.md``, task ``judge``): the caller loads it
(``prompts.variants.load_variant(DEFAULT_PROMPT)``) and passes its instructions, metrics and
prompts being sibling layers. The embedded default model (SmolLM2-135M) cannot judge and
:func:`open_pairwise_judge` refuses it; an endpoint, the user's own GGUF (``gguf``) or the fake LM
(deterministic, for tests and dry runs) are accepted.

Why not ``mlflow.genai.judges.make_judge``: it builds a judge of *one* output (template variables
``{{ inputs }}``, ``{{ outputs }}``, ``{{ expectations }}``, no custom ones) that answers one
:class:`~mlflow.entities.Feedback` per call through its own litellm call. A pairwise judgement
here is two calls in swapped orders combined by a rule, through the session's DSPy LM: its cache
keyed by the LM's identity (the GGUF's hash, the endpoint's base URL), its usage and prices, its
adapter (llama.cpp's grammar holds a small model to the 5-point enum). Squeezing both candidates
into ``outputs`` would lose all of that and still judge one order. What this module takes from
MLflow is the data side: verdicts are logged as ``LLM_JUDGE`` feedback on traces, where MLflow's
UI, ``mlflow.search_traces`` and alignment to human feedback (``judge.align``) can read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import augmentlab  # noqa: F401  (offline environment first)
import dspy

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample, Usage
from augmentlab.core.verdicts import Verdict
from augmentlab.lm import LMConfig, LMSession, open_session
from metrics.judge import JUDGE_ENV_PREFIX, judge_inputs

Preference = Literal["A much better", "A better", "same", "B better", "B much better"]
SCALE: dict[str, int] = {"A much better": 2, "A better": 1, "same": 0, "B better": -1, "B much better": -2}
"""The 5-point preference → signed preference for the candidate shown as A."""
DEFAULT_PROMPT = "judge/pairwise"
"""The shipped rubric (``prompts/judge/pairwise.md``)."""
DEFAULT_MIN_MARGIN = 1
"""Smallest ``|s_ab + s_ba|`` that counts as a win (see the module doc)."""
NOTE_FIELDS: tuple[str, ...] = ("faithful", "fit", "setup", "craft")
"""The per-dimension notes, in the order the model writes them (before the preference)."""
ASSESSMENT_NAME = "pairwise"
"""Name of the MLflow feedback :func:`log_assessments` writes (value: ``a``'s score, 1 / 0.5 / 0)."""
_WHY_MAX = 700

assert tuple(get_args(Preference)) == tuple(SCALE)


class JudgePair(dspy.Signature):
    """Two augmentations of one scene → notes per dimension and a preference (instructions are
    set from a judge variant file)."""

    lines: str = dspy.InputField(desc="the human lines, numbered `N. Speaker: text`")
    context: str = dspy.InputField(desc="lines before the scene, same form; may be empty")
    cast: str = dspy.InputField(desc="characters of the scene, one per line, with a persona card where there is one")
    candidate_a: str = dspy.InputField(desc="candidate A: its scenario, then its annotated lines numbered like the lines")
    candidate_b: str = dspy.InputField(desc="candidate B, in the same form")
    faithful: str = dspy.OutputField(desc="which is more faithful to the lines, and why")
    fit: str = dspy.OutputField(desc="which fits each line and its speaker better")
    setup: str = dspy.OutputField(desc="which scenario sets the scene up better")
    craft: str = dspy.OutputField(desc="which actions are more specific and varied")
    preference: Preference = dspy.OutputField(desc="A much better, A better, same, B better or B much better")


@dataclass(frozen=True)
class Candidate:
    """One augmentation of a scene to judge: a scenario and the scene's lines annotated.

    ``id`` names it in verdicts (a variant name for a run's outputs, a candidate id in a
    preference set)."""

    id: str
    scenario: str | None
    annotated_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise AugmentlabError("a candidate needs an id")
        object.__setattr__(self, "annotated_lines", tuple("" if x is None else str(x) for x in self.annotated_lines or ()))


def as_candidate(value: Any) -> Candidate:
    """A :class:`Candidate` from one, or from anything with ``id``, ``scenario`` and
    ``annotated_lines`` or ``annotated`` (a preference set's candidate row)."""
    if isinstance(value, Candidate):
        return value
    lines = getattr(value, "annotated_lines", None)
    if lines is None:
        lines = getattr(value, "annotated", None)
    return Candidate(str(getattr(value, "id", "") or ""), getattr(value, "scenario", None), tuple(lines or ()))


# ---------------------------------------------------------------------------------- the prompt


def render_candidate(gold: GoldExample, candidate: Candidate) -> str:
    """A candidate as the judge reads it: ``Scenario: ...`` then ``N. Speaker: annotated line``."""
    speakers = [ln.speaker for ln in gold.scene.lines]
    scenario = (candidate.scenario or "").strip() or "(none)"
    out = [f"Scenario: {scenario}", "Annotated lines:"]
    for n, text in enumerate(candidate.annotated_lines, 1):
        speaker = speakers[n - 1] if n <= len(speakers) else None
        out.append(f"{n}. {speaker}: {text}" if speaker else f"{n}. {text}")
    return "\n".join(out)


def pair_inputs(gold: GoldExample, first: Candidate, second: Candidate) -> dict[str, str]:
    """The judge's input fields for one order (``first`` is shown as A)."""
    base = judge_inputs(gold, None, None)
    cast = [f"{name}: {' '.join(gold.personas[name].split())}" if gold.personas.get(name) else name
            for name in base["cast"].splitlines()]
    return {
        "lines": base["lines"],
        "context": base["context"],
        "cast": "\n".join(cast),
        "candidate_a": render_candidate(gold, first),
        "candidate_b": render_candidate(gold, second),
    }


# ---------------------------------------------------------------------------------- the rule


@dataclass(frozen=True)
class Answer:
    """One order's answer: the raw preference, its signed value for the candidate shown as A
    (``None`` when unusable), the notes and, when unusable, why."""

    raw: str | None
    signed: int | None
    notes: dict[str, str] = field(default_factory=dict)
    error: str = ""


def read_preference(value: Any) -> int | None:
    """The signed value of a preference on :data:`SCALE` (``None`` off the scale)."""
    if not isinstance(value, str):
        return None
    return SCALE.get(" ".join(value.strip().strip("\"'.").split()))


def decide(
    scene: str,
    a: str,
    b: str,
    ab: Answer,
    ba: Answer,
    *,
    source: str,
    min_margin: int = DEFAULT_MIN_MARGIN,
    usage: Usage | None = None,
) -> Verdict:
    """The verdict on ``(a, b)`` from the answer with ``a`` shown first (``ab``) and the one with
    ``b`` shown first (``ba``), by the both-orders rule of the module doc."""
    s_ab = ab.signed
    s_ba = -ba.signed if ba.signed is not None else None
    extra: dict[str, Any] = {
        "order_ab": ab.raw, "order_ba": ba.raw, "signed_ab": s_ab, "signed_ba": s_ba, "min_margin": min_margin,
        "flipped": False, "notes": {"ab": ab.notes, "ba": ba.notes},
    }
    if usage is not None:
        extra["usage"] = usage.model_dump(mode="json")

    def verdict(winner: str, margin: float, why: str) -> Verdict:
        return Verdict(scene=scene, a=a, b=b, winner=winner, margin=margin, why=why[:_WHY_MAX],  # type: ignore[arg-type]
                       source=source, kind="lm", extra=extra)

    if s_ab is None or s_ba is None:
        failed = [f"order {order} ({ans.error or 'no preference'})" for order, ans in (("a,b", ab), ("b,a", ba)) if ans.signed is None]
        return verdict("tie", 0.0, "tie: unusable judge answer in " + "; ".join(failed))
    total = s_ab + s_ba
    extra["total"] = total
    orders = f"a first: {ab.raw!r}; b first: {ba.raw!r}"
    if s_ab * s_ba < 0:
        extra["flipped"] = True
        extra["bias"] = "first" if s_ab > 0 else "second"
        return verdict("tie", 0.0, f"tie: the order flips the winner ({orders}; the candidate shown "
                                   f"{extra['bias']} won both times)")
    if abs(total) < min_margin:
        return verdict("tie", 0.0, f"tie: margin {abs(total)} below {min_margin} ({orders})")
    winner = "a" if total > 0 else "b"
    notes = "; ".join(f"{k}: {v}" for k, v in ab.notes.items() if v)
    return verdict(winner, float(abs(total)), f"{a if winner == 'a' else b} better in both orders "
                                             f"(margin {abs(total)} of 4; {orders})" + (f". {notes}" if notes else ""))


# ---------------------------------------------------------------------------------- the judge


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


class PairwiseJudge:
    """Prefers one of two candidates of a scene with an LM, in both orders (see the module doc).

    ``session`` is an opened LM (:func:`open_pairwise_judge` opens one); ``instructions`` the body
    of a judge variant file (``prompts/judge/pairwise.md``). :attr:`usage` sums every call made.
    """

    def __init__(self, session: LMSession, instructions: str, *, min_margin: int = DEFAULT_MIN_MARGIN) -> None:
        if not instructions.strip():
            raise AugmentlabError("the pairwise judge needs instructions (a prompts/judge/*.md variant)")
        if not 1 <= min_margin <= 4:
            raise AugmentlabError(f"the pairwise judge's min_margin must be 1-4, got {min_margin}")
        self.session = session
        self.min_margin = min_margin
        self.predict = dspy.Predict(JudgePair.with_instructions(instructions.strip()))
        self.usage = Usage()
        self.source = f"lm:{session.config.identity_label()}"
        self.name = f"lm judge ({session.config.model})"

    def ask(self, gold: GoldExample, first: Candidate, second: Candidate) -> Answer:
        """One order: ``first`` shown as A. Never raises: an unusable reply is an :class:`Answer`
        with ``signed = None`` and the reason."""
        try:
            with self.session.use():
                pred = self.predict(**pair_inputs(gold, first, second))
        except Exception as exc:  # an unusable reply: say why, never break the caller
            return Answer(None, None, {}, f"unusable reply, {self.session.redactor.text(_error_text(exc))}")
        notes = {name: " ".join(str(getattr(pred, name, "") or "").split()) for name in NOTE_FIELDS}
        raw = getattr(pred, "preference", None)
        signed = read_preference(raw)
        return Answer(None if raw is None else str(raw), signed, notes,
                      "" if signed is not None else f"preference {str(raw)[:40]!r} is not on the scale")

    def prefer(self, gold: GoldExample, a: Any, b: Any) -> Verdict:
        """The verdict on ``a`` vs ``b`` (:class:`Candidate` or anything :func:`as_candidate`
        reads) for ``gold``'s scene: both orders asked, combined by :func:`decide`."""
        a, b = as_candidate(a), as_candidate(b)
        start = self.session.mark()
        ab = self.ask(gold, a, b)
        ba = self.ask(gold, b, a)
        usage = self.session.usage_since(start)
        self.usage = self.usage + usage
        return decide(str(gold.id), a.id, b.id, ab, ba, source=self.source, min_margin=self.min_margin, usage=usage)


def judge_can_run(config: LMConfig) -> str | None:
    """Why the pairwise judge cannot run on ``config`` (``None`` when it can): the embedded
    default model (SmolLM2-135M) cannot judge."""
    if config.kind == "embedded" and not config.gguf:
        return (f"the pairwise judge is off for the embedded SmolLM2-135M model (it cannot judge): configure an "
                f"endpoint ({JUDGE_ENV_PREFIX}_MODEL=openai/gpt-4o-mini, {JUDGE_ENV_PREFIX}_KEY_ENV=OPENAI_API_KEY) "
                f"or your own GGUF (--gguf)")
    return None


@contextmanager
def open_pairwise_judge(config: LMConfig, instructions: str, **kwargs: Any) -> Iterator[PairwiseJudge]:
    """A :class:`PairwiseJudge` on the LM ``config`` describes: an endpoint, an embedded server on
    the user's own GGUF, or the fake LM; the embedded default model is refused (one-line error)."""
    problem = judge_can_run(config)
    if problem:
        raise AugmentlabError(problem)
    with open_session(config) as session:
        yield PairwiseJudge(session, instructions, **kwargs)


# ---------------------------------------------------------------------------------- batches


def judge_against_baseline(
    judge: Any,
    gold_by_id: Mapping[str, GoldExample],
    outputs: Mapping[str, Mapping[str, Any]],
    baseline: str,
) -> list[Verdict]:
    """Every variant against ``baseline`` on the same scene: ``outputs`` is
    ``{variant: {scene id: candidate}}``; each verdict has ``a`` = the variant, ``b`` = the
    baseline (candidate ids are set to the variant names). Scenes missing from the baseline's
    outputs or from ``gold_by_id`` are skipped; variants in the order given, scenes sorted."""
    if baseline not in outputs:
        raise AugmentlabError(f"no outputs for the baseline {baseline!r} (have: {', '.join(outputs) or 'none'})")
    base = outputs[baseline]
    out: list[Verdict] = []
    for variant, scenes in outputs.items():
        if variant == baseline:
            continue
        for scene in sorted(scenes):
            if scene not in base or scene not in gold_by_id:
                continue
            a = replace(as_candidate(scenes[scene]), id=variant)
            b = replace(as_candidate(base[scene]), id=baseline)
            out.append(judge.prefer(gold_by_id[scene], a, b))
    return out


def judge_preference_pairs(
    judge: Any,
    scenes: Mapping[str, GoldExample],
    pairs: Iterable[tuple[str, Any, Any]],
) -> list[Verdict]:
    """The judge's verdict on each ``(scene id, a, b)`` of a preference set (the preference
    check's ``--judge`` evaluator: agreement with the readers is read from these, the order-flip
    rate with :func:`flip_rate`)."""
    out = []
    for scene, a, b in pairs:
        if scene not in scenes:
            raise AugmentlabError(f"preference pair for unknown scene {scene!r}")
        out.append(judge.prefer(scenes[scene], a, b))
    return out


def flip_rate(verdicts: Iterable[Verdict]) -> float | None:
    """Share of LM verdicts whose two orders named opposite winners, among those where both
    orders gave a usable answer (``None`` when there is none)."""
    judged = [v for v in verdicts if v.kind == "lm" and v.extra.get("signed_ab") is not None
              and v.extra.get("signed_ba") is not None]
    if not judged:
        return None
    return sum(1 for v in judged if v.extra.get("flipped")) / len(judged)


# ---------------------------------------------------------------------------------- MLflow


def _metadata(v: Verdict) -> dict[str, str]:
    keys = ("order_ab", "order_ba", "flipped", "total", "min_margin")
    data = {"scene": v.scene, "a": v.a, "b": v.b, "winner": v.winner, "margin": f"{v.margin:g}", "judge": v.source}
    data.update({f"augmentlab.{k}": str(v.extra.get(k)) for k in keys if k in v.extra})
    return data


def _judgement_trace(v: Verdict, run_id: str | None, experiment_id: str | None) -> str | None:
    """A small trace standing for one judgement (inputs: scene and candidates; outputs: the
    verdict), in the run's experiment and linked to the run, to carry its feedback."""
    import mlflow
    from mlflow.tracing.constant import TraceMetadataKey
    from mlflow.tracing.fluent import start_span_no_context

    span = start_span_no_context(
        f"judge {v.scene}: {v.a} vs {v.b}", span_type="EVALUATOR",
        inputs={"scene": v.scene, "a": v.a, "b": v.b},
        tags={"augmentlab.kind": "judgement", "augmentlab.scene_id": v.scene},
        metadata={TraceMetadataKey.SOURCE_RUN: run_id} if run_id else None,
        experiment_id=experiment_id,
    )
    span.end(outputs={"winner": v.winner, "margin": v.margin, "why": v.why})
    mlflow.flush_trace_async_logging()
    trace_id = getattr(span, "trace_id", None)
    from mlflow.entities.span import NO_OP_SPAN_TRACE_ID

    return None if not trace_id or trace_id == NO_OP_SPAN_TRACE_ID else trace_id


def log_assessments(
    verdicts: Sequence[Verdict],
    *,
    trace_ids: Mapping[tuple[str, str], str] | None = None,
    run_id: str | None = None,
    experiment_id: str | None = None,
) -> list[str | None]:
    """Log each verdict to MLflow as feedback from an ``LLM_JUDGE`` source (``source_id`` = the
    verdict's ``source``, the judge's identity): name :data:`ASSESSMENT_NAME`, value ``a``'s score
    (1 won, 0.5 tie, 0 lost), rationale ``why``, metadata the scene, both ids, winner, margin and
    the two orders' raw answers. Returns the trace id each verdict landed on.

    Assessments attach to traces. ``trace_ids`` maps ``(scene, candidate id)`` to a trace already
    there — the evaluation trace of candidate ``a``'s output for that scene (a run's example
    trace) — and the feedback goes on it. A verdict with no trace gets a small judgement trace of
    its own (span type ``EVALUATOR``, inputs the scene and the two ids, outputs the verdict) in
    ``experiment_id``, linked to ``run_id``, and the feedback goes there; ``mlflow.search_traces``
    finds it. Uses MLflow's current tracking URI (an :class:`experiments.tracing.Tracer` sets it).
    """
    import mlflow
    from mlflow.entities import AssessmentSource
    from mlflow.tracing.constant import AssessmentMetadataKey

    out: list[str | None] = []
    for v in verdicts:
        trace_id = (trace_ids or {}).get((v.scene, v.a)) or _judgement_trace(v, run_id, experiment_id)
        if trace_id:
            metadata = _metadata(v)
            if run_id:
                metadata[AssessmentMetadataKey.SOURCE_RUN_ID] = run_id
            mlflow.log_feedback(
                trace_id=trace_id, name=ASSESSMENT_NAME, value=v.score_for(v.a),
                source=AssessmentSource(source_type="LLM_JUDGE", source_id=v.source),
                rationale=v.why or None, metadata=metadata,
            )
        out.append(trace_id)
    return out


__all__ = [
    "ASSESSMENT_NAME",
    "Answer",
    "Candidate",
    "DEFAULT_MIN_MARGIN",
    "DEFAULT_PROMPT",
    "JudgePair",
    "NOTE_FIELDS",
    "PairwiseJudge",
    "Preference",
    "SCALE",
    "as_candidate",
    "decide",
    "flip_rate",
    "judge_against_baseline",
    "judge_can_run",
    "judge_preference_pairs",
    "log_assessments",
    "open_pairwise_judge",
    "pair_inputs",
    "read_preference",
    "render_candidate",
]
