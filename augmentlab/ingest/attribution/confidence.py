"""How far to trust each attribution: a calibrated confidence per kind of evidence, and abstention.

Every speaker the rules find comes with its evidence (``Quoted.evidence``), a hierarchical key:

=========================== =================================================================
``tag:after:often``         a tag after a quote names the speaker (``"...," said Emma``)
``tag:before:often``        the narration leading into the quote does (``Emma replied, "..."``)
``tag:introduced:often``    the narration paragraph before ends introducing it (``Emma said:``)
``tag:between:often``       narration between two quotes of the paragraph introduces the second
``tag:label:often``         a description the book uses as a name (``said the stranger``)
``tag:...:once``            any of those for a name the book tags only once (a misreading, often)
``tag:narrator``            ``said I`` / ``I answered`` (the first-person narrator)
``pronoun:subject``         ``said he`` after a named subject in the same paragraph
``pronoun:only``            ``said she`` after narration naming one speaker of that gender
``pronoun:centre``          ``said she``: the last woman the narration made its subject
``pronoun:exchange:X``      ``said he``: the one other man of the exchange
``pronoun:context:X``       ``said he``: the one man named just before (nobody else in the exchange)
``narration:named``         the paragraph's narration names one character, no tag
``narration:narrator``      the paragraph's narration is ``I ...`` in a first-person novel
``vocative:X``              answers the person the quote before addressed (or the next addresses)
``alternation:parity:X``    strict turns of two named people
``alternation:addressed:X`` one person named, the partner is the one they address
``alternation:pair:X``      one person named, the partner carried from the exchange before
``alternation:local:X``     ``A B ? -> A`` inside a longer exchange
=========================== =================================================================

``X`` is ``two`` when the exchange and the narration just before it show two people at most,
``crowd`` when more: turn-taking is surer between two. A speech continued from the paragraph before (``continuation``) takes that paragraph's evidence.
:data:`TABLE` holds how often each key named the right speaker on the six PDNC development
novels (``../shared/pdnc-dev``), a rare key shrunk towards its parent
(:func:`augmentlab.core.stats.shrunk_rates`). A quote whose confidence is below
:data:`THRESHOLD` is not attributed: the rules abstain (``speaker=None``, ``attribution =
"uncertain"``, ``why`` ``low confidence ...``) and keep their guess in ``Line.metadata["guess"]``.
:data:`THRESHOLD` is the lowest confidence keeping the kept quotes' precision at or above
:data:`TARGET` on those novels, the procedure whose held-out figures ``benchmarks/
bench_attribution.py`` prints (fit on five novels, threshold on those five, score the sixth).
No key names a novel's people or words: what is learned is how far each kind of evidence holds.
"""

from __future__ import annotations

from augmentlab.ingest.attribution.speakers import UNCERTAIN, Quoted

TARGET = 0.94
"""The precision the threshold is chosen for on the fitting novels: above the 0.90 a held-out
novel must reach, the margin the leave-one-novel-out folds need (see :data:`THRESHOLD`)."""

PRIOR_WEIGHT = 20.0
"""Pseudo-quotes at the parent's rate in each key's estimate (a rare key stays near its parent)."""

# Fitted by ``benchmarks/bench_attribution.py --fit`` on the six development novels.
TABLE: dict[str, float] = {
    '': 0.931,
    'alternation': 0.894,
    'alternation:addressed': 0.946,
    'alternation:addressed:crowd': 0.899,
    'alternation:addressed:two': 0.983,
    'alternation:local': 0.774,
    'alternation:local:crowd': 0.713,
    'alternation:local:two': 0.859,
    'alternation:pair': 0.907,
    'alternation:pair:crowd': 0.876,
    'alternation:pair:two': 0.912,
    'alternation:parity': 0.910,
    'alternation:parity:crowd': 0.873,
    'alternation:parity:two': 0.935,
    'narration': 0.907,
    'narration:named': 0.898,
    'narration:narrator': 0.915,
    'pronoun': 0.850,
    'pronoun:centre': 0.871,
    'pronoun:context': 0.837,
    'pronoun:context:crowd': 0.798,
    'pronoun:context:two': 0.867,
    'pronoun:exchange': 0.722,
    'pronoun:exchange:crowd': 0.656,
    'pronoun:exchange:two': 0.749,
    'pronoun:only': 0.852,
    'pronoun:subject': 0.931,
    'tag': 0.965,
    'tag:after': 0.975,
    'tag:after:often': 0.977,
    'tag:after:once': 0.890,
    'tag:before': 0.847,
    'tag:before:often': 0.837,
    'tag:before:once': 0.780,
    'tag:between': 0.732,
    'tag:between:often': 0.657,
    'tag:between:once': 0.652,
    'tag:introduced': 0.909,
    'tag:introduced:often': 0.906,
    'tag:introduced:once': 0.866,
    'tag:label': 0.877,
    'tag:label:once': 0.855,
    'tag:narrator': 0.993,
    'vocative': 0.861,
    'vocative:crowd': 0.795,
    'vocative:two': 0.944,
}
THRESHOLD = 0.749


def confidence_of(evidence: str, table: dict[str, float] | None = None) -> float:
    """The confidence of an evidence key: its own rate, else its nearest parent's, else the root's."""
    table = TABLE if table is None else table
    key = evidence
    while key:
        if key in table:
            return table[key]
        key = key.rsplit(":", 1)[0] if ":" in key else ""
    return table.get("", 0.5)


def abstain(quoted: list[Quoted], threshold: float | None = None, table: dict[str, float] | None = None) -> None:
    """Step 7: each attribution's confidence; below the threshold the speaker becomes the guess.

    A continued speech is as sure as the paragraph it continues: it takes that one's evidence."""
    threshold = THRESHOLD if threshold is None else threshold
    previous: Quoted | None = None
    for block in quoted:
        if block.speaker is not None:
            if block.rule == "continuation" and previous is not None and previous.evidence:
                block.evidence = previous.evidence  # the same speech, settled by the same evidence
            confidence = confidence_of(block.evidence or block.rule, table)
            block.confidence = confidence
            if confidence < threshold:
                block.guess, block.speaker, block.rule = block.speaker, None, UNCERTAIN
                block.why = f"low confidence ({confidence:.2f}, {block.evidence})"
        previous = block
