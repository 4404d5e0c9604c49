"""One scene (or persona card) through the LM: retries, and halving when an answer is cut off.

:class:`SceneRunner` is called from worker threads; it only computes (each call on its own copy
of the LM), the calling thread stores the results.
"""

from __future__ import annotations

from typing import Any

from dspy.utils.exceptions import LMError

from augmentlab.augment.options import AugmentOptions
from augmentlab.augment.results import Outcome, PlannedScene
from augmentlab.augment.scene_split import budget_parts, echoes_words, halve
from augmentlab.core.errors import AugmentlabError, LMUnavailable
from augmentlab.core.model import AugmentedLine, AugmentedScene, Scene, Usage
from augmentlab.lm import parse_log
from augmentlab.lm.endpoint import unreachable
from augmentlab.lm.session import LMSession
from experiments.tracing import traced_scene
from metrics.copied import Instructions, copied_spans
from prompts import programs

CUT_OFF_REASON = (
    "the LM output was cut off at max_tokens (finish_reason=length) even for one line; "
    "raise --max-tokens (or max_tokens in [lm] of augmentlab.toml / the spec)"
)


class PartError(Exception):
    """A part of a split scene could not reach the LM (the scene is stored as ``error``), or its
    answer was unusable and is not halved (``halve_unusable=False``: the scene is ``failed``)."""

    def __init__(self, reason: str, status: str = "error", raw: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.raw = raw


def _cut_off(reason: str | None) -> bool:
    return bool(reason) and "finish_reason=length" in str(reason)


def one_line(exc: BaseException) -> str:
    """An exception as one line (type and at most 500 characters of its message)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:500]}"


class SceneRunner:
    """Runs one planned scene or persona card at a time, from any thread."""

    def __init__(self, program: Any, program_id: str, session: LMSession, options: AugmentOptions) -> None:
        config = session.config
        self.session = session
        self.program = program
        self.program_id = program_id
        self.lm_safe = config.record()
        """The LM's record (no secrets), kept on every result."""
        self.max_tokens = config.max_tokens
        """The LM's answer limit: scenes are budgeted and split to fit it (None: no budget)."""
        self.n_ctx = config.n_ctx if config.kind == "embedded" else None
        """The LM's context size when known (embedded server): prompts are budgeted to fit it."""
        self.redact = session.redactor.text
        """Removes secrets (the API key) from failure reasons and raw output before they are kept."""
        self.max_attempts = options.max_attempts
        self.retry_temperature = options.retry_temperature
        self.tracer = options.tracer
        """An open :class:`~experiments.tracing.Tracer`: each scene (all its attempts) is one trace."""
        self.trace_tags = options.trace_tags or {}
        self.trace_run_id = options.trace_run_id
        self.halve_unusable = options.halve_unusable
        self.instructions = Instructions.of(programs.instruction_text(program))
        """The program's own instruction text: an answer that repeats it is not accepted (:mod:`metrics.copied`)."""

    def _lm_for(self, attempt: int) -> Any:
        """A copy of the session's LM (a private history); retries at ``retry_temperature`` with a
        fresh ``rollout_id``, so neither DSPy's cache nor a greedy decoder repeats the answer."""
        lm = self.session.lm
        if attempt == 0:
            return lm.copy()
        base = float(lm.kwargs.get("temperature") or 0.0)
        return lm.copy(rollout_id=attempt, temperature=max(base, self.retry_temperature))

    def scene(self, item: PlannedScene) -> Outcome:
        if self.tracer is None or not self.tracer.enabled:
            return self._scene(item)
        return traced_scene(self.tracer, self._scene, item, tags=self.trace_tags, run_id=self.trace_run_id)

    def _scene(self, item: PlannedScene) -> Outcome:
        """Augment one planned scene: whole, or in parts when it is too long for one answer.

        The scene is first cut into parts that fit the answer budget (:func:`scene_split.budget_parts`;
        usually one part). A part whose answer is cut off at ``max_tokens`` is halved at a line
        boundary and each half retried, down to one line; a single line that still gets no usable
        answer keeps its human words without actions. The parts are put back together in order:
        no line is dropped. An LM error (unreachable) stops the scene as ``error``.
        """
        parts = budget_parts(
            item.scene, max_tokens=self.max_tokens, n_ctx=self.n_ctx,
            echo=echoes_words(self.program),
            scenario=bool(getattr(self.program, "writes_scenario", True)),
        ) if self.max_tokens and getattr(self.program, "annotator", None) is not None else [item.scene]
        # (a scenario-only program writes one scenario whatever the scene's length: no budget)
        if len(parts) == 1:
            outcome = self._attempts(item, item.scene, split_on_cut_off=True)
            if outcome.status != "cut-off":
                return outcome
            parts = halve(item.scene)
            usage, attempts = outcome.usage, outcome.attempts
        else:
            usage, attempts = Usage(), 0
        state = {"usage": usage, "attempts": attempts, "bare": 0, "parts": 0}
        results: list[AugmentedScene] = []
        try:
            for sub in parts:
                results.extend(self._part(item, sub, state))
        except PartError as exc:
            return self._safe(Outcome(item, exc.status, state["attempts"], state["usage"], raw=exc.raw, reason=exc.reason))
        return self._merged(item, results, state)

    def _merged(self, item: PlannedScene, results: list[AugmentedScene], state: dict[str, Any]) -> Outcome:
        """The parts' results as one scene, in order (its ``reason`` says how it was split)."""
        lines = [line for r in results for line in r.lines]
        scenario = next((r.scenario for r in results if r.scenario), None)
        note = (f"split into {state['parts']} parts to fit max_tokens={self.max_tokens}"
                + (f"; {state['bare']} line(s) kept without actions (no usable answer even alone)" if state["bare"] else ""))
        merged = AugmentedScene(
            scene_id=item.scene.id, scene=item.scene, scenario=scenario, lines=lines, usage=state["usage"],
            lm=self.lm_safe, program=next((r.program for r in results if r.program), self.program_id), reason=note,
        )
        return Outcome(item, "ok", state["attempts"], state["usage"], result=merged, reason=note,
                       parts=state["parts"], bare_lines=state["bare"])

    def _part(self, item: PlannedScene, sub: Scene, state: dict[str, Any]) -> list[AugmentedScene]:
        """Results for one part, halving it when its answer is cut off or unusable (see :meth:`scene`)."""
        single = len(sub.lines) == 1
        outcome = self._attempts(item, sub, split_on_cut_off=not single)
        state["usage"] = state["usage"] + outcome.usage
        state["attempts"] += outcome.attempts
        if outcome.status == "error":
            raise PartError(outcome.reason or "LM call failed")
        if outcome.status == "ok" and outcome.result is not None:
            state["parts"] += 1
            return [outcome.result]
        if outcome.status == "failed" and not self.halve_unusable:
            raise PartError(outcome.reason or "the program reported a failure", status="failed", raw=outcome.raw)
        if not single:
            out: list[AugmentedScene] = []
            for half in halve(sub):
                out.extend(self._part(item, half, state))
            return out
        state["parts"] += 1
        state["bare"] += 1
        line = sub.lines[0]
        return [AugmentedScene(scene_id=sub.id, scene=sub, lines=[AugmentedLine(line=line, annotated=line.text)])]

    def _attempts(self, item: PlannedScene, scene: Scene, *, split_on_cut_off: bool) -> Outcome:
        """Up to ``max_attempts`` tries of the program on ``scene``. With ``split_on_cut_off``, an
        answer cut off at ``max_tokens`` ends the tries at once as status ``cut-off`` (a smaller
        part, not another try, is what fixes it).

        Whether an answer is usable (it parses, one annotated line per scene line, the human
        words kept) is decided once, by :func:`prompts.programs.augment_scene`: its ``failed``
        status and reason are what is retried and recorded."""
        usage = Usage()
        raw: str | None = None
        reason = "no attempt made"
        for attempt in range(self.max_attempts):
            lm = self._lm_for(attempt)
            try:
                with self.session.use(lm=lm):
                    result = programs.augment_scene(self.program, scene, item.personas, prices=self.session.prices)
            except LMError as exc:
                down = unreachable(exc, self.session.config)
                reason = f"LM call failed: {down}: {one_line(exc)}" if down else f"LM call failed: {one_line(exc)}"
                return self._safe(Outcome(item, "error", attempt + 1, usage, raw=raw, reason=reason))
            except LMUnavailable:  # the server crashed / the endpoint is down: the run stops
                raise
            except Exception as exc:  # output the program could not handle: retry
                parse_log.note("augment", one_line(exc), scene=item.scene.id, attempt=attempt + 1)
                raw = getattr(exc, "lm_response", None) or raw
                reason = f"program error: {one_line(exc)}"
                continue
            usage = usage + result.usage
            copy = copied_spans(result.scenario, [x.annotated for x in result.lines], self.instructions) \
                if result.status == "ok" else None
            if copy is not None and copy.copied:  # the prompt given back: unusable, retried like one
                raw, reason = result.raw or raw, copy.reason()
                continue
            if result.status == "ok":
                clean = result.model_copy(
                    update={"usage": usage, "lm": self.lm_safe, "program": result.program or self.program_id}
                )
                return Outcome(item, "ok", attempt + 1, usage, result=clean)
            raw = result.raw or raw
            reason = result.reason or "the program reported a failure"
            parse_log.note("augment", reason, scene=item.scene.id, attempt=attempt + 1)  # counted if unparsed
            if _cut_off(reason):
                reason = CUT_OFF_REASON
                if split_on_cut_off:
                    return self._safe(Outcome(item, "cut-off", attempt + 1, usage, raw=raw, reason=reason))
        return self._safe(Outcome(item, "failed", self.max_attempts, usage, raw=raw, reason=reason))

    def _safe(self, outcome: Outcome) -> Outcome:
        outcome.reason = self.redact(outcome.reason) if outcome.reason else outcome.reason
        outcome.raw = self.redact(outcome.raw) if outcome.raw else outcome.raw
        return outcome

    def persona(self, writer: Any, inputs: dict[str, str]) -> tuple[str | None, Usage, str | None]:
        """A persona card from ``writer`` (retried like a scene), its usage, and the problem if none."""
        usage = Usage()
        problem = "no attempt made"
        for attempt in range(self.max_attempts):
            lm = self._lm_for(attempt)
            try:
                with self.session.use(lm=lm):
                    pred = writer(**inputs)
            except LMUnavailable:
                raise
            except Exception as exc:
                usage = usage + self.session.usage_of(lm)
                problem = one_line(exc)
                continue
            usage = usage + self.session.usage_of(lm)
            card = str(getattr(pred, "persona", "") or "").strip()
            if card:
                return card, usage, None
            problem = "empty persona card"
        return None, usage, self.redact(problem)


def pipeline_augmenter(session: LMSession, options: AugmentOptions | None = None) -> Any:
    """:func:`prompts.programs.augment_scene` as ``augmentlab augment`` runs it, for callers that
    measure programs (the held-out proof, :func:`experiments.heldout.run_heldout`'s ``augmenter``):
    the scene is budgeted into parts that fit the session's ``max_tokens``, a part cut off anyway
    is halved, and the parts are put back together. So a program that writes the words again
    (``seed``) is measured on what it writes, not on the answer limit.

    ``options`` default to one try per part and no halving of an unusable answer (a measurement
    should see the program's first answers: an unusable part fails the scene, as it fails a
    one-part scene; ``augmentlab augment`` retries and halves it).

    Returns ``augment(program, scene, personas, *, prices=None) -> AugmentedScene`` (the prices
    are the session's); a scene the LM could not be reached for raises ``AugmentlabError``.
    """
    options = options or AugmentOptions(max_attempts=1, halve_unusable=False)

    def augment(program: Any, scene: Scene, personas: dict[str, str] | None = None, *,
                prices: tuple[float | None, float | None] | None = None) -> AugmentedScene:
        scene = scene.with_id()
        runner = SceneRunner(program, getattr(program, "name", "") or "program", session, options)
        item = PlannedScene(script="", script_index=0, scene=scene, key=scene.id, personas=dict(personas or {}))
        outcome = runner.scene(item)
        if outcome.status == "error":
            raise AugmentlabError(outcome.reason or "the LM call failed")
        if outcome.status == "ok" and outcome.result is not None:
            return outcome.result
        return AugmentedScene(scene_id=scene.id, scene=scene, program=getattr(program, "name", "") or "",
                              usage=outcome.usage, status="failed", reason=outcome.reason, raw=outcome.raw)

    return augment
