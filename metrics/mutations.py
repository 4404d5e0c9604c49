"""The defect suite: break gold outputs on purpose and check the metric notices.

Each defect takes a gold example's own outputs (which score ~1) and applies one defect a human
reviewer would reject. :func:`run_suite` scores every mutant and reports, per defect, how often
the composite and the defect's *target* part dropped below the unmutated baseline, and by how
much. Goals: 100 % for verbatim and cast defects, ≥ 90 % for the others.

Persona facts: the ``contradict_persona`` defect needs a persona fact to contradict. When the
gold has none the checker can read (e.g. mined gold without personas), the mutation
*synthesises* one (``"<speaker> has red hair."``) into a copy of the gold and contradicts that;
the baseline for that mutant is the unmutated output scored against the same copy.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from augmentlab.core.model import GoldExample
from augmentlab.core.text import ACTION_RE
from metrics import composite
from metrics.facts import REL_FAMILY, persona_facts
from metrics.format import detect_person
from metrics.names import known_names_for

__all__ = ["DEFECTS", "Defect", "Mutant", "SuiteRow", "mutate", "run_suite"]


@dataclass
class Mutant:
    defect: str
    gold: GoldExample
    scenario: str | None
    annotated: list[str] | None
    note: str = ""


@dataclass
class Defect:
    name: str
    target: str
    """The part that must drop."""
    goal: float
    apply: Callable[[GoldExample, random.Random, Sequence[GoldExample]], Mutant | None]
    description: str


@dataclass
class SuiteRow:
    defect: str
    target: str
    goal: float
    n: int = 0
    skipped: int = 0
    composite_drops: int = 0
    part_drops: int = 0
    composite_drop_sum: float = 0.0
    part_drop_sum: float = 0.0
    misses: list[str] = field(default_factory=list)

    @property
    def composite_rate(self) -> float:
        return self.composite_drops / self.n if self.n else 0.0

    @property
    def part_rate(self) -> float:
        return self.part_drops / self.n if self.n else 0.0

    @property
    def mean_composite_drop(self) -> float:
        return self.composite_drop_sum / self.n if self.n else 0.0

    @property
    def mean_part_drop(self) -> float:
        return self.part_drop_sum / self.n if self.n else 0.0

    @property
    def passed(self) -> bool:
        return self.n > 0 and min(self.composite_rate, self.part_rate) >= self.goal - 1e-9


# --------------------------------------------------------------------------------------------
# helpers

_INVENTED = ["Marcus", "Priya", "Dmitri", "Esperanza", "Tobias", "Ingrid", "Rafael", "Leonora"]
_CLAIMS = [
    "A brass band marches past the window, playing a military tune.",
    "Somewhere below, a circus elephant trumpets at the fireworks.",
    "The whole street has been flooded with lemonade since Tuesday's parade.",
    "A famous astronaut is secretly listening from inside the wardrobe.",
    "Three helicopters circle overhead, searching for a stolen racehorse.",
]
_ACTS = ["grabs the nearest chair", "steps between us", "slams the door shut", "reaches across the table",
         "snatches the paper away", "throws a glass at the wall"]
_SWAP_WORDS = ["purple", "banana", "seventeen", "quietly", "volcano", "never"]


def _speech_spans(annotated: str) -> list[tuple[int, int]]:
    """Character spans of the non-action parts."""
    spans, pos = [], 0
    for m in ACTION_RE.finditer(annotated):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(annotated)))
    return spans


def _spoken_words(annotated: str) -> list[tuple[int, int, str]]:
    """(start, end, word) of each human word (outside the actions)."""
    out = []
    for a, b in _speech_spans(annotated):
        for m in re.finditer(r"[A-Za-z][A-Za-z']*", annotated[a:b]):
            out.append((a + m.start(), a + m.end(), m.group()))
    return out


def _pick_line(gold: GoldExample, rng: random.Random, min_words: int = 2) -> int | None:
    ann = gold.annotated or []
    ok = [i for i, a in enumerate(ann) if len(_spoken_words(a)) >= min_words]
    return rng.choice(ok) if ok else None


def _copy(gold: GoldExample) -> tuple[str | None, list[str] | None]:
    return gold.scenario, list(gold.annotated) if gold.annotated else None


# --------------------------------------------------------------------------------------------
# defects


def drop_word(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    i = _pick_line(gold, rng)
    if i is None:
        return None
    scen, ann = _copy(gold)
    assert ann is not None
    a, b, word = rng.choice(_spoken_words(ann[i]))
    ann[i] = ann[i][:a] + ann[i][b:]
    return Mutant("drop_word", gold, scen, ann, f"line {i + 1}: dropped '{word}'")


def change_word(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    i = _pick_line(gold, rng, 1)
    if i is None:
        return None
    scen, ann = _copy(gold)
    assert ann is not None
    a, b, word = rng.choice(_spoken_words(ann[i]))
    new = rng.choice([x for x in _SWAP_WORDS if x != word.lower()])
    ann[i] = ann[i][:a] + new + ann[i][b:]
    return Mutant("change_word", gold, scen, ann, f"line {i + 1}: '{word}' → '{new}'")


def drop_line(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    if not gold.annotated or len(gold.annotated) < 2:
        return None
    scen, ann = _copy(gold)
    assert ann is not None
    i = rng.randrange(len(ann))
    del ann[i]
    return Mutant("drop_line", gold, scen, ann, f"dropped line {i + 1}")


def swap_speakers(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    if not gold.annotated:
        return None
    lines = gold.scene.lines
    pairs = [
        (i, i + 1) for i in range(min(len(lines), len(gold.annotated)) - 1)
        if lines[i].speaker and lines[i + 1].speaker and lines[i].speaker != lines[i + 1].speaker
        and lines[i].text.strip() != lines[i + 1].text.strip()
    ]
    if not pairs:
        return None
    i, j = rng.choice(pairs)
    scen, ann = _copy(gold)
    assert ann is not None
    ann[i], ann[j] = ann[j], ann[i]
    return Mutant("swap_speakers", gold, scen, ann, f"lines {i + 1} ({lines[i].speaker}) and {j + 1} ({lines[j].speaker}) swapped")


def _new_name(gold: GoldExample, rng: random.Random) -> str:
    known = known_names_for(gold)
    return rng.choice([n for n in _INVENTED if n.lower() not in known] or ["Zebedee"])


def insert_name(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    name = _new_name(gold, rng)
    scen, ann = _copy(gold)
    if scen and (not ann or rng.random() < 0.5):
        scen = scen.rstrip() + f" From the doorway, {name} watches them in silence."
        return Mutant("insert_name", gold, scen, ann, f"scenario mentions {name}")
    if ann:
        i = rng.randrange(len(ann))
        person = detect_person(ann)
        act = f"*I glance toward {name}.*" if person == "first" else f"*{_pronoun_subject(gold, i)} glances toward {name}.*"
        ann[i] = f"{act} {ann[i]}"
        return Mutant("insert_name", gold, scen, ann, f"line {i + 1} mentions {name}")
    return None


def _pronoun_subject(gold: GoldExample, i: int) -> str:
    return gold.scene.lines[i].speaker or "They"


def act_for_other(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    if not gold.annotated:
        return None
    lines = gold.scene.lines
    speakers = gold.scene.speakers
    if len(speakers) < 2:
        return None
    idx = [i for i in range(min(len(lines), len(gold.annotated))) if lines[i].speaker]
    i = rng.choice(idx)
    other = rng.choice([s for s in speakers if s != lines[i].speaker])
    scen, ann = _copy(gold)
    assert ann is not None
    ann[i] = f"*{other} {rng.choice(_ACTS)}.* {ann[i]}"
    return Mutant("act_for_other", gold, scen, ann, f"{other} acts in {lines[i].speaker}'s line {i + 1}")


def strip_asterisks(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    if not gold.annotated or not any("*" in a for a in gold.annotated):
        return None
    scen, ann = _copy(gold)
    assert ann is not None
    ann = [a.replace("*", "") for a in ann]
    return Mutant("strip_asterisks", gold, scen, ann, "all asterisks removed")


_FIRST_TO_THIRD = {"I": "{n}", "my": "{n}'s", "me": "{n}", "myself": "{n}", "mine": "{n}'s", "I'm": "{n} is"}


def switch_person(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    if not gold.annotated or not any(ACTION_RE.search(a) for a in gold.annotated):
        return None
    first = detect_person(gold.annotated) == "first"
    out: list[str] = []
    for i, a in enumerate(gold.annotated):
        name = gold.scene.lines[i].speaker if i < len(gold.scene.lines) else None
        if not name:
            out.append(a)
            continue

        def repl(m: re.Match[str], name: str = name) -> str:
            body = m.group(1)
            if first:
                body = re.sub(r"\b(I'm|I|my|me|myself|mine)\b", lambda w: _FIRST_TO_THIRD[w.group(1)].format(n=name), body)
            else:
                body = re.sub(rf"\b({re.escape(name)}|[Hh]e|[Ss]he)\b", "I", body)
                body = re.sub(r"\b([Hh]is|[Hh]er)\b", "my", body)
            return f"*{body}*"

        out.append(ACTION_RE.sub(repl, a))
    if out == list(gold.annotated):
        return None
    return Mutant("switch_person", gold, gold.scenario, out, "first → third person" if first else "third → first person")


def paste_scenario(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    if not gold.scenario:
        return None
    others = [g.scenario for g in pool if g.scenario and g.scenario != gold.scenario and g.id != gold.id]
    if not others:
        return None
    return Mutant("paste_scenario", gold, rng.choice(others), _copy(gold)[1], "another scene's scenario")


def unsupported_claim(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    if not gold.scenario:
        return None
    claim = rng.choice(_CLAIMS)
    return Mutant("unsupported_claim", gold, gold.scenario.rstrip() + " " + claim, _copy(gold)[1], claim)


_OTHER_VALUE = {
    "hair": lambda v: "red" if v not in ("red", "auburn", "ginger") else "black",
    "eyes": lambda v: "blue" if v != "blue" else "brown",
    "height": lambda v: "short" if v == "tall" else "tall",
    "age": lambda v: str(int(v) + 20),
}
_TEMPLATES = {
    "hair": ["{n}'s {v} hair catches the light.", "{n} pushes back a strand of {v} hair."],
    "eyes": ["{n}'s {v} eyes narrow.", "{n} looks up with {v} eyes."],
    "height": ["{n} is a {v} figure in the doorway.", "{n}, very {v}, waits by the wall."],
    "age": ["{n}, {v} years old, waits by the wall.", "{n} is a {v}-year-old with a tired face."],
}
_REL_SWAP = {"sibling": "wife", "spouse": "sister", "parent": "son", "child": "father", "friend": "brother"}


def contradict_persona(gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample]) -> Mutant | None:
    facts = [f for f in persona_facts(gold) if f.who in gold.scene.speakers]
    target_gold = gold
    note = ""
    if not facts:
        speakers = gold.scene.speakers
        if not speakers:
            return None
        who = speakers[0]
        personas = dict(gold.personas)
        personas[who] = (personas.get(who, "") + f" {who} has red hair.").strip()
        target_gold = gold.model_copy(update={"personas": personas})
        facts = [f for f in persona_facts(target_gold) if f.who == who]
        note = f"synthesised persona fact '{who} has red hair'; "
        if not facts:
            return None
    fact = rng.choice(facts)
    if fact.attr.startswith("rel:"):
        other = fact.attr[4:]
        fam = REL_FAMILY.get(fact.value, "")
        sentence = f"{fact.who} is {other}'s {_REL_SWAP.get(fam, 'sister')}."
    else:
        value = _OTHER_VALUE[fact.attr](fact.value)
        sentence = rng.choice(_TEMPLATES[fact.attr]).format(n=fact.who, v=value)
    scen, ann = _copy(gold)
    if scen:
        scen = scen.rstrip() + " " + sentence
    elif ann:
        idx = [i for i, ln in enumerate(gold.scene.lines[: len(ann)]) if ln.speaker]
        if not idx:
            return None
        i = rng.choice(idx)
        ann[i] = f"*{sentence}* {ann[i]}"
    else:
        return None
    return Mutant("contradict_persona", target_gold, scen, ann, note + sentence)


DEFECTS: dict[str, Defect] = {
    d.name: d
    for d in [
        Defect("drop_word", "verbatim", 1.0, drop_word, "a human word deleted"),
        Defect("change_word", "verbatim", 1.0, change_word, "a human word replaced"),
        Defect("drop_line", "verbatim", 1.0, drop_line, "one annotated line missing"),
        Defect("swap_speakers", "verbatim", 1.0, swap_speakers, "two speakers' lines exchanged"),
        Defect("insert_name", "cast", 1.0, insert_name, "a name not in the cast"),
        Defect("act_for_other", "cast", 1.0, act_for_other, "a character acts in another's line"),
        Defect("strip_asterisks", "verbatim", 0.9, strip_asterisks, "asterisks removed (actions become speech)"),
        Defect("switch_person", "format", 0.9, switch_person, "first ⇄ third person"),
        Defect("paste_scenario", "similarity", 0.9, paste_scenario, "another scene's scenario"),
        Defect("unsupported_claim", "grounding", 0.9, unsupported_claim, "an unsupported claim added"),
        Defect("contradict_persona", "contradiction", 0.9, contradict_persona, "a persona fact contradicted"),
    ]
}


def mutate(defect: str, gold: GoldExample, rng: random.Random, pool: Sequence[GoldExample] = ()) -> Mutant | None:
    """Apply one defect (``None`` when it does not apply to this example)."""
    return DEFECTS[defect].apply(gold, rng, pool)


def run_suite(
    golds: Sequence[GoldExample],
    *,
    defects: Sequence[str] | None = None,
    seed: int = 0,
    embedder: Any = None,
    weights: composite.Weights | None = None,
) -> list[SuiteRow]:
    """Score every defect on every gold example; one :class:`SuiteRow` per defect."""
    rng = random.Random(seed)
    names = list(defects or DEFECTS)
    mutants: list[tuple[str, Mutant]] = []
    rows = {n: SuiteRow(n, DEFECTS[n].target, DEFECTS[n].goal) for n in names}
    for gold in golds:
        for name in names:
            m = mutate(name, gold, rng, golds)
            if m is None:
                rows[name].skipped += 1
            else:
                mutants.append((name, m))
    # baselines: gold outputs scored against the (possibly persona-augmented) gold
    base_pairs = [(m.gold, m.gold.scenario, m.gold.annotated) for _, m in mutants]
    mut_pairs = [(m.gold, m.scenario, m.annotated) for _, m in mutants]
    opts: dict[str, Any] = {"weights": weights}
    base = composite.score_examples(base_pairs, embedder=embedder, **opts)
    muts = composite.score_examples(mut_pairs, embedder=embedder, **opts)
    for (name, m), b, s in zip(mutants, base, muts):
        row = rows[name]
        row.n += 1
        cdrop = b.score - s.score
        pdrop = b.parts.get(row.target, 0.0) - s.parts.get(row.target, 0.0)
        if row.target not in s.parts and row.target not in b.parts:
            pdrop = 0.0
        row.composite_drop_sum += max(0.0, cdrop)
        row.part_drop_sum += max(0.0, pdrop)
        row.composite_drops += cdrop > 1e-6
        row.part_drops += pdrop > 1e-6
        if cdrop <= 1e-6 or pdrop <= 1e-6:
            row.misses.append(f"{m.gold.id}: {m.note}")
    return [rows[n] for n in names]
