"""Prose speaker names: abbreviation periods inside names, shortened names merged into full ones."""

from __future__ import annotations

from pathlib import Path

from augmentlab.ingest import iter_scenes, load
from augmentlab.ingest.cast import Cast
from augmentlab.ingest.attribution.clues import tag_after
from augmentlab.core.model import LineKind

TITLES_STORY = """CHAPTER 1. THE QUAY

The fog lay thick on the quay when the boat came in.

"The tide will not wait for anyone," said Lord St. Albury, drawing his coat about him.

"Nor will the customs men," Col. Pike said.

"Then we had best be quick," said Mrs. Dunmore.

"I'll fetch the lantern," said Capt. O'Hara, and went below.

"And I the ropes," said Mr. Neville St. Clair.
"""

MERGE_STORY = """CHAPTER 1. THE SHOP

"Is the clock mended yet?" asked Hartley, leaning on the counter.

"Not yet," said I.

"Tomorrow, then."

"Tomorrow, if the spring arrives."

The bell over the door rang and a boy came in with a parcel.

"Here is your spring," said Marcus Hartley with a grin, tearing the paper.

CHAPTER 2. THE STREET

"You are late again," said Hartley.
"""

AMBIGUOUS_STORY = """CHAPTER 1. THE DINNER

"Pass the salt," said Quill.

"With pleasure," said Mr. Quill.

"Not to him," said Ada Quill, laughing.
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "story.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _speakers(script_path: Path) -> list[str | None]:
    return [ln.speaker for ln in load(script_path).lines if ln.kind is LineKind.dialogue]


def test_abbreviation_periods_stay_inside_names(tmp_path: Path) -> None:
    script = load(_write(tmp_path, TITLES_STORY))
    assert script.format == "prose"
    assert _speakers(_write(tmp_path, TITLES_STORY)) == [
        "Lord St. Albury",
        "Col. Pike",
        "Mrs. Dunmore",
        "Capt. O'Hara",
        "Mr. Neville St. Clair",
    ]


def test_attribution_reads_whole_names() -> None:
    assert tag_after("said Lord St. Simon bitterly.") == "Lord St. Simon"
    assert tag_after("Dr. Mortimer remarked.") == "Dr. Mortimer"
    assert tag_after("said McCarthy.") == "McCarthy"
    assert tag_after("said I. Then he left.") == "I"  # a sentence end is not an initial
    assert tag_after("said Holmes. The") == "Holmes"


def test_surname_merges_into_the_full_name(tmp_path: Path) -> None:
    path = _write(tmp_path, MERGE_STORY)
    script = load(path)
    dialogue = [ln for ln in script.lines if ln.kind is LineKind.dialogue]
    # "Hartley" speaks first, yet every line is the full name's, from the first line on.
    assert [ln.speaker for ln in dialogue] == [
        "Marcus Hartley",
        "Narrator",
        "Marcus Hartley",
        "Narrator",
        "Marcus Hartley",
        "Marcus Hartley",
    ]
    assert [ln.metadata["attribution"] for ln in dialogue][2:4] == ["alternation", "alternation"]
    cast = {c.name: c for c in script.characters}
    assert set(cast) == {"Marcus Hartley", "Narrator"} and cast["Marcus Hartley"].aliases == ["Hartley"]
    assert script.metadata["lines_per_speaker"] == {"Marcus Hartley": 4, "Narrator": 2}
    assert script.warnings == []
    streamed = iter_scenes(path)
    assert [ln.speaker for scene in streamed for ln in scene.lines if ln.speaker][0] == "Marcus Hartley"


USUAL_NAME_STORY = """CHAPTER 1. THE STUDY

Dr. Kemp sat at his desk, writing. Kemp was a tall man.

"Who is there?" said Kemp, looking up.

"Nobody," said a voice.

"Nonsense," said Kemp. Kemp rose and went to the door.

"I tell you, nobody," said the voice.

"Then nobody shall have the door in his face," said Kemp, and shut it.

"Dr. Kemp!" the voice called. "Wait."

"What now?" said Dr. Kemp.
"""


def test_a_character_is_named_as_the_book_mostly_calls_them(tmp_path: Path) -> None:
    # "Kemp" (named eight times) over "Dr. Kemp" (three): the book's and its readers' name for him;
    # the fuller form stays an alias. With few mentions the fullest form is kept (Marcus Hartley).
    script = load(_write(tmp_path, USUAL_NAME_STORY), format="prose")
    assert {ln.speaker for ln in script.lines if ln.kind is LineKind.dialogue and ln.speaker} >= {"Kemp"}
    kemp = next(c for c in script.characters if c.name == "Kemp")
    assert kemp.aliases == ["Dr. Kemp"]
    assert "Dr. Kemp" not in {c.name for c in script.characters}
    cast = Cast()
    cast.expect(["Kemp", "Dr. Kemp"], [], mentions={"Kemp": 2, "Dr. Kemp": 1})
    assert cast.resolve("Kemp") == "Dr. Kemp"  # two mentions are too few to prefer the short form
    cast = Cast()
    cast.expect(["Kemp", "Dr. Kemp"], [], mentions={"Kemp": 5, "Dr. Kemp": 9})
    assert cast.resolve("Kemp") == "Dr. Kemp"  # the fuller form, used more, stays
    cast = Cast(aliases={"Kemp": "Dr. Kemp"})
    cast.expect(["Kemp", "Dr. Kemp"], [], mentions={"Kemp": 50, "Dr. Kemp": 1})
    assert cast.resolve("Kemp") == "Dr. Kemp"  # a user alias is never renamed


def test_ambiguous_surname_is_left_with_a_warning(tmp_path: Path) -> None:
    script = load(_write(tmp_path, AMBIGUOUS_STORY))
    assert _speakers(_write(tmp_path, AMBIGUOUS_STORY)) == ["Quill", "Mr. Quill", "Ada Quill"]
    assert len(script.warnings) == 1
    warning = script.warnings[0]
    assert "'Quill' left unmerged" in warning and "'Mr. Quill'" in warning and "'Ada Quill'" in warning
    # The user settles it with an alias; no warning then.
    settled = load(_write(tmp_path, AMBIGUOUS_STORY), aliases={"Quill": "Ada Quill"})
    assert [c.name for c in settled.characters] == ["Ada Quill", "Mr. Quill"]
    assert settled.warnings == []


def test_cast_expect_rules() -> None:
    cast = Cast()
    warnings: list[str] = []
    cast.expect(
        ["Holmes", "Sherlock Holmes", "Mr. Wilson", "Mr. Jabez Wilson", "Jabez Wilson", "Bradstreet",
         "Inspector Bradstreet", "Montague", "Lady Montague", "John", "John Clay", "Mr. Baker", "Dr. Baker"],
        warnings,
    )  # fmt: skip
    resolved = {n: cast.resolve(n) for n in ["Holmes", "Mr. Wilson", "Jabez Wilson", "Bradstreet", "Montague", "John"]}
    assert resolved == {
        "Holmes": "Sherlock Holmes",
        "Mr. Wilson": "Mr. Jabez Wilson",
        "Jabez Wilson": "Mr. Jabez Wilson",
        "Bradstreet": "Inspector Bradstreet",
        "Montague": "Montague",  # not Lady Montague
        "John": "John",  # a first name is not a shortened surname
    }
    assert cast.resolve("Mr. Baker") == "Mr. Baker" and cast.resolve("Dr. Baker") == "Dr. Baker"
    assert warnings == []
    # Mr. Holmes and Mycroft Holmes may be two people: Holmes alone is not merged blindly.
    cast = Cast()
    cast.expect(["Holmes", "Mr. Holmes", "Mycroft Holmes", "Sherlock Holmes"], warnings)
    assert [cast.resolve(n) for n in ["Holmes", "Mr. Holmes"]] == ["Holmes", "Mr. Holmes"]
    assert len(warnings) == 1 and warnings[0].startswith("speaker 'Holmes' left unmerged")
    assert all(f"'{n}'" in warnings[0] for n in ["Mr. Holmes", "Mycroft Holmes", "Sherlock Holmes"])
    # A user alias wins over the automatic merge.
    cast = Cast(aliases={"Holmes": "Holmes"})
    warnings = []
    cast.expect(["Holmes", "Sherlock Holmes"], warnings)
    assert cast.resolve("Holmes") == "Holmes" and warnings == []
