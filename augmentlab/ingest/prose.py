"""Prose fiction: quoted dialogue inside narrative paragraphs.

Each paragraph with quoted speech (straight ``"..."`` or curly ``“...”``) becomes one dialogue
line whose text is the quoted words (joined by a space), or one line per speaker when tags name
two (``"Yes," said A. "No," said B.``); the narration between and after the
quotes (``he remarked, lighting a cigarette``) becomes the line's directions, and a long lead-in
before the first quote stays a narration line of its own. Paragraphs without quotes are
narration lines. Chapter / story headings (``ADVENTURE I. A SCANDAL IN BOHEMIA``, ``CHAPTER 3``,
``II.``) start scenes.

Who speaks is decided a chapter at a time by :mod:`augmentlab.ingest.attribution` (speech tags
either side of the quote, ``said he`` resolved by gender, vocatives, turn-taking in two-person
exchanges, continued speeches) and recorded in ``Line.metadata["attribution"]``; a quote the
rules cannot settle keeps ``speaker=None`` with ``attribution = "uncertain"`` and
``metadata["why"]`` (export does not train those lines as a character's turns unless asked).

:func:`prepare` is a first pass over the file: the tagged names, so the cast merges ``Holmes``
into ``Sherlock Holmes`` (see :meth:`~augmentlab.ingest.cast.Cast.expect`) but keeps a short
name the narration established apart from a longer one that appears later (``Mr. Knightley`` /
``Mr. John Knightley``); gender evidence; whether the narration is first person (its ``I`` /
``my`` rate, :data:`FIRST_PERSON_RATE`) and, if so, the narrator's name as they give it (``my name
is Hale``) or as the others call them (``my dear Watson`` → ``Watson``), else ``Narrator``
(``Script.metadata["narrator"]``).

Each dialogue line's metadata holds the rule that settled its speaker, its evidence and
confidence (:mod:`augmentlab.ingest.attribution.confidence`) and, when the rules abstained below
the confidence threshold, their ``guess``; the ledger counts the quotes attributed, unattributed
and abstained (``inspect``, the ingest summary line).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from augmentlab.ingest.attribution import attribute
from augmentlab.ingest.attribution.clues import is_kind, mentions, tag_after, tag_before, vocatives
from augmentlab.ingest.attribution.speakers import NARRATOR, Narration, Profile, Quoted, learn
from augmentlab.ingest.lines import collapse, make_line, paragraphs
from augmentlab.ingest.segment import Event, ParseState, SceneStart
from augmentlab.core.model import Line, LineKind

QUOTE_RE = re.compile(r'"([^"]*)(?:"|$)|“([^”]*)(?:”|$)')
HEADING_RE = re.compile(
    r"^(?:(?:ADVENTURE|CHAPTER|BOOK|PART|STORY)\b[^a-z]*|[IVXLC]+\.\s+[^a-z]+|[IVXLC]+\.|CHAPTER\s+\S+.*|Chapter\s+\S+.*)$"
)
_FIRST_PERSON = re.compile(r"\bI\b|\b[Mm]y\b")
FIRST_PERSON_RATE = 0.005
"""Share of ``I`` / ``my`` among the narration's words (quotes left out) that makes it first person:
on the PDNC development novels, 0.0001-0.0009 in the five third-person ones, 0.029 in *The Sign of
the Four* (Watson); 0.032 in *Treasure Island*, 0.021 in *The Adventures of Sherlock Holmes*."""
_NAME_GIVEN_RE = re.compile(
    r"\b(?:[Mm]y name (?:is|was)|I am called|(?:they|people|everyone|he|she) called me)\s+"
    r"(?P<name>(?:Mr\.|Mrs\.|Miss|Dr\.)?\s?[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
)
"""The narrator naming themselves: ``my name is Ishmael``, ``they called me Pip``."""
LEAD_IN_WORDS = 12
LABEL_TAGS = 5
"""Speech tags with one description (``said the stranger``) that make it a speaker's name."""
_GENERIC_PEOPLE = frozenset("man woman boy girl lady gentleman child person fellow other one".split())
ESTABLISHED = 3
"""Mentions of a short name before a longer one appears that make it a character of its own."""


FLUSH_BLOCKS = 5000
"""A chapter longer than this many paragraphs is attributed in parts (memory stays bounded)."""


def _blocks(source: Iterable[tuple[int, str]]) -> Iterator[tuple[str, object]]:
    """Paragraphs as ``("heading", text)``, ``("narration", (number, text))`` or ``("quoted", Quoted)``."""
    open_quote = False
    for number, block in paragraphs(source):
        text = collapse(" ".join(line.strip() for line in block))
        if len(block) == 1 and len(text) < 100 and HEADING_RE.match(text):
            open_quote = False
            yield "heading", text
            continue
        matches = list(QUOTE_RE.finditer(text))
        quoted = [next((g for g in m.groups() if g is not None), "").strip() for m in matches]
        if not matches or all(len(q) <= 3 for q in quoted) or not any(quoted):
            open_quote = False
            yield "narration", (number, text)
            continue
        lead = text[: matches[0].start()].strip()
        between = [text[a.end() : b.start()].strip() for a, b in zip(matches, matches[1:])]
        after = text[matches[-1].end() :].strip()
        continues = open_quote and matches[0].start() == 0
        open_quote = not (text.endswith('"') or text.endswith("”")) and (
            text.count('"') % 2 == 1 or text.count("“") > text.count("”")
        )
        pieces = [*between, after]
        segments = _segments(quoted, lead, pieces)
        for n, (ks, attribution_lead) in enumerate(segments):
            words = [quoted[k] for k in ks]
            yield "quoted", (
                Quoted(
                    number=number,
                    text=text,
                    lead=attribution_lead,
                    pieces=[pieces[k] for k in ks],
                    spoken=" ".join(q for q in words if q),
                    starts_with_quote=matches[ks[0]].start() == 0,
                    continues=continues and n == 0,
                    left_open=open_quote and n == len(segments) - 1,
                ),
                words,
                [pieces[k] for k in ks],
                lead if n == 0 else "",
            )


def _segments(quoted: list[str], lead: str, pieces: list[str]) -> list[tuple[list[int], str]]:
    """The quotes of a paragraph grouped by speaker: ``"Yes," said A. "No," said B.`` is two
    lines. Each group: the quote indices and the narration introducing it (the lead, or the
    narration after the previous group, which stays that group's direction)."""
    if len(quoted) < 2:
        return [(list(range(len(quoted))), lead)]
    idents: list[str | None] = []
    for k in range(len(quoted)):
        tag = tag_after(pieces[k])
        if not tag:
            before = lead if k == 0 else pieces[k - 1]
            tag = tag_before(before) if before else None
        idents.append(tag if tag and is_kind(tag) in ("name", "narrator") else None)
    if len({i for i in idents if i}) < 2:
        return [(list(range(len(quoted))), lead)]
    groups: list[tuple[list[int], str | None]] = []
    for k, ident in enumerate(idents):
        if groups and (ident is None or groups[-1][1] in (None, ident)):
            ks, current = groups[-1]
            groups[-1] = ([*ks, k], current or ident)
        else:
            groups.append(([k], ident))
    return [(ks, lead if n == 0 else pieces[ks[0] - 1]) for n, (ks, _) in enumerate(groups)]


def _emit(item: tuple[Quoted, list[str], list[str], str]) -> Iterator[Line]:
    block, quoted, pieces, lead = item
    number = block.number
    if lead and len(lead.split()) >= LEAD_IN_WORDS:
        yield make_line(None, lead, source_line=number)
        lead = ""
    spoken_parts: list[str] = []
    directions: list[str] = []
    offsets: list[int] = []
    length = 0
    if lead:
        directions.append(lead)
        offsets.append(0)
    for i, words in enumerate(quoted):
        if words:
            length += len(words) + (1 if spoken_parts else 0)
            spoken_parts.append(words)
        narration = pieces[i] if i < len(pieces) else ""
        if narration:
            directions.append(narration)
            offsets.append(length)
    metadata: dict[str, object] = {"attribution": block.rule}
    if block.speaker is None and block.why:
        metadata["why"] = block.why
    if block.evidence and (block.speaker or block.guess):
        metadata["evidence"] = block.evidence
        metadata["confidence"] = round(block.confidence, 3) if block.confidence is not None else None
    if block.guess:
        metadata["guess"] = block.guess
    if block.tag and block.rule != "tag":
        metadata["tag"] = block.tag
    elif block.pronoun and block.rule != "pronoun":
        metadata["tag"] = block.pronoun
    yield make_line(
        block.speaker,
        " ".join(spoken_parts),
        source_line=number,
        directions=directions,
        offsets=offsets,
        kind=LineKind.dialogue,
        metadata=metadata,
    )


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from prose, attributed a chapter at a time."""
    profile = state.metadata.pop(_PROFILE_KEY, None) or Profile()
    if profile.narrator != NARRATOR:
        state.metadata["narrator"] = state.cast.display(profile.narrator)
    peek = state.cast.peek
    full = state.cast.canonical
    display = state.cast.display

    def canonical(name: str) -> str | None:
        return profile.narrator if name == "I" else full(name)

    def mention(name: str) -> str | None:
        return profile.narrator if name == "I" else peek(name)

    story: str | None = None
    pending: list[tuple[str, object]] = []

    def flush() -> Iterator[Event]:
        blocks = [
            item[1][0] if kind == "quoted" else Narration(text=item[1][1])
            for kind, item in ((k, (k, v)) for k, v in pending)
        ]
        attribute(blocks, profile, canonical, mention)
        counts = state.ledger.attribution
        for block in blocks:
            if isinstance(block, Quoted):
                key = "attributed" if block.speaker else "unattributed"
                counts[key] = counts.get(key, 0) + 1
                if block.guess:
                    counts["abstained"] = counts.get("abstained", 0) + 1
                    block.guess = display(block.guess)  # the name the lines show (Kemp, not Dr. Kemp)
        for kind, value in pending:
            if kind == "quoted":
                yield from _emit(value)  # type: ignore[arg-type]
            else:
                number, text = value  # type: ignore[misc]
                yield make_line(None, text, source_line=number)
        pending.clear()

    for kind, value in _blocks(source):
        if kind == "heading":
            yield from flush()
            text = str(value)
            if re.match(r"^[IVXLC]+\.$", text):
                heading = f"{story} {text}" if story else text
            else:
                story = text
                heading = text
            yield SceneStart(heading=heading, metadata={"story": story})
            continue
        pending.append((kind, value))
        if kind == "narration" and len(pending) >= FLUSH_BLOCKS:
            yield from flush()
    yield from flush()


_PROFILE_KEY = "_prose_profile"


def _label(description: str) -> str:
    return "The " + description[4:]


def prepare(source: Iterable[tuple[int, str]], state: ParseState) -> None:
    """A first pass over the file: the tagged names (so the cast merges ``Holmes`` into
    ``Sherlock Holmes``), gender evidence, whether the narration is first person and, if so,
    the narrator's name when the other characters call them by one (``my dear Watson``)."""
    names: list[str] = []
    described: Counter[str] = Counter()
    narration_words = first_person = narrator_tags = 0
    addressed: Counter[str] = Counter()
    own: list[str] = []  # what the narrator says ("said I")
    texts: list[str] = []
    previous: Quoted | None = None
    previous_was_narrator = False
    distinct: set[tuple[str, str]] = set()
    for kind, value in _blocks(source):
        if kind != "quoted":
            previous, previous_was_narrator = None, False
            if kind == "narration":
                text = value[1]  # type: ignore[index]
                texts.append(text)
                narration_words += len(text.split())
                first_person += len(_FIRST_PERSON.findall(text))
            continue
        block = value[0]  # type: ignore[index]
        narration = " ".join([block.lead, *block.pieces])
        texts.append(narration)
        narration_words += len(narration.split())
        first_person += len(_FIRST_PERSON.findall(narration))
        tags = [t for t in (*(tag_after(p) for p in block.pieces), tag_before(block.lead)) if t]
        names.extend(t for t in tags if is_kind(t) == "name")
        described.update(t for t in tags if t.startswith("the ") and is_kind(t) == "other")
        by_narrator = "I" in tags
        narrator_tags += by_narrator
        if by_narrator:
            own.append(block.spoken)
        if by_narrator and previous is not None:
            addressed.update(vocatives(previous.spoken))
        if previous_was_narrator:
            addressed.update(vocatives(block.spoken))
        previous, previous_was_narrator = block, by_narrator
    # A short name the narration used for a while before a longer one first appears is a
    # character of its own ("Mr. Knightley", established, then his brother "Mr. John
    # Knightley"): the two are never merged. A name introduced first and shortened later
    # ("Sherlock Holmes", then "Holmes") still merges.
    seen: Counter[str] = Counter()
    by_last: dict[str, list[str]] = {}
    for text in texts:
        for name in mentions(text):
            if name not in seen:
                last = name.split()[-1]
                for short in by_last.get(last, []):
                    if seen[short] >= ESTABLISHED and len(short.split()) < len(name.split()):
                        distinct.add((short, name))
                by_last.setdefault(last, []).append(name)
            seen[name] += 1
    state.cast.expect(names, state.warnings, distinct, mentions=seen)
    profile = Profile()
    profile.first_person = narrator_tags >= 3 or first_person > FIRST_PERSON_RATE * max(narration_words, 1)
    # A description the tags use again and again ("said the stranger", "the mariner replied") is
    # how the book names that speaker; generic ones ("the girl", "the old man") are not.
    profile.labels = {
        t for t, n in described.items() if n >= LABEL_TAGS and t.split()[-1] not in _GENERIC_PEOPLE
    }
    profile.tagged = Counter(state.cast.peek(name) or name for name in names)
    profile.speakers = set(profile.tagged) | {_label(t) for t in profile.labels}
    for text in texts:
        learn(profile, text, state.cast.peek)
    given = Counter(m.group("name").strip() for t in (*texts, *own) for m in _NAME_GIVEN_RE.finditer(t))
    if profile.first_person and given:
        profile.narrator = state.cast.peek(given.most_common(1)[0][0]) or given.most_common(1)[0][0]
    elif profile.first_person and addressed:
        called: Counter[str] = Counter()
        for name, count in addressed.items():
            called[state.cast.peek(name)] += count
        ranked = called.most_common(2) + [("", 0)]
        (name, count), (_, second) = ranked[0], ranked[1]
        if count >= 3 and count >= 2 * second:  # the name the others call the narrator by, clearly
            profile.narrator = name
    state.metadata[_PROFILE_KEY] = profile
