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
    the evidence found is too weak to keep (:mod:`.confidence`: below its threshold the rules
    abstain and keep their guess), none of the above, or rules disagree (two speakers tagged in
    one paragraph; a description for a tag, ``said her father``, ``the girl replied``; the
    speaker found is the one the quote addresses; ``said she`` for a man): ``speaker`` stays
    ``None`` and ``Line.metadata["why"]`` says why.

Every speaker found carries its evidence (``Quoted.evidence``, finer than the rule:
``tag:after:often``, ``alternation:parity:two``) and, from :mod:`.confidence`, a confidence.

This module decides, in the steps of :func:`attribute`; :mod:`.clues` finds the candidates in
the words (tags, mentions, vocatives, subjects), :mod:`.speakers` holds the paragraphs, what a
first pass learns about the book's people and the matching of names, :mod:`.exchanges` the
turn-taking inside a run of quoted paragraphs, :mod:`.confidence` how far each kind of evidence
is trusted (step 7 abstains below its threshold).

Names are the cast's (the caller resolves them). Genders come from titles (``Mr.``, ``Lady``), a
few nouns (``the King``) and, for other names, the pronouns that follow the name as a sentence
subject across the book (:class:`Profile`, filled by a first pass over the file).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from augmentlab.ingest.attribution.clues import (
    SENTENCE_END_RE,
    SUBJECT_RE,
    is_kind,
    mentions,
    subject_name,
    subject_of,
    tag_after,
    tag_before,
    unnamed_actor,
    vocatives,
)
from augmentlab.ingest.attribution.confidence import abstain
from augmentlab.ingest.attribution.exchanges import alternate, runs
from augmentlab.ingest.attribution.speakers import UNCERTAIN, Block, Narration, Profile, Quoted, addresses

Names = Callable[[str], str | None]
"""A name → its cast name (``None`` when the cast does not know it)."""


def attribute(blocks: list[Block], profile: Profile, resolve: Names, peek: Names | None = None) -> None:
    """Set ``speaker`` and ``rule`` of every :class:`Quoted` in ``blocks`` (one chapter, in order).

    ``resolve`` gives a speaker's cast name (and adds it to the cast); ``peek`` a mentioned
    name's, without adding it (defaults to ``resolve``).
    """
    peek = peek or resolve
    _tags(blocks, profile, resolve, peek)  # 1. tags, the narrator, vocatives
    _continuations(blocks)  # 2. a speech left open in the previous paragraph
    _pronouns_and_beats(blocks, profile, resolve, peek)  # 3. ``said he``, narration naming the speaker
    _exchanges(blocks, profile)  # 4. turn-taking inside runs of quoted paragraphs
    # 5. A speech running on over several paragraphs is its first paragraph's, however that was
    # settled (the runs above may have settled it after step 2).
    _continuations(blocks)
    quoted = [b for b in blocks if isinstance(b, Quoted)]
    _settle(quoted)  # 6. what stays uncertain, and why
    abstain(quoted)  # 7. each speaker's confidence; below the threshold, abstain


def _tags(blocks: list[Block], profile: Profile, resolve: Names, peek: Names) -> None:
    """Step 1: speech tags, the narrator, vocatives and mentions of every paragraph. A narration
    paragraph that ends introducing speech ("Emma laughed, and replied,") tags the quote of the
    next paragraph."""
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
        else:
            _tag(block, introduced.get(id(block)), profile, resolve, peek)


def _tag(block: Quoted, introduced: str | None, profile: Profile, resolve: Names, peek: Names) -> None:
    """The speaker a paragraph's tags name (two named: uncertain), else its ``he``/``she`` or
    description tag for the later steps."""
    block.addressed = {peek(n) or n for n in vocatives(block.spoken)}
    narration = " ".join([block.lead, *block.pieces])
    block.mentions = [peek(n) or n for n in mentions(narration)]
    # (tag, where): after a quote, ending the lead, ending the narration paragraph before
    tags = [(t, "after") for t in (tag_after(p) for p in block.pieces) if t]
    lead_tag = tag_before(block.lead)
    if lead_tag or introduced:
        tags.append((lead_tag or introduced, "before" if lead_tag else "introduced"))
    # narration between two quotes that introduces the second one ("Alice panted; but the
    # Gryphon only answered") may name a second speaker of the paragraph.
    tags.extend((t, "between") for t in (tag_before(p) for p in block.pieces[:-1]) if t)
    tags = [("The " + t[4:], "label") if t in profile.labels else (t, where) for t, where in tags]
    kinds = {is_kind(t) for t, _ in tags}
    named = {resolve(t) or t for t, _ in tags if is_kind(t) == "name"}
    if "narrator" in kinds:
        named.add(profile.narrator)
    if len(named) > 1:
        block.rule = UNCERTAIN  # two speakers tagged in one paragraph
        block.tag = "/".join(sorted(named))
        return
    if named:
        block.speaker, block.rule = next(iter(named)), "tag"
        block.tag = block.speaker
        block.evidence = "tag:" + next(
            "narrator" if is_kind(t) == "narrator" else where for t, where in tags if is_kind(t) in ("name", "narrator")
        )
        if block.speaker != profile.narrator:  # a name the book tags once: more often a misreading
            block.evidence += ":once" if profile.tagged.get(block.speaker, 0) <= 1 else ":often"
        return
    tags = [t for t, _ in tags]
    if "pronoun" in kinds:
        block.pronoun = next(t for t in tags if is_kind(t) == "pronoun")
    elif "other" in kinds:
        block.tag = next(t for t in tags if is_kind(t) == "other")


def _continuations(blocks: list[Block]) -> None:
    """Steps 2 and 5: an untagged paragraph continuing a speech left open in the previous
    paragraph is that paragraph's speaker's."""
    previous: Quoted | None = None
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
                block.speaker, block.rule, block.evidence = previous.speaker, "continuation", "continuation"
            previous = block
        else:
            previous = None


class _Attention:
    """Step 3's reading of the narration so far: names in order of mention or speech, the centre
    of attention (the last sentence subject of each gender: "Harriet submitted ... 'No,' said
    she"), and what the narration since the last quote named."""

    def __init__(self, profile: Profile, peek: Names) -> None:
        self.profile, self.peek = profile, peek
        self.recent: list[str] = []  # names in order of mention/speech, most recent last
        self.centre: dict[str, str | None] = {"m": None, "f": None}
        self.fresh = False  # narration came since the last quote
        self.since: list[str] = []  # names in the narration since the last quote
        self.unnamed = False  # someone unnamed ("the child", "a voice") acted in that narration

    def narration(self, block: Narration) -> None:
        self.recent.extend(block.mentions)
        _follow(self.centre, block.text, self.profile, self.peek)
        self.since.extend(block.mentions)
        self.unnamed = self.unnamed or unnamed_actor(block.text)
        self.fresh = True

    def lead(self, lead: str) -> None:
        """The narration opening a quoted paragraph."""
        _follow(self.centre, lead, self.profile, self.peek)
        self.since.extend(self.peek(n) or n for n in mentions(lead))
        self.unnamed = self.unnamed or unnamed_actor(lead)
        self.fresh = True

    def pronoun(self, block: Quoted) -> None:
        """``said he``: the lead's subject or the one fitting name of the narration just before;
        else what step 4 needs to resolve it with the exchange."""
        profile, gender = self.profile, "m" if block.pronoun == "he" else "f"
        block.context = list(self.recent[-12:])
        block.centre = self.centre[gender]
        block.fresh = self.fresh
        if self.fresh and not self.unnamed:
            named = {n for n in self.since if profile.speaks(n) and n != profile.narrator}
            fits = {n for n in named if profile.gender(n) == gender}
            if len(fits) == 1 and all(profile.gender(n) for n in named):
                block.only = next(iter(fits))
        subject = subject_of(block.lead) if block.lead else None
        subject = self.peek(subject) or subject if subject else None
        if subject and profile.gender(subject) == gender and profile.speaks(subject):
            block.speaker, block.rule = subject, "pronoun"  # "Holmes rose. 'Come,' said he."
            block.evidence = "pronoun:subject"
        elif block.only:
            block.speaker, block.rule, block.evidence = block.only, "pronoun", "pronoun:only"

    def quoted(self, block: Quoted) -> None:
        """After a quoted paragraph: its names and speaker are the most recent."""
        self.recent.extend(block.mentions)
        if block.speaker:
            self.recent.append(block.speaker)
        self.fresh = False
        self.since, self.unnamed = [], False


def _pronouns_and_beats(blocks: list[Block], profile: Profile, resolve: Names, peek: Names) -> None:
    """Step 3: pronoun tags, and narration naming the speaker (:func:`_beat`)."""
    attention = _Attention(profile, peek)
    for block in blocks:
        if isinstance(block, Narration):
            attention.narration(block)
            continue
        if block.lead:
            attention.lead(block.lead)
        if block.speaker is None and block.pronoun:
            attention.pronoun(block)
        elif block.speaker is None and block.tag is None and not block.continues:
            beat = _beat(block, profile)
            if beat:
                block.speaker, block.rule = resolve(beat) or beat, "narration"
                block.evidence = "narration:narrator" if beat == profile.narrator else "narration:named"
        attention.quoted(block)


def _exchanges(blocks: list[Block], profile: Profile) -> None:
    """Step 4: alternation inside runs of quoted paragraphs (a continuation is the same turn)."""
    pair: set[str] = set()  # the two people of the last exchange
    for run, between in runs(blocks):
        # The same two people go on talking after a narration beat that names nobody else and
        # no unnamed newcomer.
        named = {m for b in between for m in b.mentions if profile.speaks(m)}
        if not pair or not named <= pair or any(unnamed_actor(b.text) for b in between):
            pair = set()
        if profile.narrator in pair and not any(b.speaker == profile.narrator for b in run):
            # A first-person narrator is often a silent witness of the next exchange (Watson
            # while a client talks to Holmes): the pair is carried over only when the narrator
            # speaks in it too (the one they talk to goes on answering).
            pair = set()
        alternate(run, profile, pair, nearby=named)
        _crowd(run, named, profile)
        people = {b.speaker for b in run if b.speaker}
        pair = people if len(people) == 2 else pair if people <= pair else set()
        count = len(people)
        why = (
            "no speaker named in the exchange" if count == 0
            else "one speaker named in the exchange" if count == 1
            else "turns unclear" if count == 2
            else f"{count} people in the exchange"
        )
        for block in run:
            block.why = why


_EXCHANGE_EVIDENCE = ("alternation", "vocative", "pronoun:exchange", "pronoun:context")


def _crowd(run: list[Quoted], nearby: set[str], profile: Profile) -> None:
    """Evidence from turn-taking gets ``:two`` when the exchange and the narration around it show
    two people at most, ``:crowd`` when more (every turn counted can then be someone else's)."""
    people = {b.speaker for b in run if b.speaker} | {m for b in run for m in b.mentions if profile.speaks(m)} | nearby
    people.discard(None)
    suffix = ":two" if len(people) <= 2 else ":crowd"
    for block in run:
        if block.speaker and block.evidence.startswith(_EXCHANGE_EVIDENCE) and not block.evidence.endswith(("two", "crowd")):
            block.evidence += suffix


def _settle(quoted: list[Quoted]) -> None:
    """Step 6: a speaker the quote addresses is no speaker (unless tagged); every quote left
    without one is uncertain, with the reason."""
    for block in quoted:
        if block.speaker and addresses(block, block.speaker) and block.rule != "tag":
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


def _follow(centre: dict[str, str | None], text: str, profile: Profile, peek: Callable[[str], str | None]) -> None:
    """Move the centre of attention along the sentences of a narration text."""
    for sentence in SENTENCE_END_RE.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        match = SUBJECT_RE.match(sentence)
        if not match:
            continue
        name = subject_name(match.group("name"))
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
