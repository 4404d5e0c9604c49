"""Mine gold examples from a play's own stage directions.

For every scene (split to ``token_budget``) that has a setting and at least one line with a
human stage direction, the example's input scene is the dialogue alone (no directions in
``Line.text``, ``Line.directions`` or ``Scene.directions``, no setting), the gold ``annotated``
line is ``*direction* words`` in the original order (the bare words where the line had none),
and the gold ``scenario`` is the act/scene setting. Lines without a speaker are left out.

:func:`read_gold` is the one reader of gold JSONL files (the runner, ``augmentlab metrics`` and
the report all read gold through it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import read_jsonl
from augmentlab.core.model import GoldExample, Line, LineKind, Scene
from augmentlab.ingest import iter_scenes
from augmentlab.ingest.lines import DIRECTION_AT, render_annotated

DEFAULT_GOLD_TOKEN_BUDGET = 400


def _bare(line: Line) -> Line:
    metadata = {k: v for k, v in line.metadata.items() if k != DIRECTION_AT}
    return Line(
        speaker=line.speaker, text=line.text, kind=line.kind, source_line=line.source_line, metadata=metadata
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "play"


def example_from_scene(scene: Scene, *, title: str, file: str) -> GoldExample | None:
    """The gold example of one ingested play scene, or ``None`` when it has no gold."""
    lines = [ln for ln in scene.lines if ln.speaker and ln.kind is LineKind.dialogue]
    if not scene.setting or not any(ln.directions for ln in lines):
        return None
    bare = Scene(
        index=scene.index,
        heading=scene.heading,
        lines=[_bare(ln) for ln in lines],
        context=[_bare(ln) for ln in scene.context],
        metadata=dict(scene.metadata),
    ).with_id()
    act, number = scene.metadata.get("act"), scene.metadata.get("scene")
    part = scene.metadata.get("part", 1)
    return GoldExample(
        id=f"mined-{_slug(title)}-a{act or 0}-s{number or 0}-p{part}-{bare.id[:8]}",
        scene=bare,
        scenario=scene.setting,
        annotated=[render_annotated(ln) for ln in lines],
        provenance={
            "source": "mined",
            "play": title,
            "file": Path(file).name,
            "act": act,
            "scene": number,
            "part": part,
        },
    )


def mine(
    path: str | Path,
    *,
    format: str = "play",
    aliases: dict[str, str] | None = None,
    token_budget: int = DEFAULT_GOLD_TOKEN_BUDGET,
    context_lines: int = 2,
) -> Iterator[GoldExample]:
    """Gold examples from the play at ``path``, streamed scene by scene."""
    stream = iter_scenes(path, format, aliases=aliases, token_budget=token_budget, context_lines=context_lines)
    for scene in stream:
        example = example_from_scene(scene, title=stream.title, file=str(path))
        if example is not None:
            yield example


def read_gold(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, required: bool = False
) -> list[GoldExample]:
    """Every :class:`GoldExample` of one gold JSONL file or several, in order.

    One-line :class:`AugmentlabError` for a missing file (``gold file not found: PATH``), a line
    that is not JSON (``PATH:LINE: not valid JSON``) or not a gold example
    (``PATH:LINE: not a gold example (FIELD: WHY)``); with ``required``, also for no example at all.
    """
    files = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    examples: list[GoldExample] = []
    for path in files:
        if not path.is_file():
            raise AugmentlabError(f"gold file not found: {path}")
        for index, row in enumerate(read_jsonl(path)):
            try:
                examples.append(GoldExample.model_validate(row))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(x) for x in err.get("loc", ())) or "line"
                line = _row_line(path, index)
                raise AugmentlabError(f"{path}:{line}: not a gold example ({where}: {err['msg']})") from None
    if required and not examples:
        raise AugmentlabError(f"the gold set is empty: {', '.join(str(p) for p in files)}")
    return examples


def _row_line(path: Path, index: int) -> int:
    """The line number of the ``index``-th non-blank line (what :func:`read_jsonl` counts as rows)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    numbers = [n for n, line in enumerate(lines, 1) if line.strip()]
    return numbers[index] if index < len(numbers) else index + 1
