"""Stage plays as Project Gutenberg prints them.

Read paragraph by paragraph (blank-line separated):

* front matter: ``THE PERSONS OF THE PLAY`` / ``DRAMATIS PERSONAE`` entries become
  :class:`~augmentlab.model.Character` s (``Merriman, Butler`` → name + description);
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
from augmentlab.model import Line

_ORDINALS = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "FIFTH": 5, "SIXTH": 6}
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_WORD_NUMBERS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
ACT_RE = re.compile(
    r"^\s*(?:(?P<ord>FIRST|SECOND|THIRD|FOURTH|FIFTH|SIXTH)\s+ACT"
    r"|ACT\s+(?P<num>[IVXLC]+|\d+|ONE|TWO|THREE|FOUR|FIVE)\b)\.?[ \t]*(?P<rest>.*)$",
    re.I,
)
SCENE_RE = re.compile(r"^\s*SCENE(?:\s+(?P<num>[IVXLC]+|\d+))?\b\.?[ \t]*[:.\-–—]?[ \t]*(?P<rest>.*)$", re.I)
PERSONS_RE = re.compile(
    r"^\s*(?:THE\s+)?(?:PERSONS\s+(?:OF|IN)\s+THE\s+PLAY|DRAMATIS\s+PERSON[AE]+|CHARACTERS(?:\s+IN\s+THE\s+PLAY)?|CAST)\s*:?\s*$",
    re.I,
)
SCENES_LIST_RE = re.compile(r"^\s*(?:THE\s+)?SCENES\s+(?:OF|IN)\s+THE\s+PLAY\s*$", re.I)
END_RE = re.compile(r"^\s*(?:ACT\s+DROPS?|CURTAIN|TABLEAU|END\s+OF\s+(?:THE\s+)?(?:ACT|PLAY|SCENE).*|THE\s+END)\.?\s*$", re.I)
CAPS_CUE_RE = re.compile(r"^(?P<name>[A-Z][A-Z'’\-]*(?:\.?\s[A-Z][A-Z'’\-]*){0,4})(?:\.\s+|\s*(?=[\[(])|\.?\s*$)")
TITLE_CUE_RE = re.compile(
    r"^(?P<name>(?:(?:Mr|Mrs|Ms|Dr|St|Rev)\.\s|[A-Z][a-z'’\-]+\s){0,2}[A-Z][a-z'’\-]+)\.(?:\s{2,}|\s*(?=\[)|\s*$)"
)
CAPS_ALONE_RE = re.compile(r"^(?P<name>[A-Z][A-Z'’\-]*(?:\.?\s[A-Z][A-Z'’\-]*){0,4})\.?$")
MD_CUE_RE = re.compile(r"^\*\*(?P<name>[^*\n]{1,40}?)\.?\*\*[.:]?\s*")
DIRECTION_RE = re.compile(r"\[([^\]]*)\]|\(([^)]*)\)")
LEADING_ITALIC_RE = re.compile(r"^_([^_]{1,300})_\.?(?=\s|$)")
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
    return (stripped.startswith("[") and stripped.endswith("]")) or (
        stripped.startswith("(") and stripped.endswith(")")
    )


def find_cue(text: str) -> tuple[str, str] | None:
    """``(name, rest)`` when the paragraph starts with a speaker cue."""
    for pattern in (MD_CUE_RE, CAPS_CUE_RE, TITLE_CUE_RE):
        match = pattern.match(text)
        if not match:
            continue
        name = match.group("name").strip().rstrip(".")
        if name.upper() in _NOT_CUES or ACT_RE.match(name) or END_RE.match(name):
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
        self.ended = False

    # -- scene boundaries -------------------------------------------------------------------
    def start_scene(self, heading: str, setting: str | None) -> Iterator[Event]:
        yield from self.flush(end_of_scene=True)
        self.lines_in_scene = 0
        self.ended = False
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
        first = block[0].strip()
        joined = " ".join(line.strip() for line in block)  # keeps the two spaces after a cue
        text = collapse(joined)
        act = ACT_RE.match(first)
        if self.section in {"front", "persons", "scenes_list"}:
            if PERSONS_RE.match(first) and len(block) == 1:
                self.section = "persons"
                return
            if SCENES_LIST_RE.match(first):
                self.section = "scenes_list"
                return
            if self.section == "scenes_list" and act and (act.group("rest").strip() or len(block) > 1):
                setting = clean_direction(" ".join([act.group("rest")] + [b.strip() for b in block[1:]]))
                n = _number(act.group("ord") and str(_ORDINALS[act.group("ord").upper()]) or act.group("num"))
                if n and setting:
                    self.act_settings[n] = setting
                return
            if self.section == "persons" and not act and not first.startswith("*"):
                for line in block:
                    person = _person(line)
                    if person:
                        self.state.cast.add_listed(*person)
                return
            if not act:
                if self.section == "persons":
                    self.section = "front"
                return
        if act:
            self.section = "body"
            ordinal = act.group("ord")
            self.act = _ORDINALS[ordinal.upper()] if ordinal else _number(act.group("num"))
            self.scene_no = None
            rest = clean_direction(act.group("rest")) if act.group("rest") else ""
            self.act_heading = first
            setting = rest or (self.act_settings.get(self.act) if self.act else None)
            yield from self.start_scene(first, setting if rest else None)
            if not rest and setting:
                self._fallback = setting
            else:
                self._fallback = None
            return
        if self.section != "body":
            self.section = "body"
        scene = SCENE_RE.match(first)
        if scene and len(first) < 120 and (scene.group("num") or not scene.group("rest")):
            self.scene_no = _number(scene.group("num")) or 1
            rest = clean_direction(" ".join([scene.group("rest")] + [b.strip() for b in block[1:]]))
            heading = first if not self.act_heading else f"{self.act_heading}, {first}"
            yield from self.start_scene(heading, rest or None)
            self._fallback = self.act_settings.get(self.act) if self.act and not rest else None
            return
        if END_RE.match(text):
            self.ended = True
            yield from self.flush(end_of_scene=True)
            yield SceneDirection(clean_direction(text))
            return
        if _is_direction_paragraph(text):
            direction = clean_direction(text)
            if self.lines_in_scene == 0 and self.pending_line is None:
                self._settle_fallback_setting()
                yield SceneDirection(direction)
            else:
                self.pending_dirs.append(direction)
            return
        if self.ended:
            return  # printer's notes and the like after CURTAIN, until the next act
        cue = find_cue(joined)
        alone = CAPS_ALONE_RE.match(first)
        if len(block) > 1 and alone and alone.group("name").upper() not in _NOT_CUES:
            cue = (alone.group("name"), " ".join(line.strip() for line in block[1:]))
        if self.pending_cue is not None and cue is None:
            name, cue_line = self.pending_cue
            self.pending_cue = None
            yield from self.speech(name, text, cue_line)
            return
        if cue is None:
            if self.awaiting_setting and self.lines_in_scene == 0:
                setting = clean_direction(text) if _is_italic_paragraph(text) else text
                self.has_setting = True
                yield SceneSetting(setting)
                return
            if self.pending_line is not None:
                self._continue_speech(text)
            else:
                yield from self.flush()
                self.lines_in_scene += 1
                self.pending_line = make_line(None, clean_direction(text) if _is_italic_paragraph(text) else text, source_line=number)
            return
        name, rest = cue
        if not rest.strip():
            self.pending_cue = (name, number)
            return
        yield from self.speech(name, rest, number)

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
        if self.pending_cue is not None:
            self.state.warnings.append(f"line {self.pending_cue[1]}: cue {self.pending_cue[0]!r} has no speech")
        yield from self.flush(end_of_scene=True)


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


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a stage play."""
    play = _Play(state)
    play._fallback = None  # type: ignore[attr-defined]
    for number, block in paragraphs(source):
        yield from play.feed(number, block)
    yield from play.finish()
