"""Scenes too long for one LM answer: budget them up front, split them at line boundaries.

A scene's answer grows with its lines (an action pair per line, the words again for programs
that echo them). When it needs more than ``max_tokens``, the model is cut off
(``finish_reason=length``) and the whole scene used to fail. Two defences:

* :func:`budget_parts` — before any call, split a scene into parts whose estimated answer fits
  ``max_tokens`` (with a margin) and whose prompt fits the context (``n_ctx``, when known), so
  a cut-off is rare;
* :func:`halve` — when an answer is cut off anyway, the part is split in two at the line
  boundary nearest its middle and each half is retried (:mod:`augmentlab.augment.runner`
  recurses down to one line).

Every part keeps the scene's heading, setting and directions, and gets the last
:data:`CONTEXT_LINES` lines before it as ``context`` (shown to the model, never augmented), so
each part reads on from the one before. No line is ever dropped: the parts' lines, in order, are
the scene's lines.
"""

from __future__ import annotations

from typing import Any

from augmentlab.core.model import Line, Scene

CONTEXT_LINES = 4
"""Lines before a part shown to the model as context (on top of the scene's own context)."""
CHARS_PER_TOKEN = 3.5
"""A conservative characters-per-token ratio for the estimates (SmolLM2's tokenizer: 4.2 on the
long-speech sample, measured)."""
ACTION_TOKENS_PER_LINE = 48
"""Estimated answer tokens per line for the actions around it (JSON + two short sentences;
SmolLM2 with ``compose_scene`` wrote ~25-35, measured; the margin keeps cut-offs rare)."""
SCENARIO_TOKENS = 160
"""Estimated answer tokens of a scenario plus the JSON around the answer."""
PROMPT_OVERHEAD_TOKENS = 600
"""Estimated prompt tokens besides the lines and context (instructions, field descriptions,
personas; ~300 measured for ``compose_scene`` with the grammar adapter, doubled for demos)."""
ANSWER_SHARE = 0.8
"""The share of ``max_tokens`` an estimated answer may fill."""


def tokens(text: str) -> int:
    """A rough, conservative token count of ``text``."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


def echoes_words(program: Any) -> bool:
    """Whether ``program`` writes every line's words again (the annotator's output is the whole
    annotated line) rather than only the actions around them."""
    annotator = getattr(program, "annotator", None)
    if annotator is None:
        return False
    variant = getattr(annotator, "variant", None)
    return getattr(variant, "output", "annotated") != "actions"


def answer_tokens(lines: list[Line], *, echo: bool, scenario: bool = True) -> int:
    """Estimated answer tokens for ``lines``."""
    per_line = sum(ACTION_TOKENS_PER_LINE + (tokens(line.text) if echo else 0) for line in lines)
    return per_line + (SCENARIO_TOKENS if scenario else 0)


def prompt_tokens(lines: list[Line], context: list[Line]) -> int:
    """Estimated prompt tokens for a part with ``lines`` and ``context``."""
    return PROMPT_OVERHEAD_TOKENS + sum(tokens(line.render()) + 4 for line in [*lines, *context])


def part(scene: Scene, start: int, end: int) -> Scene:
    """Lines ``start:end`` of ``scene`` as a scene of their own, with the lines before as context."""
    before = scene.lines[max(0, start - CONTEXT_LINES):start]
    context = [*scene.context, *before][-CONTEXT_LINES:] if before else list(scene.context)
    sub = scene.model_copy(update={
        "id": "", "lines": scene.lines[start:end], "context": context,
        "metadata": {**scene.metadata, "part_of": scene.id, "part_lines": [start, end]},
    })
    return sub.with_id()


def halve(scene: Scene) -> list[Scene]:
    """``scene`` in two parts at the line boundary nearest its middle (by characters)."""
    n = len(scene.lines)
    if n < 2:
        return [scene]
    total = sum(len(line.text) for line in scene.lines)
    running, cut = 0, 1
    for i, line in enumerate(scene.lines[:-1], 1):
        running += len(line.text)
        cut = i
        if running >= total / 2:
            break
    return [_reparent(part(scene, 0, cut), scene), _reparent(part(scene, cut, n), scene)]


def _reparent(sub: Scene, scene: Scene) -> Scene:
    """Line offsets relative to the original scene when ``scene`` is itself a part."""
    start = scene.metadata.get("part_lines", [0, 0])[0] if "part_of" in scene.metadata else 0
    a, b = sub.metadata["part_lines"]
    root = scene.metadata.get("part_of", scene.id)
    sub.metadata = {**sub.metadata, "part_of": root, "part_lines": [start + a, start + b]}
    return sub


def budget_parts(scene: Scene, *, max_tokens: int, n_ctx: int | None = None, echo: bool = False,
                 scenario: bool = True) -> list[Scene]:
    """``scene`` split (at line boundaries, greedily in order) into parts whose estimated answer
    fits :data:`ANSWER_SHARE` of ``max_tokens`` and whose prompt plus ``max_tokens`` fits
    ``n_ctx`` (when known). A scene that fits is returned whole; a part always has one line at
    least (a single line too long for the budget is left to the cut-off fallback)."""
    answer_budget = ANSWER_SHARE * max_tokens
    prompt_budget = (n_ctx - max_tokens) if n_ctx else None

    def fits(start: int, end: int) -> bool:
        lines = scene.lines[start:end]
        if answer_tokens(lines, echo=echo, scenario=scenario) > answer_budget:
            return False
        if prompt_budget is not None:
            context = [*scene.context, *scene.lines[max(0, start - CONTEXT_LINES):start]]
            if prompt_tokens(lines, context) > prompt_budget:
                return False
        return True

    if fits(0, len(scene.lines)):
        return [scene]
    parts: list[Scene] = []
    start = 0
    n = len(scene.lines)
    while start < n:
        end = start + 1
        while end < n and fits(start, end + 1):
            end += 1
        parts.append(part(scene, start, end))
        start = end
    # even out the parts (the greedy pass leaves a short last one)
    if len(parts) > 1:
        size = -(-n // len(parts))
        even = [part(scene, i, min(n, i + size)) for i in range(0, n, size)]
        if len(even) == len(parts) and all(fits(*p.metadata["part_lines"]) for p in even):
            parts = even
    return parts
