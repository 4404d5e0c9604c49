"""What the words around a quotation say about who speaks it: the candidates, not the decision.

* :func:`tag_after` / :func:`tag_before` — the subject of a speech tag right after a quote
  (``said Emma``) or ending the narration before one (``Emma replied,``);
* :func:`mentions` — character-like names in narration; :func:`vocatives` — names a quote
  addresses (``"..., my dear Watson."``);
* :func:`is_kind` / :func:`subject_of` / :func:`subject_name` — what a tag's subject is (a name,
  ``he``/``she``, ``I``, a description) and the subject opening a sentence;
* :func:`unnamed_actor` — someone unnamed acting (``the stationmaster whistled``);
* the word lists that tell a name's gender (titles, nouns) for
  :class:`~augmentlab.ingest.attribution.speakers.Profile`.

The decision is :func:`augmentlab.ingest.attribution.attribute`'s.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from functools import lru_cache

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
TAG_AFTER_RE = re.compile(
    rf"{_OPEN}(?:(?:[a-z]+ly\s+)?{_VERB}{_PARTICLE}{_ADV}\s+{_SUBJECT}(?![a-z])"
    rf"|{_SUBJECT2}(?:\s+(?:himself|herself))?{_ADV}\s+(?:had\s+|has\s+)?{_VERB}\b"
    rf"|(?:[a-z]+ed|{_VERB}){_ADV}\s+{_EPITHET}(?P<name3>{_NAME})\b"
    rf"|(?P<name4>{_NAME})(?:\s+(?:himself|herself))?{_ADV}\s+[a-z]+ed\b"
    rf"|(?:was|came)\s+(?:the\s+)?(?P<name5>{_NAME})'s?\b"
    rf"|(?:was|came)\s+(?P<mine>my)\s+(?:reply|answer|rejoinder|response|retort)\b)"
)
"""A tag right after a quote: ``said Emma``, ``Emma said``, ``said the Hatter``, ``she replied``."""
SENTENCE_END_RE = re.compile(r"(?<![A-Z][a-z])(?<!\b[A-Z])(?<!\bM[rs])(?<!\bMrs)(?<!\bDr|\bSt)[.!?](?:\s|$)|--|—")
TAG_BEFORE_RE = re.compile(
    rf"(?:^|[,;]\s|\band\s|\bbut\s|\bthen\s|\s(?=[A-Z]))(?:{_SUBJECT}{_ADV}\s+(?:[a-z]+ly\s+)?{_ANY_VERB}{_PARTICLE}|{_VERB}{_PARTICLE}{_ADV}\s+{_SUBJECT2})"
    rf"(?:\s+[a-z]+ly)?(?:\s+(?:to|at|of|with)\s+[A-Za-z.]+(?:\s+[A-Za-z.]+){{0,3}})?[\s,:;\-—–]*$"
)
"""A tag ending the narration before a quote: ``Emma replied,``, ``Her father fondly replied,``."""
SUBJECT_RE = re.compile(rf"^(?:(?:And|But|Then|So)\s|[A-Z][a-z]+,\s)?{_SUBJECT}\b")
_SUBJECT_VERB_RE = re.compile(rf"(?<![A-Za-z]){_SUBJECT}{_ADV}\s+(?:[a-z]+ly\s+)?{_VERB}\b")
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
# Words that tell a gender: titles (``Mr.``, ``Lady``), nouns (``the King``), bound pronouns.
MALE_TITLES = frozenset("mr mister sir lord master monsieur king prince duke earl father uncle brother squire".split())
FEMALE_TITLES = frozenset(
    "mrs ms miss lady madame mme mlle mademoiselle dame queen princess duchess countess mother aunt sister "
    "mistress widow".split()
)
MALE_NOUNS = frozenset(
    "man gentleman boy king prince duke earl lord father uncle brother son husband fellow sir master "
    "old-man landlord servant footman butler mariner sailor soldier constable inspector stranger".split()
)
FEMALE_NOUNS = frozenset(
    "woman lady girl queen princess duchess countess mother aunt sister daughter wife widow landlady "
    "maid housekeeper mistress".split()
)
MALE_PRONOUNS = frozenset("he him his himself".split())
_VOCATIVE_RE = re.compile(
    rf"(?:(?:^|[.!?]\s+|--\s*)(?P<lead>[Mm]y\s+(?:dear\s+)?|[Dd]ear\s+|[Oo]h,?\s+)?|(?P<comma>,\s+)(?:my\s+(?:dear\s+)?|dear\s+)?)"
    rf"(?P<name>{_NAME})(?=\s*(?:[,!?;]|--|—|\.(?:\s|$)))"
)
"""``my dear Watson,`` / ``..., Watson.`` / ``Emma,`` (a bare word opening a sentence must be a
titled or known name: "Surely," is not a vocative)."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text)


@lru_cache(maxsize=1 << 16)
def tag_after(piece: str) -> str | None:
    """The subject of a speech tag opening the narration after a quote (``said Emma,`` → ``Emma``)."""
    if not piece:
        return None
    match = TAG_AFTER_RE.match(piece[:120])
    if not match:
        return None
    if match.group("mine"):
        return "I"  # "was my reply": the first-person narrator
    return subject_name(next((g for g in match.group("name", "name2", "name3", "name4", "name5") if g), None))


@lru_cache(maxsize=1 << 16)
def tag_before(lead: str) -> str | None:
    """The subject of a speech tag ending the narration before a quote (``Emma replied,`` → ``Emma``)."""
    if not lead or lead[-1] not in ",:;-—–" and not (_words(lead[-12:]) or [""])[-1] in _VERB_SET:
        return None
    tail = lead[-200:]
    if _VERB_SET.isdisjoint(_words(tail)):
        return None
    # the sentence that introduces the quote ("At last, with some hesitation, Harriet said--")
    sentence = SENTENCE_END_RE.split(tail.rstrip(" ,:;-—–"))[-1].strip()
    match = TAG_BEFORE_RE.search(sentence + ",")
    if match:
        return subject_name(match.group("name") or match.group("name2"))
    if _VERB_SET.isdisjoint(_words(sentence[-40:])):
        return None
    # "... for he repeated the statement hotly:" : the subject right before the last speech verb
    nearest = [m for m in _SUBJECT_VERB_RE.finditer(sentence) if subject_name(m.group("name"))]
    if nearest:
        return subject_name(nearest[-1].group("name"))
    # "Emma turned to him and said," : a speech verb in the sentence, its subject first.
    first = SUBJECT_RE.match(sentence)
    subject = subject_name(first.group("name")) if first else None
    if subject:
        return subject
    return None


def subject_name(name: str | None) -> str | None:
    """A matched subject tidied (``that girl`` → ``the girl``, ``She`` → ``she``), or ``None`` when
    it is no subject (``Then``, ``Having``, a bare ``the``)."""
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
    name = subject_name(match.group("name"))
    return name if is_kind(name) == "name" and not name.startswith("The ") or (name and name.startswith("The ") and name[4:5].isupper()) else None


_UNNAMED_ACTOR_RE = re.compile(
    r"(?:^|[.!?;]\s+|\band\s)(?:[Tt]he|[Aa]n?|[Tt]hat|[Tt]his)\s(?:[a-z]+\s){0,2}(?P<noun>[a-z]+)\s"
    r"(?:[a-z]+ly\s)?(?:was|had|said|[a-z]+ed)\b"
)
_PERSON_NOUNS = MALE_NOUNS | FEMALE_NOUNS | frozenset(
    "child person people stranger visitor official voice figure doctor detective officer clerk porter "
    "driver cabman guard nurse teacher pupil student neighbour neighbor friend companion host hostess "
    "guest creature fellow youth other latter former".split()
)


def unnamed_actor(text: str) -> bool:
    """Whether someone unnamed acts in ``text`` (``the stationmaster whistled``, not ``the
    news was``): a person noun (or one ending in -er/-or/-man: ``stationmaster``) as subject."""
    for match in _UNNAMED_ACTOR_RE.finditer(text):
        noun = match.group("noun")
        if noun in _PERSON_NOUNS or noun.endswith(("man", "woman", "master", "mistress", "er", "or", "ist")):
            return True
    return False
