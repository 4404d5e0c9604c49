"""Augment whole scripts: a program over every scene, resumable, concurrent, accounted.

::

    from augmentlab.augment import augment_scripts
    from augmentlab.lm import LMConfig

    report = augment_scripts(["play.txt"], "out/", lm_config=LMConfig(kind="fake"), concurrency=8)

What one run does (see :func:`augment_scripts`):

1. ingest the scripts (or take :class:`~augmentlab.core.model.Script` objects) and plan their scenes
   in script order; each scene's *key* is the content hash of the scene, the program
   fingerprint, the LM fingerprint and the persona cards it is shown (:mod:`augmentlab.store`);
2. persona cards for the main characters: the user's (``personas=`` file or dict) or written by
   ``prompts.programs.PersonaWriter`` (stored and resumable like scenes);
3. every scene whose key has no final result runs on a thread pool of ``concurrency`` workers
   (each in its own ``dspy.context``); each result is committed to the store in its own
   transaction as soon as it is done, so an interrupted run resumes where it stopped;
4. ``augmented.jsonl``, ``failures.jsonl``, ``personas.json`` and ``run.json`` are written from
   the store (script order) at the end — also when the run is interrupted.

**Retries, explicitly.** Transport failures are retried *inside the LM call* by DSPy:
``LMConfig.num_retries`` more attempts on timeouts, 429, 5xx and connection errors, waiting the
server's ``Retry-After`` when it sends one and ``2**attempt`` seconds (at most 60) otherwise
(``dspy/clients/execution.py``; LiteLLM's own retries are turned off by DSPy). A scene whose LM
call still fails is stored as ``error`` and is retried on the next run. Output that does not parse,
has the wrong number of lines or changes the human words (:func:`augmentlab.core.text.is_verbatim`) is
retried up to ``max_attempts`` times in all, the retries at ``retry_temperature`` with a fresh
``rollout_id`` (so neither DSPy's cache nor a greedy decoder hands back the same answer); then it
is stored as ``failed`` with the raw output and the reason, written to ``failures.jsonl`` and
listed in the report. Nothing is dropped silently.

**Long scenes.** A scene whose answer would not fit ``max_tokens`` (or whose prompt would not fit
the embedded server's ``n_ctx``) is augmented in parts, cut at line boundaries up front
(:mod:`augmentlab.augment.scene_split`); a part whose answer is cut off anyway (``finish_reason=length``)
is halved and retried, down to one line, and a single line with no usable answer keeps its words
without actions. The parts are stored as one scene (its ``reason`` says how it was split);
:attr:`AugmentReport.split` counts such scenes.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import AugmentedLine, AugmentedScene, LineKind, Scene, Script, Usage, content_hash
from augmentlab.store import ResultStore, work_key
from augmentlab.core.text import is_verbatim

if TYPE_CHECKING:
    import dspy

    from augmentlab.lm import LMConfig

DEFAULT_PROGRAM = "compose_scene"
"""The default program: actions variant ``compose_scene`` — one call per scene writes the scenario
and the actions around each line, and the program puts the human words between them (so no word
can change). On the embedded model it scores best of the shipped programs at under half the
tokens per line of the two-call 2023 baseline (``benchmarks/bench_augment.py --embedded``);
``--program seed+seed_with_scenario`` is that baseline, with the annotator seeing the scenario."""

MAIN_CHARACTER_MIN_LINES = 3
MAIN_CHARACTER_MIN_SHARE = 0.05
MAX_MAIN_CHARACTERS = 8
PERSONA_SAMPLE_LINES = 60
ABORT_AFTER_LM_ERRORS = 8
"""Stop a run when this many scenes in a row fail to reach the LM and none has succeeded."""

OUTPUT_FILES = ("store.sqlite", "augmented.jsonl", "failures.jsonl", "personas.json", "run.json")


# -- results --------------------------------------------------------------------------------


@dataclass
class Failure:
    """A scene that did not produce a result (listed at the end of a run)."""

    script: str
    scene_index: int
    scene_id: str
    status: str
    reason: str


@dataclass
class Estimate:
    """A dry run's token and cost estimate (prompts exact, completions estimated)."""

    scenes: int = 0
    personas: int = 0
    """Persona cards the run would generate (one call each, counted in ``calls`` and the tokens)."""
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    tokenizer: str = ""


@dataclass
class AugmentReport:
    """What a run did. ``usage`` is this run's LM usage; ``total_usage`` the store's for the plan."""

    out_dir: Path
    scenes: int = 0
    skipped: int = 0
    """Scenes already done in an earlier run (no LM call)."""
    ok: int = 0
    failed: int = 0
    errors: int = 0
    usage: Usage = field(default_factory=Usage)
    total_usage: Usage = field(default_factory=Usage)
    failures: list[Failure] = field(default_factory=list)
    personas: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{name: {"persona": card, "source": "user" | "generated"}}``."""
    elapsed: float = 0.0
    estimate: Estimate | None = None
    interrupted: bool = False
    split: int = 0
    """Scenes augmented in parts to fit ``max_tokens`` (see :mod:`augmentlab.augment.scene_split`)."""
    bare_lines: int = 0
    """Lines of split scenes kept with their words only (no usable answer even alone)."""

    @property
    def scenes_per_second(self) -> float:
        done = self.ok + self.failed + self.errors
        return done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class _Item:
    """One planned scene."""

    script: str
    script_index: int
    scene: Scene
    key: str
    personas: dict[str, str]


@dataclass
class _Outcome:
    item: _Item
    status: str
    attempts: int
    usage: Usage
    result: AugmentedScene | None = None
    raw: str | None = None
    reason: str | None = None
    parts: int = 1
    """Parts the scene was augmented in (more than one: split to fit ``max_tokens``)."""
    bare_lines: int = 0
    """Lines kept with their words only (no usable answer even alone)."""


class _PartError(Exception):
    """A part of a split scene could not reach the LM (the scene is stored as ``error``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CUT_OFF_REASON = (
    "the LM output was cut off at max_tokens (finish_reason=length) even for one line; "
    "raise --max-tokens (or max_tokens in [lm] of augmentlab.toml / the spec)"
)


def _cut_off(reason: str | None) -> bool:
    return bool(reason) and "finish_reason=length" in str(reason)


def _halves(scene: Scene) -> list[Scene]:
    from augmentlab.augment.scene_split import halve

    return halve(scene)


# -- programs -------------------------------------------------------------------------------


def resolve_program(spec: Any = None) -> tuple[Any, str]:
    """``(program, program_id)`` for a program spec.

    ``spec`` is a ``dspy.Module`` (used as is), ``None`` (:data:`DEFAULT_PROGRAM`), a saved
    program (``.json``, loaded with ``prompts.programs.load_program``), ``SCENARIO+ACTIONS``
    variant names or paths, or one variant (its task says which half it is).
    """
    import dspy

    if isinstance(spec, dspy.Module):
        return spec, str(getattr(spec, "name", None) or type(spec).__name__)
    spec = str(spec or DEFAULT_PROGRAM)
    try:
        from prompts import programs
        from prompts.variants import load_variant
    except ImportError as exc:  # pragma: no cover - the prompts package ships with augmentlab
        raise AugmentlabError(f"the prompts package is not importable: {exc}") from exc
    try:
        if spec.endswith(".json"):
            program = programs.load_program(spec)
        elif "+" in spec:
            scenario, actions = (part.strip() for part in spec.split("+", 1))
            program = programs.SceneAugmenter(scenario or None, actions or None)
        else:
            variant = load_variant(spec)
            if variant.task == "scenario":
                program = programs.SceneAugmenter(variant, None)
            elif variant.task == "actions":
                program = programs.SceneAugmenter(None, variant)
            else:
                raise AugmentlabError(f"variant {spec!r} is a {variant.task} variant, not a scene program")
    except AugmentlabError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise AugmentlabError(f"cannot load program {spec!r}: {exc}") from exc
    return program, str(getattr(program, "name", spec))


def program_fingerprint(program: Any) -> str:
    """A hash of everything in the program that shapes its prompts (instructions, demos, fields)."""
    try:
        state = program.dump_state()
    except Exception:  # a module with unserialisable state: fall back to its repr
        state = repr(program)
    signatures = {name: _signature_text(p.signature) for name, p in program.named_predictors()}
    return content_hash(type(program).__qualname__, state, signatures)


def _signature_text(signature: Any) -> str:
    fields = {name: str(f.json_schema_extra) for name, f in {**signature.input_fields, **signature.output_fields}.items()}
    return json.dumps([signature.instructions, fields], sort_keys=True, default=str)


def _lm_fingerprint(lm_config: LMConfig | None, lm: Any) -> str:
    if lm_config is not None:
        return lm_config.fingerprint()
    return content_hash(getattr(lm, "model", type(lm).__name__), {k: v for k, v in getattr(lm, "kwargs", {}).items() if "key" not in k})


# -- personas -------------------------------------------------------------------------------


def read_persona_file(path: str | Path) -> dict[str, str]:
    """A persona file (TOML or JSON): ``{name: card}`` or ``{name: {persona = card}}``."""
    path = Path(path)
    if not path.is_file():
        raise AugmentlabError(f"persona file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise AugmentlabError(f"cannot read persona file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise AugmentlabError(f"persona file {path} must map character names to persona cards")
    out: dict[str, str] = {}
    for name, value in data.items():
        card = value.get("persona") or value.get("card") or value.get("description") if isinstance(value, dict) else value
        if not isinstance(card, str) or not card.strip():
            raise AugmentlabError(f"persona file {path}: no persona text for {name!r}")
        out[str(name)] = card.strip()
    return out


def main_characters(scripts: Sequence[Script]) -> list[str]:
    """Speakers with at least :data:`MAIN_CHARACTER_MIN_LINES` lines and
    :data:`MAIN_CHARACTER_MIN_SHARE` of all dialogue, most lines first (at most
    :data:`MAX_MAIN_CHARACTERS`)."""
    counts: Counter[str] = Counter(
        line.speaker for script in scripts for line in script.lines if line.speaker and line.kind == LineKind.dialogue
    )
    total = sum(counts.values())
    keep = [
        name for name, n in counts.most_common()
        if n >= MAIN_CHARACTER_MIN_LINES and n >= MAIN_CHARACTER_MIN_SHARE * total
    ]
    return keep[:MAX_MAIN_CHARACTERS]


def _persona_inputs(character: str, scripts: Sequence[Script]) -> dict[str, str]:
    own = [line for script in scripts for line in script.lines if line.speaker == character]
    sample = own[:PERSONA_SAMPLE_LINES]
    cast: dict[str, None] = {}
    for script in scripts:
        for c in script.characters:
            cast.setdefault(c.name, None)
        for scene in script.scenes:
            for s in scene.speakers:
                cast.setdefault(s, None)
    from prompts.data import neutralize_markers  # script text cannot form a DSPy field marker

    return {
        "character": neutralize_markers(character),
        "lines": "\n".join(f"{i}. {neutralize_markers(line.render())}" for i, line in enumerate(sample, 1)),
        "cast": "\n".join(neutralize_markers(name) for name in cast),
    }


# -- the runner -----------------------------------------------------------------------------


def load_scripts(sources: Sequence[str | Path | Script]) -> list[tuple[str, Script]]:
    """``(name, Script)`` for paths (ingested) and ready :class:`Script` objects."""
    if not sources:
        raise AugmentlabError("no scripts given")
    out: list[tuple[str, Script]] = []
    for n, source in enumerate(sources):
        if isinstance(source, Script):
            out.append((source.source or source.title or f"script-{n}", source))
            continue
        path = Path(source)
        if not path.exists():
            raise AugmentlabError(f"script not found: {path}")
        from augmentlab.ingest import load

        out.append((str(path), load(path)))
    return out


def _check(result: Any, scene: Scene) -> tuple[AugmentedScene | None, str | None]:
    """The result as a clean AugmentedScene, or the reason it is unusable."""
    if not isinstance(result, AugmentedScene):
        return None, f"program returned {type(result).__name__}, not an AugmentedScene"
    if result.status != "ok":
        return None, result.reason or "the program reported a failure"
    if result.lines:
        if len(result.lines) != len(scene.lines):
            return None, f"{len(result.lines)} annotated lines for {len(scene.lines)} scene lines"
        for n, (annotated, line) in enumerate(zip(result.lines, scene.lines), 1):
            if not is_verbatim(annotated.annotated, line.text):
                return None, f"line {n} does not keep the human words: {annotated.annotated!r} vs {line.text!r}"
        lines = [a.model_copy(update={"line": line}) for a, line in zip(result.lines, scene.lines)]
    elif not result.scenario:
        return None, "no scenario and no annotated lines"
    else:
        lines = []
    return result.model_copy(update={"lines": lines, "scene": scene, "scene_id": scene.id}), None


def _last_output(lm: Any) -> str | None:
    if not getattr(lm, "history", None):
        return None
    outputs = lm.history[-1].get("outputs") or []
    if not outputs:
        return None
    first = outputs[0]
    if isinstance(first, dict):
        first = first.get("text", json.dumps(first, default=str))
    return str(first)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:500]}"


class _Runner:
    """Runs items on a thread pool; the calling thread writes results and draws progress."""

    def __init__(
        self,
        *,
        program: Any,
        lm: Any,
        adapter: Any,
        lm_safe: dict[str, Any],
        program_id: str,
        max_attempts: int,
        retry_temperature: float,
        redact: Any = None,
        tracer: Any = None,
        trace_tags: dict[str, str] | None = None,
        trace_run_id: str | None = None,
        max_tokens: int | None = None,
        n_ctx: int | None = None,
    ) -> None:
        self.tracer = tracer
        """An open :class:`~experiments.tracing.Tracer`: each scene (all its attempts) is one trace."""
        self.trace_tags = trace_tags or {}
        self.trace_run_id = trace_run_id
        self.max_tokens = max_tokens
        """The LM's answer limit: scenes are budgeted and split to fit it (None: no budget)."""
        self.n_ctx = n_ctx
        """The LM's context size when known (embedded server): prompts are budgeted to fit it."""
        self.redact = redact or (lambda text: text)
        """Removes secrets (the API key) from failure reasons and raw output before they are kept."""
        self.program = program
        self.lm = lm
        self.adapter = adapter
        self.lm_safe = lm_safe
        self.program_id = program_id
        self.max_attempts = max_attempts
        self.retry_temperature = retry_temperature

    def _lm_for(self, attempt: int) -> Any:
        if attempt == 0:
            return self.lm.copy()
        base = float(self.lm.kwargs.get("temperature") or 0.0)
        return self.lm.copy(rollout_id=attempt, temperature=max(base, self.retry_temperature))

    def scene(self, item: _Item) -> _Outcome:
        if self.tracer is None or not self.tracer.enabled:
            return self._scene(item)
        from experiments.tracing import traced_scene

        return traced_scene(self.tracer, self._scene, item, tags=self.trace_tags, run_id=self.trace_run_id)

    def _scene(self, item: _Item) -> _Outcome:
        """Augment one planned scene: whole, or in parts when it is too long for one answer.

        The scene is first cut into parts that fit the answer budget (:func:`scene_split.budget_parts`;
        usually one part). A part whose answer is cut off at ``max_tokens`` is halved at a line
        boundary and each half retried, down to one line; a single line that still gets no usable
        answer keeps its human words without actions. The parts are put back together in order:
        no line is dropped. An LM error (unreachable) stops the scene as ``error``.
        """
        from augmentlab.augment import scene_split

        parts = scene_split.budget_parts(
            item.scene, max_tokens=self.max_tokens, n_ctx=self.n_ctx,
            echo=scene_split.echoes_words(self.program),
            scenario=bool(getattr(self.program, "writes_scenario", True)),
        ) if self.max_tokens and getattr(self.program, "annotator", None) is not None else [item.scene]
        # (a scenario-only program writes one scenario whatever the scene's length: no budget)
        if len(parts) == 1:
            outcome = self._attempts(item, item.scene, split_on_cut_off=True)
            if outcome.status != "cut-off":
                return outcome
            parts = scene_split.halve(item.scene)
            usage, attempts = outcome.usage, outcome.attempts
        else:
            usage, attempts = Usage(), 0
        state = {"usage": usage, "attempts": attempts, "bare": 0, "parts": 0}
        results: list[AugmentedScene] = []
        try:
            for sub in parts:
                results.extend(self._part(item, sub, state))
        except _PartError as exc:
            return self._safe(_Outcome(item, "error", state["attempts"], state["usage"], reason=exc.reason))
        lines = [line for r in results for line in r.lines]
        scenario = next((r.scenario for r in results if r.scenario), None)
        note = (f"split into {state['parts']} parts to fit max_tokens={self.max_tokens}"
                + (f"; {state['bare']} line(s) kept without actions (no usable answer even alone)" if state["bare"] else ""))
        merged = AugmentedScene(
            scene_id=item.scene.id, scene=item.scene, scenario=scenario, lines=lines, usage=state["usage"],
            lm=self.lm_safe, program=next((r.program for r in results if r.program), self.program_id), reason=note,
        )
        return _Outcome(item, "ok", state["attempts"], state["usage"], result=merged, reason=note,
                        parts=state["parts"], bare_lines=state["bare"])

    def _part(self, item: _Item, sub: Scene, state: dict[str, Any]) -> list[AugmentedScene]:
        """Results for one part, halving it when its answer is cut off or unusable (see :meth:`scene`)."""
        single = len(sub.lines) == 1
        outcome = self._attempts(item, sub, split_on_cut_off=not single)
        state["usage"] = state["usage"] + outcome.usage
        state["attempts"] += outcome.attempts
        if outcome.status == "error":
            raise _PartError(outcome.reason or "LM call failed")
        if outcome.status == "ok" and outcome.result is not None:
            state["parts"] += 1
            return [outcome.result]
        if not single:
            out: list[AugmentedScene] = []
            for half in _halves(sub):
                out.extend(self._part(item, half, state))
            return out
        state["parts"] += 1
        state["bare"] += 1
        line = sub.lines[0]
        return [AugmentedScene(scene_id=sub.id, scene=sub, lines=[AugmentedLine(line=line, annotated=line.text)])]

    def _attempts(self, item: _Item, scene: Scene, *, split_on_cut_off: bool) -> _Outcome:
        """Up to ``max_attempts`` tries of the program on ``scene``. With ``split_on_cut_off``, an
        answer cut off at ``max_tokens`` ends the tries at once as status ``cut-off`` (a smaller
        part, not another try, is what fixes it)."""
        import dspy
        from dspy.utils.exceptions import LMError

        from prompts.programs import augment_scene

        usage = Usage()
        raw: str | None = None
        reason = "no attempt made"
        for attempt in range(self.max_attempts):
            lm = self._lm_for(attempt)
            try:
                with dspy.context(lm=lm, adapter=self.adapter):
                    result = augment_scene(self.program, scene, item.personas)
            except LMError as exc:
                return self._safe(_Outcome(item, "error", attempt + 1, usage, raw=raw, reason=f"LM call failed: {_one_line(exc)}"))
            except Exception as exc:  # output the program could not handle: retry
                raw = getattr(exc, "lm_response", None) or raw
                reason = f"program error: {_one_line(exc)}"
                continue
            usage = usage + getattr(result, "usage", Usage())
            clean, problem = _check(result, scene)
            if clean is not None:
                clean = clean.model_copy(
                    update={"usage": usage, "lm": self.lm_safe, "program": clean.program or self.program_id}
                )
                return _Outcome(item, "ok", attempt + 1, usage, result=clean)
            raw = getattr(result, "raw", None) or raw
            reason = problem or "unusable output"
            if _cut_off(reason):
                reason = CUT_OFF_REASON
                if split_on_cut_off:
                    return self._safe(_Outcome(item, "cut-off", attempt + 1, usage, raw=raw, reason=reason))
        return self._safe(_Outcome(item, "failed", self.max_attempts, usage, raw=raw, reason=reason))

    def _safe(self, outcome: _Outcome) -> _Outcome:
        outcome.reason = self.redact(outcome.reason) if outcome.reason else outcome.reason
        outcome.raw = self.redact(outcome.raw) if outcome.raw else outcome.raw
        return outcome

    def persona(self, writer: Any, inputs: dict[str, str]) -> tuple[str | None, Usage, str | None]:
        import dspy

        from augmentlab.lm import usage_since

        usage = Usage()
        problem = "no attempt made"
        for attempt in range(self.max_attempts):
            lm = self._lm_for(attempt)
            try:
                with dspy.context(lm=lm, adapter=self.adapter):
                    pred = writer(**inputs)
            except Exception as exc:
                usage = usage + usage_since(lm)
                problem = _one_line(exc)
                continue
            usage = usage + usage_since(lm)
            card = str(getattr(pred, "persona", "") or "").strip()
            if card:
                return card, usage, None
            problem = "empty persona card"
        return None, usage, self.redact(problem)


def _make_progress(enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} scenes/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[tokens]:,} tok · [red]{task.fields[failed]} failed"),
        disable=not enabled,
        transient=False,
    )


def augment_scripts(
    scripts: Sequence[str | Path | Script],
    out_dir: str | Path,
    *,
    program: Any = None,
    lm_config: LMConfig | None = None,
    lm: dspy.BaseLM | None = None,
    adapter: Any = None,
    concurrency: int = 4,
    max_attempts: int = 3,
    retry_temperature: float = 0.7,
    personas: str | Path | dict[str, str] | None = None,
    write_personas: bool = True,
    dry_run: bool = False,
    retry_failed: bool = False,
    limit: int | None = None,
    progress: bool = False,
    estimate_tokenizer: str | None = None,
    tracer: Any = None,
    trace_tags: dict[str, str] | None = None,
    trace_run_id: str | None = None,
) -> AugmentReport:
    """Augment every scene of ``scripts`` into ``out_dir`` (see the module doc).

    ``program``: see :func:`resolve_program`. ``lm_config``: the LM (default: embedded);
    ``lm``/``adapter``: an already open LM (the config is then only used for its fingerprint
    and prices). ``personas``: a TOML/JSON file or a dict of persona cards; the main characters
    without one get a card from ``PersonaWriter`` when ``write_personas``. ``dry_run``: no LM
    call and nothing written; returns :attr:`AugmentReport.estimate`. ``retry_failed``: redo
    scenes stored as ``failed``. ``limit``: only the first N scenes. ``tracer``: an open
    :class:`~experiments.tracing.Tracer` makes each scene an MLflow trace (tagged ``trace_tags``,
    linked to the run ``trace_run_id``).
    """
    from augmentlab.lm import LMConfig as _LMConfig

    if concurrency < 1:
        raise AugmentlabError("--concurrency must be at least 1")
    if max_attempts < 1:
        raise AugmentlabError("max_attempts must be at least 1")
    if lm_config is None and lm is None:
        lm_config = _LMConfig()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise AugmentlabError(f"--out {out_dir} is a file, not a folder")
    started = time.time()
    loaded = load_scripts(scripts)
    script_objs = [s for _, s in loaded]
    prog, program_id = resolve_program(program)
    program_fp = program_fingerprint(prog)
    user_personas = read_persona_file(personas) if isinstance(personas, (str, Path)) else dict(personas or {})

    if dry_run:
        return _dry_run(loaded, prog, user_personas, lm_config, out_dir, limit, estimate_tokenizer, started,
                        write_personas)

    import dspy

    from augmentlab.lm import adapter_for, open_lm
    from augmentlab.lm.patches import memoize_dspy_model_info

    memoize_dspy_model_info()
    lm_fp = _lm_fingerprint(lm_config, lm)  # the model's identity (hashes a GGUF once per file)
    report = AugmentReport(out_dir=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out_dir)
    lm_safe = lm_config.record() if lm_config is not None else {"model": getattr(lm, "model", "")}
    run_info: dict[str, Any] = {
        "scripts": [name for name, _ in loaded],
        "program": program_id,
        "program_fingerprint": program_fp,
        "lm": lm_safe,
        "lm_identity": lm_config.identity_label() if lm_config is not None else lm_safe["model"],
        "lm_fingerprint": lm_fp,
        "concurrency": concurrency,
        "max_attempts": max_attempts,
        "retry_temperature": retry_temperature,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
    }
    from contextlib import ExitStack

    with ExitStack() as stack:
        stack.callback(store.close)
        store.set_meta("lm", lm_safe)  # who answered (the identity is also in every scene key)
        if lm is None:
            assert lm_config is not None
            lm = stack.enter_context(open_lm(lm_config))
        if adapter is None:
            adapter = adapter_for(lm_config) if lm_config is not None else dspy.JSONAdapter()
        runner = _Runner(
            program=prog, lm=lm, adapter=adapter, lm_safe=lm_safe, program_id=program_id,
            max_attempts=max_attempts, retry_temperature=retry_temperature,
            redact=_redactor(lm_config).text,
            tracer=tracer, trace_tags=trace_tags, trace_run_id=trace_run_id,
            max_tokens=lm_config.max_tokens if lm_config is not None else (getattr(lm, "kwargs", {}) or {}).get("max_tokens"),
            n_ctx=lm_config.n_ctx if lm_config is not None and lm_config.kind == "embedded" else None,
        )
        try:
            cards = _personas(runner, store, script_objs, user_personas, program_fp, lm_fp, write_personas, concurrency, report)
            items = _plan(loaded, cards, program_fp, lm_fp, limit)
            store.set_plan((it.script_index, it.scene.index, it.script, it.key) for it in items)
            if retry_failed:
                store.reset_failures(it.key for it in items)
            _run_scenes(runner, store, items, concurrency, progress, report)
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        finally:
            report.elapsed = time.time() - started
            _write_outputs(store, out_dir, report, run_info)
    return report


def _redactor(lm_config: LMConfig | None) -> Any:
    """The secret redactor for a run: the key variable the config names and the usual ``*_API_KEY``
    / ``*_TOKEN`` variables (an error body can echo the key: a 401 from some servers does)."""
    from augmentlab.core.redact import Redactor

    return Redactor([lm_config.api_key_env] if lm_config is not None and lm_config.api_key_env else [])


def _plan(loaded: list[tuple[str, Script]], cards: dict[str, str], program_fp: str, lm_fp: str, limit: int | None) -> list[_Item]:
    items: list[_Item] = []
    for script_index, (name, script) in enumerate(loaded):
        for scene in script.scenes:
            if not scene.lines:
                continue
            scene = scene.with_id()
            personas = {s: cards[s] for s in scene.speakers if s in cards}
            payload = scene.model_dump(mode="json", exclude={"index", "id"})
            key = work_key("scene", payload, program_fp, lm_fp, personas)
            items.append(_Item(name, script_index, scene, key, personas))
            if limit is not None and len(items) >= limit:
                return items
    return items


def _personas(
    runner: _Runner, store: ResultStore, scripts: list[Script], user: dict[str, str],
    program_fp: str, lm_fp: str, write: bool, concurrency: int, report: AugmentReport,
) -> dict[str, str]:
    cards = dict(user)
    report.personas = {name: {"persona": card, "source": "user"} for name, card in user.items()}
    missing = [c for c in main_characters(scripts) if c not in cards] if write else []
    if not missing:
        return cards
    from prompts.programs import PersonaWriter

    writer = PersonaWriter()
    writer_fp = program_fingerprint(writer)
    jobs = []
    for character in missing:
        inputs = _persona_inputs(character, scripts)
        key = work_key("persona", inputs, writer_fp, lm_fp)
        record = store.get(key)
        if record is not None and record.status == "ok" and record.result:
            cards[character] = record.result["persona"]
            report.personas[character] = {"persona": cards[character], "source": "generated"}
            continue
        jobs.append((character, inputs, key))
    with ThreadPoolExecutor(max(1, min(concurrency, len(jobs) or 1))) as pool:
        futures = {pool.submit(runner.persona, writer, inputs): (character, key) for character, inputs, key in jobs}
        for future, (character, key) in futures.items():
            card, usage, problem = future.result()
            report.usage = report.usage + usage
            if card is None:
                store.put(key, status="failed", kind="persona", usage=usage, reason=problem, attempts=runner.max_attempts)
                report.failures.append(Failure("", -1, f"persona:{character}", "failed", problem or "no card"))
                continue
            store.put(key, status="ok", kind="persona", result={"character": character, "persona": card}, usage=usage)
            cards[character] = card
            report.personas[character] = {"persona": card, "source": "generated"}
    return cards


def _run_scenes(runner: _Runner, store: ResultStore, items: list[_Item], concurrency: int, show: bool, report: AugmentReport) -> None:
    report.scenes = len(items)
    done_keys = store.final_keys(it.key for it in items)
    todo: list[_Item] = []
    queued: set[str] = set()
    for it in items:
        if it.key in done_keys:
            report.skipped += 1
        elif it.key not in queued:
            queued.add(it.key)
            todo.append(it)
    report.skipped = len(items) - len(todo)
    lm_errors_in_a_row = 0
    start = time.monotonic()
    with _make_progress(show) as bar:
        task = bar.add_task("augment", total=len(todo), rate=0.0, tokens=0, failed=0)
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="augment")
        pending: set[Future[_Outcome]] = set()
        feed = iter(todo)
        try:
            for it in feed:
                pending.add(pool.submit(runner.scene, it))
                if len(pending) >= concurrency * 2:
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                crash: BaseException | None = None
                for future in finished:
                    try:
                        outcome = future.result()
                    except BaseException as exc:  # a bug or an interrupt: record the others first
                        crash = crash or exc
                        continue
                    _record(store, outcome, report)
                    if outcome.status == "error":
                        lm_errors_in_a_row += 1
                    else:
                        lm_errors_in_a_row = 0
                    nxt = next(feed, None)
                    if nxt is not None:
                        pending.add(pool.submit(runner.scene, nxt))
                    elapsed = time.monotonic() - start
                    bar.update(
                        task, advance=1, rate=(report.ok + report.failed + report.errors) / max(elapsed, 1e-9),
                        tokens=report.usage.total_tokens, failed=report.failed + report.errors,
                    )
                if crash is not None:
                    raise crash
                if lm_errors_in_a_row >= ABORT_AFTER_LM_ERRORS and report.ok == 0:
                    last = next(f.reason for f in reversed(report.failures) if f.status == "error")
                    raise AugmentlabError(
                        f"the LM failed for {lm_errors_in_a_row} scenes in a row ({last}); "
                        "finished scenes are kept, re-run to resume (check --lm/--model/--api-base/--api-key-env, "
                        "or [lm] in augmentlab.toml)"
                    )
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            # Results that finished while shutting down are still written (never lost).
            for future in pending:
                if future.done() and not future.cancelled() and future.exception() is None:
                    _record(store, future.result(), report)


def _record(store: ResultStore, outcome: _Outcome, report: AugmentReport) -> None:
    item = outcome.item
    store.put(
        item.key,
        status=outcome.status,  # type: ignore[arg-type]
        result=outcome.result.model_dump(mode="json") if outcome.result is not None else None,
        scene_id=item.scene.id,
        attempts=outcome.attempts,
        usage=outcome.usage,
        raw=outcome.raw,
        reason=outcome.reason,
    )
    report.usage = report.usage + outcome.usage
    if outcome.status == "ok":
        report.ok += 1
        report.split += int(outcome.parts > 1)
        report.bare_lines += outcome.bare_lines
        return
    if outcome.status == "failed":
        report.failed += 1
    else:
        report.errors += 1
    report.failures.append(Failure(item.script, item.scene.index, item.scene.id, outcome.status, outcome.reason or ""))


def _write_outputs(store: ResultStore, out_dir: Path, report: AugmentReport, run_info: dict[str, Any]) -> None:
    store.export_jsonl(out_dir / "augmented.jsonl", statuses=("ok",))
    store.export_jsonl(out_dir / "failures.jsonl", statuses=("failed", "error"))
    report.total_usage = store.total_usage()
    counts = store.counts()
    _atomic_write(out_dir / "personas.json", json.dumps(report.personas, ensure_ascii=False, indent=2) + "\n")
    info = {
        **run_info,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_s": round(report.elapsed, 3),
        "interrupted": report.interrupted,
        "counts": counts,
        "this_run": {"ok": report.ok, "failed": report.failed, "errors": report.errors, "skipped": report.skipped,
                     "split": report.split, "bare_lines": report.bare_lines, "usage": report.usage.model_dump()},
        "total_usage": report.total_usage.model_dump(),
        "personas": {name: card["source"] for name, card in report.personas.items()},
    }
    _atomic_write(out_dir / "run.json", json.dumps(info, ensure_ascii=False, indent=2) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- dry run --------------------------------------------------------------------------------


def _dry_run(
    loaded: list[tuple[str, Script]], program: Any, user_personas: dict[str, str], lm_config: LMConfig | None,
    out_dir: Path, limit: int | None, tokenizer: str | None, started: float, write_personas: bool = True,
) -> AugmentReport:
    """Run the program with the offline FakeLM to get the exact prompts; count their tokens with
    the tokenizer (the embedded model's for the embedded LM, else the word estimate).

    Persona cards the real run would generate (main characters without a user card, when
    ``write_personas``) are written by the persona writer on the FakeLM too, so their calls are
    counted and the scene prompts carry a card of about the right length."""
    import dspy

    from augmentlab.lm.fake import FakeLM
    from augmentlab.lm import adapter_for
    from augmentlab.core.tokens import load_tokenizer
    from prompts.programs import PersonaWriter, augment_scene

    if tokenizer is None:
        tokenizer = "embedded" if (lm_config is None or lm_config.kind == "embedded") else "words"
    counter = load_tokenizer(tokenizer)
    adapter = adapter_for(lm_config) if lm_config is not None else dspy.JSONAdapter()
    estimate = Estimate(tokenizer=counter.name)
    recorder = _PromptRecorder()
    fake = FakeLM(cache=False)
    cards = dict(user_personas)
    scripts = [script for _, script in loaded]
    missing = [c for c in main_characters(scripts) if c not in cards] if write_personas else []
    if missing:
        writer = PersonaWriter()
        for character in missing:
            with dspy.context(lm=fake, adapter=adapter, callbacks=[recorder]):
                try:
                    cards[character] = writer(**_persona_inputs(character, scripts)).persona
                except Exception:  # an estimate never fails on one odd character
                    continue
            estimate.personas += 1
    items = _plan(loaded, cards, "dry", "dry", limit)
    for item in items:
        with dspy.context(lm=fake, adapter=adapter, callbacks=[recorder]):
            try:
                augment_scene(program, item.scene, item.personas)
            except Exception:  # an estimate never fails on one odd scene
                pass
        estimate.scenes += 1
    for messages, outputs in recorder.calls:
        estimate.calls += 1
        estimate.prompt_tokens += sum(counter.count(_content(m)) + 4 for m in messages)
        for out in outputs:
            estimate.completion_tokens += counter.count(out if isinstance(out, str) else json.dumps(out, default=str))
    if lm_config is not None and lm_config.prompt_price_per_1k is not None and lm_config.completion_price_per_1k is not None:
        estimate.cost = (
            estimate.prompt_tokens / 1000 * lm_config.prompt_price_per_1k
            + estimate.completion_tokens / 1000 * lm_config.completion_price_per_1k
        )
    report = AugmentReport(out_dir=out_dir, scenes=len(items), estimate=estimate, elapsed=time.time() - started)
    return report


def _prompt_recorder_class() -> type:
    from dspy.utils.callback import BaseCallback

    class PromptRecorder(BaseCallback):
        """Keeps the messages and outputs of every LM call (for the dry-run estimate)."""

        def __init__(self) -> None:
            self.calls: list[tuple[list[Any], list[Any]]] = []
            self._open: dict[str, list[Any]] = {}

        def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            messages = inputs.get("messages") or ([{"content": inputs["prompt"]}] if inputs.get("prompt") else [])
            self._open[call_id] = list(messages)

        def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
            messages = self._open.pop(call_id, [])
            self.calls.append((messages, list(outputs or []) if isinstance(outputs, list) else [outputs]))

    return PromptRecorder


def _PromptRecorder() -> Any:  # noqa: N802  (built lazily: it subclasses a dspy class)
    return _prompt_recorder_class()()


def _content(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")


__all__ = [
    "DEFAULT_PROGRAM",
    "AugmentReport",
    "Estimate",
    "Failure",
    "augment_scripts",
    "main_characters",
    "program_fingerprint",
    "read_persona_file",
    "resolve_program",
]
