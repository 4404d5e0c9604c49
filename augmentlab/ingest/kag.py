"""KiriKiri / KAG scenario files (``.ks``), and the reader TyranoScript (:mod:`.tyrano`) shares.

A line is one of: a ``;`` comment; a ``*label|title`` (a scene start, headed by its title or
label); an ``@command attr=…`` line or a line of ``[tags]`` only (engine markup); a speaker cue
``#Name`` (``#`` alone: narration again; ``#name:face`` drops the face); or text with inline tags.
Text runs on over lines until the text box ends: ``[p]``, ``[cm]`` / ``[er]`` / ``[ct]`` (the
box is cleared), a speaker cue, a label, a blank line or the end of the file. ``[r]`` is a new
line in the box, ``[l]`` a wait, ``[[`` a literal ``[``. ``[ruby text=…]`` glosses the next
character (the reading goes to ``Line.metadata["ruby"]``, the base stays as the words). KAGEX
cues ``【Name】words`` (``【Name/？？？】``: Name, shown as ``？？？`` — the file says who it is)
start a box that ends with their line. ``[iscript]…[endscript]`` and ``[macro]…[endmacro]``
bodies are code; macro names they define become known tags. ``[link]…[endlink]`` is a choice.

Known tags, commands and defined macros are stripped and counted; an unknown tag is counted as
unknown markup (a warning names it) unless it reads as words (``[Hello]`` in a sentence, kept as
written). Every non-blank line is reported to the ledger: ``dialogue`` / ``narration`` /
``heading``, or skipped as ``comment``, ``markup: …``, ``unknown markup`` or ``choice``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from augmentlab.ingest.accounting import report_runs
from augmentlab.ingest.lines import make_line, strip_enclosing_quotes
from augmentlab.ingest.markup import RUBY, MarkupTally, attributes, is_words, speaker_metadata
from augmentlab.ingest.segment import Event, ParseState, SceneStart

KAG_TAGS = frozenset(
    """animstart animstop autowc backlay bgm call cancelautomode cancelskip ch clearbgmlabel clearbgmstop
    clearsysvar clearvar clickskip close cm copybookmark copylay ct current deffont defstyle delay
    disablestore endhact endif endignore endlink endmacro endnowait endscript erasebookmark erasemacro er
    else elsif emb eval fadebgm fadeinbgm fadeinse fadeoutbgm fadeoutse fadepausebgm fadese font
    freeimage glyph goback gotostart graph hact hch history if ignore image indent iscript jump l
    laycount layopt link load loadplugin locate locklink macro mappfont mapaction mapdisable mapimage
    move nowait p pausebgm pimage playbgm playse playvideo position ptext quake r record resetfont
    resetstyle resetwait resumebgm return rclick ruby s save seopen setbgmlabel setbgmstop
    setdefaultwait startanchor stopbgm stopquake stopse stoptrans stopvideo store style tempload
    tempsave timeout title trans unlocklink wa wait waitclick wb wc wf wheel wl wm wp wq ws wt wv
    xchgbgm endindent button edit commit checkbox openvideo preparevideo rewindvideo videoevent
    videolayer videosegloop cancelvideoevent cancelvideosegloop bgmopt seopt voice vo playvoice
    stopvoice nextskip select seladd initscene scenestart sceneplay clearlayers""".split()
)
"""KAG3 tags (the KAG3 reference), voice tags games commonly define, and KAGEX's scene commands."""
_BOX_END = frozenset({"p", "cm", "er", "ct"})
_LINE_BREAK = "r"
_BLOCKS = {"iscript": "endscript", "macro": "endmacro"}
_CHOICE = ("link", "endlink")
_TAG_RE = re.compile(r'\[\[|\[(?P<body>(?:"[^"\n]*"|\[[^\[\]]*\]|[^\[\]"])*)\]')
"""A tag; a value may hold brackets (``x="&tf.config_x[1]"``, ``storage=&f.cg[tf.i]``); ``[[`` is a literal ``[``."""
_COMMAND_RE = re.compile(r"^@(?P<body>\S.*)$")
_LABEL_RE = re.compile(r"^\*(?P<label>[^|\s]+)(?:\|(?P<title>.*))?$")
_TAGS_ONLY_RE = re.compile(r'^(?:\[(?:"[^"\n]*"|\[[^\[\]]*\]|[^\[\]"])*\]\s*)+$')
_KAGEX_CUE_RE = re.compile(r"^【(?P<name>[^】/]{1,40})(?:/(?P<shown>[^】]{1,40}))?】\s*(?P<text>.*)$")


@dataclass(frozen=True)
class Dialect:
    """What differs between engines of the KAG family."""

    name: str
    tags: frozenset[str]
    blocks: dict[str, str] = field(default_factory=lambda: dict(_BLOCKS))
    choice_tags: frozenset[str] = frozenset()
    """Tags whose ``text=`` is a choice shown to the player (TyranoScript's ``[glink]``)."""
    kagex_cues: bool = True


KAG = Dialect("kag", KAG_TAGS)


@dataclass
class _Box:
    """The text box being read: its speaker, words so far, first line and ruby."""

    speaker: str | None = None
    shown: str | None = None
    pieces: list[str] = field(default_factory=list)
    start: int = 0
    ruby: list[list[str]] = field(default_factory=list)
    ends_with_line: bool = False


@dataclass
class _Reader:
    """State of one pass over a file (see :func:`read`)."""

    dialect: Dialect
    state: ParseState
    tally: MarkupTally = field(default_factory=MarkupTally)
    macros: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    """Character ids to display names the file defines (TyranoScript ``[chara_new]``)."""
    taken: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, list[int]] = field(default_factory=dict)
    speaker: str | None = None
    shown: str | None = None
    box: _Box | None = None
    block_end: str | None = None

    def skip(self, reason: str, number: int) -> None:
        self.skipped.setdefault(reason, []).append(number)

    def take(self, kind: str) -> None:
        self.taken[kind] = self.taken.get(kind, 0) + 1

    def known(self, tag: str) -> bool:
        return tag in self.dialect.tags or tag in self.macros or tag in self.dialect.choice_tags

    def end_box(self) -> Iterator[Event]:
        box, self.box = self.box, None
        if box is None:
            return
        text = "\n".join(part for part in (p.strip() for p in "".join(box.pieces).split("\n")) if part)
        if box.speaker is not None:
            text = strip_enclosing_quotes(text)
        if not text:
            return
        metadata = speaker_metadata(box.shown, self.tally)
        if box.ruby:
            metadata[RUBY] = box.ruby
        yield make_line(box.speaker, text, source_line=box.start, metadata=metadata)


def read(source: Iterable[tuple[int, str]], state: ParseState, dialect: Dialect = KAG) -> Iterator[Event]:
    """Yield scene events and lines from a KAG-family scenario (see the module docstring)."""
    reader = _Reader(dialect, state)
    first = last = 0
    for number, raw in source:
        text = raw.strip()
        if not text:
            if reader.box is not None and reader.block_end is None:
                yield from reader.end_box()
            continue
        first = first or number
        last = number
        yield from _line(reader, number, text)
    yield from reader.end_box()
    report_runs(state.ledger, reader.taken, reader.skipped, [], first, last)
    reader.tally.report(state)


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """:func:`read` with the KAG dialect."""
    return read(source, state, KAG)


ACCOUNTS_LINES = True
"""This module reports every line it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


def _line(reader: _Reader, number: int, text: str) -> Iterator[Event]:
    """One non-blank line (stripped)."""
    if reader.block_end is not None:
        if _TAG_RE.fullmatch(text) and _tag_name(text[1:-1]) == reader.block_end or text == f"@{reader.block_end}":
            reader.block_end = None
        reader.skip("markup: script or macro body", number)
        return
    head = text[0]
    if head == ";":
        reader.skip("comment", number)
        return
    if head == "*":
        label = _LABEL_RE.match(text)
        if label:
            yield from reader.end_box()
            reader.take("heading")
            title = (label.group("title") or "").strip()
            yield SceneStart(heading=title or f"*{label.group('label')}", metadata={"label": label.group("label")})
            return
    if head == "@":
        command = _COMMAND_RE.match(text)
        if command:  # ``@tag attr=…``: one tag on a line of its own
            body = command.group("body")
            name = _tag_name(body)
            reader.tally.tag(name, reader.known(name), number)
            _define(reader, name, body)
            yield from _only_markup(reader, number, [body], not reader.known(name))
            return
    if head == "#":
        yield from reader.end_box()
        _cue(reader, text[1:])
        reader.skip("markup: speaker cue", number)
        return
    cue = _KAGEX_CUE_RE.match(text) if head == "【" and reader.dialect.kagex_cues else None
    if cue:
        yield from reader.end_box()
        name, shown = cue.group("name").strip(), (cue.group("shown") or "").strip()
        reader.box = _Box(speaker=reader.names.get(name, name), shown=shown or name, start=number, ends_with_line=True)
        text = cue.group("text")
    yield from _text(reader, number, text, cued=cue is not None)


def _cue(reader: _Reader, name: str) -> None:
    """``#Name`` (``#name:face``): the speaker of the boxes that follow; ``#`` alone: narration."""
    name = name.split(":", 1)[0].strip()
    reader.shown = name or None
    reader.speaker = reader.names.get(name, name) if name else None


def _tag_name(body: str) -> str:
    body = body.strip()
    return body.split(None, 1)[0] if body else ""


def _define(reader: _Reader, name: str, body: str) -> None:
    """Learn what a command defines: a macro's name, a character's display name."""
    if name == "macro":
        macro = attributes(body).get("name")
        if macro:
            reader.macros.add(macro)
    elif name == "chara_new":
        attrs = attributes(body)
        if attrs.get("name") and attrs.get("jname"):
            reader.names[attrs["name"]] = attrs["jname"]


def _text(reader: _Reader, number: int, text: str, *, cued: bool) -> Iterator[Event]:
    """A line of text and inline tags; its words join the current text box."""
    pieces: list[str] = []
    bodies: list[str] = []
    unknown = False
    ruby: str | None = None
    rubies: list[list[str]] = []
    choice = 0
    pos = 0
    tags_only = not cued and text[0] == "[" and _TAGS_ONLY_RE.match(text) is not None  # a command line
    for match in _TAG_RE.finditer(text):
        piece = text[pos : match.start()]
        pos = match.end()
        if choice:
            piece = ""
        if piece:
            if ruby is not None:
                rubies.append([piece[0], ruby])
                ruby = None
            pieces.append(piece)
        body = match.group("body")
        if body is None:  # ``[[``: a literal bracket
            pieces.append("[")
            continue
        name = _tag_name(body)
        if not reader.known(name):
            if not tags_only and is_words(body):
                pieces.append(match.group(0))
                continue
            unknown = True
        bodies.append(body)
        reader.tally.tag(name, reader.known(name), number)
        _define(reader, name, body)
        if name == _CHOICE[0]:
            choice += 1
        elif name == _CHOICE[1]:
            choice = max(0, choice - 1)
        elif name == _LINE_BREAK:
            pieces.append("\n")
        elif name == "ruby":
            ruby = attributes(body).get("text")
        elif name in _BOX_END:
            pieces.append("\x00")  # the box ends here
    rest = "" if choice else text[pos:]
    if rest:
        if ruby is not None:
            rubies.append([rest[0], ruby])
        pieces.append(rest)
    words = "".join(pieces)
    if not words.replace("\x00", "").replace("\n", "").strip():
        if cued:  # a KAGEX cue with no words
            reader.box = None
            reader.skip("speech with no words", number)
        elif bodies:
            yield from _only_markup(reader, number, bodies, unknown)
        return
    reader.tally.ruby += len(rubies)
    yield from _add_words(reader, number, words, rubies)


def _only_markup(reader: _Reader, number: int, bodies: list[str], unknown: bool) -> Iterator[Event]:
    """A line whose tags carried no words (``@cmd``, ``[p]`` alone, a choice link): its reason;
    a box it ends, a code block it opens."""
    names = [_tag_name(b) for b in bodies]
    if any(name in _BOX_END for name in names):
        yield from reader.end_box()
    for name in names:
        if name in reader.dialect.blocks and reader.dialect.blocks[name] not in names:
            reader.block_end = reader.dialect.blocks[name]
    if _CHOICE[0] in names or any(n in reader.dialect.choice_tags for n in names):
        reader.skip("choice", number)
    else:
        reader.skip("unknown markup" if unknown else "markup: engine command", number)


def _add_words(reader: _Reader, number: int, words: str, rubies: list[list[str]]) -> Iterator[Event]:
    """Words of one line into the box (``\\x00`` marks where a box ends within the line)."""
    parts = words.split("\x00")
    counted = False
    for i, part in enumerate(parts):
        if part.strip():
            if reader.box is None:
                reader.box = _Box(speaker=reader.speaker, shown=reader.shown, start=number)
            reader.box.pieces.append(part)
            if rubies:
                reader.box.ruby.extend(rubies)
                rubies = []
            if not counted:
                reader.take("dialogue" if reader.box.speaker is not None else "narration")
                counted = True
        if i < len(parts) - 1:
            yield from reader.end_box()
        elif reader.box is not None:
            reader.box.pieces.append("\n")
    if reader.box is not None and reader.box.ends_with_line:
        yield from reader.end_box()
