"""What a paragraph of a stage play is: act and scene headings, speaker cues, cast-list entries,
stage directions, the end of the play. :mod:`augmentlab.ingest.play` reads a play with these.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from augmentlab.ingest.lines import clean_direction, extract_directions, make_line
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
RULE_CHARS = frozenset("*-_~=")
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
NAMES_FIRST_RE = re.compile(r"^[A-Z][A-Z'’\-]+(?:\.?\s[A-Z][A-Z'’\-]+)*,?\s+(?:\([^)]*\)\s+)?[a-z]")
"""A paragraph opening with a name in capitals and going on in lower case is a stage direction
(``MRS. ELVSTED enters from the hall.``, ``ARKADINA comes in on SORIN'S arm``)."""
_TITLE_WORDS = {"mrs", "miss", "lady", "lord", "sir", "the", "and", "of"}
NOT_CUES = {"SCENE", "ACT", "CURTAIN", "TABLEAU", "END", "THE END", "TIME", "PLACE", "EXIT", "EXEUNT", "ENTER"}


def heading_number(text: str | None) -> int | None:
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



def is_italic_paragraph(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith("_") and stripped.rstrip(".").endswith("_")


def is_direction_paragraph(text: str) -> bool:
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


def act_number(match: re.Match[str]) -> int | None:
    ordinal = match.group("ord") or match.group("ord2")
    return _ORDINALS[ordinal.upper()] if ordinal else heading_number(match.group("num"))


def find_cue(text: str) -> tuple[str, str] | None:
    """``(name, rest)`` when the paragraph starts with a speaker cue."""
    for pattern in (MD_CUE_RE, CAPS_CUE_RE, TITLE_CUE_RE):
        match = pattern.match(text)
        if not match:
            continue
        name = match.group("name").strip().rstrip(".")
        upper = name.upper()
        if upper in NOT_CUES or upper in _TITLE_ABBREVIATIONS or ACT_RE.match(name) and act_heading(name) or END_RE.match(name):
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


def cast_entries(block: list[str]) -> Iterator[tuple[str, str | None]]:
    """``(name, description)`` of each entry of a cast-list paragraph (an entry's description
    may run on to the next, deeper indented, line)."""
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
            yield person


def title_cue(joined: str, listed_words: set[str]) -> tuple[str, str] | None:
    """A :data:`TITLE_SPACE_CUE_RE` cue whose name words are all in the cast list (``listed_words``)."""
    match = TITLE_SPACE_CUE_RE.match(joined)
    if match is None:
        return None
    words = [w for w in match.group("name").replace(".", " ").split() if w not in _HONORIFICS]
    if not words or not all(w.upper() in listed_words for w in words):
        return None
    rest = match.group("rest")
    if match.group("dir"):
        rest = f"[{match.group('dir')}] {rest}"
    return match.group("name"), rest


NOT_SPEECH_SKIPS = frozenset({"cast list", "list of scenes", "Project Gutenberg header"})


def speech_like(block: list[str]) -> bool:
    """Whether a skipped paragraph looks like a speech (a cue with words after it)."""
    cue = find_cue(" ".join(line.strip() for line in block))
    if cue is None:
        alone = CAPS_ALONE_RE.match(block[0].strip())
        return bool(alone and len(block) > 1 and alone.group("name").upper() not in NOT_CUES)
    return bool(cue[1].strip()) or len(block) == 1 and block[0].strip().endswith(".")


_PARTICLES = frozenset("of the de von van la le du da di and in at to".split())


def is_cast_paragraph(block: list[str]) -> bool:
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


def caps_cue(joined: str) -> bool:
    cue = find_cue(joined)
    return cue is not None and cue[0].isupper()


def strict_heading(first: str) -> bool:
    """A line that is a heading even right after a cue standing alone: ``ACT II`` in capitals."""
    match = act_heading(first)
    return bool(match and match.group(0).strip().isupper())


def scene_heading(first: str) -> bool:
    scene = SCENE_RE.match(first)
    return bool(scene and len(first) < 120 and (scene.group("num") or not scene.group("rest")))


def belongs_to_next(direction: str, speaker: str) -> bool:
    lowered = direction.casefold()
    if re.match(r"^(?:re-?)?enter\b", lowered):
        return True
    words = [w for w in re.findall(r"[\w']+", speaker.casefold()) if len(w) > 2 and w not in _TITLE_WORDS]
    return any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)


def speech_line(name: str, rest: str, number: int) -> Line | None:
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
