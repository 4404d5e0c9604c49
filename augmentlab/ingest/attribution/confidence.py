"""How far to trust each attribution: a calibrated confidence per kind of evidence, and abstention.

Every speaker the rules find comes with its evidence (``Quoted.evidence``), a hierarchical key:

=========================== =================================================================
``tag:after``               a tag after a quote names the speaker (``"...," said Emma``)
``tag:before``              the narration leading into the quote does (``Emma replied, "..."``)
``tag:introduced``          the narration paragraph before ends introducing it (``Emma said:``)
``tag:between``             narration between two quotes of the paragraph introduces the second
``tag:label``               a description the book uses as a name (``said the stranger``)
``tag:narrator``            ``said I`` / ``I answered`` (the first-person narrator)
``pronoun:subject``         ``said he`` after a named subject in the same paragraph
``pronoun:only``            ``said she`` after narration naming one speaker of that gender
``pronoun:exchange``        ``said he``: the one other man of the exchange
``pronoun:centre``          ``said she``: the last woman the narration made its subject
``narration:named``         the paragraph's narration names one character, no tag
``narration:narrator``      the paragraph's narration is ``I ...`` in a first-person novel
``vocative``                answers the person the quote before addressed (or the next addresses)
``alternation:parity:G``    strict turns of two named people; ``G`` quotes from the nearest
                            quote settled by other evidence (``1``, ``2``, ``3+``)
``alternation:addressed:G`` one person named, the partner is the one they address
``alternation:pair:G``      one person named, the partner carried from the exchange before
``alternation:local:G``     ``A B ? -> A`` inside a longer exchange
=========================== =================================================================

A speech continued from the paragraph before (``continuation``) takes that paragraph's evidence.
:data:`TABLE` holds how often each key named the right speaker on the six PDNC development
novels (``../shared/pdnc-dev``), a rare key shrunk towards its parent
(:func:`augmentlab.core.stats.shrunk_rates`). A quote whose confidence is below
:data:`THRESHOLD` is not attributed: the rules abstain (``speaker=None``, ``attribution =
"uncertain"``, ``why`` ``low confidence ...``) and keep their guess in ``Line.metadata["guess"]``.
:data:`THRESHOLD` is the lowest confidence keeping the kept quotes' precision at or above
:data:`TARGET` on those novels, the procedure whose held-out figures ``benchmarks/
bench_attribution.py --loo`` prints (fit on five novels, threshold on those five, score the sixth).
No key names a novel's people or words: what is learned is how far each kind of evidence holds.
"""

from __future__ import annotations

from augmentlab.ingest.attribution.speakers import UNCERTAIN, Quoted

TARGET = 0.92
"""The precision the threshold is chosen for on the fitting novels: above the 0.90 a held-out
novel must reach, the margin the leave-one-novel-out folds need (see :data:`THRESHOLD`)."""

PRIOR_WEIGHT = 20.0
"""Pseudo-quotes at the parent's rate in each key's estimate (a rare key stays near its parent)."""

# Fitted by ``benchmarks/bench_attribution.py --fit`` on the six development novels.
TABLE: dict[str, float] = {}
THRESHOLD = 0.0


def gap_bin(gap: int) -> str:
    """The distance bin of an alternation key (``1``, ``2``, ``3+``)."""
    return str(gap) if gap < 3 else "3+"


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
