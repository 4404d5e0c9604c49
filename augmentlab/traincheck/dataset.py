"""Reading an export: the conversations of a ShareGPT, OpenAI or Hugging Face dataset and the
train flag of each message (ShareGPT ``train``, OpenAI ``weight`` — 1 by default on assistant
messages, as OpenAI reads it — or the HF ``train`` column)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augmentlab.core.errors import AugmentlabError

__all__ = ["ROLES", "Conversation", "load_conversations"]

ROLES = ("system", "user", "assistant")
_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


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
