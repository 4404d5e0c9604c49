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

from augmentlab.ingest.lines import attach_direction, clean_direction, collapse, make_line, paragraphs
from augmentlab.ingest.play_parts import (
    CAPS_ALONE_RE,
    END_RE,
    NAMES_FIRST_RE,
    NOT_CUES,
    NOT_SPEECH_SKIPS,
    PERSONS_RE,
    RULE_CHARS,
    RULE_RE,
    SCENE_RE,
    SCENES_LIST_RE,
    act_heading,
    act_number,
    belongs_to_next,
    caps_cue,
    cast_entries,
    find_cue,
    heading_number,
    is_cast_paragraph,
    is_direction_paragraph,
    is_italic_paragraph,
    scene_heading,
    speech_like,
    speech_line,
    strict_heading,
    title_cue,
)
from augmentlab.ingest.segment import Event, ParseState, SceneDirection, SceneSetting, SceneStart
from augmentlab.core.model import Line

_BEFORE_PLAY = frozenset({"front", "persons", "scenes_list"})


class _Play:
    """A play read paragraph by paragraph (:meth:`feed`): where it is (front matter, cast list,
    list of scenes, the body), the line and directions waiting to be settled, and what became of
    each paragraph's lines (:meth:`account`)."""

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
        self.fallback_setting: str | None = None
        """The act's setting from the list of scenes, for a scene whose heading gives none."""

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
            elif next_speaker and belongs_to_next(direction, next_speaker):
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
        like = 1 if what not in NOT_SPEECH_SKIPS and speech_like(block) else 0
        self.state.ledger.skip(what, number, len(block), speech_like=like)

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
        if self.pending_cue is not None and (len(block) > 1 or not strict_heading(first)) and not caps_cue(joined):
            yield from self._cued_speech(text)
            return
        act = act_heading(first)
        if self.section in _BEFORE_PLAY and self._front_matter(block, first, joined, act):
            return
        if act:
            yield from self._act(first, act)
            return
        self.section = "body"
        scene = SCENE_RE.match(first)
        if scene and scene_heading(first):
            yield from self._scene(first, scene, block)
            return
        if END_RE.match(text):
            yield from self._end(text)
            return
        if text[:1] in RULE_CHARS and RULE_RE.match(text):
            yield from self._rule()
            return
        if is_direction_paragraph(text):
            yield from self._direction(text)
            return
        cue = self._cue(block, first, joined)
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
            yield from self._uncued(number, block, text)
            return
        name, rest = cue
        self.claim = ("dialogue", False)
        if not rest.strip():
            self.pending_cue = (name, number)
            return
        self.cue_alone = False
        yield from self.speech(name, rest, number)

    def _cued_speech(self, text: str) -> Iterator[Event]:
        """The paragraph under a cue standing alone is its speech, whatever it looks like."""
        assert self.pending_cue is not None
        name, cue_line = self.pending_cue
        self.pending_cue = None
        self.cue_alone = True
        self.claim = ("dialogue", False)
        yield from self.speech(name, text, cue_line)

    def _front_matter(self, block: list[str], first: str, joined: str, act: re.Match[str] | None) -> bool:
        """Before the play: the cast list, the list of scenes and other front matter are skipped
        (``True``: the paragraph was one of them)."""
        if PERSONS_RE.match(first.replace("_", "")) and len(block) == 1:
            self.section = "persons"
            self.claim = ("cast list", True)
            return True
        if SCENES_LIST_RE.match(first.replace("_", "")):
            self.section = "scenes_list"
            self.claim = ("list of scenes", True)
            return True
        if self.section == "scenes_list" and act and (act.group("rest").strip() or len(block) > 1):
            setting = clean_direction(" ".join([act.group("rest")] + [b.strip() for b in block[1:]]))
            n = act_number(act)
            if n and setting:
                self.act_settings[n] = setting
            self.claim = ("list of scenes", True)
            return True
        if self.section == "persons" and not act and not first.startswith("*") and is_cast_paragraph(block):
            for person in cast_entries(block):
                self.state.cast.add_listed(*person)
                self.listed.add(person[0].upper())
                self.listed_words.update(w.upper() for w in re.findall(r"[A-Z][\w'’\-]+", person[0]))
            self.claim = ("cast list", True)
            return True
        if not act and not (SCENE_RE.match(first) and scene_heading(first)) and not self._starts_play(joined):
            if self.section == "persons":
                self.section = "front"
            self.claim = ("front matter", True)
            return True
        return False

    def _act(self, first: str, act: re.Match[str]) -> Iterator[Event]:
        """An act heading starts a scene; its setting is the heading's rest or the list of scenes'."""
        self.section = "body"
        self.act = act_number(act)
        self.scene_no = None
        rest = clean_direction(act.group("rest")) if act.group("rest") else ""
        self.act_heading = first
        setting = rest or (self.act_settings.get(self.act) if self.act else None)
        self.claim = ("heading", False)
        yield from self.start_scene(first, setting if rest else None)
        self.fallback_setting = setting if not rest and setting else None

    def _scene(self, first: str, scene: re.Match[str], block: list[str]) -> Iterator[Event]:
        self.scene_no = heading_number(scene.group("num")) or 1
        rest = clean_direction(" ".join([scene.group("rest")] + [b.strip() for b in block[1:]]))
        heading = first if not self.act_heading else f"{self.act_heading}, {first}"
        self.claim = ("heading", False)
        yield from self.start_scene(heading, rest or None)
        self.fallback_setting = self.act_settings.get(self.act) if self.act and not rest else None

    def _end(self, text: str) -> Iterator[Event]:
        """``CURTAIN`` / ``THE END``: a scene direction; what follows is skipped until a speech."""
        final = re.match(r"^\s*(?:THE\s+END|END\s+OF\s+(?:THE\s+)?PLAY)\b", text, re.I)
        self.ended = "after the end of the play" if final else "after the curtain (notes)"
        self.claim = ("direction", False)
        yield from self.flush(end_of_scene=True)
        yield SceneDirection(clean_direction(text))

    def _rule(self) -> Iterator[Event]:
        # A rule after the speeches began: what follows, until a cue or a heading, is not
        # the play (Shaw's prose sequel after Pygmalion's last act).
        if self.lines_in_scene and not self.ended:
            self.ended = "prose section after the play"
            yield from self.flush(end_of_scene=True)
        self.claim = ("separator", True)

    def _direction(self, text: str) -> Iterator[Event]:
        """A ``[...]`` / ``(...)`` paragraph: the scene's before its first line, else pending."""
        direction = clean_direction(text)
        self.claim = ("direction", False)
        if self.lines_in_scene == 0 and self.pending_line is None:
            self._settle_fallback_setting()
            yield SceneDirection(direction)
        else:
            self.pending_dirs.append(direction)

    def _cue(self, block: list[str], first: str, joined: str) -> tuple[str, str] | None:
        """``(name, speech)`` when the paragraph opens with a speaker cue."""
        cue = find_cue(joined)
        if cue is not None and self.cue_alone and not cue[0].isupper():
            cue = None  # cues stand alone in capitals here: ``Ta. [_He goes._]`` is words of a speech
        if cue is None and self.listed_words:
            cue = title_cue(joined, self.listed_words)
        alone = CAPS_ALONE_RE.match(first)
        if len(block) > 1 and alone and alone.group("name").upper() not in NOT_CUES:
            cue = (alone.group("name"), " ".join(line.strip() for line in block[1:]))
        return cue

    def _uncued(self, number: int, block: list[str], text: str) -> Iterator[Event]:
        """A paragraph with no cue: the scene's setting, more of a speech, a direction, or narration."""
        if self.awaiting_setting and self.lines_in_scene == 0:
            setting = clean_direction(text) if is_italic_paragraph(text) else text
            self.has_setting = True
            self.claim = ("heading", False)
            yield SceneSetting(setting)
            return
        if self.pending_line is not None:
            if (
                self.cue_alone and not block[0][:1].isspace() and not NAMES_FIRST_RE.match(text)
            ) or (not self.cue_alone and (is_italic_paragraph(text) or "[" in text)):
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
            self.pending_line = make_line(None, clean_direction(text) if is_italic_paragraph(text) else text, source_line=number)

    def _starts_play(self, joined: str) -> bool:
        """Whether a front-matter paragraph is a speech of a listed character (a play with no act heading)."""
        cue = find_cue(joined)
        return bool(cue and cue[1].strip() and cue[0].upper() in self.listed)

    def _settle_fallback_setting(self) -> None:
        self.awaiting_setting = False

    def speech(self, name: str, rest: str, number: int) -> Iterator[Event]:
        if not self.has_setting and self.fallback_setting:
            yield SceneSetting(self.fallback_setting)
            self.has_setting = True
        self.awaiting_setting = False
        line = speech_line(name, rest, number)
        yield from self.flush(next_speaker=name)
        if line is None:
            return
        for direction in reversed(self.pending_dirs):
            attach_direction(line, direction, before=True)
        self.pending_dirs = []
        self.lines_in_scene += 1
        self.pending_line = line

    def _continue_speech(self, text: str) -> None:
        line = self.pending_line
        assert line is not None
        extra = speech_line(line.speaker or "", text, line.source_line or 0)
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


ACCOUNTS_LINES = True
"""This module reports every paragraph it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a stage play."""
    play = _Play(state)
    for number, block in paragraphs(source):
        yield from play.feed(number, block)
    yield from play.finish()
