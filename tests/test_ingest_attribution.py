"""Prose speaker attribution: rules that abstain (``uncertain``) rather than guess.

The PDNC floors are measured on the six development novels (``../shared/pdnc-dev``, people's
speaker for every quotation) with benchmarks/bench_attribution.py's scorer, and sit at the
**leave-one-novel-out** figures (confidence table and threshold fitted on five novels, the sixth
scored), not the in-sample ones: held out, every novel keeps precision >= 0.909 (Emma, the lowest)
by the reference scorer's rule and with the gold resolved through PDNC's alias table, accuracy
0.650 over all folds. See README, "Ingest".
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from augmentlab.ingest import load
from augmentlab.ingest.attribution.clues import tag_after, tag_before, vocatives
from augmentlab.ingest.attribution.confidence import TARGET, THRESHOLD
from augmentlab.core.model import LineKind

REPO = Path(__file__).resolve().parent.parent
PDNC = Path(os.environ.get("AUGMENTLAB_PDNC", REPO.parent / "shared" / "pdnc-dev"))
DATA = REPO / "tests" / "data" / "prose"

HELD_OUT_PRECISION_FLOOR = 0.90
"""Every held-out fold, by the reference scorer's rule and alias-resolved: measured 0.909 at the
lowest (Emma); 0.90 is what a novel the rules have never seen must keep."""
HELD_OUT_ACCURACY_FLOOR = 0.64
"""All held-out folds together, reference scorer's rule: measured 0.650."""


def _bench():
    spec = importlib.util.spec_from_file_location("bench_attribution", REPO / "benchmarks" / "bench_attribution.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _dialogue(tmp_path: Path, text: str):
    path = tmp_path / "story.txt"
    path.write_text(text, encoding="utf-8")
    script = load(path, format="prose")
    return script, [ln for ln in script.lines if ln.kind is LineKind.dialogue]


@pytest.fixture(scope="module")
def pdnc():
    if not (PDNC / "Emma" / "quotation_info.csv").is_file():
        pytest.skip(f"PDNC development novels not found at {PDNC}")
    bench = _bench()
    novels = sorted(d.name for d in PDNC.iterdir() if (d / "quotation_info.csv").is_file())
    return bench, {novel: bench.score(bench.ingest(PDNC / novel), PDNC / novel) for novel in novels}


def test_pdnc_held_out_floors(pdnc) -> None:
    bench, results = pdnc
    rows = bench.loo(results, TARGET)
    assert len(rows) == 6
    for novel, threshold, ref, alias in rows:
        assert ref.correct / ref.attributed >= HELD_OUT_PRECISION_FLOOR, novel
        assert alias.correct / alias.attributed >= HELD_OUT_PRECISION_FLOOR, novel
        assert 0.5 < threshold < 1.0, novel  # a threshold that abstains on some evidence, not on all
    quotes = sum(ref.quotes for _, _, ref, _ in rows)
    assert quotes > 6000
    assert sum(ref.correct for _, _, ref, _ in rows) / quotes >= HELD_OUT_ACCURACY_FLOOR


def test_pdnc_in_sample_and_abstentions(pdnc) -> None:
    """With the committed table (fitted on all six): what ingest gives, and every quote below
    the threshold abstained, its guess kept."""
    bench, results = pdnc
    total = bench.Result()
    for result in results.values():
        total.merge(result)
    t = total.total
    assert t.correct / t.attributed >= 0.93  # measured 0.941
    assert t.correct / t.quotes >= 0.64  # measured 0.654
    explicit = total.by_type["Explicit"]
    assert explicit.correct / explicit.attributed >= 0.96  # measured 0.973
    script = bench.ingest(PDNC / "Emma")
    dialogue = [ln for ln in script.lines if ln.kind is LineKind.dialogue]
    kept = [ln for ln in dialogue if ln.speaker]
    abstained = [ln for ln in dialogue if ln.metadata.get("guess")]
    assert kept and all(ln.metadata["confidence"] >= THRESHOLD for ln in kept)
    assert len(abstained) > 50
    for ln in abstained:
        assert ln.speaker is None and ln.metadata["attribution"] == "uncertain"
        assert ln.metadata["confidence"] < THRESHOLD and ln.metadata["why"].startswith("low confidence")


def test_tags_either_side_of_the_quote() -> None:
    assert tag_after("said Emma playfully.") == "Emma"
    assert tag_after("chattered Anne, on the verge of tears.") == "Anne"  # any past-tense verb
    assert tag_after("said the Hatter.") == "The Hatter"
    assert tag_after("remarked skeptical Anne, sniffing at her narcissi.") == "Anne"
    assert tag_after("he said.") == "he" and tag_after("said she.") == "she"
    assert tag_after("was Mrs. Weston's parting injunction.") == "Mrs. Weston"
    assert tag_after("The fire crackled.") is None
    assert tag_before("Emma laughed, and replied,") == "Emma"
    assert tag_before("When they had driven around a corner Matthew said:") == "Matthew"
    assert tag_before("It was a cold night.") is None


def test_vocatives_need_an_address() -> None:
    assert vocatives("My dear Watson, you are right.") == ["Watson"]
    assert vocatives("You are right, Watson.") == ["Watson"]
    assert vocatives("Surely, it is. Honestly, no.") == []  # a sentence adverb is not a name


STORY = """CHAPTER 1. THE FERRY

Mr. Pell and Miss Arden stood at the rail while the ferry pulled out.

"It is colder than I thought," said Miss Arden.

"It always is, on the water," said Mr. Pell.

"Then why do you come?"

"For the quiet."

"And do you find it?"

"Not today," he said, and smiled at her.

She looked out at the grey water. "You are a strange man," she said.

"Yes," said Mr. Pell. "No," said Miss Arden.

"Where is the captain?" a voice called from below.

Mr. Pell went below. Miss Arden stayed at the rail, watching the gulls.

"They never tire," she said.

The captain came up the ladder and stood beside her.

"Fine weather for it," he said.
"""


def test_rules_and_abstentions(tmp_path: Path) -> None:
    script, lines = _dialogue(tmp_path, STORY)
    got = [(ln.speaker, ln.metadata["attribution"]) for ln in lines]
    assert got[:2] == [("Miss Arden", "tag"), ("Mr. Pell", "tag")]
    # two people in strict turns: the untagged quotes alternate
    assert got[2:5] == [("Miss Arden", "alternation"), ("Mr. Pell", "alternation"), ("Miss Arden", "alternation")]
    # "he said" / "she said" inside the exchange: the turn, and the pronoun agrees
    assert got[5] == ("Mr. Pell", "alternation") and got[6] == ("Miss Arden", "alternation")
    # two speakers tagged in one paragraph: two lines, one per speaker, same source line
    assert got[7:9] == [("Mr. Pell", "tag"), ("Miss Arden", "tag")]
    assert [ln.text for ln in lines[7:9]] == ["Yes,", "No,"] and lines[7].source_line == lines[8].source_line
    assert lines[7].directions == ["said Mr. Pell."] and lines[8].directions == ["said Miss Arden."]
    # an unnamed voice: not guessed, and the line says why
    assert got[9] == (None, "uncertain") and lines[9].metadata["why"] == "tagged by a description (a voice)"
    # after narration, "she said" is the one woman it names
    assert got[10] == ("Miss Arden", "pronoun")
    # "he said" after narration about someone unnamed: Mr. Pell, the exchange's man, is not guessed
    assert got[11] == (None, "uncertain")
    assert script.metadata.get("narrator") is None


NARRATED = """CHAPTER 1. THE STUDY

I found Crane at his desk when I came in.

"You are late, my dear Hale," said Crane.

"The trains," said I.

"Sit down, Hale, and tell me."

"There is little to tell," I answered.

"Then we shall wait, Hale."

"As you like," I said.
"""


def test_first_person_narrator_is_named_from_the_text(tmp_path: Path) -> None:
    script, lines = _dialogue(tmp_path, NARRATED)
    assert script.metadata["narrator"] == "Hale"
    assert [ln.speaker for ln in lines] == ["Crane", "Hale", "Crane", "Hale", "Crane", "Hale"]
    unnamed, lines = _dialogue(tmp_path, NARRATED.replace(", my dear Hale", "").replace(", Hale", ""))
    assert "narrator" not in unnamed.metadata and lines[1].speaker == "Narrator"


def test_holmes_clients_are_not_holmes_or_watson(corpus_dir: Path) -> None:
    """Held out (no gold): a quote that addresses "Mr. Holmes" is a client's or a policeman's,
    never Holmes's or Watson's; the narrator is named Watson from how Holmes addresses him."""
    script = load(corpus_dir / "doyle_adventures_of_sherlock_holmes" / "pg1661.txt", token_budget=100_000)
    assert script.metadata["narrator"] == "Watson"
    dialogue = [ln for ln in script.lines if ln.kind is LineKind.dialogue]
    addressing = [ln for ln in dialogue if "Mr. Holmes" in ln.text]
    assert len(addressing) > 50
    assert not [ln.text[:60] for ln in addressing if ln.speaker in ("Holmes", "Sherlock Holmes", "Watson")]
    # abstaining is common, guessing is not: a third to a half of the quotes stay uncertain
    uncertain = sum(1 for ln in dialogue if ln.metadata["attribution"] == "uncertain")
    assert 0.3 < uncertain / len(dialogue) < 0.6
    assert all(ln.metadata.get("why") for ln in dialogue if ln.speaker is None)


def test_a_recurring_description_names_its_speaker(tmp_path: Path) -> None:
    turns = "\n\n".join(f'"Stroke {i}," said the ferryman.\n\n"Again," said Mr. Pell.' for i in range(5))
    generic = "\n\n".join(f'"Stroke {i}," said the girl.' for i in range(5))
    script, lines = _dialogue(tmp_path, f"CHAPTER 1. THE RIVER\n\n{turns}\n\n{generic}\n")
    assert {ln.speaker for ln in lines if ln.text.startswith("Stroke") and "ferryman" in ln.directions[0]} == {"The ferryman"}
    # "the girl" is too generic to be anyone's name: uncertain, and the line says why
    girls = [ln for ln in lines if "girl" in ln.directions[0]]
    assert girls and all(ln.speaker is None and "the girl" in ln.metadata["why"] for ln in girls)


def _gold(path: Path) -> dict[int, str]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return {int(number): speaker for number, speaker, _ in rows}


def test_first_person_novel_outside_pdnc() -> None:
    """Treasure Island, ch. XV (tests/data/prose/SOURCE.md): Jim tells it, Ben Gunn is the one he
    talks to; 36 quoted paragraphs with hand-checked speakers."""
    script = load(DATA / "treasure_island_xv.txt", format="prose")
    assert script.metadata["narrator"] == "Jim"  # named the way Ben Gunn calls him
    gold = _gold(DATA / "treasure_island_xv.speakers.tsv")
    lines = {ln.source_line: ln for ln in script.lines if ln.kind is LineKind.dialogue}
    assert set(gold) <= set(lines)  # every quoted paragraph is a dialogue line
    attributed = {n: lines[n].speaker for n in gold if lines[n].speaker}
    right = sum(speaker == gold[n] for n, speaker in attributed.items())
    assert right / len(attributed) >= 0.9  # measured 14 / 14
    assert len(attributed) >= 12  # measured 14 (11 of Jim's 13 quotes, 3 of Ben Gunn's 23)
    # every "said I" / "I cried" / "was my reply" is the narrator's, and nobody else's line is
    narrator = {n for n, speaker in gold.items() if speaker == "Jim"}
    tagged = {n for n in narrator if lines[n].metadata.get("evidence") == "tag:narrator"}
    assert len(tagged) >= 10 and all(lines[n].speaker == "Jim" for n in tagged)
    assert not [n for n, speaker in attributed.items() if speaker == "Jim" and gold[n] != "Jim"]
    # the quotes left unattributed stay in the data, each with its reason
    assert all(lines[n].metadata["why"] for n in gold if not lines[n].speaker)


def test_first_person_is_the_narrations_i_and_my_rate(tmp_path: Path) -> None:
    third = "CHAPTER 1. THE ROAD\n\n" + "\n\n".join(
        f'Mr. Pell walked on. "I think it will rain {i}," said Mr. Pell.\n\n"So do I," said Miss Arden.' for i in range(6)
    ) + '\n\nHe wrote: I am well.\n'
    script, lines = _dialogue(tmp_path, third)
    assert "narrator" not in script.metadata and all(ln.speaker != "Narrator" for ln in lines)
    named = "CHAPTER 1. THE ROAD\n\nMy name is Hale, and I walked with my friend Crane.\n\n" + (
        '"Rain," said Crane.\n\n"Perhaps," I said.\n\nI looked at my watch.\n\n' * 3
    )
    script, lines = _dialogue(tmp_path, named)
    assert script.metadata["narrator"] == "Hale"  # "my name is Hale", though nobody calls him so
    assert [ln.speaker for ln in lines[:2]] == ["Crane", "Hale"]
