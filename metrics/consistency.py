"""Detail consistency: verbatim words, cast, grounding and contradictions.

Each check is a small function returning a :class:`Check` (a score in [0, 1], the issues found
as short sentences, and details). :mod:`metrics.composite` combines them. What the checks read
from the text lives beside them: names in :mod:`metrics.names`, persona facts in
:mod:`metrics.facts`.

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

from augmentlab.core.model import GoldExample, Line
from augmentlab.core.text import actions, is_verbatim, normalize_spoken, spoken_text, words
from metrics.facts import Fact, contradicts, extract_facts, persona_facts
from metrics.format import sentences
from metrics.names import NOT_NAMES, cast_names, invented_names, known_names_for, same_person, sentence_subject

__all__ = [
    "Check",
    "cast",
    "content_words",
    "contradiction",
    "grounding",
    "grounding_sources",
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


def _changed_line(i: int, ann: str, spoken: str, line: Line, names: Sequence[str], norm_orig: Sequence[str]) -> str:
    """What happened to line ``i`` (0-based) whose human words were not kept, in words."""
    n = i + 1
    prefix = _speaker_prefix(ann, names)
    if prefix is not None:
        other = "" if prefix == line.speaker else f" (another speaker's name, line is {line.speaker}'s)"
        return f"line {n} starts with a speaker prefix '{prefix}:'{other}"
    others = [j for j, o in enumerate(norm_orig) if j != i and o and o == spoken]
    if others:
        return f"line {n} holds the words of line {others[0] + 1} (lines swapped or reattributed)"
    contained = [j + 1 for j, o in enumerate(norm_orig) if j != i and len(words(o)) >= 3 and o in spoken]
    if contained and normalize_spoken(line.text) in spoken:
        return f"line {n} also holds the words of line(s) {contained} (lines merged)"
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
    return f"line {n} changed the human words ({'; '.join(what)})"


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
        if not ok:
            issues.append(_changed_line(i, ann, spoken, line, names, norm_orig))
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
# cast


def _as_sentences(acts: Iterable[str]) -> str:
    """Action spans joined as one text, each ending like a sentence."""
    return " ".join(a if a.endswith((".", "!", "?")) else a + "." for a in acts)


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
        for name in invented_names(scenario, known, lowered):
            invented.append(name)
            issues.append(f"scenario names '{name}', who is not in the cast")
    names = cast_names(gold, extra)
    if annotated is not None:
        for i, ann in enumerate(annotated):
            if not isinstance(ann, str) or i >= len(gold.scene.lines):
                continue
            acts = actions(ann)
            for name in invented_names(_as_sentences(acts), known, lowered):
                invented.append(name)
                issues.append(f"line {i + 1} actions name '{name}', who is not in the cast")
            speaker = gold.scene.lines[i].speaker
            if not speaker:
                continue
            for act in acts:
                for sent in sentences(act) or [act]:
                    subj = sentence_subject(sent, names)
                    if subj and not same_person(subj, speaker):
                        acting.append((i + 1, subj, speaker))
                        issues.append(f"line {i + 1}: {subj} acts in {speaker}'s line ('{sent[:60]}')")
    score = 1.0 / (1 + len(invented) + len(acting))
    return Check(score, issues, {"invented": invented, "acting": acting})


# --------------------------------------------------------------------------------------------
# grounding

_STOP = NOT_NAMES | set(
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
        out.extend(sentences(gold.scenario))
    return out


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
    sents = sentences(scenario)
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
    names = cast_names(gold, extra)
    said: list[Fact] = []
    if isinstance(scenario, str):
        said.extend(extract_facts(scenario, names))
    if annotated is not None:
        for i, ann in enumerate(annotated):
            if isinstance(ann, str) and i < len(gold.scene.lines):
                said.extend(extract_facts(_as_sentences(actions(ann)), names, speaker=gold.scene.lines[i].speaker))
    issues: list[str] = []
    found: list[dict[str, str]] = []
    for s in said:
        for k in known:
            if contradicts(k, s):
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

