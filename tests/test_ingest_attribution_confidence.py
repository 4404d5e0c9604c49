"""The confidence of each prose attribution (a per-evidence table) and abstaining below a threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.stats import shrunk_rates, threshold_for_precision
from augmentlab.core.model import LineKind
from augmentlab.ingest import iter_scenes, load
from augmentlab.ingest.attribution.confidence import TABLE, THRESHOLD, abstain, confidence_of
from augmentlab.ingest.attribution.speakers import Quoted


def test_shrunk_rates_pull_a_rare_key_to_its_parent() -> None:
    outcomes = [("tag:after", True)] * 90 + [("tag:after", False)] * 10 + [("tag:before", False)] * 2
    rates = shrunk_rates(outcomes, prior_weight=20)
    assert rates[""] == pytest.approx(91 / 104)
    assert rates["tag"] == pytest.approx((90 + 20 * rates[""]) / (102 + 20))
    assert rates["tag:after"] == pytest.approx((90 + 20 * rates["tag"]) / 120)
    # two misses are not a rate of 0: the key stays near its parent
    assert 0.7 < rates["tag:before"] < rates["tag"]


def test_threshold_for_precision_keeps_the_most_it_can() -> None:
    scores = [0.9, 0.9, 0.8, 0.8, 0.7, 0.7]
    right = [True, True, True, False, False, False]
    assert threshold_for_precision(scores, right, 0.75) == 0.8  # 3 of 4 kept are right
    assert threshold_for_precision(scores, right, 0.9) == 0.9
    assert threshold_for_precision(scores, [False] * 6, 0.5) == float("inf")  # keep nothing
    with pytest.raises(AugmentlabError):
        threshold_for_precision([0.5], [], 0.9)


def test_confidence_falls_back_to_the_nearest_parent() -> None:
    table = {"": 0.5, "alternation": 0.8, "alternation:local": 0.7}
    assert confidence_of("alternation:local:crowd", table) == 0.7
    assert confidence_of("alternation:parity:two", table) == 0.8
    assert confidence_of("vocative:two", table) == 0.5
    # the committed table: a tag is surer than turn-taking in a crowd, and the threshold between
    assert confidence_of("tag:after:often") > THRESHOLD > confidence_of("alternation:local:crowd")
    assert set(TABLE) >= {"", "tag", "alternation", "pronoun", "vocative", "narration"}


def _quoted(speaker: str, rule: str, evidence: str, continues: bool = False) -> Quoted:
    return Quoted(number=1, text="", lead="", pieces=[""], spoken="x", starts_with_quote=True,
                  continues=continues, left_open=False, speaker=speaker, rule=rule, evidence=evidence)


def test_abstain_keeps_the_guess_and_a_continuation_follows_its_paragraph() -> None:
    table = {"": 0.5, "tag": 0.95, "alternation": 0.6}
    sure, weak = _quoted("Emma", "tag", "tag:after:often"), _quoted("Harriet", "alternation", "alternation:local:crowd")
    going_on = _quoted("Harriet", "continuation", "continuation", continues=True)
    abstain([sure, weak, going_on], threshold=0.8, table=table)
    assert (sure.speaker, sure.confidence) == ("Emma", 0.95)
    assert weak.speaker is None and weak.guess == "Harriet" and weak.rule == "uncertain"
    assert weak.why == "low confidence (0.60, alternation:local:crowd)"
    assert going_on.speaker is None and going_on.evidence == "alternation:local:crowd"


CROWD = """CHAPTER 1. THE PARLOUR

Mr. Pell, Miss Arden and Mrs. Crane sat by the fire.

"It is cold," said Mr. Pell.

"It is," said Miss Arden.

"Very cold."

"Colder than yesterday," said Mrs. Crane.

"Yes," said Miss Arden.

"The fire is low."

"Shall I ring?" said Mrs. Crane.
"""


def test_weak_turn_taking_abstains_in_the_ingested_lines(tmp_path: Path) -> None:
    path = tmp_path / "crowd.txt"
    path.write_text(CROWD, encoding="utf-8")
    lines = [ln for ln in load(path, format="prose").lines if ln.kind is LineKind.dialogue]
    assert [ln.speaker for ln in lines if ln.metadata["attribution"] == "tag"] == [
        "Mr. Pell", "Miss Arden", "Mrs. Crane", "Miss Arden", "Mrs. Crane"
    ]
    tagged = [ln for ln in lines if ln.metadata["attribution"] == "tag"]
    assert all(ln.metadata["confidence"] >= THRESHOLD and ln.metadata["evidence"].startswith("tag:") for ln in tagged)
    # "Very cold." / "The fire is low.": A B ? -> A among three people is below the threshold
    untagged = [ln for ln in lines if ln.text in ("Very cold.", "The fire is low.")]
    assert untagged and all(ln.speaker is None for ln in untagged)
    for ln in untagged:
        if ln.metadata.get("guess"):
            assert ln.metadata["confidence"] < THRESHOLD and ln.metadata["why"].startswith("low confidence")


def test_the_accounting_counts_attributed_unattributed_and_abstained(tmp_path: Path) -> None:
    path = tmp_path / "crowd.txt"
    path.write_text(CROWD, encoding="utf-8")
    stream = iter_scenes(path, "prose")
    lines = [ln for scene in stream for ln in scene.lines if ln.kind is LineKind.dialogue]
    counts = stream.ledger.as_dict()["attribution"]
    assert counts["attributed"] == sum(1 for ln in lines if ln.speaker)
    assert counts["unattributed"] == sum(1 for ln in lines if not ln.speaker) > 0
    assert counts.get("abstained", 0) == sum(1 for ln in lines if ln.metadata.get("guess"))
    assert f"quotes: {counts['attributed']} attributed, {counts['unattributed']} unattributed" in stream.ledger.summary_line()
