"""Ren'Py ``.rpy`` scripts.

``define x = Character("Name")`` (also ``Character(_("Name"), ...)``) names a speaker;
``x "line"`` (with optional image attributes, ``x happy "line"``) is dialogue, a bare string is
narration, ``"Name" "line"`` names the speaker inline and ``extend "..."`` continues the last
speaker. ``scene bg meadow`` starts a scene whose setting is ``meadow``; ``label x:`` starts one
too (branches are not contiguous text). Menu choices (``"Choice":``) are not lines; their
captions are. Text tags (``{b}``) are dropped and ``\\"`` unescaped. Anything else (show, play,
jump, python, ...) is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from augmentlab.ingest.accounting import report_runs
from augmentlab.ingest.lines import make_line
from augmentlab.ingest.segment import Event, ParseState, SceneStart

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
DEFINE_RE = re.compile(
    rf"^\s*define\s+(?P<var>[A-Za-z_]\w*)\s*=\s*(?:\w+\.)?Character\(\s*(?:_\(\s*)?(?P<name>{_STRING}|None)"
)
_SPEECH_LIKE_RE = re.compile(r"^\s*(?P<who>[A-Za-z_]\w*)\b[^=(]*?[\"']")
SAY_RE = re.compile(
    rf"^\s*(?:(?P<who>[A-Za-z_]\w*)(?P<attrs>(?:\s+@)?(?:\s+-?[A-Za-z_][\w-]*)*)\s*|(?P<whostr>{_STRING})\s+)?"
    rf"(?P<text>{_STRING})(?P<rest>.*)$"
)
SCENE_RE = re.compile(r"^\s*scene\s+(?P<image>[^:#]+?)\s*(?:(?:with|at|onlayer|behind)\b.*)?(?:#.*)?$")
LABEL_RE = re.compile(r"^\s*label\s+(?P<name>[\w.]+)\s*(?:\(.*\))?\s*:")
_TAG_RE = re.compile(r"\{[^{}]*\}")
_KEYWORDS = {
    "play", "queue", "stop", "voice", "show", "hide", "scene", "with", "jump", "call", "define",
    "default", "image", "python", "init", "window", "pause", "renpy", "menu", "label", "return",
    "if", "elif", "else", "while", "style", "screen", "transform", "translate", "nvl", "camera",
    "sound", "music", "audio", "layeredimage", "at", "text", "add", "key", "use", "action",
}  # fmt: skip


def unquote(literal: str) -> str:
    """A Ren'Py string literal's text: escapes resolved, text tags removed."""
    body = literal[1:-1]
    body = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": " "}.get(m.group(1), m.group(1)), body)
    body = body.replace("{{", "\x00").replace("}}", "\x01")
    body = _TAG_RE.sub("", body)
    return body.replace("\x00", "{").replace("\x01", "}").strip()


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a Ren'Py script."""
    speakers: dict[str, str | None] = {"narrator": None}
    last_speaker: str | None = None
    setting: str | None = None
    label: str | None = None
    # Line accounting, summed here and reported at the end (one dict update per line).
    taken: dict[str, int] = {}
    skipped: dict[str, list[int]] = {}
    speech_like_code: list[int] = []
    first = last = 0
    for number, raw in source:
        text = raw.strip()
        if not text:
            continue
        if not first:
            first = number
        last = number
        if text.startswith("#"):
            skipped.setdefault("comment", []).append(number)
            continue
        define = DEFINE_RE.match(raw)
        if define:
            name = define.group("name")
            speakers[define.group("var")] = None if name == "None" else unquote(name)
            skipped.setdefault("code (character definition)", []).append(number)
            continue
        label_match = LABEL_RE.match(raw)
        if label_match:
            label = label_match.group("name")
            taken["heading"] = taken.get("heading", 0) + 1
            yield SceneStart(heading=f"label {label}", setting=setting, metadata={"label": label})
            continue
        scene = SCENE_RE.match(raw)
        if scene:
            image = scene.group("image").strip()
            setting = _setting(image)
            taken["heading"] = taken.get("heading", 0) + 1
            yield SceneStart(heading=f"scene {image}", setting=setting, metadata={"label": label, "image": image})
            continue
        say = SAY_RE.match(raw)
        if not say:
            like = _SPEECH_LIKE_RE.match(raw)
            speech_like = int(bool(like) and like.group("who") not in _KEYWORDS)
            skipped.setdefault("code", []).append(number)
            if speech_like:
                speech_like_code.append(number)
            continue
        rest = say.group("rest").strip()
        if rest.startswith(":"):
            skipped.setdefault("menu choice", []).append(number)
            continue  # a menu choice, not a line
        words = unquote(say.group("text"))
        if not words:
            skipped.setdefault("empty string", []).append(number)
            continue
        who = say.group("who")
        if who is not None and not say.group("whostr") and who != "extend" and who not in speakers:
            # a name with no ``define``: a statement keyword is code; else a speaker, warned once
            if who in _KEYWORDS or who.startswith("$"):
                skipped.setdefault("code", []).append(number)
                continue
            state.warnings.append(f"line {number}: speaker {who!r} is not defined in this file")
            speakers[who] = who
        speaker = _speaker(say, speakers, last_speaker)
        metadata = {"label": label} if label else {}
        if who == "extend":
            metadata["extend"] = True
        if speaker is not None:
            last_speaker = speaker
        kind = "dialogue" if speaker else "narration"
        taken[kind] = taken.get(kind, 0) + 1
        yield make_line(speaker, words, source_line=number, metadata=metadata)
    report_runs(state.ledger, taken, skipped, speech_like_code, first, last)


def _speaker(say: re.Match[str], speakers: dict[str, str | None], last_speaker: str | None) -> str | None:
    """Who says a say statement: ``"Name" "..."`` names them, ``extend`` is the last speaker, a
    character variable is its ``Character``'s name, a bare string is narration (``None``)."""
    who = say.group("who")
    if say.group("whostr"):
        return unquote(say.group("whostr")) or None
    if who is None:
        return None
    if who == "extend":
        return last_speaker
    return speakers[who]


ACCOUNTS_LINES = True
"""This module reports every line it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""


def _setting(image: str) -> str:
    """``bg lecturehall`` → ``lecturehall``; ``black`` stays ``black``."""
    parts = image.split()
    if len(parts) > 1 and parts[0] in {"bg", "background", "cg"}:
        parts = parts[1:]
    return " ".join(parts)
