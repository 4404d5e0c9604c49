"""What a run will do: the scripts it reads and its scenes in script order, each with its store key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augmentlab.augment.options import AugmentOptions
from augmentlab.augment.personas import read_persona_file
from augmentlab.augment.program import program_fingerprint, resolve_program
from augmentlab.augment.results import PlannedScene
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import Script
from augmentlab.ingest import load
from augmentlab.store import work_key


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
        out.append((str(path), load(path)))
    return out


@dataclass
class Work:
    """The inputs of a run, read and checked before any LM is opened."""

    loaded: list[tuple[str, Script]]
    """``(name, Script)`` in the order given."""
    program: Any
    program_id: str
    program_fp: str
    user_personas: dict[str, str]

    @property
    def scripts(self) -> list[Script]:
        return [script for _, script in self.loaded]


def prepare(sources: Sequence[str | Path | Script], options: AugmentOptions) -> Work:
    """Read the scripts, the program and the user's persona cards (errors before any LM call)."""
    loaded = load_scripts(sources)
    program, program_id = resolve_program(options.program)
    program_fp = program_fingerprint(program)
    personas = options.personas
    user = read_persona_file(personas) if isinstance(personas, (str, Path)) else dict(personas or {})
    return Work(loaded, program, program_id, program_fp, user)


def plan_scenes(
    loaded: list[tuple[str, Script]], cards: dict[str, str], program_fp: str, lm_fp: str, limit: int | None
) -> list[PlannedScene]:
    """Every scene with lines, in script order (the first ``limit``), keyed by its content, the
    program and LM fingerprints and the persona cards of its speakers."""
    items: list[PlannedScene] = []
    for script_index, (name, script) in enumerate(loaded):
        for scene in script.scenes:
            if not scene.lines:
                continue
            scene = scene.with_id()
            personas = {s: cards[s] for s in scene.speakers if s in cards}
            payload = scene.model_dump(mode="json", exclude={"index", "id"})
            key = work_key("scene", payload, program_fp, lm_fp, personas)
            items.append(PlannedScene(name, script_index, scene, key, personas))
            if limit is not None and len(items) >= limit:
                return items
    return items
