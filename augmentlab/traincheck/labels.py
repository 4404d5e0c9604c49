"""Which tokens carry loss, worked out twice: the trainer's side (labels from the flags, as TRL's
``completion_mask``) and the export's side (what its mask promises, located by characters)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.traincheck.dataset import Conversation

__all__ = ["MASKS", "expected_token_loss", "infer_mask", "marked_text", "promised_flags", "tokenize_conversation"]

MASKS = ("all", "last")


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
