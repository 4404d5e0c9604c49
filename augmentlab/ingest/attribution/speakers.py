"""Who can be meant: the paragraphs the rules work on, what a first pass learns about the book's
people (genders, a first-person narrator), and matching a name a quote addresses to a speaker.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from augmentlab.ingest.attribution.clues import (
    FEMALE_NOUNS,
    FEMALE_TITLES,
    MALE_NOUNS,
    MALE_PRONOUNS,
    MALE_TITLES,
    SENTENCE_END_RE,
    SUBJECT_RE,
    is_kind,
    subject_name,
)

NARRATOR = "Narrator"
UNCERTAIN = "uncertain"


@dataclass
class Quoted:
    """A paragraph with quoted speech, and what the rules made of it."""

    number: int
    text: str
    lead: str
    pieces: list[str]
    """Narration after each quote (between quotes, then after the last)."""
    spoken: str
    starts_with_quote: bool
    continues: bool
    """The paragraph opens with a quote while the previous paragraph's quote was left open."""
    left_open: bool
    speaker: str | None = None
    rule: str = UNCERTAIN
    tag: str | None = None
    pronoun: str | None = None
    addressed: set[str] = field(default_factory=set)
    mentions: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    """Names mentioned or speaking before this paragraph (most recent last), for ``said he``."""
    centre: str | None = None
    """The last subject of the pronoun's gender in the narration before (``said she``)."""
    fresh: bool = False
    """Whether narration came between this paragraph and the previous quote."""
    only: str | None = None
    """The one named speaker of the pronoun's gender in that narration, if just one."""
    why: str = ""
    """Why the speaker is uncertain (``Line.metadata["why"]``)."""
    evidence: str = ""
    """What settled the speaker, finer than ``rule`` (``tag:after``, ``alternation:parity:2``):
    the key of :data:`~augmentlab.ingest.attribution.confidence.TABLE`."""
    confidence: float | None = None
    """How often that evidence names the right speaker (:mod:`.confidence`)."""
    guess: str | None = None
    """The speaker the rules found when its confidence was too low to keep (abstained)."""


@dataclass
class Narration:
    """A paragraph without quoted speech (it ends a run of quoted paragraphs)."""

    text: str
    mentions: list[str] = field(default_factory=list)


Block = Quoted | Narration


@dataclass
class Profile:
    """What a first pass over the whole file learns: gender evidence, first person, the narrator's name."""

    male: Counter[str] = field(default_factory=Counter)
    female: Counter[str] = field(default_factory=Counter)
    first_person: bool = False
    narrator: str = NARRATOR
    labels: set[str] = field(default_factory=set)
    """Descriptions tags use again and again for one speaker (``the stranger``): names."""
    speakers: set[str] = field(default_factory=set)
    """Cast names tagged as speakers somewhere in the file: the only candidates for ``he``/``she``."""
    tagged: Counter[str] = field(default_factory=Counter)
    """How many speech tags name each cast name across the file."""

    def speaks(self, name: str) -> bool:
        return not self.speakers or name in self.speakers

    def gender(self, name: str) -> str | None:
        """``"m"``, ``"f"`` or ``None`` (unknown) for a canonical name."""
        if name == NARRATOR or name == self.narrator:
            return None
        words = re.findall(r"[a-z]+", name.lower())
        if words and words[0] == "the" and len(words) >= 2:
            noun = words[-1]
            if noun in MALE_NOUNS:
                return "m"
            if noun in FEMALE_NOUNS:
                return "f"
            words = words[1:]
        if words and words[0] in MALE_TITLES:
            return "m"
        if words and words[0] in FEMALE_TITLES:
            return "f"
        m, f = self.male[name], self.female[name]
        if m + f >= 3:
            if m >= 1.5 * f:
                return "m"
            if f >= 1.5 * m:
                return "f"
        return None


_SUBJECT_PRONOUN_RE = re.compile(r"^(He|She)\b")
_BOUND_PRONOUN_RE = re.compile(r"\b(he|his|himself|she|herself)\b")
"""Pronouns bound to a sentence's subject (``Holmes shook his head``); ``her`` / ``him`` are
left out: they are as often another person, the object."""


def learn(profile: Profile, text: str, resolve: Callable[[str], str | None]) -> None:
    """Gender evidence from one narration text: a sentence with a name as subject, then the
    pronouns that refer back to a subject (``his``, ``himself``, ``she``), or a next sentence
    opening with ``He`` / ``She``."""
    sentences = [x.strip() for x in SENTENCE_END_RE.split(text) if x and x.strip()]
    for k, sentence in enumerate(sentences):
        match = SUBJECT_RE.match(sentence)
        if not match:
            continue
        name = subject_name(match.group("name"))
        if is_kind(name) != "name" or name is None:
            continue
        canonical = resolve(name) or name
        votes = _BOUND_PRONOUN_RE.findall(sentence[match.end() :])
        if k + 1 < len(sentences):
            votes += [v.lower() for v in _SUBJECT_PRONOUN_RE.findall(sentences[k + 1])]
        if not votes:
            continue
        if votes[0] in MALE_PRONOUNS:
            profile.male[canonical] += 1
        else:
            profile.female[canonical] += 1


_TITLE_WORDS = frozenset(
    "mr mrs ms miss master mister dr doctor sir lord lady dame madame monsieur captain colonel "
    "inspector professor the my dear".split()
)


def _name_words(name: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z']+", name.lower()) if w not in _TITLE_WORDS)


def addresses(block: Quoted, name: str) -> bool:
    """Whether the quote addresses ``name`` (then ``name`` is not its speaker): ``"..., Mr.
    Holmes"`` addresses Sherlock Holmes; the vocative's name words are all in ``name``."""
    if name in block.addressed:
        return True
    words = _name_words(name)
    return any((w := _name_words(v)) and w <= words for v in block.addressed)


def pronoun_fits(name: str, pronoun: str, profile: Profile) -> bool:
    """Whether ``said he`` / ``said she`` can be ``name`` (never the first-person narrator)."""
    if name == profile.narrator:
        return False
    return profile.gender(name) in (None, "m" if pronoun == "he" else "f")


def speaker_called(called: str, profile: Profile) -> str | None:
    """The speaker a vocative names: itself, or the one speaker whose name holds its name words
    with a title of the same gender (``Mr. Holmes`` → ``Sherlock Holmes``)."""
    if profile.speaks(called):
        return called
    words = _name_words(called)
    if not words:
        return None
    title = called.split()[0].rstrip(".").lower()
    gender = "m" if title in MALE_TITLES else "f" if title in FEMALE_TITLES else None
    matches = [
        s for s in profile.speakers
        if words <= _name_words(s) and (gender is None or profile.gender(s) in (None, gender))
    ]
    return matches[0] if len(matches) == 1 else None
