"""The ingest CLI (``ingest``, ``inspect``, ``gold mine``) and bad input, through ``main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmentlab.cli import main
from augmentlab.core.errors import AugmentlabError
from augmentlab.ingest import load
from augmentlab.core.model import Scene

DATA = Path(__file__).parent / "data" / "scripts"


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_ingest_writes_scene_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scenes.jsonl"
    assert main(["ingest", str(DATA / "vn_lighthouse.txt"), "-o", str(out)]) == 0
    rows = [Scene.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [s.index for s in rows] == [0, 1, 2]
    assert rows[0].lines[1].text == "You're late again."
    assert "wrote 3 scenes" in capsys.readouterr().out


def test_ingest_alias_options(tmp_path: Path) -> None:
    out = tmp_path / "scenes.jsonl"
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('"The Keeper" = "Teo"\n')
    assert main(["ingest", str(DATA / "vn_lighthouse.txt"), "-o", str(out), "--aliases", str(aliases)]) == 0
    last = Scene.model_validate_json(out.read_text().splitlines()[-1])
    assert last.lines[-1].speaker == "Teo"
    assert main(["ingest", str(DATA / "vn_lighthouse.txt"), "-o", str(out), "--alias", "Juno=Teo"]) == 0
    first = Scene.model_validate_json(out.read_text().splitlines()[0])
    assert first.speakers == ["Teo"]


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(DATA / "vn_lighthouse.txt"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "vn"
    assert summary["scenes"] == 3
    assert summary["lines_per_speaker"] == {"Juno": 4, "Teo": 4, "MRS. ODA": 2, "The Keeper": 1}
    assert summary["directions"] == {"lines": 1, "scenes": 0}
    assert [c["name"] for c in summary["cast"]] == ["Juno", "Teo", "MRS. ODA", "The Keeper"]


def test_inspect_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(DATA / "vn_lighthouse.txt")]) == 0
    out = capsys.readouterr().out
    assert "MRS. ODA" in out and "Mrs Oda" in out and "vn" in out


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.txt", "not found"),
        (lambda d: d, "is a directory"),
        (lambda d: (d / "empty.txt").write_text("") and d / "empty.txt" or d / "empty.txt", "is empty"),
        (lambda d: (d / "blank.txt").write_text("\n \n\t\n") and d / "blank.txt", "is empty"),
        (lambda d: (d / "bin.dat").write_bytes(b"PK\x03\x04\x00\x00junk") and d / "bin.dat", "binary"),
        (lambda d: (d / "prose.txt").write_text("Just a line.\nAnother line.\n") and d / "prose.txt", "no dialogue"),
    ],
)
def test_bad_input_exit_2_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    path = make(tmp_path)
    out = tmp_path / "out.jsonl"
    assert main(["ingest", str(path), "-o", str(out)]) == 2
    assert message in _one_error_line(capsys)
    assert not out.exists()  # never a silently empty result
    assert main(["inspect", str(path)]) == 2
    assert message in _one_error_line(capsys)


def test_unknown_format_and_bad_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = str(DATA / "vn_lighthouse.txt")
    assert main(["ingest", src, "-o", str(tmp_path / "o.jsonl"), "--format", "sonnet"]) == 2
    assert "unknown script format 'sonnet'" in _one_error_line(capsys)
    assert main(["ingest", src, "-o", str(tmp_path / "o.jsonl"), "--alias", "Juno"]) == 2
    assert "NAME=CANONICAL" in _one_error_line(capsys)
    bad = tmp_path / "bad.toml"
    bad.write_text("not = [valid")
    assert main(["ingest", src, "-o", str(tmp_path / "o.jsonl"), "--aliases", str(bad)]) == 2
    assert "not valid TOML" in _one_error_line(capsys)


def test_wrong_encoding_decoded_with_warning(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Zoë: “Café au lait?”\nRené: Oui — merci.\n".encode("cp1252"))
    script = load(path)
    assert [ln.text for ln in script.lines] == ["Café au lait?", "Oui — merci."]
    assert script.lines[0].speaker == "Zoë"
    assert any("not valid UTF-8" in w and "cp1252" in w for w in script.warnings)
    raw = tmp_path / "latin1.txt"
    raw.write_bytes(b"Ann: caf\xe9 \x81 ok\nBo: fine\n")  # 0x81 is undefined in cp1252
    assert any("latin-1" in w for w in load(raw).warnings)


def test_huge_line_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text("Ann: " + "word " * 2_000_000 + "\nBo: done.\n")  # a 10 MB line
    script = load(path)
    assert script.lines[-1].speaker == "Bo" and script.lines[-1].text == "done."
    assert any("longer than" in w for w in script.warnings)
    assert sum(len(ln.text.split()) for ln in script.lines if ln.speaker != "Bo") == 2_000_000


def test_api_errors_are_augmentlab_errors(tmp_path: Path) -> None:
    with pytest.raises(AugmentlabError, match="unknown script format"):
        load(DATA / "vn_lighthouse.txt", format="nope")
    with pytest.raises(AugmentlabError, match="token budget"):
        load(DATA / "vn_lighthouse.txt", token_budget=0)
