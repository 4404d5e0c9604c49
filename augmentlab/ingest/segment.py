"""Scene segmentation: turn a format parser's event stream into :class:`Scene` s.

A format parser yields :class:`SceneStart` at every explicit boundary (a heading, a Ren'Py
``scene``, a blank-line run in a VN dump), :class:`SceneSetting` / :class:`SceneDirection` for
scene-level human text, and :class:`~augmentlab.core.model.Line` s (or :data:`CountedLine` s). :class:`Segmenter` resolves
speaker names through the :class:`~augmentlab.ingest.cast.Cast`, splits a scene that grows past
the token budget on a line boundary (never inside a line), keeps the previous
``context_lines`` lines as ``Scene.context``, and numbers and hashes every scene. Memory is one
scene's worth, whatever the file size.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from augmentlab.ingest.accounting import Ledger
from augmentlab.ingest.cast import Cast
from augmentlab.core.model import Line, LineKind, Scene

DEFAULT_TOKEN_BUDGET = 800
DEFAULT_CONTEXT_LINES = 3
TOKENS_PER_WORD = 1.3
_DIALOGUE = LineKind.dialogue


@dataclass
class SceneStart:
    """An explicit scene boundary."""

    heading: str | None = None
    setting: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SceneSetting:
    """The current scene's setting (a play's setting paragraph, arriving after its heading)."""

    text: str


@dataclass
class SceneDirection:
    """A human direction for the current scene as a whole."""

    text: str


CountedLine = tuple[Line, int]
"""A :class:`Line` with no directions and the number of words of its text
(``len(line.text.split())``), for a parser that knows it already (it saves the split)."""

Event = SceneStart | SceneSetting | SceneDirection | Line | CountedLine


@dataclass
class ParseState:
    """What a format parser learns besides events: title, cast list, warnings, metadata,
    and the :class:`~augmentlab.ingest.accounting.Ledger` of what became of each line."""

    cast: Cast
    title: str = ""
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)


def approx_tokens(text: str, tokens_per_word: float = TOKENS_PER_WORD) -> int:
    """Approximate LM tokens of a text: words times ``tokens_per_word``, rounded up."""
    return math.ceil(len(text.split()) * tokens_per_word)


def line_tokens(line: Line) -> int:
    return approx_tokens(line.text) + sum(approx_tokens(d) for d in line.directions) + 2


class Segmenter:
    """Builds scenes from events; see the module docstring."""

    def __init__(
        self,
        *,
        cast: Cast,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        context_lines: int = DEFAULT_CONTEXT_LINES,
    ) -> None:
        if token_budget < 1:
            raise ValueError("token_budget must be at least 1")
        if context_lines < 0:
            raise ValueError("context_lines must be 0 or more")
        self.cast = cast
        self.token_budget = token_budget
        self.context_lines = context_lines
        self._recent: deque[Line] = deque(maxlen=max(context_lines, 1))
        self._index = 0
        self.lines_seen = 0
        self.dialogue_seen = 0

    def run(self, events: Iterable[Event]) -> Iterator[Scene]:
        start = SceneStart()
        current = self._new(start, part=1)
        tokens = 0
        budget = self.token_budget
        resolve = self.cast.resolve
        memo_get = self.cast._memo.get
        counts = self.cast._counts
        counts_get = counts.get
        split_words = str.split
        ceil = math.ceil
        # lines_seen / dialogue_seen are counted in locals and stored before every yield.
        seen = self.lines_seen
        dialogue = self.dialogue_seen
        for event in events:
            event_type = type(event)
            if event_type is tuple or event_type is Line or isinstance(event, Line):
                # Hot path (one call per line): the same sums as line_tokens, done inline.
                if event_type is tuple:
                    event, words = event
                    fields = event.__dict__
                    cost = ceil(words * TOKENS_PER_WORD) + 2
                else:
                    fields = event.__dict__
                    cost = ceil(len(split_words(fields["text"])) * TOKENS_PER_WORD) + 2
                    for direction in fields["directions"]:
                        cost += ceil(len(split_words(direction)) * TOKENS_PER_WORD)
                speaker = fields["speaker"]
                if speaker is not None:
                    # Cast.resolve's memo hit, inline (one call saved per line).
                    resolved = memo_get(speaker, "")
                    if resolved is None or resolved == "":
                        resolved = resolve(speaker)
                    else:
                        counts[resolved] = counts_get(resolved, 0) + 1
                    if resolved is not speaker:
                        # A set field (it was not None), so pydantic's __setattr__ would only
                        # store it; skip its per-call overhead.
                        fields["speaker"] = speaker = resolved
                lines = current.lines
                if lines and tokens + cost > budget:
                    self.lines_seen, self.dialogue_seen = seen, dialogue
                    yield self._finish(current)
                    current = self._new(start, part=current.metadata.get("part", 1) + 1)
                    lines = current.lines
                    tokens = 0
                lines.append(event)
                tokens += cost
                seen += 1
                if speaker and fields["kind"] is _DIALOGUE:
                    dialogue += 1
            elif isinstance(event, SceneStart):
                if current.lines:
                    self.lines_seen, self.dialogue_seen = seen, dialogue
                    yield self._finish(current)
                start = event
                current = self._new(start, part=1)
                tokens = 0
            elif isinstance(event, SceneSetting):
                text = event.text.strip()
                if text:
                    start.setting = text if not start.setting else f"{start.setting} {text}"
                    if not current.lines or current.setting is None:
                        current.setting = start.setting
            elif isinstance(event, SceneDirection):
                if event.text.strip():
                    current.directions.append(event.text.strip())
        self.lines_seen, self.dialogue_seen = seen, dialogue
        if current.lines:
            yield self._finish(current)

    def _new(self, start: SceneStart, *, part: int) -> Scene:
        metadata = dict(start.metadata)
        metadata["part"] = part
        return Scene(heading=start.heading, setting=start.setting, metadata=metadata)

    def _finish(self, scene: Scene) -> Scene:
        if self.context_lines:
            scene.context = list(self._recent)
        for line in scene.lines[-self.context_lines :] if self.context_lines else []:
            self._recent.append(line)
        scene.index = self._index
        self._index += 1
        return scene.with_id()

