"""What a run will do: the scripts it reads and its scenes in script order, each with its store key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
