"""The cast: one name per character, however the script spells it.

Obvious variants merge automatically: case (``Liza`` / ``LIZA``), dots and trailing
punctuation (``MRS HIGGINS`` / ``MRS. HIGGINS`` / ``Mrs. Higgins:``), screenplay extensions
(``JOHN (V.O.)``, ``JOHN (CONT'D)``), a dual-dialogue caret, runs of white space. The first
spelling seen is the one used. A user alias map (``{"THE FLOWER GIRL": "LIZA"}``) maps names
onto others before that. Works as a stream: names are resolved as lines arrive.

Shortened names merge into the fuller one when the speakers are known in advance
(:meth:`Cast.expect`, given every speaker label of the file before the lines arrive): a name
that is the end of exactly one fuller name (``Holmes`` → ``Sherlock Holmes``, ``Mr. Wilson`` →
``Mr. Jabez Wilson``) or that name without its title (``Bradstreet`` → ``Inspector
Bradstreet``). A title must match (``Mr. Holmes`` never merges into ``Mycroft Holmes`` or
``Mrs. Holmes``), and a bare name never merges into a woman's titled name (``Montague`` is not
``Lady Montague``); a name that could belong to several characters stays as it is, with a
warning naming them (a user alias settles it).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import Character

_EXTENSION_RE = re.compile(r"\s*\((?:[^()]*)\)\s*$")
_TRAILING_RE = re.compile(r"[\s.:;,!?^*_\-–—]+$")
_LEADING_RE = re.compile(r"^[\s*_\[@]+")
_WS_RE = re.compile(r"\s+")
_HONORIFICS = frozenset(
    "mr mrs ms miss master mister dr doctor sir lord lady dame madame mme mlle monsieur rev reverend "
    "prof professor inspector colonel col captain capt major general gen lieutenant lt sergeant sgt "
    "constable".split()
)
"""Words that, leading a name, are a title rather than part of the name (for :meth:`Cast.expect`)."""
USUAL_MENTIONS = 3
"""Mentions a shorter form needs before it, not the fullest form, names a character (prose)."""
_FEMININE = frozenset("mrs ms miss lady dame madame mme mlle".split())
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "sir", "lord", "lady", "the", "of", "rev", "hon", "canon", "st"}


_PLACEHOLDER_RE = re.compile(r"^[\s?？!！.。・…\-ー―*＊]*$")


def is_placeholder(name: str) -> bool:
    """A name a game shows for someone not yet introduced (``???``, ``？？？``, ``?``): no letters."""
    return bool(_PLACEHOLDER_RE.match(name))


def placeholder_key(name: str) -> str:
    """The key of a placeholder name: ``？？？`` and ``???`` are the same placeholder."""
    return name.strip().replace("？", "?").replace("！", "!")


def clean_name(name: str) -> str:
    """A display form: extensions, markup and trailing punctuation removed."""
    name = _LEADING_RE.sub("", name)
    name = name.replace("]", " ")
    while True:
        stripped = _EXTENSION_RE.sub("", name)
        if stripped == name:
            break
        name = stripped
    name = _TRAILING_RE.sub("", name)
    return _WS_RE.sub(" ", name).strip()


def name_key(name: str) -> str:
    """The key two spellings of one character share."""
    name = clean_name(name).replace(".", " ").replace("’", "'")
    return _WS_RE.sub(" ", name).strip().casefold()


def _words(name: str) -> set[str]:
    return {w for w in re.findall(r"[\w']+", name_key(name)) if w not in _TITLES}


def _title_and_name(key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A name key split into its leading titles and the name proper (at least one word)."""
    words = re.findall(r"[\w']+", key)
    i = 0
    while i < len(words) - 1 and words[i] in _HONORIFICS:
        i += 1
    return tuple(words[:i]), tuple(words[i:])


def _shortens(short: tuple[tuple[str, ...], tuple[str, ...]], full: tuple[tuple[str, ...], tuple[str, ...]]) -> bool:
    """Whether ``short`` is a shortened form of ``full`` (both from :func:`_title_and_name`).

    The end of the fuller name (``Holmes`` / ``Sherlock Holmes``), with the same title or none
    (``Mr. Wilson`` / ``Mr. Jabez Wilson``), or the same name without a title (``Bradstreet`` /
    ``Inspector Bradstreet``).
    """
    short_titles, short_name = short
    full_titles, full_name = full
    if short_titles and short_titles != full_titles:
        return False
    if not short_titles and _FEMININE.intersection(full_titles):
        return False  # a bare surname is not taken for Mrs./Miss/Lady X (the narration's "said X" is a man)
    if short_name == full_name:
        return not short_titles and bool(full_titles)
    return len(short_name) < len(full_name) and full_name[-len(short_name) :] == short_name


class Cast:
    """Resolves speaker spellings to one name per character and collects :class:`Character` s."""

    def __init__(self, aliases: dict[str, str] | None = None) -> None:
        self._alias = {name_key(k): v for k, v in (aliases or {}).items() if name_key(k) and not is_placeholder(k)}
        # ``--alias ???=Kurisu``: a placeholder name maps to a character only when the user says so.
        self._placeholder_alias = {placeholder_key(k): v for k, v in (aliases or {}).items() if is_placeholder(k) and k.strip()}
        self._canonical: dict[str, str] = {}
        self._variants: dict[str, dict[str, None]] = {}
        self._listed: list[Character] = []
        self._counts: dict[str, int] = {}
        self._memo: dict[str, str | None] = {}
        self._merge: dict[str, str] = {}
        self._peeked: dict[str, str] = {}
        self._display: dict[str, str] = {}

    def expect(
        self,
        names: Iterable[str],
        warnings: list[str] | None = None,
        distinct: Iterable[tuple[str, str]] = (),
        mentions: Mapping[str, int] | None = None,
    ) -> None:
        """Learn every speaker label of the script up front, so shortened names merge.

        Each label that is a shortened form of exactly one fuller label (see the module
        docstring) resolves to that label from now on. A label that shortens several distinct
        characters is left alone, and a line saying so is appended to ``warnings``. Names a user
        alias maps are taken as mapped; an alias target is never merged further. Pairs in
        ``distinct`` are two people (prose: ``Mr. Knightley`` and
        ``Mr. John Knightley`` named in one sentence) and are never merged.

        A merged character is named by its fullest form, unless ``mentions`` (how often the text
        names each form; prose) shows a shorter form used most: then the lines and the cast call
        them that, the way the book and its readers do (``Kemp``, named 300 times, not ``Dr.
        Kemp``, named 10 times), and the fuller forms are its aliases. The form needs at least
        :data:`USUAL_MENTIONS` mentions, and more than the fullest form. Matching stays on the
        fullest form (:meth:`canonical`, :meth:`peek`): it holds every name word.
        """
        apart = {frozenset((name_key(a), name_key(b))) for a, b in distinct}
        shown_by_key: dict[str, str] = {}
        pinned: set[str] = set()
        for name in names:
            shown = clean_name(name)
            key = name_key(shown)
            if not key:
                continue
            target = self._alias.get(key)
            if target is not None:
                shown = clean_name(target)
                key = name_key(shown)
                pinned.add(key)
            shown_by_key.setdefault(key, shown)
        parts = {key: _title_and_name(key) for key in shown_by_key}
        order = sorted(shown_by_key, key=lambda k: (-len(parts[k][1]), -len(parts[k][0])))
        root: dict[str, str] = {}
        ambiguous: dict[str, list[str]] = {}
        for key in order:
            roots = list(
                dict.fromkeys(
                    root[k]
                    for k in root
                    if _shortens(parts[key], parts[k]) and frozenset((key, k)) not in apart
                )
            )
            if len(roots) == 1 and key not in pinned:
                root[key] = roots[0]
            else:
                root[key] = key
                if len(roots) > 1 and key not in pinned:
                    ambiguous[key] = roots
        if mentions:
            self._display = self._usual_names(shown_by_key, root, pinned, mentions)
        for key in shown_by_key:
            if root[key] != key:
                self._merge[key] = shown_by_key[root[key]]
            elif key in ambiguous and warnings is not None:
                shown = shown_by_key[key]
                options = ", ".join(repr(shown_by_key[k]) for k in ambiguous[key])
                warnings.append(
                    f"speaker {shown!r} left unmerged: it may be any of {options} "
                    f"(choose with --alias \"{shown}=NAME\")"
                )
        self._memo.clear()
        self._peeked.clear()

    @staticmethod
    def _usual_names(shown_by_key: dict[str, str], root: dict[str, str], pinned: set[str],
                     mentions: Mapping[str, int]) -> dict[str, str]:
        """The fullest form of a merged character -> the form it is mostly called by, where that
        is another (see :meth:`expect`)."""
        counts: dict[str, int] = {}
        for name, n in mentions.items():
            key = name_key(name)
            if key in root:
                counts[key] = counts.get(key, 0) + n
        groups: dict[str, list[str]] = {}
        for key, top in root.items():
            groups.setdefault(top, []).append(key)
        usual: dict[str, str] = {}
        for top, members in groups.items():
            if len(members) < 2 or top in pinned:
                continue
            best = max(members, key=lambda k: (counts.get(k, 0), len(k)))
            if best != top and counts.get(best, 0) >= USUAL_MENTIONS and counts.get(best, 0) > counts.get(top, 0):
                usual[shown_by_key[top]] = shown_by_key[best]
        return usual

    def display(self, name: str | None) -> str | None:
        """The name the lines and the cast show for a canonical name (see :meth:`expect`)."""
        return self._display.get(name, name) if name is not None else None

    def resolve(self, name: str | None, *, count: bool = True) -> str | None:
        """The name lines show for a spelling (``None`` stays ``None``): its character's
        canonical name, or the usual form :meth:`expect` chose for it."""
        if name is None:
            return None
        known = self._memo.get(name, "")
        if known != "":
            if count and known is not None:
                self._counts[known] = self._counts.get(known, 0) + 1
            return known
        result = self._resolve(name, count=False)
        if result is not None:
            result = self._display.get(result, result)
            if count:
                self._counts[result] = self._counts.get(result, 0) + 1
        if len(self._memo) < 100_000:
            self._memo[name] = result
        return result

    def canonical(self, name: str) -> str | None:
        """The canonical (fullest) name of a spelling, added to the cast but not counted: what
        attribution matches names against (every name word of the character is in it)."""
        return self._resolve(name, count=False)

    def peek(self, name: str) -> str:
        """The name ``name`` would resolve to, without adding it to the cast (prose mentions)."""
        known = self._peeked.get(name)
        if known is not None:
            return known
        result = self._peek(name)
        if len(self._peeked) < 100_000:
            self._peeked[name] = result
        return result

    def _peek(self, name: str) -> str:
        shown = clean_name(name)
        key = name_key(shown)
        target = self._alias.get(key)
        if target is not None:
            shown = clean_name(target)
        else:
            shown = self._merge.get(key, shown)
        return self._canonical.get(name_key(shown), shown)

    def _resolve(self, name: str, *, count: bool) -> str | None:
        if is_placeholder(name):
            # ``???``: nobody in particular, unless an alias names them (then an alias of theirs).
            target = self._placeholder_alias.get(placeholder_key(name))
            if target is None:
                return None
            canonical = self._resolve(target, count=count)
            if canonical is not None:
                self._variants.setdefault(canonical, {}).setdefault(name.strip(), None)
            return canonical
        shown = clean_name(name)
        if not shown:
            return None
        key = name_key(shown)
        target = self._alias.get(key)
        if target is not None:
            alias_shown = shown
            shown = clean_name(target)
            key = name_key(shown)
        else:
            alias_shown = None
            merged = self._merge.get(key)
            if merged is not None:
                alias_shown = shown
                shown = merged
                key = name_key(shown)
        if key not in self._canonical:
            self._peeked.clear()  # a new canonical spelling: what peek said may change
        canonical = self._canonical.setdefault(key, shown)
        variants = self._variants.setdefault(canonical, {})
        for variant in (shown, alias_shown):
            if variant and variant != canonical:
                variants.setdefault(variant, None)
        if count:
            self._counts[canonical] = self._counts.get(canonical, 0) + 1
        return canonical

    def add_listed(self, name: str, description: str | None = None) -> None:
        """A character from a cast list (dramatis personae), with its description."""
        name = clean_name(name)
        if name:
            self._listed.append(Character(name=name, description=description or None))

    @property
    def counts(self) -> dict[str, int]:
        """Lines per canonical speaker, in order of first appearance."""
        return dict(self._counts)

    def characters(self) -> list[Character]:
        """Speakers in order of first appearance, merged with the cast list.

        A cast-list entry is matched to a speaker by name, or when the speaker's name words
        (titles like Lord/Mrs aside) all occur in exactly one entry (``LORD GORING`` ↔
        ``VISCOUNT GORING``); unmatched cast-list entries are kept too.
        """
        out: list[Character] = []
        used: set[int] = set()
        for canonical in self._canonical.values():
            shown = self._display.get(canonical, canonical)
            if shown not in self._counts and canonical not in self._variants:
                continue
            aliases = [a for a in (canonical, *self._variants.get(canonical, {})) if a != shown]
            match = self._match_listed(canonical, used)
            description = None
            if match is not None:
                used.add(match)
                listed = self._listed[match]
                description = listed.description
                if name_key(listed.name) != name_key(canonical) and listed.name not in aliases:
                    aliases.append(listed.name)
            out.append(Character(name=shown, aliases=aliases, description=description))
        seen = {name_key(c.name) for c in out}
        for i, listed in enumerate(self._listed):
            if i not in used and name_key(listed.name) not in seen:
                out.append(listed)
                seen.add(name_key(listed.name))
        return out

    def _match_listed(self, name: str, used: set[int]) -> int | None:
        key = name_key(name)
        for i, listed in enumerate(self._listed):
            if i not in used and name_key(listed.name) == key:
                return i
        words = _words(name)
        if not words:
            return None
        hits = [i for i, listed in enumerate(self._listed) if i not in used and words <= _words(listed.name)]
        return hits[0] if len(hits) == 1 else None


def parse_alias_args(values: list[str] | None) -> dict[str, str]:
    """``["A=B", ...]`` (CLI ``--alias``) as a mapping; a malformed item is an error."""
    out: dict[str, str] = {}
    for value in values or []:
        if "=" not in value:
            raise AugmentlabError(f"--alias expects NAME=CANONICAL, got {value!r}")
        left, right = (part.strip() for part in value.split("=", 1))
        if not left or not right:
            raise AugmentlabError(f"--alias expects NAME=CANONICAL, got {value!r}")
        out[left] = right
    return out


def load_alias_file(path: str | Path) -> dict[str, str]:
    """An alias map from TOML: top-level ``"A" = "B"`` pairs, or an ``[aliases]`` table."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AugmentlabError(f"alias file not found: {p}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise AugmentlabError(f"cannot read alias file {p}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AugmentlabError(f"alias file {p} is not valid TOML: {exc}") from exc
    table = data.get("aliases", data)
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise AugmentlabError(f"alias file {p} must map names to names (\"A\" = \"B\")")
    return {str(k): v for k, v in table.items()}
