"""The data model: the one place augmentlab's types are defined.

A script is ingested into :class:`Script` → :class:`Scene` → :class:`Line`. A program turns a
scene into an :class:`AugmentedScene` (a scenario plus one :class:`AugmentedLine` per line).
A :class:`GoldExample` is a scene with the reference scenario and/or annotated lines.

The human words in ``Line.text`` are never edited after ingest; ``AugmentedLine.annotated``
must give them back exactly when its ``*actions*`` are removed (see :mod:`augmentlab.core.text`).
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LineKind(str, Enum):
    """What a line of a script is."""

    dialogue = "dialogue"
    narration = "narration"
    direction = "direction"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Line(_Model):
    """One line of a script: the human words and where they came from."""

    speaker: str | None = None
    text: str
    kind: LineKind = LineKind.dialogue
    directions: list[str] = Field(default_factory=list)
    """Human-written stage directions / actions attached to this line."""
    source_line: int | None = None
    """1-based line number in the source file where this line starts."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form facts, e.g. ``{"attribution": "uncertain"}`` for prose."""

    def render(self) -> str:
        """``Speaker: text`` for dialogue, the bare text otherwise."""
        if self.speaker:
            return f"{self.speaker}: {self.text}"
        return self.text


def content_hash(*parts: Any, length: int = 16) -> str:
    """A stable hex digest of JSON-serialisable parts."""
    # The identity is the UTF-8 of json.dumps(..., ensure_ascii=False). The default (ASCII)
    # encoder is faster and gives the same text whenever it escaped nothing as \uXXXX.
    blob = json.dumps(parts, sort_keys=True, default=_json_default)
    if "\\u" in blob:
        blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=_json_default)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Scene(_Model):
    """A stretch of a script that gets one scenario."""

    id: str = ""
    """Content hash of the lines (filled in by :meth:`with_id` / ingest)."""
    index: int = 0
    heading: str | None = None
    setting: str | None = None
    """Human-written setting text (a play's scene description, a Ren'Py ``scene`` name)."""
    directions: list[str] = Field(default_factory=list)
    """Scene-level human directions not attached to any one line."""
    lines: list[Line] = Field(default_factory=list)
    context: list[Line] = Field(default_factory=list)
    """Previous lines shown to the model for continuity; never augmented."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    def compute_id(self) -> str:
        return content_hash(self.heading, [(ln.speaker, ln.text, ln.kind) for ln in self.lines])

    def with_id(self) -> Scene:
        """This scene with ``id`` set from its content (when empty)."""
        if not self.id:
            self.id = self.compute_id()
        return self

    @property
    def speakers(self) -> list[str]:
        """Speakers in order of first appearance."""
        seen: dict[str, None] = {}
        for line in self.lines:
            if line.speaker:
                seen.setdefault(line.speaker, None)
        return list(seen)

    def render(self) -> str:
        return "\n".join(line.render() for line in self.lines)


class Character(_Model):
    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None


class Script(_Model):
    title: str = ""
    format: str = ""
    source: str | None = None
    characters: list[Character] = Field(default_factory=list)
    scenes: list[Scene] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def lines(self) -> list[Line]:
        return [line for scene in self.scenes for line in scene.lines]

    def character_names(self) -> list[str]:
        names = {c.name for c in self.characters}
        names.update(a for c in self.characters for a in c.aliases)
        names.update(s for scene in self.scenes for s in scene.speakers)
        return sorted(names)


class Usage(_Model):
    """LM usage of one unit of work (summable)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    cached_calls: int = 0
    """How many of ``calls`` were answered from the DSPy cache. Their tokens (and cost) are the
    ones the original call reported, so the numbers describe the prompt the same way on a warm
    re-run; nothing was spent on them this time."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost is not None or other.cost is not None:
            cost = (self.cost or 0.0) + (other.cost or 0.0)
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost=cost,
            cached_calls=self.cached_calls + other.cached_calls,
        )


class AugmentedLine(_Model):
    line: Line
    annotated: str
    """The line with ``*actions*`` added; removing them gives back ``line.text``."""


class AugmentedScene(_Model):
    scene_id: str
    scene: Scene | None = None
    scenario: str | None = None
    lines: list[AugmentedLine] = Field(default_factory=list)
    program: str = ""
    """Program / variant id that produced this."""
    lm: dict[str, Any] = Field(default_factory=dict)
    """LM settings used (never a secret: only the *name* of the key variable)."""
    usage: Usage = Field(default_factory=Usage)
    status: Literal["ok", "failed"] = "ok"
    reason: str | None = None
    raw: str | None = None
    """Raw LM output, kept for failures."""


class GoldExample(_Model):
    """A scene with reference outputs and where they came from."""

    id: str
    scene: Scene
    scenario: str | None = None
    annotated: list[str] | None = None
    """Gold annotated text, one per scene line, in order."""
    personas: dict[str, str] = Field(default_factory=dict)
    """Persona facts per character (for grounding and contradiction checks)."""
    provenance: dict[str, Any] = Field(default_factory=dict)
    """E.g. ``{"source": "hand-written", "author": "augmentlab"}`` or play/act/scene."""
