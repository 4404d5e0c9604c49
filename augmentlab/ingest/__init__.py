"""Ingest: a human script file → :class:`~augmentlab.core.model.Script` (cast + scenes).

::

    from augmentlab.ingest import load, iter_scenes

    script = load("play.txt")                       # format auto-detected
    script = load("dump.txt", format="vn", aliases={"THE FLOWER GIRL": "LIZA"})
    stream = iter_scenes("big.txt")                 # streaming: one scene in memory at a time
    for scene in stream:
        ...
    header = stream.script()                        # title, format, cast, warnings (no scenes)

Formats (``format=``): ``vn`` (visual-novel dumps), ``renpy`` (``.rpy``), ``play`` (stage plays
as Project Gutenberg prints them), ``fountain`` (screenplays), ``prose`` (quoted dialogue),
and visual-novel engine dumps: ``scx`` (sc3tools ``.SCX.txt``), ``kag`` (KiriKiri ``.ks``),
``tyrano`` (TyranoScript ``.ks``).
Each lives in its own module and turns numbered lines into scene events; :mod:`.segment`
makes scenes (token budget, context, ids) and :mod:`.cast` merges speaker spellings.
Bad input raises :class:`~augmentlab.core.errors.AugmentlabError` with one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType

from augmentlab.core.errors import AugmentlabError
from augmentlab.ingest.cast import Cast
from augmentlab.ingest.detect import FORMATS, detect, normalize_format
from augmentlab.ingest.accounting import Ledger, account_events, counted_blocks, counted_lines
from augmentlab.ingest.io import Source, _numbered, iter_blocks, open_source
from augmentlab.ingest.segment import (
    DEFAULT_CONTEXT_LINES,
    DEFAULT_TOKEN_BUDGET,
    Event,
    ParseState,
    Segmenter,
    approx_tokens,
)
from augmentlab.core.model import Scene, Script
from augmentlab.ingest import fountain, kag, play, prose, renpy, scx, tyrano, vn

__all__ = [
    "DEFAULT_CONTEXT_LINES",
    "DEFAULT_TOKEN_BUDGET",
    "FORMATS",
    "SceneStream",
    "approx_tokens",
    "iter_scenes",
    "load",
]

Parser = Callable[[Iterable[tuple[int, str]], ParseState], Iterator[Event]]
"""A format module's ``parse``: ``(line_number, text)`` pairs → events."""
BlockParser = Callable[[Iterable[tuple[int, list[str]]], ParseState], Iterator[Event]]
"""A format module's optional ``parse_blocks``: ``(number of the first line, [text, ...])``
blocks (numbers consecutive within a block) → the same events, with less per-line work."""

FORMAT_MODULES: dict[str, ModuleType] = {
    "vn": vn,
    "renpy": renpy,
    "play": play,
    "fountain": fountain,
    "prose": prose,
    "scx": scx,
    "kag": kag,
    "tyrano": tyrano,
}
"""The module that reads each of :data:`~augmentlab.ingest.detect.FORMATS`."""


def _events(fmt: str, source: Source, info: dict[str, str], state: ParseState) -> Iterator[Event]:
    """The events of ``source`` read as ``fmt``.

    Ren'Py files are read whole; other formats without a Project Gutenberg header and footer,
    in blocks when the format module has a ``parse_blocks`` (:data:`BlockParser`). A format
    module with a ``speakers`` function (speaker names of a first pass) tells the cast the names
    first (:meth:`~augmentlab.ingest.cast.Cast.expect`).
    """
    module = FORMAT_MODULES[fmt]
    parse: Parser = module.parse
    speakers: Callable[[Iterable[tuple[int, str]]], Iterable[str]] | None = getattr(module, "speakers", None)
    prepare: Callable[[Iterable[tuple[int, str]], ParseState], None] | None = getattr(module, "prepare", None)
    if prepare is not None:  # a first pass that learns more than names (prose: genders, narrator)
        prepare(dataclasses.replace(source, warnings=[]).script_lines({}), state)
    elif speakers is not None:
        # A first pass over the file for the speaker names, so the cast can merge shortened
        # names (Holmes → Sherlock Holmes) from the first line on; its own warnings list, so
        # reading warnings are not given twice.
        first = dataclasses.replace(source, warnings=[])
        state.cast.expect(speakers(first.script_lines({})), state.warnings)
    ledger = state.ledger
    ledger.format = fmt
    if not getattr(module, "ACCOUNTS_LINES", False):
        # The module does not report into the ledger: credit the lines it reads to its events.
        read = [0, 0, 0]
        lines = counted_lines(source.script_lines(info, ledger), ledger, read)
        return account_events(parse(lines, state), ledger, read)
    if fmt == "renpy":
        blocks = counted_blocks(iter_blocks(source.path, source.encoding, source.warnings), ledger)
    else:
        blocks = counted_blocks(source.script_blocks(info, ledger), ledger)
    parse_blocks: BlockParser | None = getattr(module, "parse_blocks", None)
    if parse_blocks is not None:
        return parse_blocks(blocks, state)
    return parse(_numbered(blocks), state)


NARRATED_FORMATS = frozenset({"scx", "kag", "tyrano"})
"""Engine dumps, where a file of narration only is a real chapter, not a misread file."""


class SceneStream:
    """Scenes of one script file, produced lazily; iterate once.

    The file is checked and its format settled when the stream is made (so bad input fails
    early); scenes are parsed while iterating. After iteration, :meth:`script` gives the
    title, format, cast and warnings.
    """

    def __init__(
        self,
        path: str | Path,
        format: str = "auto",
        *,
        aliases: dict[str, str] | None = None,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        context_lines: int = DEFAULT_CONTEXT_LINES,
        encoding: str | None = None,
        strict: bool = False,
    ) -> None:
        fmt = normalize_format(format)
        if token_budget < 1:
            raise AugmentlabError(f"token budget must be at least 1, got {token_budget}")
        if context_lines < 0:
            raise AugmentlabError(f"context lines must be 0 or more, got {context_lines}")
        self.path = Path(path)
        self.source = open_source(self.path, encoding)
        self.detection_reason = "given"
        if fmt == "auto":
            found = detect(self.path, self.source.head(), self.source.samples)
            fmt, self.detection_reason = found.format, found.reason
        self.format = fmt
        self.cast = Cast(aliases)
        self.state = ParseState(cast=self.cast)
        self.state.warnings = self.source.warnings
        self._info: dict[str, str] = {}
        self._segmenter = Segmenter(cast=self.cast, token_budget=token_budget, context_lines=context_lines)
        self.strict = strict
        self._started = False
        self.done = False
        self.scene_count = 0

    def __iter__(self) -> Iterator[Scene]:
        if self._started:
            raise RuntimeError("a SceneStream can be iterated only once")
        self._started = True
        events = _events(self.format, self.source, self._info, self.state)
        for scene in self._segmenter.run(events):
            self.scene_count += 1
            yield scene
        if self._segmenter.dialogue_seen == 0 and self.format in NARRATED_FORMATS and self._segmenter.lines_seen:
            # A game's chapter can be all narration (a first-person inner voice): kept, and said.
            self.state.warnings.append(
                f"no dialogue in {self.path.name}: {self._segmenter.lines_seen} narration line(s) only"
            )
        elif self._segmenter.dialogue_seen == 0:
            guess = self.source.guess
            if guess.get("by", "").startswith("guessed"):
                raise AugmentlabError(
                    f"no dialogue found in {self.path.name} (read as {self.format}, decoded as "
                    f"{guess['encoding']}, a guess with confidence {float(guess.get('confidence', 0)):.0%}); "
                    "pass --encoding if that is the wrong encoding, or --format"
                )
            raise AugmentlabError(
                f"no dialogue found in {self.path.name} (read as {self.format}); "
                "check the file or pass --format"
            )
        ledger = self.state.ledger
        ledger.speeches = self._segmenter.dialogue_seen
        problems = ledger.problems()
        if problems and self.strict:
            raise AugmentlabError(f"{self.path.name}: {problems[0]} (--strict)")
        self.state.warnings.extend(problems)
        self.done = True

    @property
    def ledger(self) -> Ledger:
        """What became of each non-blank line (complete once the scenes are iterated)."""
        return self.state.ledger

    @property
    def title(self) -> str:
        return self.state.title or self._info.get("title") or self.path.stem

    def script(self, scenes: list[Scene] | None = None) -> Script:
        """The :class:`Script` (with ``scenes`` if given): title, format, cast, warnings."""
        metadata = dict(self.state.metadata)
        metadata.setdefault("detected_by", self.detection_reason)
        metadata["encoding"] = self.source.encoding
        if self.source.guess:
            metadata["encoding_guess"] = dict(self.source.guess)
        if self.done:
            metadata["accounting"] = self.state.ledger.as_dict()
        metadata["lines_per_speaker"] = self.cast.counts
        return Script(
            title=self.title,
            format=self.format,
            source=str(self.path),
            characters=self.cast.characters(),
            scenes=scenes or [],
            warnings=list(self.state.warnings),
            metadata=metadata,
        )


def iter_scenes(
    path: str | Path,
    format: str = "auto",
    *,
    aliases: dict[str, str] | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    context_lines: int = DEFAULT_CONTEXT_LINES,
    encoding: str | None = None,
    strict: bool = False,
) -> SceneStream:
    """A :class:`SceneStream` over ``path`` (memory does not grow with file size).

    ``strict``: lines unaccounted for, or too many speech-like lines skipped, are an error
    (else a warning)."""
    return SceneStream(
        path,
        format,
        aliases=aliases,
        token_budget=token_budget,
        context_lines=context_lines,
        encoding=encoding,
        strict=strict,
    )


def load(
    path: str | Path,
    format: str = "auto",
    *,
    aliases: dict[str, str] | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    context_lines: int = DEFAULT_CONTEXT_LINES,
    encoding: str | None = None,
    strict: bool = False,
) -> Script:
    """Read a whole script file into a :class:`Script`."""
    stream = iter_scenes(
        path,
        format,
        aliases=aliases,
        token_budget=token_budget,
        context_lines=context_lines,
        encoding=encoding,
        strict=strict,
    )
    scenes = list(stream)
    return stream.script(scenes)
