"""Detail consistency: verbatim words, cast, grounding and contradictions.

Each check is a small function returning a :class:`Check` (a score in [0, 1], the issues found
as short sentences, and details). :mod:`metrics.composite` combines them.

- :func:`verbatim` — every human word kept, in order, per line; no line dropped, merged,
  duplicated or reattributed. Score = share of lines kept exactly.
- :func:`cast` — no invented characters (capitalised names must be known) and no character
  acting in another character's line.
- :func:`grounding` — each scenario sentence is supported by the scene / personas.
- :func:`contradiction` — rule-based persona fact checker (hair/eye colour, height, age,
  relationships), with an optional judge hook.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from augmentlab.core.model import GoldExample, Line, Scene
from augmentlab.core.text import (
    actions,
    collapse_ws,
    is_verbatim,
    normalize_spoken,
    spoken_text,
    words,
)

__all__ = [
    "Check",
    "cast",
    "contradiction",
    "grounding",
    "known_names_for",
    "persona_facts",
    "verbatim",
]


@dataclass
class Check:
    """The result of one check."""

    score: float
    issues: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# verbatim


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


def _missing_words(spoken: str, original: str) -> tuple[list[str], list[str]]:
    sm = difflib.SequenceMatcher(None, words(original), words(spoken), autojunk=False)
    ow, sw = words(original), words(spoken)
    lost: list[str] = []
    added: list[str] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op in ("delete", "replace"):
            lost.extend(ow[i1:i2])
        if op in ("insert", "replace"):
            added.extend(sw[j1:j2])
    return lost, added


def _speaker_prefix(annotated: str, names: Iterable[str]) -> str | None:
    head = re.sub(r"^\W+", "", annotated)
    for name in names:
        if name and re.match(re.escape(name) + r"\s*:", head, flags=re.IGNORECASE):
            return name
    return None


def verbatim(lines: Sequence[Line], annotated: Sequence[Any] | None) -> Check:
    """Check that the annotated lines give back each human line exactly, in order.

    Lines are aligned by index. Missing lines, extra lines, non-string entries, speaker-name
    prefixes and words that belong to another line (merged / duplicated / reattributed) are
    reported. Score = exactly-kept lines / max(#gold lines, #predicted lines).
    """
    if annotated is None:
        return Check(0.0, ["no annotated lines were produced"], {"exact": []})
    names = sorted({ln.speaker for ln in lines if ln.speaker}, key=len, reverse=True)
    originals = [ln.text for ln in lines]
    norm_orig = [normalize_spoken(t) for t in originals]
    issues: list[str] = []
    exact: list[bool] = []
    ratios: list[float] = []
    for i, line in enumerate(lines):
        n = i + 1
        if i >= len(annotated):
            exact.append(False)
            ratios.append(0.0)
            continue
        ann = annotated[i]
        if not isinstance(ann, str):
            exact.append(False)
            ratios.append(0.0)
            issues.append(f"line {n} is not text ({type(ann).__name__})")
            continue
        ok = is_verbatim(ann, line.text)
        spoken = spoken_text(ann, line.text)
        ratios.append(1.0 if ok else _ratio(spoken, line.text))
        exact.append(ok)
        if ok:
            continue
        prefix = _speaker_prefix(ann, names)
        if prefix is not None:
            other = "" if prefix == line.speaker else f" (another speaker's name, line is {line.speaker}'s)"
            issues.append(f"line {n} starts with a speaker prefix '{prefix}:'{other}")
            continue
        others = [j for j, o in enumerate(norm_orig) if j != i and o and o == spoken]
        if others:
            issues.append(
                f"line {n} holds the words of line {others[0] + 1} (lines swapped or reattributed)"
            )
            continue
        contained = [
            j + 1 for j, o in enumerate(norm_orig) if j != i and len(words(o)) >= 3 and o in spoken
        ]
        if contained and normalize_spoken(line.text) in spoken:
            issues.append(f"line {n} also holds the words of line(s) {contained} (lines merged)")
            continue
        lost, added = _missing_words(spoken, line.text)
        what = []
        if lost:
            what.append("missing " + ", ".join(f"'{w}'" for w in lost[:4]))
        if added:
            what.append("added " + ", ".join(f"'{w}'" for w in added[:4]))
        if not what:
            what.append("punctuation or quotes changed")
        if not spoken:
            what = ["the human words were dropped"]
        issues.append(f"line {n} changed the human words ({'; '.join(what)})")
    if len(annotated) < len(lines):
        missing = len(lines) - len(annotated)
        issues.append(f"{missing} line(s) missing: got {len(annotated)} annotated lines for {len(lines)} scene lines")
    elif len(annotated) > len(lines):
        issues.append(f"{len(annotated) - len(lines)} extra line(s): got {len(annotated)} for {len(lines)}")
    denom = max(len(lines), len(annotated), 1)
    score = sum(exact) / denom
    return Check(
        score,
        issues,
        {"exact": exact, "ratio": ratios, "fuzzy": sum(ratios) / max(len(ratios), 1)},
    )


# --------------------------------------------------------------------------------------------
# grounding


def grounding_sources(gold: GoldExample) -> list[str]:
    """The texts a scenario sentence may be supported by: scene lines, setting, directions,
    personas and the gold scenario itself."""
    scene = gold.scene
    out: list[str] = []
    for line in list(scene.context) + list(scene.lines):
        if line.text.strip():
            out.append(line.render())
        out.extend(d for d in line.directions if d.strip())
    out.extend(t for t in (scene.heading, scene.setting) if t and t.strip())
    out.extend(d for d in scene.directions if d.strip())
    out.extend(f"{name}: {text}" for name, text in gold.personas.items() if text.strip())
    if gold.scenario:
        out.extend(_sentences(gold.scenario))
    return out


def _sentences(text: str) -> list[str]:
    from metrics.format import sentences

    return sentences(text)


# --------------------------------------------------------------------------------------------
# cast

# Capitalised words that are not character names: pronouns, determiners, common sentence
# starters, titles, time and place words. A heuristic list — see :func:`cast` for its limits.
_NOT_NAMES = set(
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


def _name_tokens(name: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z][\w'-]*", name.lower())} - _NOT_NAMES | (
        {name.lower()} if name else set()
    )


def known_names_for(gold: GoldExample, extra: Iterable[str] = ()) -> set[str]:
    """Lower-cased tokens that may appear as names: the cast, persona keys, known names, and
    every capitalised word the humans (or the gold reference) already wrote for this scene."""
    known: set[str] = set()
    scene = gold.scene
    for line in list(scene.context) + list(scene.lines):
        if line.speaker:
            known |= _name_tokens(line.speaker)
    for name in list(gold.personas) + list(extra):
        known |= _name_tokens(name)
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


def _invented(text: str, known: set[str], lowered_vocab: set[str]) -> list[str]:
    found: list[str] = []
    for word, initial in _candidates(text):
        low = word.lower()
        if low in known or low in _NOT_NAMES or len(low) < 3:
            continue
        if initial and low in lowered_vocab:
            continue  # a common word that starts a sentence ("Rain falls ...") when seen lower-case
        if word.isupper():
            continue  # SHOUTING or acronyms
        if low not in (f.lower() for f in found):
            found.append(word)
    return found


def _cast_names(gold: GoldExample, extra: Iterable[str]) -> list[str]:
    names = {ln.speaker for ln in gold.scene.lines + gold.scene.context if ln.speaker}
    names |= set(gold.personas) | {n for n in extra if n}
    return sorted(names, key=len, reverse=True)


def _same_person(a: str, b: str) -> bool:
    """Same character: equal, or one name's words (titles included) are within the other's
    ("Ilse" / "Professor Ilse Varga"), so "Lady Chiltern" and "Sir Robert Chiltern" differ."""
    ta, tb = set(words(a)), set(words(b))
    return a.lower() == b.lower() or bool(ta and tb and (ta <= tb or tb <= ta))


def _subject(sentence: str, cast_names: Sequence[str]) -> str | None:
    """The cast member a sentence starts with (its grammatical subject, heuristically)."""
    s = re.sub(r"^[\W_]+", "", sentence)
    s = re.sub(r"^(?:then|suddenly|slowly|quickly|finally|now|still|meanwhile|again),?\s+", "", s, flags=re.I)
    s = re.sub(r"^(?:Mr|Mrs|Ms|Miss|Lady|Lord|Sir|Dr|Captain)\.?\s+", "", s)
    for name in cast_names:
        for variant in [name] + [t for t in name.split() if len(t) > 2 and t.lower() not in _NOT_NAMES]:
            if re.match(re.escape(variant) + r"\b(?!')", s):
                return name
    return None


def cast(
    gold: GoldExample,
    scenario: str | None,
    annotated: Sequence[Any] | None,
    *,
    known_names: Iterable[str] = (),
    person: str = "first",
) -> Check:
    """No invented characters, no character acting in another character's line.

    A capitalised word in the scenario or an action is an *invented name* when it is not a
    token of a cast / persona / known name, not already written (capitalised) anywhere in the
    scene, its directions, personas or the gold reference, and not on the stop list (pronouns,
    titles, days, months, common place words). Sentence-initial words are skipped when they
    appear lower-case in the scene (they are then ordinary words). Limits: an ordinary word
    that starts a sentence and never appears lower-case (e.g. "Thunder rolls.") is reported as
    a name; a real place name absent from the scene is reported too — pass it in
    ``known_names``.

    *Acting for another*: in speaker S's line, an action sentence whose subject is another cast
    member ("*Bob grabs the letter.*" in Alice's line) is flagged. In first person "I" is S.

    Score: ``1 / (1 + problems)`` (1, 0.5, 0.33, …: every extra problem still lowers it).
    """
    extra = tuple(known_names)
    known = known_names_for(gold, extra)
    vocab_texts = [ln.text for ln in gold.scene.lines + gold.scene.context]
    vocab_texts += list(gold.personas.values()) + [gold.scenario or ""] + list(gold.annotated or [])
    lowered = {w for t in vocab_texts for w in re.findall(r"\b[a-z][a-z']+\b", t)}
    issues: list[str] = []
    invented: list[str] = []
    acting: list[tuple[int, str, str]] = []
    if isinstance(scenario, str):
        for name in _invented(scenario, known, lowered):
            invented.append(name)
            issues.append(f"scenario names '{name}', who is not in the cast")
    names = _cast_names(gold, extra)
    if annotated is not None:
        for i, ann in enumerate(annotated):
            if not isinstance(ann, str) or i >= len(gold.scene.lines):
                continue
            acts = actions(ann)
            for name in _invented(" ".join(a if a.endswith((".", "!", "?")) else a + "." for a in acts), known, lowered):
                invented.append(name)
                issues.append(f"line {i + 1} actions name '{name}', who is not in the cast")
            speaker = gold.scene.lines[i].speaker
            if not speaker:
                continue
            for act in acts:
                for sent in _sentences(act) or [act]:
                    subj = _subject(sent, names)
                    if subj and not _same_person(subj, speaker):
                        acting.append((i + 1, subj, speaker))
                        issues.append(f"line {i + 1}: {subj} acts in {speaker}'s line ('{sent[:60]}')")
    score = 1.0 / (1 + len(invented) + len(acting))
    return Check(score, issues, {"invented": invented, "acting": acting})


# --------------------------------------------------------------------------------------------
# grounding

_STOP = _NOT_NAMES | set(
    """
    is are was were be been being am do does did have has had having will would shall should can
    could might must very too quite rather just really than then into upon about against without
    within still while who whose whom which what when where why how not no nor its it's one ones
    another own same such very own lets let get gets got make makes made take takes took
    """.split()
)


def _stem(word: str) -> str:
    for suf in ("ing", "edly", "ed", "es", "ly", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            return word[: -len(suf)]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in words(text) if len(w) >= 3 and w not in _STOP and not w.isdigit()}


def grounding(
    gold: GoldExample,
    scenario: str | None,
    *,
    embedder: Any = None,
    lexical_threshold: float = 0.5,
    embedding_threshold: float = 0.55,
) -> Check:
    """Share of scenario sentences supported by the scene.

    Sources: scene lines (and context), setting, heading, directions, personas and the gold
    scenario. A sentence is *supported* when at least ``lexical_threshold`` of its content words
    (lower-cased, light stemming, stop words out) occur in the sources, or — with an embedder —
    its best cosine to a source text is at least ``embedding_threshold``. Unsupported sentences
    are listed in the issues.
    """
    if not isinstance(scenario, str) or not scenario.strip():
        return Check(1.0, [], {"sentences": []})
    sources = grounding_sources(gold)
    vocab = set().union(*(content_words(s) for s in sources)) if sources else set()
    sents = _sentences(scenario)
    svecs = None
    if embedder is not None and sources and sents:
        svecs = embedder.encode(sources, pin=True)
        pvecs = embedder.encode(sents)
        sims = (pvecs @ svecs.T).max(axis=1)
    rows = []
    unsupported: list[str] = []
    for k, sent in enumerate(sents):
        cw = content_words(sent)
        lex = len(cw & vocab) / len(cw) if cw else 1.0
        emb = float(sims[k]) if svecs is not None else None
        ok = lex >= lexical_threshold or (emb is not None and emb >= embedding_threshold)
        rows.append({"sentence": sent, "lexical": lex, "embedding": emb, "supported": ok})
        if not ok:
            unsupported.append(sent)
    score = 1.0 - len(unsupported) / len(sents) if sents else 1.0
    issues = [f"unsupported by the scene: '{s[:90]}'" for s in unsupported]
    return Check(score, issues, {"sentences": rows})


# --------------------------------------------------------------------------------------------
# contradiction

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
_REL_FAMILY = {
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
_RELS = "|".join(sorted(_REL_FAMILY, key=len, reverse=True))
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
    best: tuple[int, str | None] = (-1, None)
    for name in names:
        for variant in {name, *[t for t in name.split() if len(t) > 2 and t.lower() not in _NOT_NAMES]}:
            for m in re.finditer(r"\b" + re.escape(variant) + r"\b", before):
                if re.match(rf"'s\s+(?:\w+\s+)?(?:{_RELS})\b", before[m.end():]):
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
    for sent in _sentences(text) or [text]:
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
    best: tuple[int, str | None] = (len(sent) + 1, None)
    for name in names:
        for variant in {name, *[t for t in name.split() if len(t) > 2 and t.lower() not in _NOT_NAMES]}:
            m = re.search(r"\b" + re.escape(variant) + r"\b", sent)
            if m and m.start() < best[0] and not re.match(rf"'s\s+(?:\w+\s+)?(?:{_RELS})\b", sent[m.end():]):
                best = (m.start(), name)
    return best[1]


def _relations(sent: str, names: Sequence[str], subject: str | None) -> list[tuple[str, str, str]]:
    """(A, B, rel) meaning "A is B's rel"."""
    if not names:
        return []
    alt = "|".join(
        re.escape(v)
        for n in names
        for v in sorted({n, *[t for t in n.split() if len(t) > 2 and t.lower() not in _NOT_NAMES]}, key=len, reverse=True)
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
    names = _cast_names(gold, extra_names)
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
        return _REL_FAMILY.get(said.value) not in _INVERSE.get(_REL_FAMILY.get(known.value, ""), set())
    return False


def contradiction(
    gold: GoldExample,
    scenario: str | None,
    annotated: Sequence[Any] | None,
    *,
    known_names: Iterable[str] = (),
    judge: Callable[[GoldExample, str, list[str]], list[str]] | None = None,
) -> Check:
    """Statements that contradict persona facts (same attribute, different value).

    Attributes: hair colour, eye colour (colour families: "auburn" = "red", "dark" fits black
    or brown), height (tall/short), age (more than 2 years apart), relationships ("Alice is
    Bob's sister" vs "Bob's wife Alice"). The owner of a statement is the nearest cast name
    before it (or the speaker, for "I/my" in their own line). ``judge`` (optional, e.g. an LM)
    returns extra contradiction descriptions. Score: ``1 / (1 + contradictions)``.
    """
    extra = tuple(known_names)
    known = persona_facts(gold, extra)
    names = _cast_names(gold, extra)
    said: list[Fact] = []
    if isinstance(scenario, str):
        said.extend(extract_facts(scenario, names))
    if annotated is not None:
        for i, ann in enumerate(annotated):
            if isinstance(ann, str) and i < len(gold.scene.lines):
                acts = " ".join(a if a.endswith((".", "!", "?")) else a + "." for a in actions(ann))
                said.extend(extract_facts(acts, names, speaker=gold.scene.lines[i].speaker))
    issues: list[str] = []
    found: list[dict[str, str]] = []
    for s in said:
        for k in known:
            if s.attr.startswith("rel:") and k.attr.startswith("rel:"):
                bad = _rel_conflict(k, s)
            else:
                bad = k.who == s.who and _conflict(k, s)
            if bad:
                found.append({"who": s.who, "attr": s.attr, "said": s.value, "persona": k.value, "text": s.text})
                issues.append(f"'{s.text[:70]}' contradicts the persona ({s.who} {k.attr}: {k.value})")
                break
    if judge is not None:
        try:
            extra_issues = judge(gold, scenario or "", [a for a in (annotated or []) if isinstance(a, str)])
            issues.extend(str(x) for x in extra_issues or [])
            found.extend({"judge": str(x)} for x in extra_issues or [])
        except Exception as exc:  # the judge is optional; never let it fail the metric
            issues.append(f"(contradiction judge failed: {type(exc).__name__})")
    n = len(found)
    return Check(1.0 / (1 + n), issues, {"contradictions": found, "persona_facts": len(known)})
