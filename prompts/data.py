"""Scenes and gold examples as DSPy inputs and examples.

The program inputs (see :mod:`prompts.signatures`):

* ``lines`` — the scene, one line each, numbered ``N. Speaker: text`` (narration: ``N. text``);
* ``context`` — the lines before the scene, in the same form (numbered from 1);
* ``cast`` — the scene's characters, one per line;
* ``persona`` — persona cards of the scene's characters, ``Name: card`` per line.

Script text never shapes the prompt: DSPy separates fields with ``[[ ## name ## ]]`` markers, so
:func:`neutralize_markers` puts an invisible WORD JOINER (U+2060) between two brackets in a row in
every input made from script text (a line ``[[ ## scenario ## ]]`` can neither open nor close a
field), and :func:`restore_markers` takes it out of what the model writes back, so the human
words come back exactly.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample, Line, Scene
from augmentlab.core.text import collapse_ws

if TYPE_CHECKING:
    import dspy

MARKER_GUARD = "\u2060"
"""WORD JOINER: put between two brackets in a row so script text cannot form a DSPy field marker."""
_OPEN_RUN = re.compile(r"\[(?=\[)")
_CLOSE_RUN = re.compile(r"\](?=\])")
_GUARDED = re.compile(r"([\[\]])\u2060(?=\1)")


def neutralize_markers(text: str) -> str:
    """``text`` with a :data:`MARKER_GUARD` between brackets in a row (``[[`` → ``[\u2060[``)."""
    if "[[" not in text and "]]" not in text:
        return text
    return _CLOSE_RUN.sub("]" + MARKER_GUARD, _OPEN_RUN.sub("[" + MARKER_GUARD, text))


def restore_markers(text: str) -> str:
    """Undo :func:`neutralize_markers` (what the model copied from the input is the human text)."""
    return _GUARDED.sub(r"\1", text) if MARKER_GUARD in text else text


TASKS = ("scenario", "actions", "both")
INPUT_FIELDS = ("lines", "context", "cast", "persona")


def format_line(line: Line) -> str:
    """``Speaker: text`` (text on one line), or the bare text for narration."""
    text = neutralize_markers(collapse_ws(line.text))
    return f"{neutralize_markers(line.speaker)}: {text}" if line.speaker else text


def format_lines(lines: list[Line]) -> str:
    """Lines numbered from 1: ``1. Speaker: text``."""
    return "\n".join(f"{i}. {format_line(line)}" for i, line in enumerate(lines, start=1))


def format_cast(scene: Scene) -> str:
    """The scene's speakers, one per line, in order of first appearance."""
    return "\n".join(neutralize_markers(name) for name in scene.speakers)


def format_personas(scene: Scene, personas: dict[str, str] | None) -> str:
    """Persona cards of the scene's speakers that have one: ``Name: card`` per line."""
    if not personas:
        return ""
    cards = [
        neutralize_markers(f"{name}: {collapse_ws(personas[name])}") for name in scene.speakers if personas.get(name)
    ]
    return "\n".join(cards)


def scene_inputs(scene: Scene, personas: dict[str, str] | None = None) -> dict[str, str]:
    """The program inputs for one scene."""
    if not scene.lines:
        raise AugmentlabError(f"scene {scene.id or scene.index} has no lines to augment")
    return {
        "lines": format_lines(scene.lines),
        "context": format_lines(scene.context),
        "cast": format_cast(scene),
        "persona": format_personas(scene, personas),
    }


def to_example(gold: GoldExample, task: str) -> dspy.Example:
    """A :class:`dspy.Example` for one gold example.

    Inputs: ``lines``, ``context``, ``cast``, ``persona`` (+ ``scenario`` = the gold scenario for
    task ``actions``). Labels: ``scenario`` and ``annotated_lines`` (the gold values; None when
    absent). Also ``gold`` (the :class:`GoldExample` as JSON, for the metric) and ``gold_id``.
    """
    import dspy

    if task not in TASKS:
        raise AugmentlabError(f"unknown task {task!r} (tasks: {', '.join(TASKS)})")
    if task in ("scenario", "both") and not gold.scenario:
        raise AugmentlabError(f"gold example {gold.id} has no scenario (needed for task {task!r})")
    if task in ("actions", "both") and not gold.annotated:
        raise AugmentlabError(f"gold example {gold.id} has no annotated lines (needed for task {task!r})")
    data: dict[str, Any] = scene_inputs(gold.scene, gold.personas)
    inputs = list(INPUT_FIELDS) + (["scenario"] if task == "actions" else [])
    example = dspy.Example(
        **data,
        scenario=gold.scenario,
        annotated_lines=gold.annotated,
        gold=gold.model_dump_json(),
        gold_id=gold.id,
    )
    return example.with_inputs(*inputs)
