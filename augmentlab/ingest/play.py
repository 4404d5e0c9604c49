"""Stage plays as Project Gutenberg prints them.

Read paragraph by paragraph (blank-line separated):

* front matter: ``THE PERSONS OF THE PLAY`` / ``DRAMATIS PERSONAE`` entries become
  :class:`~augmentlab.core.model.Character` s (``Merriman, Butler`` → name + description);
  ``THE SCENES OF THE PLAY`` gives each act a fallback setting;
* ``FIRST ACT`` / ``ACT II.`` headings and ``SCENE`` / ``SCENE 2. A street`` headings start
  scenes; the plain or ``_italic_`` paragraph after the heading is ``Scene.setting``;
* speaker cues: ``NAME.  speech``, ``Name.  speech``, ``NAME [direction] speech``,
  ``**NAME**``, or ``NAME`` alone on a line followed by the speech;
* stage directions in ``[...]`` or ``(...)`` (and an ``_italic_`` one right after a cue) move to
  ``Line.directions``; a standalone direction paragraph goes to the scene when no line came yet,
  to the next line when it is an entrance or names the next speaker, else to the line before;
  ``ACT DROP`` / ``CURTAIN`` / directions after the last line stay with the scene.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from augmentlab.ingest.lines import attach_direction, clean_direction, collapse, extract_directions, make_line
from augmentlab.ingest.segment import Event, ParseState, SceneDirection, SceneSetting, SceneStart
from augmentlab.core.model import Line

_ORDINALS = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "FIFTH": 5, "SIXTH": 6, "SEVENTH": 7}
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_WORD_NUMBERS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
ACT_RE = re.compile(
    r"^\s*_?(?:(?:THE\s+)?(?P<ord>FIRST|SECOND|THIRD|FOURTH|FIFTH|SIXTH|SEVENTH)\s+(?P<w1>ACT)"
    r"|(?P<w2>ACT)\s+(?:(?:THE\s+)?(?P<ord2>FIRST|SECOND|THIRD|FOURTH|FIFTH|SIXTH|SEVENTH)\b"
    r"|(?P<num>[IVXLC]+|\d+|ONE|TWO|THREE|FOUR|FIVE)\b))_?\.?[ \t]*(?P<rest>.*)$",
    re.I,
)
_NOT_HEADING_REST = frozenset(";,?!'’")
SCENE_RE = re.compile(r"^\s*SCENE(?:\s+(?P<num>[IVXLC]+|\d+))?\b\.?[ \t]*(?:--?|[:.\-–—])?[ \t]*(?P<rest>.*)$", re.I)
_RULE_CHARS = frozenset("*-_~=")
RULE_RE = re.compile(r"^\s*(?:[*\-_~=]\s*){3,}$")
PERSONS_RE = re.compile(
    r"^\s*(?:THE\s+)?(?:PERSONS\s+(?:OF|IN)\s+THE\s+PLAY|DRAMATIS\s+PERSON[AE]+|CHARACTERS(?:\s+IN\s+THE\s+PLAY)?|CAST)\s*:?\s*$",
    re.I,
)
SCENES_LIST_RE = re.compile(r"^\s*(?:THE\s+)?SCENES\s+(?:OF|IN)\s+THE\s+PLAY\s*$", re.I)
END_RE = re.compile(
    r"^\s*(?:ACT\s+DROPS?|CURTAIN|TABLEAU|END\s+OF\s+(?:THE\s+)?(?:\w+\s+)?(?:ACT|PLAY|SCENE).*|THE\s+END)\.?\s*$", re.I
)
_CAPS_WORD = r"[A-Z](?:[A-Z'’\-]*[A-Z'’])?"
"""A word of a capitals name (not ending in a dash: ``I--`` is a broken-off speech)."""
CAPS_CUE_RE = re.compile(rf"^(?P<name>{_CAPS_WORD}(?:\.?\s{_CAPS_WORD}){{0,4}})(?:\.\s+|:\s*|\s*(?=[\[(])|\.?\s*$)")
TITLE_CUE_RE = re.compile(
    r"^(?P<name>(?:(?:Mr|Mrs|Ms|Dr|St|Rev)\.\s|[A-Z][a-z'’\-]+\s){0,2}[A-Z][a-z'’\-]+)\.(?:\s{2,}|\s*(?=\[)|\s*$)"
)
CAPS_ALONE_RE = re.compile(rf"^(?P<name>{_CAPS_WORD}(?:\.?\s{_CAPS_WORD}){{0,4}})[.:]?$")
TITLE_SPACE_CUE_RE = re.compile(
    r"^(?P<name>(?:(?:Mr|Mrs|Ms|Dr|St|Rev)\.\s)?(?:[A-Z][a-z'’\-]+\s){0,2}[A-Z][a-z'’\-]+)"
    r"(?:\s*\((?P<dir>[^)]{1,200})\))?\.\s+(?P<rest>\S.*)$"
)
"""``Dr. Stockmann. An article of mine?`` / ``Peter Stockmann (following him). Is there``: a
Title-case cue with one space, taken only for a name of the cast list (else any sentence
opening ``Well. I ...`` would be one)."""
_HONORIFICS = frozenset({"Mr", "Mrs", "Ms", "Dr", "St", "Rev", "Miss", "Lady", "Lord", "Sir", "Captain", "Mr.", "Mrs.", "Dr."})
MD_CUE_RE = re.compile(r"^\*\*(?P<name>[^*\n]{1,40}?)\.?\*\*[.:]?\s*")
DIRECTION_RE = re.compile(r"\[([^\]]*)\]|\(([^)]*)\)")
LEADING_ITALIC_RE = re.compile(r"^_([^_]{1,300})_\.?(?=\s|$)")
_TITLE_ABBREVIATIONS = frozenset({"MR", "MRS", "MS", "DR", "ST", "REV", "MME", "MLLE"})
"""A capitals "name" that is only these is the start of a longer name (``MRS. ELVSTED enters``)."""
_NAMES_FIRST_RE = re.compile(r"^[A-Z][A-Z'’\-]+(?:\.?\s[A-Z][A-Z'’\-]+)*,?\s+(?:\([^)]*\)\s+)?[a-z]")
"""A paragraph opening with a name in capitals and going on in lower case is a stage direction
(``MRS. ELVSTED enters from the hall.``, ``ARKADINA comes in on SORIN'S arm``)."""
_TITLE_WORDS = {"mrs", "miss", "lady", "lord", "sir", "the", "and", "of"}
_NOT_CUES = {"SCENE", "ACT", "CURTAIN", "TABLEAU", "END", "THE END", "TIME", "PLACE", "EXIT", "EXEUNT", "ENTER"}


def _number(text: str | None) -> int | None:
    if not text:
        return None
    text = text.upper()
    if text.isdigit():
        return int(text)
    if text in _WORD_NUMBERS:
        return _WORD_NUMBERS[text]
    total = 0
    for i, ch in enumerate(text):
        value = _ROMAN.get(ch, 0)
        nxt = _ROMAN.get(text[i + 1], 0) if i + 1 < len(text) else 0
        total += -value if value < nxt else value
    return total or None


def paragraphs(source: Iterable[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """Blank-line separated paragraphs as ``(first line number, lines)``."""
    start = 0
    block: list[str] = []
    for number, raw in source:
        if raw.strip():
            if not block:
                start = number
            block.append(raw.rstrip())
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _is_italic_paragraph(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith("_") and stripped.rstrip(".").endswith("_")


def _is_direction_paragraph(text: str) -> bool:
    stripped = text.strip()
    return (stripped.startswith("[") and (stripped.endswith("]") or "]" not in stripped)) or (
        stripped.startswith("(") and stripped.endswith(")")
    )


def act_heading(text: str) -> re.Match[str] | None:
    """The :data:`ACT_RE` match of a real act heading (``THE FIRST ACT``, ``ACT II.``, ``Act 3``).

    The word ACT is in capitals or ``Act``, and what follows it is not the rest of a sentence
    (``Second act; what's the matter with it?`` is a speech, not a heading).
    """
    match = ACT_RE.match(text)
    if match is None:
        return None
    word = match.group("w1") or match.group("w2")
    if word not in {"ACT", "Act"}:
        return None
    rest = match.group("rest").lstrip()
    if rest and (rest[0] in _NOT_HEADING_REST or rest[0].islower()):
        return None
    return match


def _act_number(match: re.Match[str]) -> int | None:
    ordinal = match.group("ord") or match.group("ord2")
    return _ORDINALS[ordinal.upper()] if ordinal else _number(match.group("num"))


def find_cue(text: str) -> tuple[str, str] | None:
    """``(name, rest)`` when the paragraph starts with a speaker cue."""
    for pattern in (MD_CUE_RE, CAPS_CUE_RE, TITLE_CUE_RE):
        match = pattern.match(text)
        if not match:
            continue
        name = match.group("name").strip().rstrip(".")
        upper = name.upper()
        if upper in _NOT_CUES or upper in _TITLE_ABBREVIATIONS or ACT_RE.match(name) and act_heading(name) or END_RE.match(name):
            return None
        if pattern is CAPS_CUE_RE and len(name) < 2:
            return None
        return name, text[match.end() :]
    return None


def _person(line: str) -> tuple[str, str | None] | None:
    line = line.strip().strip("_").strip()
    if not line or set(line) <= set("*- "):
        return None
    if "}" in line:
        name, _, desc = line.partition("}")
        return name.strip(), desc.strip() or None
    if line.startswith("("):
        return None  # a description running on from the entry above
    paren = re.match(r"^(?P<name>[^(,]+?)\s*\((?P<desc>[^)]*)\)?(?P<more>.*)$", line)
    if paren and paren.group("name").strip():
        desc = clean_direction(f"{paren.group('desc')} {paren.group('more').strip(' ,.')}")
        return paren.group("name").strip().rstrip(".,"), desc or None
    name, sep, desc = line.partition(", ")
    return name.strip().rstrip("."), (desc.strip() or None) if sep else None


class _Play:
    def __init__(self, state: ParseState) -> None:
        self.state = state
        self.section = "front"
        self.act: int | None = None
        self.scene_no: int | None = None
        self.act_settings: dict[int, str] = {}
        self.awaiting_setting = False
        self.has_setting = False
        self.lines_in_scene = 0
        self.pending_line: Line | None = None
        self.pending_dirs: list[str] = []
        self.pending_cue: tuple[str, int] | None = None
        self.act_heading: str | None = None
        self.ended: str | None = None
        """Why paragraphs are skipped after an act's end (``CURTAIN``) or a rule, until a speech."""
        self.cue_alone = False
        """Whether the last speech's cue stood alone (then a plain paragraph continues it)."""
        self.claim: tuple[str, bool] | None = None
        self.listed: set[str] = set()
        self.read_kinds: dict[str, int] = {}
        self.read_first = self.read_last = 0
        self.listed_words: set[str] = set()

    # -- scene boundaries -------------------------------------------------------------------
    def start_scene(self, heading: str, setting: str | None) -> Iterator[Event]:
        yield from self.flush(end_of_scene=True)
        self.lines_in_scene = 0
        self.ended = None
        self.awaiting_setting = True
        self.has_setting = bool(setting)
        meta = {"act": self.act, "scene": self.scene_no}
        yield SceneStart(heading=heading, setting=setting or None, metadata=meta)

    def flush(self, *, end_of_scene: bool = False, next_speaker: str | None = None) -> Iterator[Event]:
        """Settle pending directions against the previous line and the coming speaker."""
        keep_for_next: list[str] = []
        for direction in self.pending_dirs:
            if end_of_scene or self.pending_line is None:
                if self.pending_line is None and not end_of_scene:
                    keep_for_next.append(direction)
                else:
                    yield SceneDirection(direction)
            elif next_speaker and _belongs_to_next(direction, next_speaker):
                keep_for_next.append(direction)
            else:
                attach_direction(self.pending_line, direction, before=False)
        self.pending_dirs = keep_for_next
        if self.pending_line is not None:
            yield self.pending_line
            self.pending_line = None

    # -- paragraphs -------------------------------------------------------------------------
    def feed(self, number: int, block: list[str]) -> Iterator[Event]:
        """The events of one paragraph; what became of its lines goes to the ledger."""
        self.claim = None
        yield from self._feed(number, block)
        self.account(number, block)

    def account(self, number: int, block: list[str]) -> None:
        """Report the paragraph's claim (set by :meth:`_feed`) to the ledger.

        Ingested lines are summed by kind and given to the ledger as one part when a skip
        comes or the play ends (:meth:`_flush_read`): one dict update per paragraph.
        """
        claim = self.claim
        if claim is None:
            return  # left unexplained: the ledger's count shows it
        what, skipped = claim
        if not skipped:
            size = len(block)
            kinds = self.read_kinds
            kinds[what] = kinds.get(what, 0) + size
            if not self.read_first:
                self.read_first = number
            self.read_last = number + size - 1
            return
        self._flush_read()
        speech_like = 1 if what not in _NOT_SPEECH_SKIPS and _speech_like(block) else 0
        self.state.ledger.skip(what, number, len(block), speech_like=speech_like)

    def _flush_read(self) -> None:
        if self.read_kinds:
            take = self.state.ledger.take
            for kind, count in self.read_kinds.items():
                take(kind, self.read_first, count, last=self.read_last)
            self.read_kinds = {}
        self.read_first = 0

    def _take(self, kind: str) -> None:
        self.claim = (kind, False)

    def _skip(self, reason: str) -> None:
        self.claim = (reason, True)

    def _feed(self, number: int, block: list[str]) -> Iterator[Event]:
        first = block[0].strip()
        joined = " ".join(line.strip() for line in block)  # keeps the two spaces after a cue
        text = collapse(joined)
        if self.pending_cue is not None and (len(block) > 1 or not _strict_heading(first)) and not _caps_cue(joined):
            # The paragraph under a cue standing alone is its speech, whatever it looks like.
            name, cue_line = self.pending_cue
            self.pending_cue = None
            self.cue_alone = True
            self.claim = ("dialogue", False)
            yield from self.speech(name, text, cue_line)
            return
        act = ACT_RE.match(first)
        if act is not None:
            act = act_heading(first)
        if self.section in {"front", "persons", "scenes_list"}:
            if PERSONS_RE.match(first.replace("_", "")) and len(block) == 1:
                self.section = "persons"
                self.claim = ("cast list", True)
                return
            if SCENES_LIST_RE.match(first.replace("_", "")):
                self.section = "scenes_list"
                self.claim = ("list of scenes", True)
                return
            if self.section == "scenes_list" and act and (act.group("rest").strip() or len(block) > 1):
                setting = clean_direction(" ".join([act.group("rest")] + [b.strip() for b in block[1:]]))
                n = _act_number(act)
                if n and setting:
                    self.act_settings[n] = setting
                self.claim = ("list of scenes", True)
                return
            if self.section == "persons" and not act and not first.startswith("*") and _cast_paragraph(block):
                indent = min(len(line) - len(line.lstrip()) for line in block)
                for i, line in enumerate(block):
                    deeper = len(line) - len(line.lstrip()) > indent
                    if i and "}" not in line and (
                        deeper and len(block[i - 1]) - len(block[i - 1].lstrip()) == indent
                        or _runs_on(block[i - 1])
                    ):
                        continue  # an entry's description running on to the next line
                    person = _person(line)
                    if person:
                        self.state.cast.add_listed(*person)
                        self.listed.add(person[0].upper())
                        self.listed_words.update(w.upper() for w in re.findall(r"[A-Z][\w'’\-]+", person[0]))
                self.claim = ("cast list", True)
                return
            if not act and not (SCENE_RE.match(first) and _scene_heading(first)) and not self._starts_play(joined):
                if self.section == "persons":
                    self.section = "front"
                self.claim = ("front matter", True)
                return
        if act:
            self.section = "body"
            self.act = _act_number(act)
            self.scene_no = None
            rest = clean_direction(act.group("rest")) if act.group("rest") else ""
            self.act_heading = first
            setting = rest or (self.act_settings.get(self.act) if self.act else None)
            self.claim = ("heading", False)
            yield from self.start_scene(first, setting if rest else None)
            if not rest and setting:
                self._fallback = setting
            else:
                self._fallback = None
            return
        if self.section != "body":
            self.section = "body"
        scene = SCENE_RE.match(first)
        if scene and _scene_heading(first):
            self.scene_no = _number(scene.group("num")) or 1
            rest = clean_direction(" ".join([scene.group("rest")] + [b.strip() for b in block[1:]]))
            heading = first if not self.act_heading else f"{self.act_heading}, {first}"
            self.claim = ("heading", False)
            yield from self.start_scene(heading, rest or None)
            self._fallback = self.act_settings.get(self.act) if self.act and not rest else None
            return
        if END_RE.match(text):
            final = re.match(r"^\s*(?:THE\s+END|END\s+OF\s+(?:THE\s+)?PLAY)\b", text, re.I)
            self.ended = "after the end of the play" if final else "after the curtain (notes)"
            self.claim = ("direction", False)
            yield from self.flush(end_of_scene=True)
            yield SceneDirection(clean_direction(text))
            return
        if text[:1] in _RULE_CHARS and RULE_RE.match(text):
            # A rule after the speeches began: what follows, until a cue or a heading, is not
            # the play (Shaw's prose sequel after Pygmalion's last act).
            if self.lines_in_scene and not self.ended:
                self.ended = "prose section after the play"
                yield from self.flush(end_of_scene=True)
            self.claim = ("separator", True)
            return
        if _is_direction_paragraph(text):
            direction = clean_direction(text)
            self.claim = ("direction", False)
            if self.lines_in_scene == 0 and self.pending_line is None:
                self._settle_fallback_setting()
                yield SceneDirection(direction)
            else:
                self.pending_dirs.append(direction)
            return
        cue = find_cue(joined)
        if cue is not None and self.cue_alone and not cue[0].isupper():
            cue = None  # cues stand alone in capitals here: ``Ta. [_He goes._]`` is words of a speech
        if cue is None and self.listed_words:
            cue = self._title_cue(joined)
        alone = CAPS_ALONE_RE.match(first)
        if len(block) > 1 and alone and alone.group("name").upper() not in _NOT_CUES:
            cue = (alone.group("name"), " ".join(line.strip() for line in block[1:]))
        if self.ended:
            if (
                cue is None
                or self.ended == "after the end of the play"
                or not cue[1].strip() and self.pending_cue is None and not self.cue_alone
            ):
                self.claim = (self.ended, True)
                return  # printer's notes and the like after CURTAIN, until the next act or speech
            self.ended = None
        if cue is None:
            if self.awaiting_setting and self.lines_in_scene == 0:
                setting = clean_direction(text) if _is_italic_paragraph(text) else text
                self.has_setting = True
                self.claim = ("heading", False)
                yield SceneSetting(setting)
                return
            if self.pending_line is not None:
                if (
                    self.cue_alone and not block[0][:1].isspace() and not _NAMES_FIRST_RE.match(text)
                ) or (not self.cue_alone and (_is_italic_paragraph(text) or "[" in text)):
                    self.claim = ("dialogue", False)
                    self._continue_speech(text)
                else:
                    # Inline cues (``NAME. speech``): a paragraph without one is a direction.
                    self.claim = ("direction", False)
                    self.pending_dirs.append(clean_direction(text))
            else:
                yield from self.flush()
                self.lines_in_scene += 1
                self.claim = ("narration", False)
                self.pending_line = make_line(None, clean_direction(text) if _is_italic_paragraph(text) else text, source_line=number)
            return
        name, rest = cue
        self.claim = ("dialogue", False)
        if not rest.strip():
            self.pending_cue = (name, number)
            return
        self.cue_alone = False
        yield from self.speech(name, rest, number)

    def _title_cue(self, joined: str) -> tuple[str, str] | None:
        """A :data:`TITLE_SPACE_CUE_RE` cue whose name words are all in the cast list."""
        match = TITLE_SPACE_CUE_RE.match(joined)
        if match is None:
            return None
        words = [w for w in match.group("name").replace(".", " ").split() if w not in _HONORIFICS]
        if not words or not all(w.upper() in self.listed_words for w in words):
            return None
        rest = match.group("rest")
        if match.group("dir"):
            rest = f"[{match.group('dir')}] {rest}"
        return match.group("name"), rest

    def _starts_play(self, joined: str) -> bool:
        """Whether a front-matter paragraph is a speech of a listed character (a play with no act heading)."""
        cue = find_cue(joined)
        return bool(cue and cue[1].strip() and cue[0].upper() in self.listed)

    def _settle_fallback_setting(self) -> None:
        self.awaiting_setting = False

    def speech(self, name: str, rest: str, number: int) -> Iterator[Event]:
        if not self.has_setting and getattr(self, "_fallback", None):
            yield SceneSetting(self._fallback)
            self.has_setting = True
        self.awaiting_setting = False
        line = _speech_line(name, rest, number)
        carried = self.pending_dirs
        yield from self.flush(next_speaker=name)
        if line is None:
            return
        for direction in reversed(self.pending_dirs):
            attach_direction(line, direction, before=True)
        self.pending_dirs = []
        del carried
        self.lines_in_scene += 1
        self.pending_line = line

    def _continue_speech(self, text: str) -> None:
        line = self.pending_line
        assert line is not None
        extra = _speech_line(line.speaker or "", text, line.source_line or 0)
        if extra is None:
            return
        offsets = list(line.metadata.get("direction_at", []))
        base = len(line.text) + 1
        line.text = f"{line.text} {extra.text}".strip()
        line.directions.extend(extra.directions)
        offsets.extend(base + at for at in extra.metadata.get("direction_at", []))
        if line.directions:
            line.metadata["direction_at"] = offsets

    def finish(self) -> Iterator[Event]:
        self._flush_read()
        if self.pending_cue is not None:
            self.state.warnings.append(f"line {self.pending_cue[1]}: cue {self.pending_cue[0]!r} has no speech")
        yield from self.flush(end_of_scene=True)


_NOT_SPEECH_SKIPS = frozenset({"cast list", "list of scenes", "Project Gutenberg header"})


def _speech_like(block: list[str]) -> bool:
    """Whether a skipped paragraph looks like a speech (a cue with words after it)."""
    cue = find_cue(" ".join(line.strip() for line in block))
    if cue is None:
        alone = CAPS_ALONE_RE.match(block[0].strip())
        return bool(alone and len(block) > 1 and alone.group("name").upper() not in _NOT_CUES)
    return bool(cue[1].strip()) or len(block) == 1 and block[0].strip().endswith(".")


_PARTICLES = frozenset("of the de von van la le du da di and in at to".split())


def _cast_paragraph(block: list[str]) -> bool:
    """Whether a paragraph after a cast-list heading is entries of it (not a note after it):
    most lines name someone, before any ``,`` / ``(`` / ``}`` description, in capitalised words."""
    names = 0
    for line in block:
        text = line.strip().strip("_*").strip()
        if text.startswith(("(", "}")):
            names += 1  # a description running on from the entry above
            continue
        name = re.split(r"[,(}]", text, maxsplit=1)[0]
        words = re.findall(r"[^\W\d_][\w.'’\-]*", name)
        if words and all(w[0].isupper() or w.lower() in _PARTICLES for w in words):
            names += 1
    return names * 2 > len(block)


_RUN_ON_WORDS = frozenset("the of and a an to in for with at by or".split())


def _runs_on(line: str) -> bool:
    """Whether a cast-list line is cut mid-phrase (``..., Mayor of the``) and goes on below."""
    text = line.rstrip()
    words = text.split()
    return bool(words) and (text[-1] in ",-" or words[-1] in _RUN_ON_WORDS)


def _caps_cue(joined: str) -> bool:
    cue = find_cue(joined)
    return cue is not None and cue[0].isupper()


def _strict_heading(first: str) -> bool:
    """A line that is a heading even right after a cue standing alone: ``ACT II`` in capitals."""
    match = act_heading(first)
    return bool(match and match.group(0).strip().isupper())


def _scene_heading(first: str) -> bool:
    scene = SCENE_RE.match(first)
    return bool(scene and len(first) < 120 and (scene.group("num") or not scene.group("rest")))


def _belongs_to_next(direction: str, speaker: str) -> bool:
    lowered = direction.casefold()
    if re.match(r"^(?:re-?)?enter\b", lowered):
        return True
    words = [w for w in re.findall(r"[\w']+", speaker.casefold()) if len(w) > 2 and w not in _TITLE_WORDS]
    return any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)


def _speech_line(name: str, rest: str, number: int) -> Line | None:
    rest = rest.strip()
    leading: list[str] = []
    match = LEADING_ITALIC_RE.match(rest)
    if match:
        leading.append(clean_direction(match.group(1)))
        rest = rest[match.end() :]
    spoken, directions, offsets = extract_directions(rest.replace("_", ""), DIRECTION_RE)
    directions = leading + directions
    offsets = [0] * len(leading) + offsets
    kept = [(d, o) for d, o in zip(directions, offsets) if d]
    if not spoken:
        # A cue with only a direction ("JACK. [Exit.]") has no words: no line.
        return None
    return make_line(
        name,
        spoken,
        source_line=number,
        directions=[d for d, _ in kept],
        offsets=[min(o, len(spoken)) for _, o in kept],
    )


ACCOUNTS_LINES = True
"""This module reports every paragraph it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a stage play."""
    play = _Play(state)
    play._fallback = None  # type: ignore[attr-defined]
    feed, account = play._feed, play.account
    for number, block in paragraphs(source):
        play.claim = None
        yield from feed(number, block)
        account(number, block)
    yield from play.finish()
