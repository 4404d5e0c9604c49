"""Play typography the parser must not depend on: headings indented, spelled out or numbered,
speeches that look like headings, cue forms, CRLF and mixed line ends, cast lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from augmentlab.ingest import load

PLAY = """THE PERSONS OF THE PLAY

ANN PAGE (a widow)
BOB STONE, her lodger

{act1}

A kitchen.

ANN: Good morning, Bob.

BOB [yawning] Morning already?

ANN. [Laughing.] It is ten o'clock.

BOB.

Act two of my day, then; the first was sleep.

{act2}

The garden.

ANN
The roses need water.

BOB. They always do.
"""


@pytest.mark.parametrize(
    "act1, act2",
    [
        ("  THE FIRST ACT", "  THE SECOND ACT"),
        ("ACT I", "ACT II."),
        ("ACT 1", "ACT 2"),
        ("Act One", "Act Two"),
        ("ACT THE FIRST", "ACT SECOND."),
        ("_FIRST ACT_", "_SECOND ACT_"),
    ],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "mixed"])
def test_heading_and_cue_styles(tmp_path: Path, act1: str, act2: str, newline: str) -> None:
    text = PLAY.format(act1=act1, act2=act2)
    if newline == "mixed":
        lines = text.split("\n")
        # "\r" is never followed by a "\n" of an empty line (that pair would be one line end).
        text = "".join(line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(lines))
    else:
        text = text.replace("\n", newline)
    path = tmp_path / "play.txt"
    path.write_bytes(text.encode("utf-8"))
    script = load(path, "play")
    assert [s.metadata["act"] for s in script.scenes] == [1, 2]
    assert [s.setting for s in script.scenes] == ["A kitchen.", "The garden."]
    said = [(line.speaker, line.text, line.directions) for line in script.lines]
    assert said == [
        ("ANN", "Good morning, Bob.", []),
        ("BOB", "Morning already?", ["yawning"]),
        ("ANN", "It is ten o'clock.", ["Laughing."]),
        # A speech under a cue standing alone is never a heading, even one opening "Act two".
        ("BOB", "Act two of my day, then; the first was sleep.", []),
        ("ANN", "The roses need water.", []),
        ("BOB", "They always do.", []),
    ]
    cast = {c.name: c.description for c in script.characters}
    assert cast["ANN"] == "a widow" and cast["BOB"] == "her lodger"
    accounting = script.metadata["accounting"]
    assert accounting["unexplained"] == 0
    assert accounting["skipped"]["cast list"]["lines"] == 3
