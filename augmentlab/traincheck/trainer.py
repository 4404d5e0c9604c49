"""TRL's ``SFTTrainer`` on a tiny randomly initialised Llama (nothing downloaded), quietly."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["batch_loss", "quiet", "sft_trainer", "tiny_model"]


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
def quiet() -> Iterator[None]:
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


def batch_loss(model: Any, trainer: Any, rows: list[dict[str, Any]]) -> float:
    import torch

    batch = trainer.data_collator([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    with torch.no_grad():
        return float(model(input_ids=batch["input_ids"], labels=batch["labels"]).loss)
