"""augmentlab's DSPy programs.

* :class:`ScenarioWriter` — scene → scenario.
* :class:`ActionAnnotator` — scene (+ scenario, when the variant sees it) → one annotated line per
  scene line; ``mode = "scene"`` makes one call per scene, ``mode = "line"`` one call per line
  with the previous lines as context; ``output = "actions"`` has the model write only the actions
  before and after each line and composes ``*before* words *after*`` itself (:func:`compose_line`);
  ``writes_scenario = true`` has the same call write the scenario too (one call per scene).
* :class:`PersonaWriter` — a character's lines → persona card.
* :class:`SceneAugmenter` — the two halves together (either may be absent).
* :func:`augment_scene` — run a program on a :class:`~augmentlab.core.model.Scene` and check the result.
* :func:`save_program` / :func:`load_program` — optimized programs with their lineage.

Each program is built from variant files (:mod:`prompts.variants`); the instructions come from
there, never from this module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import augmentlab  # noqa: F401  (offline environment first)
import dspy

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import atomic_write_text
from augmentlab.core.model import AugmentedLine, AugmentedScene, Scene, Usage
from augmentlab.core.text import is_verbatim
from augmentlab.lm import usage_since
from prompts import OPTIMIZED_DIR
from prompts.data import restore_markers, scene_inputs
from prompts.signatures import (
    AnnotateActions,
    AnnotateActionsOnly,
    AnnotateLine,
    WritePersona,
    WriteScenario,
    WriteScenarioAndActions,
    build_signature,
)
from prompts.variants import Variant, load_variant

_NUMBER_RE = re.compile(r"^\s*\d+[.)]\s+")
PROGRAM_FORMAT = "augmentlab.program/1"


def _variant(value: Variant | str | Path | None, task: str) -> Variant | None:
    if value is None or isinstance(value, Variant):
        if value is not None and value.task != task:
            raise AugmentlabError(f"variant {value.id} is not a {task!r} variant")
        return value
    return load_variant(value, task=task)


def _predictor(base: type[dspy.Signature], variant: Variant) -> dspy.Predict:
    predict = dspy.Predict(build_signature(base, variant))
    fields = set(predict.signature.fields)
    predict.demos = [dspy.Example(**{k: v for k, v in demo.items() if k in fields}) for demo in variant.demos]
    return predict


def _inputs_for(predict: dspy.Predict, values: dict[str, Any]) -> dict[str, Any]:
    return {name: values.get(name) or "" for name in predict.signature.input_fields}


def split_numbered(lines: str) -> list[str]:
    """The entries of a numbered ``lines`` input, numbers removed."""
    return [_NUMBER_RE.sub("", ln, count=1).strip() for ln in lines.splitlines() if ln.strip()]


def _cast_names(cast: str) -> list[str]:
    return [name.strip() for name in cast.splitlines() if name.strip()]


def clean_annotated(text: Any, names: list[str]) -> str:
    """An annotated line as the model wrote it, minus a line number or speaker prefix it added."""
    out = restore_markers(str(text if text is not None else "")).strip()
    out = _NUMBER_RE.sub("", out, count=1)
    for name in sorted((restore_markers(n) for n in names), key=len, reverse=True):
        if out.startswith(f"{name}:"):
            out = out[len(name) + 1 :].lstrip()
            break
    return out


def _action_part(value: Any) -> str:
    """One action as the model wrote it, cleaned: no asterisks or quotes around it, one line."""
    text = " ".join(restore_markers(str(value if value is not None else "")).split())
    return text.replace("*", "").strip(" \"'")


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def compose_line(entry: str, item: Any, names: list[str]) -> str:
    """``*before* words *after*`` for one numbered-line entry (``Speaker: words`` or narration).

    The words are taken from the input, never from the model, so they are kept by construction.
    Narration (no speaker from ``names``) is returned unchanged, without actions.
    """
    speaker, words = None, restore_markers(entry)
    # Names come from the cast input, markers neutralized like the entry's: compare restored forms.
    for name in sorted((restore_markers(n) for n in names), key=len, reverse=True):
        if words.startswith(f"{name}: "):
            speaker, words = name, words[len(name) + 2 :]
            break
    if speaker is None:
        return words
    before, after = _action_part(_field(item, "before")), _action_part(_field(item, "after"))
    return " ".join(part for part in (f"*{before}*" if before else "", words, f"*{after}*" if after else "") if part)


class ScenarioWriter(dspy.Module):
    """Scene lines → ``scenario``."""

    def __init__(self, variant: Variant | str) -> None:
        super().__init__()
        self.variant = _variant(variant, "scenario")
        assert self.variant is not None
        self.predict = _predictor(WriteScenario, self.variant)

    def forward(self, lines: str, context: str = "", cast: str = "", persona: str = "") -> dspy.Prediction:
        values = {"lines": lines, "context": context, "cast": cast, "persona": persona}
        pred = self.predict(**_inputs_for(self.predict, values))
        return dspy.Prediction(scenario=str(pred.scenario or "").strip())


class ActionAnnotator(dspy.Module):
    """Scene lines → ``annotated_lines``, one per line, in order."""

    def __init__(self, variant: Variant | str) -> None:
        super().__init__()
        self.variant = _variant(variant, "actions")
        assert self.variant is not None
        if self.variant.mode == "line":
            base: type[dspy.Signature] = AnnotateLine
        elif self.variant.writes_scenario:
            base = WriteScenarioAndActions
        else:
            base = AnnotateActionsOnly if self.variant.output == "actions" else AnnotateActions
        self.predict = _predictor(base, self.variant)

    def forward(
        self, lines: str, context: str = "", cast: str = "", persona: str = "", scenario: str = ""
    ) -> dspy.Prediction:
        """``annotated_lines`` (and ``scenario`` when the variant writes it)."""
        names = _cast_names(cast)
        values = {"context": context, "cast": cast, "persona": persona, "scenario": scenario or ""}
        if self.variant.output == "actions":
            pred = self.predict(**_inputs_for(self.predict, {**values, "lines": lines}))
            written = {"scenario": str(pred.scenario or "").strip()} if self.variant.writes_scenario else {}
            items = pred.line_actions if isinstance(pred.line_actions, list) else [pred.line_actions]
            entries = split_numbered(lines)
            if len(items) != len(entries):  # augment_scene reports the count mismatch
                return dspy.Prediction(annotated_lines=[str(_field(i, "before") or "") for i in items], **written)
            return dspy.Prediction(annotated_lines=[compose_line(e, i, names) for e, i in zip(entries, items)], **written)
        if self.variant.mode == "scene":
            pred = self.predict(**_inputs_for(self.predict, {**values, "lines": lines}))
            annotated = pred.annotated_lines if isinstance(pred.annotated_lines, list) else [pred.annotated_lines]
            return dspy.Prediction(annotated_lines=[clean_annotated(a, names) for a in annotated])
        entries = split_numbered(lines)
        earlier = split_numbered(context)
        out = []
        for entry in entries:
            previous = "\n".join(f"{i}. {text}" for i, text in enumerate(earlier, start=1))
            pred = self.predict(**_inputs_for(self.predict, {**values, "line": entry, "previous": previous}))
            out.append(clean_annotated(pred.annotated_line, names))
            earlier.append(entry)
        return dspy.Prediction(annotated_lines=out)


class PersonaWriter(dspy.Module):
    """A character's lines → ``persona`` card."""

    def __init__(self, variant: Variant | str = "default") -> None:
        super().__init__()
        self.variant = _variant(variant, "persona")
        assert self.variant is not None
        self.predict = _predictor(WritePersona, self.variant)

    def forward(self, character: str, lines: str, cast: str = "") -> dspy.Prediction:
        pred = self.predict(character=character, lines=lines, cast=cast)
        return dspy.Prediction(persona=str(pred.persona or "").strip())


class SceneAugmenter(dspy.Module):
    """Scenario writer and action annotator as one program; either half may be absent.

    Without a scenario variant, a ``scenario`` passed to :meth:`forward` (e.g. the gold one) is
    used. An actions variant with ``sees_scenario = false`` never gets the scenario; one with
    ``writes_scenario = true`` writes it in the same call and stands alone (no scenario variant).
    """

    def __init__(
        self,
        scenario_variant: Variant | str | Path | None = None,
        actions_variant: Variant | str | Path | None = None,
    ) -> None:
        super().__init__()
        scenario = _variant(scenario_variant, "scenario")
        actions = _variant(actions_variant, "actions")
        if scenario is None and actions is None:
            raise AugmentlabError("a SceneAugmenter needs a scenario variant, an actions variant, or both")
        if scenario is not None and actions is not None and actions.writes_scenario:
            raise AugmentlabError(
                f"{actions.id} writes its own scenario (writes_scenario = true): use it without a scenario variant"
            )
        self.scenario_writer = ScenarioWriter(scenario) if scenario is not None else None
        self.annotator = ActionAnnotator(actions) if actions is not None else None

    @property
    def scenario_variant(self) -> Variant | None:
        return self.scenario_writer.variant if self.scenario_writer else None

    @property
    def actions_variant(self) -> Variant | None:
        return self.annotator.variant if self.annotator else None

    @property
    def name(self) -> str:
        """``scenario/<name>+actions/<name>``, or ``optimized/<file>`` for a loaded program."""
        source = getattr(self, "source", None)
        if source:
            return f"optimized/{Path(source).stem}"
        return "+".join(v.id for v in (self.scenario_variant, self.actions_variant) if v is not None)

    @property
    def writes_scenario(self) -> bool:
        """Does this program write a scenario (with a scenario writer, or in the annotator's call)?"""
        return self.scenario_writer is not None or bool(self.annotator and self.annotator.variant.writes_scenario)

    @property
    def task(self) -> str:
        """``scenario``, ``actions`` or ``both``: what this program writes."""
        if self.writes_scenario and self.annotator:
            return "both"
        return "scenario" if self.scenario_writer else "actions"

    def forward(
        self, lines: str, context: str = "", cast: str = "", persona: str = "", scenario: str | None = None
    ) -> dspy.Prediction:
        if self.scenario_writer is not None:
            scenario = self.scenario_writer(lines=lines, context=context, cast=cast, persona=persona).scenario
        annotated = None
        if self.annotator is not None:
            pred = self.annotator(lines=lines, context=context, cast=cast, persona=persona, scenario=scenario or "")
            annotated = pred.annotated_lines
            if self.annotator.variant.writes_scenario:
                scenario = pred.scenario
        return dspy.Prediction(scenario=scenario, annotated_lines=annotated)


def augment_scene(
    program: SceneAugmenter, scene: Scene, personas: dict[str, str] | None = None,
    *, prices: tuple[float | None, float | None] | None = None,
) -> AugmentedScene:
    """Run ``program`` on ``scene`` with the configured LM and check what comes back.

    ``prices`` (per 1k tokens, an :attr:`~augmentlab.lm.session.LMSession.prices`) price the usage;
    without them the cost is what the provider reported, if anything.

    The result is ``failed`` (with a reason and the raw output, nothing thrown away) when the
    output cannot be parsed, the number of annotated lines differs from the scene's, or a line's
    human words were changed (:func:`augmentlab.core.text.is_verbatim`). Usage counts this scene's
    LM calls only (the LM is copied, so its history is private even across threads).
    """
    from dspy.utils.exceptions import AdapterParseError

    scene = scene.with_id()
    lm = dspy.settings.lm
    if lm is None:
        raise AugmentlabError("no LM is configured: open one with augmentlab.lm.use_lm(config)")
    inputs = scene_inputs(scene, personas)
    local = lm.copy()
    result = AugmentedScene(scene_id=scene.id, scene=scene, program=program.name)
    try:
        with dspy.context(lm=local):
            pred = program(**inputs)
    except AdapterParseError as exc:
        result.usage = usage_since(local, 0, prices=prices)
        result.status, result.reason = "failed", f"unparseable LM output: {' '.join(str(exc).split())[:200]}"
        if _truncated(local):  # unparseable because it was cut off: say so (augment splits the scene)
            result.reason = "the LM output was cut off at max_tokens (finish_reason=length); raise max_tokens"
        result.raw = exc.lm_response
        return result
    result.usage = usage_since(local, 0, prices=prices) if local.history else Usage()
    result.scenario = pred.scenario
    if _truncated(local):  # a cut-off reply can still parse (JSON repair) into shorter text
        result.status = "failed"
        result.reason = "the LM output was cut off at max_tokens (finish_reason=length); raise max_tokens"
        result.raw = json.dumps({"scenario": pred.scenario, "annotated_lines": pred.annotated_lines}, ensure_ascii=False)
        return result
    if program.writes_scenario and not (pred.scenario or "").strip():
        result.status, result.reason = "failed", "empty scenario"
    if program.annotator is None:
        return result
    annotated = list(pred.annotated_lines or [])
    raw = json.dumps({"scenario": pred.scenario, "annotated_lines": annotated}, ensure_ascii=False)
    if len(annotated) != len(scene.lines):
        result.status = "failed"
        result.reason = f"expected {len(scene.lines)} annotated lines, got {len(annotated)}"
        result.raw = raw
        return result
    result.lines = [AugmentedLine(line=line, annotated=text) for line, text in zip(scene.lines, annotated)]
    changed = [i for i, (line, text) in enumerate(zip(scene.lines, annotated), start=1) if not is_verbatim(text, line.text)]
    if changed:
        result.status = "failed"
        result.reason = f"human words changed in line(s) {', '.join(map(str, changed))}"
        result.raw = raw
    return result


def _truncated(lm: Any) -> bool:
    """True when a call in ``lm.history`` stopped at the token limit (``finish_reason == "length"``)."""
    for entry in lm.history:
        response = entry.get("response")
        reason = getattr(response, "finish_reason", None)
        if reason is None:
            choices = getattr(response, "choices", None) or (response.get("choices") if isinstance(response, dict) else None)
            if choices:
                first = choices[0]
                reason = first.get("finish_reason") if isinstance(first, dict) else getattr(first, "finish_reason", None)
        if reason == "length":
            return True
    return False


def optimized_path(name: str) -> Path:
    """``prompts/optimized/<name>.json``."""
    return OPTIMIZED_DIR / f"{name}.json"


def save_program(program: SceneAugmenter, path: str | Path, lineage: dict[str, Any]) -> Path:
    """Save a (possibly optimized) program with its lineage as JSON; returns the path.

    The file holds the variants it was built from (whole, so it loads even if the files change),
    the DSPy state (instructions and demos per predictor) and ``lineage`` (optimizer, parents,
    scores, run ids...). Written to a temporary file and renamed: never half a file.
    """
    target = Path(path)
    data = {
        "format": PROGRAM_FORMAT,
        "name": program.name,
        "variants": {
            "scenario": program.scenario_variant.model_dump(mode="json") if program.scenario_variant else None,
            "actions": program.actions_variant.model_dump(mode="json") if program.actions_variant else None,
        },
        "state": program.dump_state(),
        "lineage": lineage,
    }
    try:
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    except (TypeError, ValueError) as exc:
        raise AugmentlabError(f"cannot save program {program.name}: {exc}") from None
    atomic_write_text(target, text + "\n")
    return target


def load_program(path: str | Path) -> SceneAugmenter:
    """Rebuild a :class:`SceneAugmenter` saved by :func:`save_program` (``lineage`` on ``.lineage``)."""
    source = Path(path)
    if not source.is_file() and not source.suffix:
        source = optimized_path(str(path))
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AugmentlabError(f"saved program not found: {source}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AugmentlabError(f"{source}: not a saved program ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != PROGRAM_FORMAT:
        raise AugmentlabError(f"{source}: not a saved program (format is not {PROGRAM_FORMAT})")
    try:
        variants = {k: Variant(**v) if v else None for k, v in data["variants"].items()}
        program = SceneAugmenter(variants.get("scenario"), variants.get("actions"))
        program.load_state(data["state"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AugmentlabError(f"{source}: damaged saved program ({exc})") from None
    program.lineage = data.get("lineage", {})
    program.source = str(source)
    return program


def instruction_text(program: Any) -> str:
    """The instruction text a program's prompts carry: each predictor's instructions and field
    descriptions (not its demos). What :mod:`metrics.copied` checks an output against: an answer
    that gives this text back is the prompt, not a scene."""
    parts: list[str] = []
    predictors = getattr(program, "predictors", None)
    for predict in predictors() if callable(predictors) else []:
        signature = predict.signature
        parts.append(str(signature.instructions or ""))
        for f in signature.fields.values():
            desc = (getattr(f, "json_schema_extra", None) or {}).get("desc")
            if isinstance(desc, str) and not desc.startswith("${"):
                parts.append(desc)
    return "\n".join(p for p in parts if p.strip())
