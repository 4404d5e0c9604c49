"""What a run produces: the report, its failures and estimate, and one scene's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augmentlab.core.model import AugmentedScene, Scene, Usage

PARSE_ERRORS_FILE = "parse_errors.jsonl"
"""In the output folder: the answers DSPy could not parse, with their text (:mod:`augmentlab.lm.parse_log`)."""


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
    copied: int = 0
    """Scenes failed because every answer repeated the prompt's own instructions (:mod:`metrics.copied`)."""
    parse_errors: Any = None
    """The :class:`~augmentlab.lm.parse_log.ParseErrors` of this run (answers DSPy could not parse)."""

    def notes(self) -> list[str]:
        """The summary's extra lines: split scenes, answers that did not parse, copied instructions."""
        out = []
        if self.split:
            out.append(f"{self.split} scene(s) split into parts to fit --max-tokens"
                       + (f"; {self.bare_lines} line(s) kept without actions" if self.bare_lines else ""))
        errors = self.parse_errors
        if errors is not None and errors.count:
            out.append(errors.summary(self.usage.calls, self.out_dir / PARSE_ERRORS_FILE))
        if self.copied:
            out.append(f"{self.copied} scene(s) failed because the model copied its instructions (its scenario or "
                       "actions repeat the prompt's own text: a model too small for the task)")
        return out


@dataclass
class PlannedScene:
    """One scene of the plan: where it comes from, its store key and the persona cards it is shown."""

    script: str
    script_index: int
    scene: Scene
    key: str
    personas: dict[str, str]


@dataclass
class Outcome:
    """What running one planned scene gave (``ok``, ``failed``, ``error``; ``cut-off`` inside the runner)."""

    item: PlannedScene
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
