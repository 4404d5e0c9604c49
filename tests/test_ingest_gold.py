"""Gold mining from plays: directions become gold annotations, never inputs."""

from __future__ import annotations

from pathlib import Path

from augmentlab.cli import main
from augmentlab.ingest.gold import mine
from augmentlab.core.model import GoldExample
from augmentlab.core.text import is_verbatim

DATA = Path(__file__).parent / "data" / "scripts"


def test_mine_sample_play() -> None:
    examples = list(mine(DATA / "tea_and_thunder.txt"))
    assert len(examples) == 1
    ex = examples[0]
    assert ex.scenario == "A cramped parlour above a bakery. Rain against the window."
    assert ex.provenance == {
        "source": "mined", "play": "tea_and_thunder", "file": "tea_and_thunder.txt", "act": 1, "scene": 1, "part": 1,
    }  # fmt: skip
    assert ex.annotated[1] == "*Standing up at once.* It was already damp, Aunt."
    assert ex.annotated[0] == "You are dripping on my carpet."
    assert ex.scene.setting is None and ex.scene.directions == []
    for line, gold in zip(ex.scene.lines, ex.annotated):
        assert line.directions == [] and "direction_at" not in line.metadata
        assert "*" not in line.text and is_verbatim(gold, line.text)
    assert len(ex.annotated) == len(ex.scene.lines)
    assert ex.scene.id == ex.scene.compute_id()


def test_mine_earnest(corpus_dir: Path) -> None:
    examples = list(mine(corpus_dir / "wilde_importance_of_being_earnest" / "pg844.txt"))
    assert len(examples) > 30
    assert len({ex.id for ex in examples}) == len(examples)
    assert {ex.provenance["act"] for ex in examples} == {1, 2, 3}
    for ex in examples:
        assert ex.scenario and any("*" in a for a in ex.annotated)
        assert all(not ln.directions and "[" not in ln.text for ln in ex.scene.lines)
        assert all(is_verbatim(a, ln.text) for a, ln in zip(ex.annotated, ex.scene.lines))


def test_gold_mine_cli(tmp_path: Path, corpus_dir: Path, capsys) -> None:
    out = tmp_path / "mined.jsonl"
    play = corpus_dir / "wilde_ideal_husband" / "pg885-0.txt"
    assert main(["gold", "mine", str(play), "-o", str(out), "--limit", "5"]) == 0
    rows = [GoldExample.model_validate_json(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 and rows[0].provenance["play"] == "An Ideal Husband"
    assert "wrote 5 gold examples" in capsys.readouterr().out
    assert main(["gold", "mine", str(tmp_path / "nope.txt"), "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip().startswith("error: script file not found")
