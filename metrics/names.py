"""Names in a scene: which capitalised words are names, who is in the cast, who a sentence is about.

Heuristics shared by :func:`metrics.consistency.cast` (invented names, a character acting in
another's line), :mod:`metrics.facts` (whose fact a sentence states) and :mod:`metrics.relevance`
(an action that is only a name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from augmentlab.core.model import GoldExample
from augmentlab.core.text import words

__all__ = [
    "NOT_NAMES",
    "cast_names",
    "invented_names",
    "known_names_for",
    "name_tokens",
    "name_variants",
    "same_person",
    "sentence_subject",
]

# Capitalised words that are not character names: pronouns, determiners, common sentence
# starters, titles, time and place words. A heuristic list — see :func:`cast` for its limits.
NOT_NAMES = set(
    """
    i i'm i'll i'd i've me my mine myself we us our you your he him his she her hers they them
    their it its this that these those there here a an the and but or nor so yet for if then
    when while as at in on of to by with from into onto over under after before behind beside
    between through during until since because though although once now later still just only
    even also already again soon meanwhile suddenly finally slowly quickly quietly outside inside
    across around above below near far up down off out back away somewhere nobody someone
    everyone everybody nothing something everything no yes not oh ah ahem well what why how who
    whom whose which where all both each every some any many much more most few several another
    other one two three four five six seven eight nine ten first second third last next
    mr mrs ms miss sir madam lady lord dr doctor captain professor master mistress dame king
    queen prince princess duke duchess earl count countess father mother uncle aunt brother
    sister reverend rev st saint god heaven hell christmas easter
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december spring summer autumn winter
    morning evening afternoon night today tomorrow yesterday
    london paris england english france french america american street square house hall room
    park road lane garden manor court hotel station church club city town
    act scene enter exit exeunt curtain end
    still scene's let let's don't can't won't isn't it's that's there's what's
    """.split()
)


def name_tokens(name: str) -> set[str]:
    """Lower-cased tokens of ``name`` that may stand for it, and the whole name."""
    return {w for w in re.findall(r"[A-Za-z][\w'-]*", name.lower())} - NOT_NAMES | (
        {name.lower()} if name else set()
    )


def known_names_for(gold: GoldExample, extra: Iterable[str] = ()) -> set[str]:
    """Lower-cased tokens that may appear as names: the cast, persona keys, known names, and
    every capitalised word the humans (or the gold reference) already wrote for this scene."""
    known: set[str] = set()
    scene = gold.scene
    for line in list(scene.context) + list(scene.lines):
        if line.speaker:
            known |= name_tokens(line.speaker)
    for name in list(gold.personas) + list(extra):
        known |= name_tokens(name)
    texts: list[str] = [ln.text for ln in list(scene.context) + list(scene.lines)]
    texts += [d for ln in scene.lines for d in ln.directions] + list(scene.directions)
    texts += [t for t in (scene.heading, scene.setting, gold.scenario) if t]
    texts += list(gold.personas.values()) + list(gold.annotated or [])
    for text in texts:
        known |= {w.lower() for w in _CAP_RE.findall(text)}
    return known


_CAP_RE = re.compile(r"\b[A-Z][a-zA-Z]+(?:[-'][A-Z]?[a-z]+)*\b")
_SENT_START_RE = re.compile(r"(^|[.!?…:;]\s+|[\"“(*]\s*)$")


def _candidates(text: str) -> list[tuple[str, bool]]:
    """Capitalised words and whether each starts a sentence."""
    out = []
    for m in _CAP_RE.finditer(text):
        before = text[max(0, m.start() - 4) : m.start()]
        initial = m.start() == 0 or bool(_SENT_START_RE.search(before))
        word = m.group(0)
        if word.endswith("'s"):
            word = word[:-2]
        out.append((word, initial))
    return out


def invented_names(text: str, known: set[str], lowered_vocab: set[str]) -> list[str]:
    """Capitalised words of ``text`` that look like names nobody introduced (see :func:`metrics.consistency.cast`)."""
    found: list[str] = []
    for word, initial in _candidates(text):
        low = word.lower()
        if low in known or low in NOT_NAMES or len(low) < 3:
            continue
        if initial and low in lowered_vocab:
            continue  # a common word that starts a sentence ("Rain falls ...") when seen lower-case
        if word.isupper():
            continue  # SHOUTING or acronyms
        if low not in (f.lower() for f in found):
            found.append(word)
    return found


def cast_names(gold: GoldExample, extra: Iterable[str]) -> list[str]:
    """The scene's speakers, persona keys and ``extra`` names, longest first."""
    names = {ln.speaker for ln in gold.scene.lines + gold.scene.context if ln.speaker}
    names |= set(gold.personas) | {n for n in extra if n}
    return sorted(names, key=len, reverse=True)


def same_person(a: str, b: str) -> bool:
    """Same character: equal, or one name's words (titles included) are within the other's
    ("Ilse" / "Professor Ilse Varga"), so "Lady Chiltern" and "Sir Robert Chiltern" differ."""
    ta, tb = set(words(a)), set(words(b))
    return a.lower() == b.lower() or bool(ta and tb and (ta <= tb or tb <= ta))


def name_variants(name: str) -> list[str]:
    """``name`` and each of its words that may stand for it alone ("Ilse" of "Professor Ilse Varga")."""
    return [name] + [t for t in name.split() if len(t) > 2 and t.lower() not in NOT_NAMES]


def sentence_subject(sentence: str, names: Sequence[str]) -> str | None:
    """The cast member a sentence starts with (its grammatical subject, heuristically)."""
    s = re.sub(r"^[\W_]+", "", sentence)
    s = re.sub(r"^(?:then|suddenly|slowly|quickly|finally|now|still|meanwhile|again),?\s+", "", s, flags=re.I)
    s = re.sub(r"^(?:Mr|Mrs|Ms|Miss|Lady|Lord|Sir|Dr|Captain)\.?\s+", "", s)
    for name in names:
        for variant in name_variants(name):
            if re.match(re.escape(variant) + r"\b(?!')", s):
                return name
    return None
