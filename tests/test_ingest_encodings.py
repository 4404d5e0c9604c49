"""Encodings: BOMs honoured, UTF-16 without BOM and legacy encodings guessed (with the guess
and its confidence in inspect), --encoding wins over the binary check, a wrong guess is a
one-line error naming --encoding."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from augmentlab.cli import main
from augmentlab.core.errors import AugmentlabError
from augmentlab.ingest import load

VN = "春香「おはよう、先生。今日もいい天気ですね」\n先生「そうだね。散歩にでも行こうか」\n春香「はい！行きましょう」\n"
EN = "Ann: Hello there, Bo.\nBo: Hello, Ann. Tea?\nAnn: Yes please.\n"


def _speakers(path: Path, **kwargs: object) -> list[tuple[str | None, str]]:
    return [(line.speaker, line.text) for line in load(path, **kwargs).lines]


@pytest.mark.parametrize(
    "bom, codec",
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_byte_order_marks_are_honoured(tmp_path: Path, bom: bytes, codec: str) -> None:
    path = tmp_path / "script.txt"
    path.write_bytes(bom + VN.replace("\n", "\r\n").encode(codec))
    lines = _speakers(path)
    assert lines[0] == ("春香", "おはよう、先生。今日もいい天気ですね")
    assert len(lines) == 3
    assert load(path).lines[0].speaker == "春香"  # no BOM left in the first name


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_detected(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "script.txt"
    path.write_bytes(EN.encode(codec))
    script = load(path)
    assert [line.speaker for line in script.lines] == ["Ann", "Bo", "Ann"]
    assert script.metadata["encoding_guess"]["encoding"] == codec


def test_encoding_option_wins_over_the_binary_check(tmp_path: Path) -> None:
    path = tmp_path / "script.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + VN.encode("utf-16-le"))
    assert len(_speakers(path, encoding="utf-16")) == 3
    odd = tmp_path / "odd.txt"
    odd.write_bytes("Ann: a\x00b\nBo: fine\n".encode("utf-8"))  # a NUL byte in text
    with pytest.raises(AugmentlabError, match="binary.*--encoding"):
        load(odd)
    assert [line.speaker for line in load(odd, encoding="utf-8").lines] == ["Ann", "Bo"]


@pytest.mark.parametrize(
    "codec, expected",
    [("shift_jis", "cp932"), ("euc_jp", "euc_jp"), ("gbk", "gb18030"), ("big5", "big5")],
)
def test_legacy_cjk_encodings_are_guessed(tmp_path: Path, codec: str, expected: str) -> None:
    text = VN if codec in {"shift_jis", "euc_jp"} else "小明：你好，今天天气很好。\n小红：是啊，我们去公园散步吧。\n"
    if codec == "big5":
        text = "小明：你好，今天天氣很好。\n小紅：是啊，我們去公園散步吧。\n"
    path = tmp_path / "script.txt"
    path.write_bytes((text * 5).encode(codec))
    script = load(path)
    guess = script.metadata["encoding_guess"]
    assert codecs.lookup(guess["encoding"]).name == codecs.lookup(expected).name
    assert 0.0 < guess["confidence"] <= 1.0
    first = script.lines[0]
    assert first.text in text and first.speaker in text
    assert any("not valid UTF-8" in w and "--encoding" in w for w in script.warnings)


def test_cp1252_is_guessed_and_shown_by_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "script.txt"
    path.write_bytes("Zoë: “Café au lait?”\nRené: Oui — merci.\n".encode("cp1252"))
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["encoding"] == "cp1252"
    assert summary["encoding_guess"]["by"].startswith("guessed")
    assert summary["lines_per_speaker"] == {"Zoë": 1, "René": 1}
    assert main(["inspect", str(path)]) == 0
    assert "confidence" in capsys.readouterr().out


def test_a_wrong_guess_is_a_one_line_error_naming_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Latin-1 bytes with no dialogue shape: nothing found, and the error says the decoding was a guess.
    path = tmp_path / "script.txt"
    path.write_bytes(b"\xe9\xe8\xe0 \x81\x8d\n" * 3)
    out = tmp_path / "out.jsonl"
    assert main(["ingest", str(path), "-o", str(out), "--format", "vn"]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("error")]
    assert len(err) == 1 and "--encoding" in err[0] and "a guess" in err[0]


@pytest.mark.parametrize("codec, bom", [("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_windows_further_in_read_wide_encodings(tmp_path: Path, codec: str, bom: bytes) -> None:
    # Hedda Gabler's introduction fills the head; detection reads windows further in, which must
    # start on whole code units in the file's byte order.
    import gzip

    text = gzip.decompress((Path(__file__).parent / "data" / "plays" / "ibsen_hedda_gabler_pg4093.txt.gz").read_bytes())
    path = tmp_path / "hedda.txt"
    path.write_bytes(bom + text.decode("utf-8").encode(codec))
    script = load(path)
    assert script.format == "play" and "windows" in script.metadata["detected_by"]
    assert sum(1 for line in script.lines if line.speaker) > 1600
