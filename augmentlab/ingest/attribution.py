"""Who speaks each quotation of prose: linguistic rules that abstain when they cannot tell.

:func:`attribute` takes the paragraphs of one stretch of a novel (a chapter) and sets each
quoted paragraph's speaker and the rule that decided it (``Line.metadata["attribution"]``):

``tag``
    a speech verb next to the quote names the speaker: ``"...," said Emma``, ``Emma replied,
    "..."``, ``said the Hatter``, ``chattered Anne`` (any past-tense verb right by the quote), a
    narration paragraph ending ``Emma laughed, and replied,``; ``said I`` is the first-person
    narrator.
``pronoun``
    ``said he`` / ``she replied``: the subject just before in the paragraph (``Holmes rose.
    "Come," said he.``); after narration, the one named speaker of that gender it names; inside
    an exchange, the one other person of that gender (speakers take turns). A candidate of
    unknown gender, or someone unnamed acting (``the stationmaster whistled``), means uncertain.
``continuation``
    a speech running on from the previous paragraph (that paragraph's quote was left open).
``narration``
    the paragraph's own narration names one character as its subject and no speech verb tags
    anyone (``Holmes shook his head. "..."``), or is ``I``-narration in a first-person novel.
``vocative``
    an untagged quote answers the one person the quote before addressed by name (``"...,
    Harriet?"`` → Harriet), or is by the person the next quote addresses.
``alternation``
    turn-taking in a two-person exchange (a run of quoted paragraphs; any narration paragraph
    or chapter break ends it): with two people named and their known turns in strict
    alternation, the rest by parity; with one named, the partner is the one person they address
    by name; else ``A B ? → A`` (and backwards, both must agree) where the quotes around show
    only two people (:data:`TURN_WINDOW`).
``uncertain``
    none of the above, or rules disagree (two speakers tagged in one paragraph; a description
    for a tag, ``said her father``, ``the girl replied``; the speaker found is the one the quote
    addresses; ``said she`` for a man): ``speaker`` stays ``None`` and ``Line.metadata["why"]``
    says why.

Names are the cast's (the caller resolves them). Genders come from titles (``Mr.``, ``Lady``), a
few nouns (``the King``) and, for other names, the pronouns that follow the name as a sentence
subject across the book (:class:`Profile`, filled by a first pass over the file).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache

NARRATOR = "Narrator"
UNCERTAIN = "uncertain"

_VERBS = (
    "say said says saying ask asked asks cry cried cries reply replied replies answer answered answers "
    "remark remarked remarks observe observed observes continue continued continues exclaim exclaimed "
    "exclaims whisper whispered whispers shout shouted shouts mutter muttered mutters return returned "
    "returns repeat repeated repeats add added adds begin began begins ejaculated interrupt interrupted "
    "interrupts suggest suggested suggests explain explained explains murmur murmured murmurs groan "
    "groaned gasp gasped laugh laughed laughs sob sobbed scream screamed screams inquire inquired "
    "inquires enquire enquired enquires protest protested declare declared declares thundered snarl "
    "snarled growl growled growls sigh sighed sighs urge urged insist insisted insists respond responded "
    "roar roared call called calls rejoin rejoined rejoins retort retorted retorts resume resumed "
    "demand demanded demands persist persisted pursued conclude concluded ventured faltered stammered "
    "snap snapped snaps hiss hissed panted wailed moaned grumbled grunted bellowed shrieked whimpered "
    "chuckled giggled sneered agreed agree agrees admitted admit admits assented conceded pleaded "
    "remonstrated expostulated echoed announced confessed commented warned promised went put broke "
    "thought thinks reflected mused wondered told tell tells cried called "
    # introducing a quote: "Emma took the opportunity of whispering,"
    "asking crying replying answering whispering exclaiming adding observing remarking calling "
    "continuing returning repeating beginning interrupting murmuring muttering shouting"
).split()
_VERB_SET = frozenset(_VERBS)
_VERB = r"(?:" + "|".join(sorted(set(_VERBS), key=len, reverse=True)) + r")"
_PARTICLE = r"(?:\s+(?:on|in|out|up|again))?"  # went on, put in, broke in, cried out
_ADV = r"(?:\s+[a-z]+ly)?"
_ABBREVIATED_TITLES = "Mr|Mrs|Ms|Dr|St|Col|Capt|Gen|Maj|Lt|Sgt|Prof|Rev|Hon|Mme|Mlle"
_TITLES = (
    "Miss|Sir|Lord|Lady|Dame|Inspector|Colonel|Captain|Major|General|Lieutenant|Sergeant|Professor|"
    "Doctor|Madame|Mademoiselle|Monsieur|Mister|Master|Aunt|Uncle|Father|Mother|Cousin|Brother|Sister|"
    "Mistress|Dame|Squire|Judge|Parson|Farmer|Widow|Young|Old|Little|Mrs"
)
_WORD = r"(?:Mc|Mac|O')?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_NAME = (
    rf"(?:(?:{_ABBREVIATED_TITLES})\.?\s|(?:{_TITLES})\s)?(?:[A-HJ-Z]\.\s){{0,3}}"
    rf"(?:St\.\s)?{_WORD}(?:\s(?:St\.\s)?{_WORD})?"
)
# ``the Hatter``, ``the Mock Turtle``, ``the stranger``: a character named by what they are.
_NOMINAL = r"[Tt]he\s(?:[A-Z][a-z]+(?:-[A-Z][a-z]+)?(?:\s[A-Z][a-z]+)?|[a-z]+(?:\s[a-z]+){0,2}(?=\s*(?:[,.;:!?]|--|$)))|(?:that|this)\s[a-z]+(?:\s[a-z]+){0,2}(?=\s*(?:[,.;:!?]|--|$))"
_POSSESSIVE = r"(?:his|her|their|my|our|your)\s[a-z]+(?:\s[a-z]+)?"
_INDEFINITE = r"(?:[Aa]n?\s[a-z]+(?:\s[a-z]+)?|[Ss]omeone|[Ss]omebody|[Ee]verybody|[Ee]veryone|[Nn]obody)"
"""``a voice called``, ``someone said``: a speaker the rules cannot name (the quote abstains)."""


_DESCRIPTION = r"(?:[Tt]he|[Tt]hat|[Tt]his)\s(?:[a-z]+\s){0,2}[a-z]+"
"""``the child``, ``that brisk official``: someone described, as the subject before a verb."""


def _subject_group(group: str, described: bool = False) -> str:
    nominal = f"{_NOMINAL}|{_DESCRIPTION}" if described else _NOMINAL
    return rf"(?P<{group}>{_NAME}|{nominal}|{_POSSESSIVE}|{_INDEFINITE}|[Hh]e|[Ss]he|I|[Tt]hey|[Ww]e)"


_SUBJECT = _subject_group("name")
_SUBJECT2 = _subject_group("name2", described=True)
_OPEN = r"^[\s,;:\-—–]*(?:and\s+|then\s+|but\s+)?"
_ANY_VERB = rf"(?:{_VERB}|[a-z]+ed)"
"""Next to a quote, any past-tense verb with a named subject tags it (``chattered Anne``)."""
_EPITHET = r"(?:(?:the\s+)?(?:[a-z]+\s+){0,2}(?=[A-Z]))?"
"""Words before a name in an inverted tag: ``said the still waiting Harriet``, ``said astonished Marilla``."""
_PROPER = _NAME.replace("(?:", "(?:", 1)
TAG_AFTER_RE = re.compile(
    rf"{_OPEN}(?:(?:[a-z]+ly\s+)?{_VERB}{_PARTICLE}{_ADV}\s+{_SUBJECT}(?![a-z])"
    rf"|{_SUBJECT2}(?:\s+(?:himself|herself))?{_ADV}\s+(?:had\s+|has\s+)?{_VERB}\b"
    rf"|(?:[a-z]+ed|{_VERB}){_ADV}\s+{_EPITHET}(?P<name3>{_NAME})\b"
    rf"|(?P<name4>{_NAME})(?:\s+(?:himself|herself))?{_ADV}\s+[a-z]+ed\b"
    rf"|(?:was|came)\s+(?:the\s+)?(?P<name5>{_NAME})'s?\b)"
)
"""A tag right after a quote: ``said Emma``, ``Emma said``, ``said the Hatter``, ``she replied``."""
_SENTENCE_END_RE = re.compile(r"(?<![A-Z][a-z])(?<!\b[A-Z])(?<!\bM[rs])(?<!\bMrs)(?<!\bDr|\bSt)[.!?](?:\s|$)|--|—")
TAG_BEFORE_RE = re.compile(
    rf"(?:^|[,;]\s|\band\s|\bbut\s|\bthen\s|\s(?=[A-Z]))(?:{_SUBJECT}{_ADV}\s+(?:[a-z]+ly\s+)?{_ANY_VERB}{_PARTICLE}|{_VERB}{_PARTICLE}{_ADV}\s+{_SUBJECT2})"
    rf"(?:\s+[a-z]+ly)?(?:\s+(?:to|at|of|with)\s+[A-Za-z.]+(?:\s+[A-Za-z.]+){{0,3}})?[\s,:;\-—–]*$"
)
"""A tag ending the narration before a quote: ``Emma replied,``, ``Her father fondly replied,``."""
SUBJECT_RE = re.compile(rf"^(?:(?:And|But|Then|So)\s|[A-Z][a-z]+,\s)?{_SUBJECT}\b")
_NAME_RE = re.compile(rf"\b(?:{_NAME})\b|\b{_NOMINAL}")
_NOT_NAMES = frozenset(
    "The Then But And It This That There When As So Yes No Oh Well What Now Here If Why How Who They We "
    "You Ah Pray Very Quite Only His Her Its Our Your My Their One At In On For With After Before Upon "
    "All Some Nothing Everything Still Yet Perhaps Presently Suddenly Meanwhile Again Instead Thus "
    "Indeed Just Even Although Though While Where Whatever Let Do Don't Good Dear Sir Madam Mister "
    "Miss Mrs Mr Lord Lady God Heaven Heavens Nay Aye Ay Hush Hullo Hallo Hello Come Look See "
    "Listen Stop Wait Go Tell Thank Thanks Not Never Ever Always Sometimes Every Each Both Either "
    "Neither Such Whose Which Whom To From By Of Up Down Out Over Under Into Onto Behind Beyond Yours "
    "Mine Hers Ours Theirs Is Are Was Were Be Been Am Will Would Shall Should Can Could May Might Must "
    "Have Has Had Did Does Done Monday Tuesday Wednesday Thursday Friday Saturday Sunday January "
    "February March April June July August September October November December Christmas English "
    "French London Chapter Book Volume Part".split()
)
_MALE_TITLES = frozenset("mr mister sir lord master monsieur king prince duke earl father uncle brother squire".split())
_FEMALE_TITLES = frozenset(
    "mrs ms miss lady madame mme mlle mademoiselle dame queen princess duchess countess mother aunt sister "
    "mistress widow".split()
)
_MALE_NOUNS = frozenset(
    "man gentleman boy king prince duke earl lord father uncle brother son husband fellow sir master "
    "old-man landlord servant footman butler mariner sailor soldier constable inspector stranger".split()
)
_FEMALE_NOUNS = frozenset(
    "woman lady girl queen princess duchess countess mother aunt sister daughter wife widow landlady "
    "maid housekeeper mistress".split()
)
_MALE_PRONOUNS = frozenset("he him his himself".split())
_FEMALE_PRONOUNS = frozenset("she her hers herself".split())
_PRONOUN_RE = re.compile(r"\b(he|him|his|himself|she|her|hers|herself)\b")
_VOCATIVE_RE = re.compile(
    rf"(?:(?:^|[.!?]\s+|--\s*)(?P<lead>[Mm]y\s+(?:dear\s+)?|[Dd]ear\s+|[Oo]h,?\s+)?|(?P<comma>,\s+)(?:my\s+(?:dear\s+)?|dear\s+)?)"
    rf"(?P<name>{_NAME})(?=\s*(?:[,!?;]|--|—|\.(?:\s|$)))"
)
"""``my dear Watson,`` / ``..., Watson.`` / ``Emma,`` (a bare word opening a sentence must be a
titled or known name: "Surely," is not a vocative)."""
# Narration that reads as first person: I / my / me outside quotes.
_FIRST_PERSON_RE = re.compile(r"\b(?:I|my|me|myself)\b")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text)


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

    def speaks(self, name: str) -> bool:
        return not self.speakers or name in self.speakers

    def gender(self, name: str) -> str | None:
        """``"m"``, ``"f"`` or ``None`` (unknown) for a canonical name."""
        if name == NARRATOR or name == self.narrator:
            return None
        words = re.findall(r"[a-z]+", name.lower())
        if words and words[0] == "the" and len(words) >= 2:
            noun = words[-1]
            if noun in _MALE_NOUNS:
                return "m"
            if noun in _FEMALE_NOUNS:
                return "f"
            words = words[1:]
        if words and words[0] in _MALE_TITLES:
            return "m"
        if words and words[0] in _FEMALE_TITLES:
            return "f"
        m, f = self.male[name], self.female[name]
        if m + f >= 3:
            if m >= 1.5 * f:
                return "m"
            if f >= 1.5 * m:
                return "f"
        return None


@lru_cache(maxsize=1 << 16)
def tag_after(piece: str) -> str | None:
    """The subject of a speech tag opening the narration after a quote (``said Emma,`` → ``Emma``)."""
    if not piece:
        return None
    match = TAG_AFTER_RE.match(piece[:120])
    if not match:
        return None
    return _subject(next((g for g in match.group("name", "name2", "name3", "name4", "name5") if g), None))


@lru_cache(maxsize=1 << 16)
def tag_before(lead: str) -> str | None:
    """The subject of a speech tag ending the narration before a quote (``Emma replied,`` → ``Emma``)."""
    if not lead or lead[-1] not in ",:;-—–" and not (_words(lead[-12:]) or [""])[-1] in _VERB_SET:
        return None
    tail = lead[-200:]
    if _VERB_SET.isdisjoint(_words(tail)):
        return None
    # the sentence that introduces the quote ("At last, with some hesitation, Harriet said--")
    sentence = _SENTENCE_END_RE.split(tail.rstrip(" ,:;-—–"))[-1].strip()
    match = TAG_BEFORE_RE.search(sentence + ",")
    if match:
        return _subject(match.group("name") or match.group("name2"))
    if _VERB_SET.isdisjoint(_words(sentence[-40:])):
        return None
    # "Emma turned to him and said," : a speech verb in the sentence, its subject first.
    first = SUBJECT_RE.match(sentence)
    subject = _subject(first.group("name")) if first else None
    if subject:
        return subject
    return None


def _subject(name: str | None) -> str | None:
    if not name:
        return None
    if name.lower() in {"the", "his", "her", "their", "my", "our", "your"}:
        return None
    if " " not in name and name.endswith(("ing", "ly")) and len(name) > 5:
        return None  # "Having ...", "Finally ...": a participle or an adverb, not a name
    head = name.split()[0]
    if head in _NOT_NAMES and head not in {"The", "His", "Her", "Their", "My", "Our", "Your", "They", "We"}:
        # "Then said ..." / "Well said": no subject; but "Lord X" / "Miss X" / "Mr X" are names.
        if head not in {"Miss", "Mrs", "Mr", "Lord", "Lady", "Sir"} or len(name.split()) < 2:
            return None
    low = name.lower()
    if low.startswith(("a ", "an ")) or low in {"someone", "somebody", "everybody", "everyone", "nobody"}:
        return low
    if low in {"he", "she", "i", "they", "we"}:
        return low if low != "i" else "I"
    if low.startswith(("this ", "that ")):
        return "the " + name[5:]
    if low.startswith("the "):
        return ("The " if name[4:5].isupper() else "the ") + name[4:]
    return name


def mentions(text: str) -> list[str]:
    """Character-like names in narration, in order (sentence-initial function words skipped)."""
    return list(_mentions(text))


@lru_cache(maxsize=1 << 14)
def _mentions(text: str) -> tuple[str, ...]:
    out: list[str] = []
    pos = 0
    while True:
        m = _NAME_RE.search(text, pos)
        if m is None:
            break
        name = m.group(0)
        pos = m.end()
        head = name.split()[0]
        if (head in _NOT_NAMES and not name.startswith(("Miss ", "Mrs", "Mr", "Lord ", "Lady ", "Sir "))) or (
            head.endswith(("ing", "ly")) and len(head) > 5
        ):
            pos = m.start() + len(head)  # "To Sherlock Holmes": read on from "Sherlock"
            continue
        if name[:4].lower() == "the " and name[4:5].islower():
            continue  # "the door": only capitalised nominals count as mentions
        out.append("The " + name[4:] if name.startswith(("the ", "The ")) else name)
    return tuple(out)


_MAYBE_VOCATIVE_RE = re.compile(r"[A-Z][a-z]+\s*(?:[,!?;]|--|—|\.(?:\s|$))")


def vocatives(spoken: str, known: set[str] | None = None) -> list[str]:
    """Names addressed in a quote: ``"Emma, ..."``, ``"..., my dear Watson."`` (a bare name
    opening a sentence only when ``known`` holds it)."""
    if known is None:
        return list(_vocatives(spoken))
    return list(_vocatives_known(spoken, frozenset(known)))


@lru_cache(maxsize=1 << 14)
def _vocatives(spoken: str) -> tuple[str, ...]:
    return tuple(_find_vocatives(spoken, None))


def _vocatives_known(spoken: str, known: frozenset[str]) -> tuple[str, ...]:
    return tuple(_find_vocatives(spoken, known))


def _find_vocatives(spoken: str, known: AbstractSet[str] | None) -> list[str]:
    out: list[str] = []
    if _MAYBE_VOCATIVE_RE.search(spoken) is None:
        return out
    for m in _VOCATIVE_RE.finditer(spoken):
        name = m.group("name")
        if name.split()[0] in _NOT_NAMES and not name.startswith(("Miss ", "Mrs", "Mr", "Lord ", "Lady ", "Sir ")):
            continue
        titled = len(name.split()) > 1 or name.endswith(".")
        if not (m.group("lead") or m.group("comma") or titled or (known is not None and name in known)):
            continue
        out.append(name)
    return out


def is_kind(tag: str | None) -> str:
    """What a tag's subject is: ``name``, ``pronoun``, ``narrator``, ``other`` (his wife) or ``none``."""
    if tag is None:
        return "none"
    if tag in {"he", "she"}:
        return "pronoun"
    if tag == "I":
        return "narrator"
    if tag in {"they", "we"} or tag.split()[0] in {"his", "her", "their", "my", "our", "your", "His", "Her", "Their", "My", "Our", "Your"}:
        return "other"
    if tag.startswith(("the ", "a ", "an ", "A ", "An ")) or tag.lower() in {"someone", "somebody", "everybody", "everyone", "nobody"}:
        return "other"  # the girl, the other, the latter: a description, not a name
    return "name"


def subject_of(text: str) -> str | None:
    """The sentence subject opening ``text`` when it is a name (``Holmes shook his head.``)."""
    match = SUBJECT_RE.match(text.strip())
    if not match:
        return None
    name = _subject(match.group("name"))
    return name if is_kind(name) == "name" and not name.startswith("The ") or (name and name.startswith("The ") and name[4:5].isupper()) else None


_SUBJECT_PRONOUN_RE = re.compile(r"^(He|She)\b")
_BOUND_PRONOUN_RE = re.compile(r"\b(he|his|himself|she|herself)\b")
"""Pronouns bound to a sentence's subject (``Holmes shook his head``); ``her`` / ``him`` are
left out: they are as often another person, the object."""


def learn(profile: Profile, text: str, resolve: Callable[[str], str | None]) -> None:
    """Gender evidence from one narration text: a sentence with a name as subject, then the
    pronouns that refer back to a subject (``his``, ``himself``, ``she``), or a next sentence
    opening with ``He`` / ``She``."""
    sentences = [x.strip() for x in _SENTENCE_END_RE.split(text) if x and x.strip()]
    for k, sentence in enumerate(sentences):
        match = SUBJECT_RE.match(sentence)
        if not match:
            continue
        name = _subject(match.group("name"))
        if is_kind(name) != "name" or name is None:
            continue
        canonical = resolve(name) or name
        votes = _BOUND_PRONOUN_RE.findall(sentence[match.end() :])
        if k + 1 < len(sentences):
            votes += [v.lower() for v in _SUBJECT_PRONOUN_RE.findall(sentences[k + 1])]
        if not votes:
            continue
        if votes[0] in _MALE_PRONOUNS:
            profile.male[canonical] += 1
        else:
            profile.female[canonical] += 1


def attribute(
    blocks: list[Block],
    profile: Profile,
    resolve: Callable[[str], str | None],
    peek: Callable[[str], str | None] | None = None,
) -> None:
    """Set ``speaker`` and ``rule`` of every :class:`Quoted` in ``blocks`` (one chapter, in order).

    ``resolve`` gives a speaker's cast name (and adds it to the cast); ``peek`` a mentioned
    name's, without adding it (defaults to ``resolve``).
    """
    peek = peek or resolve
    narrator = profile.narrator
    quoted = [b for b in blocks if isinstance(b, Quoted)]
    # 1. Tags, the narrator, vocatives. A narration paragraph that ends introducing speech
    # ("Emma laughed, and replied,") tags the quote of the next paragraph.
    introduced: dict[int, str] = {}
    for i, block in enumerate(blocks[:-1]):
        following = blocks[i + 1]
        if isinstance(block, Narration) and isinstance(following, Quoted) and not following.lead:
            if block.text.rstrip()[-1:] in {",", ":", "-", "—"}:
                tag = tag_before(block.text)
                if tag:
                    introduced[id(following)] = tag
    for block in blocks:
        if isinstance(block, Narration):
            block.mentions = [peek(n) or n for n in mentions(block.text)]
            continue
        block.addressed = {peek(n) or n for n in vocatives(block.spoken)}
        narration = " ".join([block.lead, *block.pieces])
        block.mentions = [peek(n) or n for n in mentions(narration)]
        tags = [t for t in (tag_after(p) for p in block.pieces) if t]
        before = tag_before(block.lead) or introduced.get(id(block))
        if before:
            tags.append(before)
        # narration between two quotes that introduces the second one ("Alice panted; but the
        # Gryphon only answered") may name a second speaker of the paragraph.
        tags.extend(t for t in (tag_before(p) for p in block.pieces[:-1]) if t)
        tags = ["The " + t[4:] if t in profile.labels else t for t in tags]
        kinds = {is_kind(t) for t in tags}
        named = {resolve(t) or t for t in tags if is_kind(t) == "name"}
        if "narrator" in kinds:
            named.add(narrator)
        if len(named) > 1:
            block.rule = UNCERTAIN  # two speakers tagged in one paragraph
            block.tag = "/".join(sorted(named))
            continue
        if named:
            block.speaker, block.rule = next(iter(named)), "tag"
            block.tag = block.speaker
            continue
        if "pronoun" in kinds:
            block.pronoun = next(t for t in tags if is_kind(t) == "pronoun")
        elif "other" in kinds:
            block.tag = next(t for t in tags if is_kind(t) == "other")
    # 2. Continuation of a speech left open in the previous paragraph.
    previous: Quoted | None = None
    for block in blocks:
        if isinstance(block, Quoted):
            if block.speaker is None and block.continues and previous is not None and previous.speaker:
                if block.pronoun is None and block.tag is None:
                    block.speaker, block.rule = previous.speaker, "continuation"
            previous = block
        else:
            previous = None
    # 3. Pronoun tags and narration naming the speaker. The narration's centre of attention:
    # the last sentence subject of each gender ("Harriet submitted ... 'No,' said she").
    recent: list[str] = []  # names in order of mention/speech, most recent last
    centre: dict[str, str | None] = {"m": None, "f": None}
    fresh = False
    since: list[str] = []  # names in the narration since the last quote
    unnamed = False  # someone unnamed ("the child", "a voice") acted in that narration
    for block in blocks:
        if isinstance(block, Narration):
            recent.extend(block.mentions)
            _follow(centre, block.text, profile, peek)
            since.extend(block.mentions)
            unnamed = unnamed or _unnamed_actor(block.text)
            fresh = True
            continue
        if block.lead:
            _follow(centre, block.lead, profile, peek)
            since.extend(peek(n) or n for n in mentions(block.lead))
            unnamed = unnamed or _unnamed_actor(block.lead)
            fresh = True
        if block.speaker is None and block.pronoun:
            block.context = list(recent[-12:])  # resolved with the exchange, in step 4
            block.centre = centre["m" if block.pronoun == "he" else "f"]
            block.fresh = fresh
            gender = "m" if block.pronoun == "he" else "f"
            if fresh and not unnamed:
                named = {n for n in since if profile.speaks(n) and n != profile.narrator}
                fits = {n for n in named if profile.gender(n) == gender}
                if len(fits) == 1 and all(profile.gender(n) for n in named):
                    block.only = next(iter(fits))
            subject = subject_of(block.lead) if block.lead else None
            subject = peek(subject) or subject if subject else None
            if subject and profile.gender(subject) == gender and profile.speaks(subject):
                block.speaker, block.rule = subject, "pronoun"  # "Holmes rose. 'Come,' said he."
            elif block.only:
                block.speaker, block.rule = block.only, "pronoun"
        elif block.speaker is None and block.tag is None and not block.continues:
            beat = _beat(block, profile)
            if beat:
                block.speaker, block.rule = resolve(beat) or beat, "narration"
        recent.extend(block.mentions)
        if block.speaker:
            recent.append(block.speaker)
        fresh = False
        since, unnamed = [], False
    # 4. Alternation inside runs of quoted paragraphs (a continuation is the same turn).
    pair: set[str] = set()  # the two people of the last exchange
    for run, between in _runs(blocks):
        # The same two people go on talking after a narration beat that names nobody else and
        # no unnamed newcomer.
        named = {m for b in between for m in b.mentions if profile.speaks(m)}
        if not pair or not named <= pair or any(_unnamed_actor(b.text) for b in between):
            pair = set()
        if profile.narrator in pair:
            # A first-person narrator is often a silent witness of the next exchange (Watson
            # while a client talks to Holmes): the pair is not carried over.
            pair = set()
        _alternate(run, profile, pair)
        people = {b.speaker for b in run if b.speaker}
        pair = people if len(people) == 2 else pair if people <= pair else set()
        people = len({b.speaker for b in run if b.speaker})
        for block in run:
            block.why = (
                "no speaker named in the exchange" if people == 0
                else "one speaker named in the exchange" if people == 1
                else "turns unclear" if people == 2
                else f"{people} people in the exchange"
            )
    # A speech running on over several paragraphs is its first paragraph's, however that was
    # settled (the runs above may have settled it after step 2).
    previous = None
    for block in blocks:
        if isinstance(block, Quoted):
            if (
                block.speaker is None
                and block.continues
                and previous is not None
                and previous.speaker
                and block.pronoun is None
                and block.tag is None
            ):
                block.speaker, block.rule = previous.speaker, "continuation"
            previous = block
        else:
            previous = None
    for block in quoted:
        if block.speaker and _addresses(block, block.speaker) and block.rule != "tag":
            block.speaker, block.rule = None, UNCERTAIN
            block.why = "the speaker found is the one addressed"
        if block.speaker is None:
            block.rule = UNCERTAIN
            if block.tag and "/" in block.tag:
                block.why = "two speakers tagged in one paragraph"
            elif block.tag:
                block.why = f"tagged by a description ({block.tag})"
            elif block.pronoun:
                block.why = f"'{block.pronoun}' not resolved"
            elif block.continues:
                block.why = "continues a speech whose speaker is uncertain"
            elif not block.why:
                block.why = "no clue"


def _beat(block: Quoted, profile: Profile) -> str | None:
    """The speaker named by the paragraph's own narration, when it names exactly one character."""
    narration = " ".join([block.lead, *block.pieces]).strip()
    if not narration:
        return None
    if profile.first_person and re.match(r"^I\b", block.lead.strip() or (block.pieces[0].strip() if block.pieces else "")):
        others = [m for m in block.mentions if m != profile.narrator]
        return profile.narrator if not others else None
    distinct = {m for m in block.mentions if profile.speaks(m)}
    if len(distinct) != 1 or len(set(block.mentions)) > 2:
        return None
    only = next(iter(distinct))
    lead_subject = subject_of(block.lead) if block.lead else None
    piece_subject = subject_of(block.pieces[0]) if block.pieces else None
    if lead_subject or piece_subject:
        return only
    return None


_UNNAMED_ACTOR_RE = re.compile(
    r"(?:^|[.!?;]\s+|\band\s)(?:[Tt]he|[Aa]n?|[Tt]hat|[Tt]his)\s(?:[a-z]+\s){0,2}(?P<noun>[a-z]+)\s"
    r"(?:[a-z]+ly\s)?(?:was|had|said|[a-z]+ed)\b"
)
_PERSON_NOUNS = _MALE_NOUNS | _FEMALE_NOUNS | frozenset(
    "child person people stranger visitor official voice figure doctor detective officer clerk porter "
    "driver cabman guard nurse teacher pupil student neighbour neighbor friend companion host hostess "
    "guest creature fellow youth other latter former".split()
)


def _unnamed_actor(text: str) -> bool:
    """Whether someone unnamed acts in ``text`` (``the stationmaster whistled``, not ``the
    news was``): a person noun (or one ending in -er/-or/-man: ``stationmaster``) as subject."""
    for match in _UNNAMED_ACTOR_RE.finditer(text):
        noun = match.group("noun")
        if noun in _PERSON_NOUNS or noun.endswith(("man", "woman", "master", "mistress", "er", "or", "ist")):
            return True
    return False


def _follow(centre: dict[str, str | None], text: str, profile: Profile, peek: Callable[[str], str | None]) -> None:
    """Move the centre of attention along the sentences of a narration text."""
    for sentence in _SENTENCE_END_RE.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        match = SUBJECT_RE.match(sentence)
        if not match:
            continue
        name = _subject(match.group("name"))
        kind = is_kind(name)
        if kind == "name" and name is not None:
            canonical = peek(name) or name
            gender = profile.gender(canonical)
            if gender:
                centre[gender] = canonical
            else:
                centre["m"] = centre["f"] = None  # someone of unknown gender: a pronoun may be them
        elif kind == "other":
            centre["m"] = centre["f"] = None  # "the child": someone the rules cannot name


def _pronouns(run: list[Quoted], profile: Profile, pair: AbstractSet[str] = frozenset()) -> None:
    """``said he`` / ``she replied``: the one person of that gender who can be meant.

    Candidates are the other people of the exchange (the previous speaker excluded: speakers
    take turns); with nobody else in the exchange, the people just named in the narration. A
    candidate of unknown gender, or two that fit, leave the quote uncertain.
    """
    participants = list(dict.fromkeys(b.speaker for b in run if b.speaker and b.speaker != profile.narrator))
    participants += [p for p in sorted(pair) if p not in participants and p != profile.narrator]
    for i, block in enumerate(run):
        if block.speaker is not None or not block.pronoun:
            continue
        gender = "m" if block.pronoun == "he" else "f"
        previous = run[i - 1].speaker if i else None
        if block.fresh:
            continue  # narration came between and named no single fit: the exchange no longer tells
        others = [p for p in participants if p != previous]
        if not others:
            others = [
                n
                for n in dict.fromkeys(reversed(block.context))
                if n != previous and n != profile.narrator and profile.speaks(n)
            ]
        fits = [n for n in others if profile.gender(n) == gender]
        unknown = [n for n in others if profile.gender(n) is None]
        if len(fits) == 1 and not unknown:
            block.speaker, block.rule = fits[0], "pronoun"
        elif not fits and block.centre and block.centre != previous and profile.speaks(block.centre):
            block.speaker, block.rule = block.centre, "pronoun"


def _runs(blocks: list[Block]) -> Iterable[tuple[list[Quoted], list[Narration]]]:
    """Runs of quoted paragraphs, each with the narration paragraphs just before it."""
    run: list[Quoted] = []
    between: list[Narration] = []
    for block in blocks:
        if isinstance(block, Narration):
            # Narration ends an exchange (even a short beat: measured, keeping runs going
            # across beats or across narration naming nobody new lost precision).
            if run:
                yield run, between
                between = []
            run = []
            between.append(block)
            continue
        elif block.continues and run and block.speaker in (None, run[-1].speaker):
            if block.speaker is None and run[-1].speaker and block.pronoun is None and block.tag is None:
                block.speaker, block.rule = run[-1].speaker, "continuation"
        else:
            run.append(block)
    if run:
        yield run, between


_TITLE_WORDS = frozenset(
    "mr mrs ms miss master mister dr doctor sir lord lady dame madame monsieur captain colonel "
    "inspector professor the my dear".split()
)


def _name_words(name: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z']+", name.lower()) if w not in _TITLE_WORDS)


def _addresses(block: Quoted, name: str) -> bool:
    """Whether the quote addresses ``name`` (then ``name`` is not its speaker): ``"..., Mr.
    Holmes"`` addresses Sherlock Holmes; the vocative's name words are all in ``name``."""
    if name in block.addressed:
        return True
    words = _name_words(name)
    return any((w := _name_words(v)) and w <= words for v in block.addressed)


def _fits(name: str, pronoun: str, profile: Profile) -> bool:
    """Whether ``said he`` / ``said she`` can be ``name`` (never the first-person narrator)."""
    if name == profile.narrator:
        return False
    return profile.gender(name) in (None, "m" if pronoun == "he" else "f")


def _two_person(run: list[Quoted], profile: Profile, pair: AbstractSet[str] = frozenset()) -> None:
    """A run whose known speakers are two people taking strict turns: the rest by turn parity.

    With one person known, the partner is the one they address by name, or the other of
    ``pair`` (the two of the exchange just before, when it goes on)."""
    known = [(i, b.speaker) for i, b in enumerate(run) if b.speaker]
    names = {name for _, name in known}
    rule = "alternation"
    if len(names) == 1 and len(run) > 1:
        # One person tagged; the other is the one they address by name (vocatives), if one.
        (speaker,) = names
        called = {
            name
            for b in run
            if b.speaker == speaker
            for name in b.addressed
            if name != speaker and profile.speaks(name)
        }
        if not called and speaker in pair:
            called = set(pair) - {speaker}
            rule = "alternation"
        if len(called) != 1:
            return
        partner = next(iter(called))
        parities = {i % 2 for i, _ in known}
        if len(parities) != 1:
            return
        (parity,) = parities
        by_parity = {parity: speaker, 1 - parity: partner}
    else:
        if len(names) != 2 or len(known) < 2:
            return
        by_parity = {}
        for i, name in known:
            if by_parity.setdefault(i % 2, name) != name:
                return  # not strict turns: leave it to the local rule
        if len(by_parity) != 2:
            return
    for i, block in enumerate(run):
        if block.speaker is None:
            guess = by_parity[i % 2]
            if block.pronoun and not _fits(guess, block.pronoun, profile):
                continue
            if _addresses(block, guess) or block.tag:
                continue
            block.speaker, block.rule = guess, rule


def _speaker_called(called: str, profile: Profile) -> str | None:
    """The speaker a vocative names: itself, or the one speaker whose name holds its name words
    with a title of the same gender (``Mr. Holmes`` → ``Sherlock Holmes``)."""
    if profile.speaks(called):
        return called
    words = _name_words(called)
    if not words:
        return None
    title = called.split()[0].rstrip(".").lower()
    gender = "m" if title in _MALE_TITLES else "f" if title in _FEMALE_TITLES else None
    fits = [
        s for s in profile.speakers
        if words <= _name_words(s) and (gender is None or profile.gender(s) in (None, gender))
    ]
    return fits[0] if len(fits) == 1 else None


def _vocative(run: list[Quoted], profile: Profile) -> None:
    """An untagged quote answers the one person the quote before it addressed by name
    (``"..., Harriet?"`` / ``"Oh, yes!"`` is Harriet's), or is by the person the quote after it
    addresses, whoever spoke those; when both apply they must agree."""
    changed = True
    while changed:
        changed = False
        for i, block in enumerate(run):
            if block.speaker is not None or block.tag:
                continue
            guesses = set()
            for j in (i - 1, i + 1):
                if 0 <= j < len(run) and len(run[j].addressed) == 1:
                    (called,) = run[j].addressed
                    name = _speaker_called(called, profile)
                    if name and name != run[j].speaker:
                        guesses.add(name)
            if len(guesses) != 1:
                continue
            (guess,) = guesses
            if _addresses(block, guess) or (block.pronoun and not _fits(guess, block.pronoun, profile)):
                continue
            block.speaker, block.rule = guess, "vocative"
            changed = True


def _alternate(run: list[Quoted], profile: Profile, pair: AbstractSet[str] = frozenset()) -> None:
    _two_person(run, profile, pair)
    _pronouns(run, profile, pair)
    _two_person(run, profile, pair)
    _vocative(run, profile)
    _two_person(run, profile, pair)
    _local(run, profile)


TURN_WINDOW = 5
"""In an exchange where three or more people speak, ``A B ? → A`` still holds where the quotes
this far either side show only two of them (chosen on the PDNC development novels among 2-10:
the trade is smooth: 2 gives acc 0.663 / prec 0.896, 3 gives 0.659 / 0.898, 5 gives 0.652 / 0.902,
10 gives 0.646 / 0.904; with no window, 0.644 / 0.905)."""


def _local(run: list[Quoted], profile: Profile) -> None:
    """Turn-taking around a quote: ``A B ? → A`` (and backwards, both must agree), where the
    exchange, or the quotes within :data:`TURN_WINDOW` of this one, show only two people."""
    many = len({b.speaker for b in run if b.speaker}) > 2
    changed = True
    while changed:
        changed = False
        anchors = [b.speaker for b in run]
        for i, block in enumerate(run):
            if block.speaker is not None:
                continue
            forward = backward = None
            if i >= 2 and anchors[i - 1] and anchors[i - 2] and anchors[i - 1] != anchors[i - 2]:
                forward = anchors[i - 2]
            if i + 2 < len(run) and anchors[i + 1] and anchors[i + 2] and anchors[i + 1] != anchors[i + 2]:
                backward = anchors[i + 2]
            guess = forward or backward
            if not guess or (forward and backward and forward != backward):
                continue
            if many and len({a for a in anchors[max(0, i - TURN_WINDOW) : i + TURN_WINDOW + 1] if a}) > 2:
                # three or more people nearby: only A B ? B A, where both sides agree
                if not (forward and backward and anchors[i - 1] == anchors[i + 1]):
                    continue
            if block.pronoun and not _fits(guess, block.pronoun, profile):
                continue
            if _addresses(block, guess) or block.tag:
                continue
            block.speaker, block.rule = guess, "alternation"
            changed = True
