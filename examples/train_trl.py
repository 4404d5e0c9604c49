"""Fine-tune on an augmentlab export with TRL's SFTTrainer, the loss on exactly the exported flags.

Expects an export made with

    augmentlab export OUT_DIR --character NAME --format sharegpt|openai|hf -o DATA [--mask all|last]

(any of the three formats and either mask; ``--train-uncertain`` only if you want lines with an
uncertain speaker trained). Check it first with ``augmentlab train-check DATA``: this script
tokenizes exactly as train-check verifies (``augmentlab.traincheck.tokenize_conversation``):
each conversation rendered with the model's chat template, ``completion_mask`` 1 on the trained
turns (content and end-of-turn marker), which TRL turns into the labels
(``completion_only_loss=True``).

    # a real run: a local model folder (its tokenizer and chat template are used)
    python examples/train_trl.py DATA --model PATH/TO/MODEL --output-dir out/trl --epochs 2
    # a smoke run on CPU: a tiny random model over the embedded model's tokenizer, two steps
    python examples/train_trl.py DATA --tiny --max-steps 2 --output-dir /tmp/trl-smoke

Needs ``pip install 'augmentlab[export]'`` (transformers, trl, datasets, gguf). Nothing is
downloaded: ``--model`` must be a local folder.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any


def build(argv: list[str] | None = None) -> Any:
    """The ready ``SFTTrainer`` for the command line ``argv`` (not yet trained)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="the exported dataset (.jsonl, .parquet or an hf folder)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a local model folder to fine-tune")
    source.add_argument("--tiny", action="store_true", help="a tiny random model (smoke test, CPU)")
    parser.add_argument("--tokenizer", help="with --tiny: a tokenizer folder or .gguf (default: the embedded model's)")
    parser.add_argument("--output-dir", default="out/trl")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--lr", type=float, default=None, help="default: 2e-5 (--model), 1e-2 (--tiny)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument(
        "--max-length", type=int, default=None,
        help="truncate longer examples (default: none; export with --max-tokens to bound them instead)",
    )
    args = parser.parse_args(argv)

    import datasets
    import torch
    from trl import SFTConfig, SFTTrainer

    from augmentlab.traincheck import load_chat_tokenizer, load_conversations, tiny_model, tokenize_conversation

    fmt, conversations = load_conversations(args.dataset)
    if args.tiny:
        tokenizer = load_chat_tokenizer(args.tokenizer)
        model = tiny_model(tokenizer)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(args.model, local_files_only=True)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    rows = [tokenize_conversation(tokenizer, c.messages, c.flags) for c in conversations]
    trained = sum(sum(r["completion_mask"]) for r in rows)
    print(f"{len(rows)} examples ({fmt}), {trained} trained tokens of {sum(len(r['input_ids']) for r in rows)}")
    config = SFTConfig(
        output_dir=args.output_dir,
        completion_only_loss=True,  # labels from completion_mask: the exported train flags
        max_length=args.max_length,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.lr if args.lr is not None else (1e-2 if args.tiny else 2e-5),
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        gradient_checkpointing=not args.tiny,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        use_cpu=not torch.cuda.is_available(),
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
    )
    return SFTTrainer(model=model, args=config, train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer)


def main(argv: list[str] | None = None) -> int:
    trainer = build(argv)
    trainer.train()
    trainer.save_model()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    print(f"losses: {', '.join(f'{x:.4f}' for x in losses)}; model saved in {trainer.args.output_dir}")
    return 0 if losses and all(math.isfinite(x) for x in losses) else 1


if __name__ == "__main__":
    sys.exit(main())
