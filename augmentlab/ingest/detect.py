"""Which script format a file is: by extension first, then by counting tell-tale lines.

Only the head of the file is looked at (a few hundred lines, after any Project Gutenberg
header), so detection costs the same for any file size.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from augmentlab.core.errors import AugmentlabError

FORMATS = ("vn", "renpy", "play", "fountain", "prose", "scx", "kag", "tyrano")
_ALIASES = {
    "visual-novel": "vn",
    "visualnovel": "vn",
    "dump": "vn",
    "colon": "vn",
    "rpy": "renpy",
    "ren'py": "renpy",
    "stage": "play",
    "gutenberg-play": "play",
    "screenplay": "fountain",
    "novel": "prose",
    "story": "prose",
    "sc3": "scx",
    "sc3tools": "scx",
    "kirikiri": "kag",
    "ks": "kag",
    "tyranoscript": "tyrano",
}
_EXTENSIONS = {".rpy": "renpy", ".fountain": "fountain", ".spmd": "fountain"}

# Engine dumps: sc3tools' ``[name]…[line]`` / ``…[%p]`` boxes; KAG-family ``@command`` lines,
# lines of known ``[tag]`` s, ``*label`` s and text ending in ``[p]`` / ``[l]`` / ``[r]``.
_SCX_RE = re.compile(r"^(?:\d+:)?\[name\].*\[line\]|\[%[pe]\]\s*$")
_KAG_RE = re.compile(
    r"^\s*(?:@(?:[a-z_]\w*)(?:\s|$)|\[(?:cm|er|ct|jump|call|iscript|endscript|macro|endmacro|wait|wt|trans|"
    r"backlay|playbgm|playse|bg|chara_\w+|ptext|position|font|resetfont|image|layopt|current|link|glink)(?:\s[^\]]*)?\]"
    r"|\*[A-Za-z_]\w*(?:\|.*)?$)|\[[plr]\]\s*$"
)
_TYRANO_RE = re.compile(
    r"[\[@](?:chara_\w+|glink|ptext|tb_\w+|clearfix|showmenubutton|hidemenubutton|start_keyconfig|stop_keyconfig"
    r"|layermode|free_layermode|reset_camera|camera|bg|html|endhtml)\b"
)
_ENGINE_EXTENSIONS = {".ks": "kag"}


def _engine_dump(path: Path, head: list[str]) -> Detection | None:
    """sc3tools, KAG or TyranoScript, from the file name and the head's engine markup (or ``None``).

    A few substring tests on the whole head come first (in C), so most files with no engine
    markup (prose, other dumps) are not looked at line by line."""
    name = path.name.lower()
    if name.endswith((".scx.txt", ".msb.txt")):
        return Detection("scx", "sc3tools text file name (.SCX.txt)")
    ext = path.suffix.lower()
    text = "\n".join(head) + "\n"
    # Engine dumps have lines ending in a tag (``[%p]``, ``[p]``) or opening with ``@`` / ``*``.
    tagged = "]\n" in text
    if not tagged and ext not in _ENGINE_EXTENSIONS and "\n@" not in text and "\n*" not in text:
        return None
    maybe_scx = tagged and ("[name]" in text or "[%" in text)
    nonblank = sum(1 for line in head if line.strip()) or 1
    if maybe_scx:
        scx = sum(1 for line in head if "[" in line and _SCX_RE.search(line))
        if scx >= 3 and scx >= 0.2 * nonblank:
            return Detection("scx", "sc3tools [name]/[line]/[%p] markup")
    if ext not in _ENGINE_EXTENSIONS:
        kag = sum(1 for line in head if ("@" in line or "[" in line or "*" in line) and _KAG_RE.search(line))
        if kag < 5 or kag < 0.15 * nonblank:
            return None
    why = f"extension {ext}" if ext in _ENGINE_EXTENSIONS else "KAG tags and commands"
    if _TYRANO_RE.search(text):
        return Detection("tyrano", f"{why}; TyranoScript tags ([chara_new], [glink], ...)")
    return Detection("kag", why)


_RENPY_RE = re.compile(
    r"^\s*(?:define\s+\w+\s*=\s*Character\(|label\s+\w+\s*:|menu\s*:|jump\s+\w+|scene\s+\w|show\s+\w)"
)
_FOUNTAIN_HEADING_RE = re.compile(r"^(?:INT|EXT|EST|INT\.?/EXT|I/E)[. ]\s*\S", re.I)
_FOUNTAIN_TITLE_RE = re.compile(r"^(?:Title|Credit|Author|Draft date|Contact)\s*:", re.I)
_CAPS_CUE_RE = re.compile(r"^\s*[A-Z][A-Z0-9 .'’\-]{1,40}(?:\s*\([^)]*\))?\s*\^?\s*$")
_PLAY_ACT_RE = re.compile(
    r"^\s*(?:(?:FIRST|SECOND|THIRD|FOURTH|FIFTH)\s+ACT|ACT\s+(?:[IVXLC]+|\d+|ONE|TWO|THREE|FOUR|FIVE)\b)",
    re.I,
)
_PLAY_LIST_RE = re.compile(
    r"^\s*(?:THE\s+)?(?:PERSONS\s+(?:OF|IN)\s+THE\s+PLAY|DRAMATIS\s+PERSON[AE]+|CHARACTERS\s+IN\s+THE\s+PLAY)", re.I
)
_PLAY_CUE_RE = re.compile(r"^(?:[A-Z][A-Za-z'’\-]*\.?\s){0,3}[A-Z][A-Za-z'’\-]*\.(?:\s{2,}|\s*\[)\S|^\*\*[^*]{1,40}\*\*")
_VN_INLINE_RE = re.compile(r"^\s*(?=[^\W\d_])(?![a-z])[\w.'’\- ]{1,40}?\s*(?::\s+|：\s*)\S|^\s*\[[A-Z][^\]]{0,39}\]\s*\S|^\s*\S{1,20}「")
_VN_CUE_ONLY_RE = re.compile(r"^\s*(?=[^\W\d_])(?![a-z])[\w.'’\- ]{1,40}?\s*:\s*$")
_QUOTE_RE = re.compile(r"[\"“”]")
# A paragraph opening with a capitals cue and its speech: ``HIGGINS. Liar.``, ``LIZA [shocked] No``,
# ``ROPER:`` / ``ROPER.`` standing alone; not a heading word or a Roman numeral.
_PARA_CUE_RE = re.compile(
    r"^\s*(?!(?:CHAPTER|ACT|SCENE|BOOK|PART|ADVENTURE|STORY|THE END|END)\b)(?![IVXLC]+\.)"
    r"[A-Z][A-Z'’\-]+(?:\s[A-Z][A-Z'’\-]+){0,3}(?:\.\s+\S|\s*\[|\s*[.:]\s*$)"
)


@dataclass
class Detection:
    format: str
    reason: str


def normalize_format(name: str) -> str:
    """A known format name (or ``auto``); anything else is an :class:`AugmentlabError`."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key == "auto" or key in FORMATS:
        return key
    raise AugmentlabError(f"unknown script format {name!r}; choose one of: auto, {', '.join(FORMATS)}")


_TITLE_CUE_RE = re.compile(
    r"^(?P<name>(?:(?:Mr|Mrs|Ms|Dr|St|Rev)\.\s)?(?:[A-Z][a-z'’\-]+\s){0,2}[A-Z][a-z'’\-]+)(?:\s*\([^)]*\))?\.\s+\S"
)


def cue_paragraphs(lines: list[str]) -> tuple[int, int]:
    """``(paragraphs opening with a speaker cue, paragraphs with quotation marks)``.

    A cue is a capitals one (``HIGGINS. Liar.``) or a Title-case name that opens at least
    three paragraphs (``Dr. Stockmann. An article of mine?``)."""
    cues = quoted = 0
    titles: dict[str, int] = {}
    previous = ""
    for line in lines:
        if not previous.strip() and line.strip():
            if _PARA_CUE_RE.match(line):
                cues += 1
            elif _QUOTE_RE.search(line):
                quoted += 1
            else:
                title = _TITLE_CUE_RE.match(line)
                if title:
                    titles[title.group("name")] = titles.get(title.group("name"), 0) + 1
        previous = line
    return cues + sum(n for n in titles.values() if n >= 3), quoted


def detect(
    path: Path, head: list[str], samples: list[list[str]] | Callable[[], list[list[str]]] | None = None
) -> Detection:
    """Guess the format of ``path`` from its extension, first lines and ``samples`` (windows
    of lines from further into the file, or a function giving them: read only when the head
    looks like prose or gives no clear markers, for a play inside prose: a preface, a sequel)."""
    found = _detect_head(path, head)
    if found.format == "prose" or found.reason.startswith("no clear markers"):
        samples = samples() if callable(samples) else samples
    else:
        samples = None
    if samples:
        # A long prose preface can fill the head: the play format wins when speaker cues carry
        # the dialogue in most windows further in.
        playlike = vnlike = 0
        for window in samples:
            cues, quoted = cue_paragraphs(window)
            vn = sum(1 for line in window if _VN_INLINE_RE.match(line) or _VN_CUE_ONLY_RE.match(line))
            if cues >= 8 and cues > 2 * quoted and cues > vn:
                playlike += 1
            elif vn >= 8 and vn >= 0.1 * sum(1 for line in window if line.strip()) and vn > 2 * quoted:
                vnlike += 1  # ``NAME: speech`` cues further in (a dialogue after its introduction)
        if playlike * 2 > len(samples):
            return Detection(
                "play", f"speaker cues carry the dialogue in {playlike} of {len(samples)} windows (prose around the play)"
            )
        if found.format == "prose" and vnlike * 2 > len(samples):
            return Detection("vn", f"Name: line dialogue in {vnlike} of {len(samples)} windows (prose before it)")
    return found


def _detect_head(path: Path, head: list[str]) -> Detection:
    ext = path.suffix.lower()
    if ext in _EXTENSIONS:
        return Detection(_EXTENSIONS[ext], f"extension {ext}")
    engine = _engine_dump(path, head)
    if engine is not None:
        return engine
    renpy = sum(1 for line in head if _RENPY_RE.match(line))
    if renpy >= 3 and any("Character(" in line for line in head):
        return Detection("renpy", "Ren'Py statements")
    headings = sum(1 for line in head if _FOUNTAIN_HEADING_RE.match(line))
    acts = sum(1 for line in head if _PLAY_ACT_RE.match(line))
    play_list = any(_PLAY_LIST_RE.match(line) for line in head)
    play_cues = 0
    caps_cues = 0
    previous = ""
    for i, line in enumerate(head):
        if not previous.strip():
            if _PLAY_CUE_RE.match(line):
                play_cues += 1
            nxt = head[i + 1] if i + 1 < len(head) else ""
            if _CAPS_CUE_RE.match(line) and nxt.strip() and not _FOUNTAIN_HEADING_RE.match(line):
                caps_cues += 1
        previous = line
    vn = sum(1 for line in head if _VN_INLINE_RE.match(line) or _VN_CUE_ONLY_RE.match(line))
    title_page = bool(head) and bool(_FOUNTAIN_TITLE_RE.match(head[0]))
    if headings >= 1 and caps_cues >= 2 and acts == 0 and (title_page or headings >= 2 or caps_cues > vn):
        return Detection("fountain", "INT./EXT. scene headings and character cues")
    if (acts or play_list) and play_cues + caps_cues >= 3:
        return Detection("play", "act headings and speaker cues")
    if play_cues >= 5 and play_cues > vn:
        return Detection("play", "NAME. speaker cues")
    para_cues, quoted = cue_paragraphs(head)
    if (acts or play_list) and para_cues >= 5 and para_cues > quoted:
        return Detection("play", "act headings and speaker cues")
    nonblank = sum(1 for line in head if line.strip()) or 1
    if vn >= 3 and vn >= 0.1 * nonblank:
        return Detection("vn", "Name: line dialogue")
    quotes = sum(len(_QUOTE_RE.findall(line)) for line in head)
    if quotes >= 4:
        return Detection("prose", "quoted dialogue in paragraphs")
    if renpy >= 1 and any("Character(" in line for line in head):
        return Detection("renpy", "Ren'Py character definitions")
    return Detection("vn", "no clear markers; read as a visual-novel dump")
