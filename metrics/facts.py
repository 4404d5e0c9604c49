"""Persona facts: hair and eye colour, height, age and relationships, read from text by rules.

:func:`persona_facts` reads what the persona notes state; :func:`extract_facts` what a scenario
or an action states, each fact owned by the nearest cast name before it (or the speaker, for
"I/my" in their own line); :func:`contradicts` compares two facts (colour families: "auburn" =
"red", "dark" fits black or brown; ages more than 2 years apart; "Alice is Bob's sister" vs
"Bob's wife Alice"). :func:`metrics.consistency.contradiction` is the check built on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from augmentlab.core.model import GoldExample
from metrics.format import sentences
from metrics.names import cast_names, name_variants

__all__ = ["REL_FAMILY", "Fact", "contradicts", "extract_facts", "persona_facts"]

_COLOUR_FAMILY = {
    "red": {"red"}, "auburn": {"red"}, "ginger": {"red"}, "copper": {"red"},
    "blonde": {"blonde"}, "blond": {"blonde"}, "fair": {"blonde"}, "golden": {"blonde"},
    "flaxen": {"blonde"}, "brown": {"brown"}, "chestnut": {"brown"}, "brunette": {"brown"},
    "black": {"black"}, "raven": {"black"}, "jet": {"black"}, "dark": {"black", "brown"},
    "grey": {"grey"}, "gray": {"grey"}, "silver": {"grey", "white"}, "white": {"white", "grey"},
    "blue": {"blue"}, "green": {"green"}, "hazel": {"hazel", "brown", "green"}, "amber": {"amber", "brown"},
}
_HAIR_COLOURS = "red|auburn|ginger|copper|blonde|blond|fair|golden|flaxen|brown|chestnut|brunette|black|raven|jet|dark|grey|gray|silver|white"
_EYE_COLOURS = "blue|green|brown|hazel|grey|gray|black|dark|amber"
_HEIGHT = {"tall": "tall", "towering": "tall", "lanky": "tall", "short": "short", "petite": "short",
           "diminutive": "short", "tiny": "short"}
REL_FAMILY = {
    "sister": "sibling", "brother": "sibling", "wife": "spouse", "husband": "spouse",
    "mother": "parent", "father": "parent", "son": "child", "daughter": "child",
    "aunt": "auntuncle", "uncle": "auntuncle", "niece": "niblings", "nephew": "niblings",
    "cousin": "cousin", "fiancée": "engaged", "fiancé": "engaged", "fiancee": "engaged",
    "fiance": "engaged", "friend": "friend", "lover": "lover", "servant": "servant",
    "butler": "servant", "maid": "servant", "employer": "employer", "master": "employer",
    "guardian": "guardian", "ward": "ward", "grandmother": "grandparent", "grandfather": "grandparent",
}
_INVERSE = {"sibling": {"sibling"}, "spouse": {"spouse"}, "parent": {"child"}, "child": {"parent"},
            "auntuncle": {"niblings"}, "niblings": {"auntuncle"}, "cousin": {"cousin"},
            "engaged": {"engaged"}, "friend": {"friend"}, "lover": {"lover"},
            "servant": {"employer"}, "employer": {"servant"}, "guardian": {"ward"}, "ward": {"guardian"},
            "grandparent": set()}
_RELS = "|".join(sorted(REL_FAMILY, key=len, reverse=True))
_POSSESSIVE_REL = re.compile(rf"'s\s+(?:\w+\s+)?(?:{_RELS})\b")
"""What follows a name that names its bearer as someone's relative ("Bob's wife"), not a subject."""
_NUM_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_NUM_WORDS.update({w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())})
_NUM = r"(\d{1,3}|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|" + "|".join(list(_NUM_WORDS)[:20]) + r")"

_ATTR_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("hair", re.compile(rf"\b({_HAIR_COLOURS})[- ]?(?:haired|hair|curls|locks|locs|braids?|ponytail|mane)\b", re.I)),
    ("hair", re.compile(rf"\bhair\s+(?:is|was|of|,)?\s*(?:a\s+)?(?:deep\s+|bright\s+|pale\s+)?({_HAIR_COLOURS})\b", re.I)),
    ("eyes", re.compile(rf"\b({_EYE_COLOURS})[- ](?:eyed|eyes)\b", re.I)),
    ("eyes", re.compile(rf"\beyes\s+(?:are|were|of)\s+({_EYE_COLOURS})\b", re.I)),
    ("height", re.compile(r"(?:^|(?:\b(?:is|stands|looks|very|rather|quite|a|an)|,)\s+)(tall|towering|lanky|short|petite|diminutive|tiny)\b(?!\s+(?:[\w-]+\s+)?(?:hair|beard|locs|locks|curls|braids?|ponytail|nails|sleeves|skirt|coat|jacket|story|answer|reply|while|time|pause|breath|walk|silence|distance|laugh|note|letter|way|moment))", re.I)),
    ("age", re.compile(rf"\b{_NUM}[- ]years?[- ]old\b", re.I)),
    ("age", re.compile(rf"\b(?:aged|age|of age)\s+{_NUM}\b", re.I)),
]


def _num(text: str) -> int | None:
    text = text.lower().replace("-", " ")
    if text.isdigit():
        return int(text)
    total = 0
    for part in text.split():
        if part not in _NUM_WORDS:
            return None
        total += _NUM_WORDS[part]
    return total


@dataclass
class Fact:
    who: str
    attr: str
    """``hair`` | ``eyes`` | ``height`` | ``age`` | ``rel:<Other>`` (who is Other's <value>)."""
    value: str
    text: str


def _owner(before: str, names: Sequence[str], speaker: str | None, last: str | None) -> str | None:
    """Whose statement follows ``before``: the last name in it (or ``speaker`` for I/my), else ``last``."""
    best: tuple[int, str | None] = (-1, None)
    for name in names:
        for variant in name_variants(name):
            for m in re.finditer(r"\b" + re.escape(variant) + r"\b", before):
                if _POSSESSIVE_REL.match(before[m.end():]):
                    continue  # "Bob's wife" names Bob as the relative, not the subject
                if m.start() > best[0]:
                    best = (m.start(), name)
    if speaker:
        for m in re.finditer(r"\b(?:I|my|me|myself)\b", before):
            if m.start() > best[0]:
                best = (m.start(), speaker)
    return best[1] or last


def extract_facts(
    text: str, names: Sequence[str], *, speaker: str | None = None, default: str | None = None
) -> list[Fact]:
    """Persona-style facts stated in ``text`` (rule-based).

    ``speaker`` owns first-person statements ("my red hair"); ``default`` owns statements with
    no name before them (a persona card's subject).
    """
    facts: list[Fact] = []
    last = default
    for sent in sentences(text) or [text]:
        for attr, pat in _ATTR_PATTERNS:
            for m in pat.finditer(sent):
                who = _owner(sent[: m.start()], names, speaker, last)
                if who is None:
                    continue
                raw = m.group(1).lower()
                value = str(_num(raw)) if attr == "age" else _HEIGHT.get(raw, raw)
                if value in ("None",):
                    continue
                facts.append(Fact(who, attr, value, sent.strip()))
        for a, b, rel in _relations(sent, names, last):
            facts.append(Fact(a, f"rel:{b}", rel.lower(), sent.strip()))
        subject = _first_name(sent, names)
        if subject:
            last = subject  # pronouns in the next sentence refer to this sentence's subject
    return facts


def _first_name(sent: str, names: Sequence[str]) -> str | None:
    """The cast member named first in ``sent`` (not as someone's relative)."""
    best: tuple[int, str | None] = (len(sent) + 1, None)
    for name in names:
        for variant in name_variants(name):
            m = re.search(r"\b" + re.escape(variant) + r"\b", sent)
            if m and m.start() < best[0] and not _POSSESSIVE_REL.match(sent[m.end():]):
                best = (m.start(), name)
    return best[1]


def _relations(sent: str, names: Sequence[str], subject: str | None) -> list[tuple[str, str, str]]:
    """(A, B, rel) meaning "A is B's rel"."""
    if not names:
        return []
    alt = "|".join(
        re.escape(v)
        for n in names
        for v in sorted(set(name_variants(n)), key=len, reverse=True)
    )
    full = {v: n for n in names for v in [n, *[t for t in n.split() if len(t) > 2]]}
    out: list[tuple[str, str, str]] = []
    n_ = rf"({alt})"
    for m in re.finditer(rf"{n_},?\s+(?:is|was|,)?\s*(?:the\s+)?{n_}'s\s+(?:\w+\s+)?({_RELS})\b", sent):
        out.append((full[m.group(1)], full[m.group(2)], m.group(3)))
    for m in re.finditer(rf"\b{n_}'s\s+(?:\w+\s+)?({_RELS}),?\s+{n_}\b", sent):
        out.append((full[m.group(3)], full[m.group(1)], m.group(2)))
    for m in re.finditer(rf"\b({_RELS})\s+of\s+{n_}\b", sent):
        before = sent[: m.start()]
        a = _owner(before, names, None, subject)
        if a and a != full[m.group(2)]:
            out.append((a, full[m.group(2)], m.group(1)))
    for m in re.finditer(rf"^(?:[\w ,]*?)\b{n_}'s\s+({_RELS})\b", sent):
        if subject and not any(o[1] == full[m.group(1)] for o in out) and subject != full[m.group(1)]:
            out.append((subject, full[m.group(1)], m.group(2)))
    return out


def persona_facts(gold: GoldExample, extra_names: Iterable[str] = ()) -> list[Fact]:
    """Facts stated in the persona notes (the persona's key owns sentences without a name)."""
    names = cast_names(gold, extra_names)
    out: list[Fact] = []
    for who, text in gold.personas.items():
        out.extend(extract_facts(text, names, default=who))
    return out


def _conflict(known: Fact, said: Fact) -> bool:
    if known.attr != said.attr:
        return False
    if known.attr in ("hair", "eyes"):
        return not (_COLOUR_FAMILY.get(known.value, {known.value}) & _COLOUR_FAMILY.get(said.value, {said.value}))
    if known.attr == "age":
        return abs(int(known.value) - int(said.value)) > 2
    return known.value != said.value


def _rel_conflict(known: Fact, said: Fact) -> bool:
    """Relations: same direction → different value; opposite direction → incompatible family."""
    ka, kb = known.who, known.attr[4:]
    sa, sb = said.who, said.attr[4:]
    if (ka, kb) == (sa, sb):
        return known.value != said.value
    if (ka, kb) == (sb, sa):
        return REL_FAMILY.get(said.value) not in _INVERSE.get(REL_FAMILY.get(known.value, ""), set())
    return False


def contradicts(known: Fact, said: Fact) -> bool:
    """Does ``said`` contradict the persona fact ``known`` (same attribute of the same person, or
    the same relation either way round, with an incompatible value)?"""
    if said.attr.startswith("rel:") and known.attr.startswith("rel:"):
        return _rel_conflict(known, said)
    return known.who == said.who and _conflict(known, said)
