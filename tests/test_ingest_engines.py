"""Visual-novel engine dumps, with line accounting: every non-blank line of the file is a kept
line, a skipped line with a reason, or markup. sc3tools SCX text on files written for these tests
in sc3tools' format; KiriKiri/KAG and TyranoScript on real public files
(tests/data/{scx,kag,tyrano}/SOURCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmentlab.cli import main
from augmentlab.core.model import LineKind, Script
from augmentlab.ingest import load
from augmentlab.ingest.detect import detect

DATA = Path(__file__).parent / "data"
SEED = (
    "[name]Rintaro[line]“Hey, you. Can you see us?”[%p]\n"
    "[name]Mayuri[line]“Really? You shouldn’t do bad things, Okarin.”[%p]\n"
    "I step back from the monitor.[%p]\n"
    'Displayed on the screen is the uglycute character [color index="820000"]Alpacaman[color index="800000"].[%p]\n'
)


def _accounted(script: Script, path: Path, encoding: str = "utf-8") -> dict:
    """The accounting, checked: the file's non-blank lines are all ingested or skipped."""
    accounting = script.metadata["accounting"]
    non_blank = sum(1 for line in path.read_text(encoding=encoding).splitlines() if line.strip())
    assert accounting["non_blank_lines"] == non_blank
    skipped = sum(entry["lines"] for entry in accounting["skipped"].values())
    assert accounting["ingested"]["lines"] + skipped == non_blank
    assert accounting["unexplained"] == 0
    return accounting


def test_seed_scx_excerpt_gives_speakers_and_narration(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"  # no .SCX.txt name: detected from the markup
    path.write_text(SEED, encoding="utf-8")
    script = load(path)
    assert script.format == "scx"
    assert [(ln.speaker, ln.kind) for ln in script.lines] == [
        ("Rintaro", LineKind.dialogue),
        ("Mayuri", LineKind.dialogue),
        (None, LineKind.narration),
        (None, LineKind.narration),
    ]
    assert [ln.text for ln in script.lines] == [
        "Hey, you. Can you see us?",
        "Really? You shouldn’t do bad things, Okarin.",
        "I step back from the monitor.",
        "Displayed on the screen is the uglycute character Alpacaman.",
    ]
    accounting = _accounted(script, path)
    assert accounting["ingested"] == {"lines": 4, "dialogue": 2, "narration": 2}
    assert script.metadata["markup"]["by_tag"] == {"%p": 4, "name": 2, "line": 2, "color": 2}


def test_scx_chapter_every_box_read() -> None:
    path = DATA / "scx" / "shop_01.SCX.txt"
    script = load(path)
    assert script.format == "scx"
    raw = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    named = [line for line in raw if line.startswith("[name]")]
    accounting = _accounted(script, path)
    assert accounting["ingested"] == {"lines": 36, "dialogue": 13, "narration": 23}
    assert accounting["ingested"]["dialogue"] == len(named)
    assert all("[" not in ln.text and "]" not in ln.text for ln in script.lines)
    # narration keeps its place between the speeches (line numbers in file order)
    assert [ln.source_line for ln in script.lines] == list(range(1, 37))
    first_narration = next(ln for ln in script.lines if ln.kind is LineKind.narration)
    assert (first_narration.source_line, first_narration.text) == (7, "I set the loupe down on the counter.")
    assert {ln.speaker for ln in script.lines if ln.speaker} == {"Ren", "Kenji", "Saki"}
    assert [ln.speaker for ln in script.lines if ln.speaker][-3:] == ["Saki", "Saki", "Saki"]
    # the words are the file's words, markup out: the color tags went, nothing else did
    pallet = next(ln for ln in script.lines if "pallet" in ln.text)
    assert pallet.speaker is None and pallet.text.startswith("He can hear a worn pallet from across the room")
    review = next(ln for ln in script.lines if "review!" in ln.text)
    assert review.text == "We have one review! It says ‘friendly, slow’ and gives us four stars."
    # quotation marks inside narration are words, not a speech
    note = next(ln for ln in script.lines if ln.source_line == 10)
    assert note.kind is LineKind.narration and note.text.startswith("Under it, in smaller letters, she wrote “the")
    assert script.metadata["markup"]["by_tag"] == {"%p": 36, "name": 13, "line": 13, "color": 8}


def test_placeholder_speaker_maps_only_with_an_alias() -> None:
    path = DATA / "scx" / "prologue_pl.SCX.txt"
    script = load(path)
    unknown = [ln for ln in script.lines if ln.metadata.get("shown_as") == "???"]
    assert [ln.source_line for ln in unknown] == [1, 5, 10]
    assert all(ln.speaker is None and ln.kind is LineKind.dialogue for ln in unknown)
    # line 11 names her in the narration ("To Ola Wrona…"): the reader does not guess from it
    assert script.lines[10].kind is LineKind.narration and "Ola" in script.lines[10].text
    assert [c.name for c in script.characters] == ["Tomasz"]
    assert script.metadata["markup"]["placeholder_speakers"] == 3
    mapped = load(path, aliases={"???": "Ola"})
    assert [ln.speaker for ln in mapped.lines if ln.metadata.get("shown_as")] == ["Ola"] * 3
    assert [c.name for c in mapped.characters] == ["Ola", "Tomasz"]
    assert mapped.characters[0].aliases == ["???"]
    assert mapped.lines[0].text == "Hej, do kogo ty tam szepczesz?"
    _accounted(mapped, path)


def test_scx_markup_ruby_breaks_compound_characters_and_unknown_tags() -> None:
    path = DATA / "scx" / "markup.SCX.txt"
    script = load(path)
    by_line = {ln.source_line: ln for ln in script.lines}
    assert by_line[1].text == "The Kurisutina joke again?"
    assert by_line[1].metadata["ruby"] == [["Kurisutina", "Christina"]]
    assert by_line[2].text == "Chapter 2" and by_line[2].speaker is None
    assert by_line[3].text == "El Psy\nKongroo."
    assert by_line[5].text == "Naüve, Okarin. [Hello] is what she said."  # compound char; words kept
    assert by_line[6].speaker is None and by_line[6].metadata["shown_as"] == "???"
    assert by_line[8].text == "“Tutturu♪"  # an unclosed quote is the file's, kept
    assert by_line[9].speaker == "Rintaro" and by_line[9].text == "A prefixed line."
    accounting = _accounted(script, path)
    assert accounting["skipped"]["markup only (no words)"]["ranges"] == ["7"]
    assert accounting["skipped"]["speech with no words"]["ranges"] == ["10"]
    markup = script.metadata["markup"]
    assert markup["unknown"] == {"blink": {"count": 1, "lines": [7]}}
    assert any("[blink] x1 (line 7)" in w for w in script.warnings)


def test_kag3_sample_is_narration_with_macros_menus_and_labels() -> None:
    path = DATA / "kag" / "syoukai_first.ks"
    script = load(path)
    assert script.format == "kag"
    assert script.metadata["encoding_guess"]["encoding"] in {"cp932", "shift_jis"}
    accounting = _accounted(script, path, encoding="cp932")
    assert accounting["ingested"]["heading"] == 7  # *labels
    skipped = accounting["skipped"]
    assert skipped["markup: script or macro body"]["lines"] == 30  # four @macro ... @endmacro bodies
    assert skipped["choice"]["lines"] == 4  # [link]...[endlink] menu lines
    assert "unknown markup" not in skipped  # the macros it defines are known from then on
    assert script.metadata["markup"]["unknown_tags"] == 0
    headings = [s.heading for s in script.scenes]
    assert "吉里吉里とは" in headings  # *about_kirikiri|吉里吉里とは
    kirikiri = next(s for s in script.scenes if s.heading == "吉里吉里とは").lines
    assert len(kirikiri) == 1  # one text box: four lines with [l][r], ended by [p]
    assert kirikiri[0].text.startswith("吉里吉里は、TJSというスクリプト言語を使って")
    assert kirikiri[0].text.count("\n") == 3 and kirikiri[0].text.endswith("２Ｄゲームに適しています。")
    assert all(ln.kind is LineKind.narration for ln in script.lines)
    assert any("narration line(s) only" in w for w in script.warnings)


def test_kagex_cues_display_names_and_unknown_character_commands() -> None:
    path = DATA / "kag" / "kagex_char.ks"
    script = load(path)
    assert script.format == "kag"
    speakers = [(ln.speaker, ln.metadata.get("shown_as")) for ln in script.lines if ln.kind is LineKind.dialogue]
    assert speakers[0] == ("あい", None)
    assert speakers[1] == ("あい", "？？？")  # 【あい/？？？】: the file says who ？？？ is
    assert len(speakers) == 6
    assert script.lines[0].kind is LineKind.narration
    accounting = _accounted(script, path, encoding="cp932")
    # [あい 通常 中], [bgm01], ...: commands defined outside this file, counted and named
    assert accounting["skipped"]["unknown markup"]["lines"] == 9
    assert script.metadata["markup"]["unknown"]["あい"]["count"] == 6
    assert any("unknown markup" in w and "[あい]" in w for w in script.warnings)
    assert all("[" not in ln.text for ln in script.lines)


def test_tyrano_sample_speakers_placeholders_choices_and_ruby() -> None:
    path = DATA / "tyrano" / "scene1_head.ks"
    script = load(path)
    assert script.format == "tyrano"
    lines = script.lines
    first = lines[0]
    assert first.kind is LineKind.narration and first.text == "さて、ゲームが簡単に作れるというから、来てみたものの"
    hidden = [ln for ln in lines if ln.metadata.get("shown_as") == "?"]  # #? before she gives her name
    assert [ln.text for ln in hidden] == ["ちょっとまったーーーーー", "こんにちは。", "私の名前はあかね。"]
    assert all(ln.speaker is None and ln.kind is LineKind.dialogue for ln in hidden)
    assert {ln.speaker for ln in lines if ln.speaker} == {"あかね"}
    html5 = next(ln for ln in lines if "HTML5" in ln.text)
    assert html5.text == "まず、ティラノスクリプトの特徴として「HTML5」で動作するよ"  # [font ...] stripped
    ruby = next(ln for ln in lines if ln.metadata.get("ruby"))
    assert ruby.text == "ルビを振ることだって簡単にできます"
    assert ruby.metadata["ruby"][:2] == [["ル", "る"], ["ビ", "び"]]
    accounting = _accounted(script, path)
    assert accounting["skipped"]["choice"]["ranges"] == ["67-69"]  # three [glink] choices
    assert script.metadata["markup"]["unknown_tags"] == 0
    named = load(path, aliases={"?": "あかね"})
    assert {ln.speaker for ln in named.lines if ln.metadata.get("shown_as")} == {"あかね"}


def test_tyrano_chara_new_names_and_script_blocks(tmp_path: Path) -> None:
    head = (DATA / "tyrano" / "scene1_head.ks").read_text(encoding="utf-8")
    tail = (DATA / "tyrano" / "scene1_tail.ks").read_text(encoding="utf-8")
    alone = load(DATA / "tyrano" / "scene1_tail.ks")
    assert "akane" in {ln.speaker for ln in alone.lines}  # no [chara_new] in the file: as written
    path = tmp_path / "scene1.ks"
    path.write_text(head + tail, encoding="utf-8")
    script = load(path)
    speakers = {ln.speaker for ln in script.lines if ln.speaker}
    assert speakers == {"あかね", "やまと"}  # #akane / #yamato are the [chara_new] jnames
    accounting = _accounted(script, path)
    assert accounting["skipped"]["markup: script or macro body"]["lines"] == 6  # three [iscript] bodies
    assert not any("window.open" in ln.text for ln in script.lines)
    assert all("[" not in ln.text for ln in script.lines)


def test_unknown_inline_markup_is_words_only_when_it_reads_as_words(tmp_path: Path) -> None:
    path = tmp_path / "scene.ks"
    path.write_text(
        "#Kurisu\n"
        "I said [Hello] to him.[p]\n"
        "A pause[wait2] and a [shake power=3]jolt.[p]\n"
        "[mystery_cmd]\n"
        '[button name="bgmvol" x="&tf.config_x[1]" y=10]\n'  # brackets inside a value (Tyrano's config.ks)
        "[image storage=&tf.cg[tf.i] layer=1]\n",
        encoding="utf-8",
    )
    script = load(path)
    assert [ln.text for ln in script.lines] == ["I said [Hello] to him.", "A pause and a jolt."]
    accounting = _accounted(script, path)
    assert accounting["skipped"]["unknown markup"]["ranges"] == ["4"]
    assert accounting["skipped"]["markup: engine command"]["ranges"] == ["5-6"]
    assert set(script.metadata["markup"]["unknown"]) == {"wait2", "shake", "mystery_cmd"}


def test_detection_keeps_other_formats_and_picks_engines(tmp_path: Path) -> None:
    scripts = DATA / "scripts"
    expected = {"vn_lighthouse.txt": "vn", "garden.rpy": "renpy", "night_ferry.fountain": "fountain"}
    for name, fmt in expected.items():
        path = scripts / name
        head = path.read_text(encoding="utf-8-sig").splitlines()[:400]
        assert detect(path, head).format == fmt, name
    kag = tmp_path / "dump.txt"
    kag.write_text("*start\n@image storage=room layer=base\n[cm]\nHello there.[p]\n@jump target=*end\n[wait time=10]\n", encoding="utf-8")
    assert load(kag).format == "kag"
    tyrano = tmp_path / "scenario.txt"
    tyrano.write_text('*start\n[bg storage="room.jpg"]\n[cm]\n#akane\nHello there.[p]\n@jump target=*end\n', encoding="utf-8")
    assert load(tyrano).format == "tyrano"


def test_vn_lenticular_name_dumps_and_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("【あい】「こんにちは。」\n【？？？】「誰？」\nあい「また明日ね」\n雨が降っている。\n", encoding="utf-8")
    script = load(path)
    assert script.format == "vn"
    assert [(ln.speaker, ln.text) for ln in script.lines] == [
        ("あい", "こんにちは。"),
        (None, "誰？"),
        ("あい", "また明日ね"),
        (None, "雨が降っている。"),
    ]
    assert script.lines[1].kind is LineKind.dialogue
    mapped = load(path, aliases={"？？？": "Kurisu"})
    assert mapped.lines[1].speaker == "Kurisu"


def test_inspect_and_ingest_cli_with_format_and_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "scx" / "prologue_pl.SCX.txt"
    assert main(["inspect", str(path), "--json", "--format", "scx", "--alias", "???=Ola"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "scx" and summary["lines_per_speaker"] == {"Ola": 3, "Tomasz": 1}
    assert summary["markup"]["placeholder_speakers"] == 3
    assert summary["accounting"]["unexplained"] == 0
    assert main(["inspect", str(DATA / "kag" / "kagex_char.ks")]) == 0
    text = capsys.readouterr().out
    assert "unknown markup" in text and "markup" in text
    out = tmp_path / "scenes.jsonl"
    assert main(["ingest", str(DATA / "tyrano" / "scene1_head.ks"), "-o", str(out), "--format", "tyrano"]) == 0
    assert "0 unexplained" in capsys.readouterr().out
    assert main(["inspect", str(path), "--format", "sc4"]) == 2
