"""Line accounting: every non-blank line is ingested or skipped with a reason, in inspect,
the ingest summary and --strict (augmentlab.ingest.accounting)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmentlab.cli import main
from augmentlab.core.errors import AugmentlabError
from augmentlab.ingest import iter_scenes, load
from augmentlab.ingest.accounting import Ledger

SCRIPTS = Path(__file__).parent / "data" / "scripts"


def _non_blank(path: Path, encoding: str = "utf-8") -> int:
    return sum(1 for line in path.read_text(encoding=encoding).splitlines() if line.strip())


def _corpus_scripts(corpus: Path) -> list[Path]:
    skip = {"INFO.md", "debian-copyright.txt", "renpy-license.rst"}
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name not in skip)


def test_every_corpus_file_has_no_unexplained_line(corpus_dir: Path) -> None:
    for path in _corpus_scripts(corpus_dir):
        stream = iter_scenes(path)
        for _ in stream:
            pass
        ledger = stream.ledger
        # The framework's count is every non-blank line of the file (header and licence included).
        assert ledger.total == _non_blank(path), path
        assert ledger.unexplained == 0, (path, ledger.as_dict())
        assert ledger.ingested_lines + ledger.skipped_lines == ledger.total


def test_gutenberg_header_and_footer_are_skipped_with_ranges(corpus_dir: Path) -> None:
    path = corpus_dir / "wilde_importance_of_being_earnest" / "pg844.txt"
    script = load(path)
    accounting = script.metadata["accounting"]
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines, 1) if "START OF" in line and "GUTENBERG" in line.upper())
    end = next(i for i, line in enumerate(lines, 1) if "END OF" in line and "GUTENBERG" in line.upper())
    assert accounting["skipped"]["Project Gutenberg header"]["ranges"] == [f"1-{start}"]
    assert accounting["skipped"]["Project Gutenberg footer (licence)"]["ranges"] == [f"{end}-{len(lines)}"]
    assert accounting["skipped"]["cast list"]["lines"] > 0
    assert accounting["unexplained"] == 0


def test_vn_accounting_counts_every_line_and_reports_empty_cues(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("Ann: Hello there.\nBo:\n\nBo: *sighs*\nThe wind rises.\n# Scene two\nAnn: Bye.\n", encoding="utf-8")
    stream = iter_scenes(path, "vn")
    lines = [line for scene in stream for line in scene.lines]
    assert [line.text for line in lines] == ["Hello there.", "The wind rises.", "Bye."]
    ledger = stream.ledger
    assert ledger.total == 6
    assert ledger.ingested == {"dialogue": 2, "narration": 1, "heading": 1}
    assert ledger.skipped["cue with no speech"].lines == 1
    assert ledger.skipped["speech with no words"].lines == 1
    assert ledger.skipped["speech with no words"].speech_like == 1
    assert ledger.unexplained == 0
    # One speech of three lost its words (its direction only): over 1 %, a warning; --strict fails.
    assert any("speech-like" in w for w in stream.script().warnings)
    with pytest.raises(AugmentlabError, match="speech-like.*--strict"):
        for _ in iter_scenes(path, "vn", strict=True):
            pass


def test_play_that_loses_its_speeches_warns_and_strict_fails(tmp_path: Path) -> None:
    # No act heading and no cast list: the play parser reads the speeches as front matter. That
    # is reported (skipped, speech-like), never silent.
    path = tmp_path / "play.txt"
    speeches = "\n\n".join(f"JOHN. Line number {i} of mine.\n\nMARY. And {i} of mine." for i in range(10))
    path.write_text("A PLAY\n\nby Somebody\n\n" + speeches + "\n", encoding="utf-8")
    with pytest.raises(AugmentlabError, match="no dialogue"):
        load(path, "play")
    path.write_text("A PLAY\n\n" + speeches + "\n\nACT I\n\nJOHN. The only speech read.\n", encoding="utf-8")
    script = load(path, "play")
    skipped = script.metadata["accounting"]["skipped"]["front matter"]
    assert skipped["speech_like"] == 20
    assert any("20 speech-like paragraph(s) skipped" in w for w in script.warnings)
    with pytest.raises(AugmentlabError, match="--strict"):
        load(path, "play", strict=True)


def test_prose_is_accounted_for_without_reporting_itself(corpus_dir: Path) -> None:
    # prose.py does not report into the ledger: the lines it reads are credited to its events.
    stream = iter_scenes(corpus_dir / "doyle_adventures_of_sherlock_holmes" / "pg1661.txt")
    for _ in stream:
        pass
    ledger = stream.ledger
    assert ledger.unexplained == 0
    # which kind a paragraph's lines are credited to is approximate (the event read after them)
    assert ledger.ingested["dialogue"] > 0 and ledger.ingested["narration"] > 0
    assert ledger.skipped["Project Gutenberg header"].lines > 0


def test_unexplained_lines_are_a_problem() -> None:
    ledger = Ledger(format="play")
    ledger.count(10)
    ledger.take("dialogue", 1, 4)
    ledger.skip("front matter", 20, 3)
    assert ledger.unexplained == 3
    assert ledger.problems() and "neither ingested nor skipped" in ledger.problems()[0]
    assert "5-19" in ledger.problems()[0]


def test_inspect_json_and_ingest_summary_show_the_accounting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = SCRIPTS / "night_ferry.fountain"
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    accounting = summary["accounting"]
    assert accounting["non_blank_lines"] == _non_blank(path)
    assert accounting["unexplained"] == 0
    assert accounting["skipped"]["title page"]["ranges"] == ["1-4"]
    assert accounting["parts"][0] == {"lines": "1-4", "what": "skipped: title page"}
    out = tmp_path / "out.jsonl"
    assert main(["ingest", str(path), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"lines: {_non_blank(path)} non-blank" in printed and "0 unexplained" in printed
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "skipped: title page" in text and "unexplained" in text


def test_strict_cli_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("Ann: Hello.\nBo: *sighs*\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["ingest", str(path), "-o", str(out), "--format", "vn", "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--strict" in err[0]
    assert not out.exists()
