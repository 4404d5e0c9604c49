"""The DSPy signatures of augmentlab's programs: fields only.

The instructions of every signature come from a variant file at build time
(:func:`build_signature`), never from Python strings; the docstrings below are there for readers
and are replaced. Field descriptions are short and structural.

Input field formats (see :mod:`prompts.data`): ``lines`` is the scene numbered ``N. Speaker: text``
(narration without a speaker), ``context`` the lines before the scene in the same form, ``cast``
one character per line, ``persona`` persona cards (``Name: card``), ``scenario`` plain text.
"""

from __future__ import annotations

import augmentlab  # noqa: F401  (offline environment first)
import dspy
from pydantic import BaseModel

from prompts.variants import Variant


class WriteScenario(dspy.Signature):
    """Scene lines → scenario (instructions are set from a variant file)."""

    lines: str = dspy.InputField(desc="the scene, numbered `N. Speaker: text`")
    context: str = dspy.InputField(desc="lines before the scene, same form; may be empty")
    cast: str = dspy.InputField(desc="characters of the scene, one per line")
    persona: str = dspy.InputField(desc="persona cards, `Name: card`; may be empty")
    scenario: str = dspy.OutputField(desc="the scenario, plain prose")


class AnnotateActions(dspy.Signature):
    """Scene lines → the same lines with actions (instructions are set from a variant file)."""

    lines: str = dspy.InputField(desc="the scene, numbered `N. Speaker: text`")
    context: str = dspy.InputField(desc="lines before the scene, same form; may be empty")
    cast: str = dspy.InputField(desc="characters of the scene, one per line")
    persona: str = dspy.InputField(desc="persona cards, `Name: card`; may be empty")
    scenario: str = dspy.InputField(desc="the scenario of the scene")
    annotated_lines: list[str] = dspy.OutputField(
        desc="one entry per numbered line, same order; no number, no speaker name"
    )


class LineActions(BaseModel):
    """The actions of one line: what the speaker does before and after their words (may be empty)."""

    before: str
    after: str


class LineAction(BaseModel):
    """The one action of a line (``actions_per_line = 1``): what the speaker does as the words begin.

    Named ``before`` because the program puts it before the words (:func:`prompts.programs.compose_line`).
    """

    before: str


class AnnotateActionsOnly(dspy.Signature):
    """Scene lines → the actions of each line only (instructions are set from a variant file).

    The human words are not written back: the program composes ``*before* words *after*``.
    """

    lines: str = dspy.InputField(desc="the scene, numbered `N. Speaker: text`")
    context: str = dspy.InputField(desc="lines before the scene, same form; may be empty")
    cast: str = dspy.InputField(desc="characters of the scene, one per line")
    persona: str = dspy.InputField(desc="persona cards, `Name: card`; may be empty")
    scenario: str = dspy.InputField(desc="the scenario of the scene")
    line_actions: list[LineActions] = dspy.OutputField(
        desc="one entry per numbered line, same order: the actions before and after the words"
    )


class WriteScenarioAndActions(dspy.Signature):
    """Scene lines → scenario and the actions of each line, in one call (instructions from a variant file).

    The human words are not written back: the program composes ``*before* words *after*``.
    The fields carry no descriptions: this prompt is paid once per scene, the user message shows
    the inputs under their markers, and the variant's instructions say what to write in each
    output (measured with SmolLM2: ~5 fewer tokens per line, same score within noise).
    """

    lines: str = dspy.InputField(desc="")
    context: str = dspy.InputField(desc="")
    cast: str = dspy.InputField(desc="")
    persona: str = dspy.InputField(desc="")
    scenario: str = dspy.OutputField(desc="")
    line_actions: list[LineActions] = dspy.OutputField(desc="one per numbered line, in order")


class AnnotateLine(dspy.Signature):
    """One line → that line with actions (instructions are set from a variant file)."""

    line: str = dspy.InputField(desc="the line to annotate, `Speaker: text`")
    previous: str = dspy.InputField(desc="the lines before it, numbered; may be empty")
    cast: str = dspy.InputField(desc="characters of the scene, one per line")
    persona: str = dspy.InputField(desc="persona cards, `Name: card`; may be empty")
    scenario: str = dspy.InputField(desc="the scenario of the scene")
    annotated_line: str = dspy.OutputField(desc="the line with actions; no speaker name")


class WritePersona(dspy.Signature):
    """A character's lines → persona card (instructions are set from a variant file)."""

    character: str = dspy.InputField(desc="the character's name")
    lines: str = dspy.InputField(desc="lines of the script, numbered `N. Speaker: text`")
    cast: str = dspy.InputField(desc="characters of the script, one per line")
    persona: str = dspy.OutputField(desc="the persona card, plain prose")


def build_signature(base: type[dspy.Signature], variant: Variant) -> type[dspy.Signature]:
    """``base`` with the variant's instructions, minus the inputs the variant does not use.

    A variant with ``sees_scenario = false`` gets no ``scenario`` field at all (the model never
    sees it); one with ``persona = false`` gets no ``persona`` field; one with
    ``actions_per_line = 1`` gets ``line_actions`` as a list of :class:`LineAction` (one action
    per line) instead of :class:`LineActions`.
    """
    signature = base.with_instructions(variant.instructions)
    if variant.actions_per_line == 1 and "line_actions" in signature.output_fields:
        signature = signature.with_updated_fields(
            "line_actions", type_=list[LineAction], desc="one per numbered line, in order: the action before the words"
        )
    if "scenario" in signature.input_fields and not variant.sees_scenario:
        signature = signature.delete("scenario")
    if "persona" in signature.input_fields and not variant.persona:
        signature = signature.delete("persona")
    return signature
