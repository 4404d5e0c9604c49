"""Export: formats load with `datasets`, masks, token budget, and every human word kept."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.cli import main as cli_main
from augmentlab.core.errors import AugmentlabError
from augmentlab.export import build_examples, export, load_output, system_prompt
from augmentlab.ingest import load
from augmentlab.lm import LMConfig
from augmentlab.core.model import LineKind
from augmentlab.core.text import spoken_text, words
from augmentlab.core.tokens import WordEstimate, load_tokenizer


@pytest.fixture(scope="module")
def renpy_out(tmp_path_factory, corpus_dir) -> tuple[Path, object]:
    script = load(corpus_dir / "renpy_the_question" / "script.rpy")
    out = tmp_path_factory.mktemp("renpy-aug")
    report = augment_scripts([script], out, LMConfig(kind="fake", cache=False), AugmentOptions(concurrency=2))
    assert report.ok == len([s for s in script.scenes if s.lines])
    return out, script


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _speech_words(text: str) -> list[str]:
    return words(spoken_text(text))


@pytest.mark.parametrize("character", ["Sylvie", "Me"])
def test_every_human_line_is_exported_word_for_word(renpy_out, character):
    """Assistant turns carry exactly the character's lines, user turns exactly the others' lines
    (with speaker names) and the narration, over the whole script."""
    out, script = renpy_out
    scenes, personas = load_output(out)
    examples = list(build_examples(scenes, character, personas, mask="all"))
    assert examples
    got_assistant: list[str] = []
    got_user: list[str] = []
    for ex in examples:
        roles = [m.role for m in ex.messages]
        assert roles[0] == "system" and roles[1] == "user" and roles[-1] == "assistant"
        assert all(a != b for a, b in zip(roles[1:], roles[2:])), "user/assistant must alternate"
        for m in ex.messages[1:]:
            (got_assistant if m.role == "assistant" else got_user).extend(_speech_words(m.content))
    expected_assistant: list[str] = []
    expected_user: list[str] = []
    for scene in script.scenes:
        mine = [i for i, ln in enumerate(scene.lines) if ln.speaker == character and ln.kind == LineKind.dialogue]
        if not mine:
            continue
        head = 0 if mine[0] == 0 else None
        for ln in scene.lines[: mine[-1] + 1]:
            if ln.speaker == character and ln.kind == LineKind.dialogue:
                expected_assistant.extend(words(ln.text))
            elif ln.speaker and ln.kind == LineKind.dialogue:
                expected_user.extend(words(f"{ln.speaker}: {ln.text}"))
        if head == 0:
            pass  # the opening user turn is an action only: no words
    assert got_assistant == expected_assistant
    assert got_user == expected_user
    # narration comes as actions, word for word
    narration = [ln.text for s in scenes for ln in (a.line for a in s.lines) if ln.speaker is None]
    user_text = "\n".join(m.content for ex in examples for m in ex.messages if m.role == "user")
    assert any(" ".join(n.split()) in user_text for n in narration)


def test_masks(renpy_out):
    out, _ = renpy_out
    scenes, personas = load_output(out)
    for mask in ("all", "last"):
        for ex in build_examples(scenes, "Sylvie", personas, mask=mask):
            flags = [m.train for m in ex.messages if m.role == "assistant"]
            assert flags[-1] is True and ex.messages[-1].role == "assistant"
            assert all(flags) if mask == "all" else sum(flags) == 1
            assert not any(m.train for m in ex.messages if m.role != "assistant")


def test_mask_last_trains_every_turn_once_in_its_own_prefix(renpy_out):
    out, _ = renpy_out
    scenes, personas = load_output(out)
    whole = list(build_examples(scenes, "Sylvie", personas, mask="all"))
    last = list(build_examples(scenes, "Sylvie", personas, mask="last"))
    trained_all = [(ex.scene_id, ex.piece, m.content) for ex in whole for m in ex.messages if m.train]
    trained_last = [(ex.scene_id, ex.piece, ex.messages[-1].content) for ex in last]
    assert trained_last == trained_all and len(last) > len(whole)  # same turns, each once, in order
    assert len({ex.id for ex in last}) == len(last)
    by_piece = {(ex.scene_id, ex.piece): ex.messages for ex in whole}
    for ex in last:  # a prefix of its piece, ending with the turn it trains
        full = by_piece[(ex.scene_id, ex.piece)]
        assert [m.content for m in ex.messages] == [m.content for m in full[: len(ex.messages)]]


def test_system_prompt_has_persona_and_scenario(renpy_out):
    out, _ = renpy_out
    scenes, personas = load_output(out)
    ex = next(iter(build_examples(scenes, "Sylvie", personas)))
    system = ex.messages[0].content
    assert "Sylvie" in system and personas["Sylvie"] in system and scenes[0].scenario is not None
    assert system_prompt("Zed", None, None).count("\n\n\n") == 0
    assert "{persona}" not in system_prompt("Zed", None, None)


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "hf"])
def test_formats_load_with_datasets(renpy_out, tmp_path, fmt):
    datasets = pytest.importorskip("datasets")
    out, _ = renpy_out
    target = tmp_path / ("sylvie.jsonl" if fmt != "hf" else "sylvie_ds")
    report = export(out, "sylvie", fmt, target, mask="last")
    assert report.character == "Sylvie" and report.examples > 0
    if fmt == "hf":
        ds = datasets.load_from_disk(str(target))
        assert set(ds.column_names) >= {"messages", "train"}
        row = ds[0]
        assert len(row["train"]) == len(row["messages"]) and row["train"][-1] == 1 and sum(row["train"]) == 1
    else:
        ds = datasets.load_dataset("json", data_files=str(target), split="train")
        assert len(ds) == report.examples
        if fmt == "openai":
            msgs = ds[0]["messages"]
            assert [m["role"] for m in msgs][:2] == ["system", "user"]
            assert [m["weight"] for m in msgs if m["role"] == "assistant"][-1] == 1
        else:
            conv = ds[0]["conversations"]
            assert conv[0]["from"] == "system" and conv[1]["from"] == "human" and conv[-1]["from"] == "gpt"
            assert conv[-1]["train"] is True and conv[0]["train"] is False


def test_hf_parquet(renpy_out, tmp_path):
    datasets = pytest.importorskip("datasets")
    out, _ = renpy_out
    report = export(out, "Me", "hf", tmp_path / "me.parquet")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "me.parquet"), split="train")
    assert len(ds) == report.examples


def test_trl_accepts_conversational_format(renpy_out, tmp_path):
    if importlib.util.find_spec("trl") is None:
        pytest.skip("trl not installed")
    from trl.data_utils import is_conversational

    out, _ = renpy_out
    export(out, "Sylvie", "openai", tmp_path / "o.jsonl")
    row = _jsonl(tmp_path / "o.jsonl")[0]
    assert is_conversational({"messages": [{k: v for k, v in m.items() if k != "weight"} for m in row["messages"]]})


def test_token_budget_splits_and_keeps_system(renpy_out):
    out, _ = renpy_out
    scenes, personas = load_output(out)
    counter = WordEstimate()
    whole = list(build_examples(scenes, "Me", personas))
    budget = 260
    from augmentlab.export import ExportReport

    report = ExportReport("Me", "openai", "all", Path("x"))
    pieces = list(build_examples(scenes, "Me", personas, max_tokens=budget, tokenizer=counter, report=report))
    assert len(pieces) > len(whole) and report.split_scenes > 0
    by_scene: dict[str, list] = {}
    for p in pieces:
        by_scene.setdefault(p.scene_id, []).append(p)
    for ex in whole:
        parts = by_scene[ex.scene_id]
        assert all(p.messages[0].content == ex.messages[0].content for p in parts)  # system in every piece
        joined = [m.content for p in parts for m in p.messages[1:]]
        assert joined == [m.content for m in ex.messages[1:]]  # nothing lost, nothing repeated
    over = 0
    for p in pieces:
        size = sum(counter.count(m.content) + 4 for m in p.messages)
        if size > budget:
            assert len(p.messages) == 3  # only a single exchange may exceed the budget
            over += 1
    assert over <= report.over_budget


def test_tokenizers_offline(tmp_path):
    assert WordEstimate().count("Hello there, friend.") == 7  # 5 pieces * 4/3, rounded up
    embedded = load_tokenizer("embedded")
    assert embedded.count("Hello there, friend.") > 0
    with pytest.raises(AugmentlabError, match="not found locally"):
        load_tokenizer("some-org/not-a-cached-model")
    with pytest.raises(AugmentlabError, match="not found"):
        load_tokenizer(str(tmp_path / "x.gguf"))


def test_bad_input_is_one_line(renpy_out, tmp_path):
    out, _ = renpy_out
    with pytest.raises(AugmentlabError, match=r"unknown character 'Bob'; known characters \(lines\): Me \(22\), Sylvie \(18\)"):
        export(out, "Bob", "openai", tmp_path / "x.jsonl")
    with pytest.raises(AugmentlabError, match="no such output folder"):
        export(tmp_path / "missing", "Me", "openai", tmp_path / "x.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AugmentlabError, match="not an augment output folder"):
        export(tmp_path / "empty", "Me", "openai", tmp_path / "x.jsonl")
    from augmentlab.store import ResultStore

    ResultStore(tmp_path / "empty").close()
    with pytest.raises(AugmentlabError, match="no augmented scenes"):
        export(tmp_path / "empty", "Me", "openai", tmp_path / "x.jsonl")
    with pytest.raises(AugmentlabError, match="unknown format"):
        export(out, "Me", "csv", tmp_path / "x.jsonl")  # type: ignore[arg-type]


def test_cli_export(renpy_out, tmp_path, capsys):
    out, _ = renpy_out
    target = tmp_path / "s.jsonl"
    assert cli_main(["export", str(out), "--character", "Sylvie", "--format", "sharegpt", "-o", str(target),
                     "--mask", "last", "--max-tokens", "400", "--tokenizer", "words"]) == 0
    assert _jsonl(target)
    assert cli_main(["export", str(out), "--character", "Nobody", "--format", "sharegpt", "-o", str(target)]) == 2
    assert "known characters" in capsys.readouterr().err
