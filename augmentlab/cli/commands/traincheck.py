"""CLI: ``augmentlab train-check`` (an export, checked token by token and trained a few steps)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add ``train-check`` to ``app``."""

    @app.command("train-check")
    def train_check(
        dataset: Path = typer.Argument(..., help="An exported dataset: .jsonl (sharegpt/openai/hf), .parquet or an hf folder."),
        tokenizer: Optional[str] = typer.Option(
            None, "--tokenizer", help="Chat tokenizer: a local folder or a .gguf file (default: the embedded model's).",
        ),
        steps: int = typer.Option(2, "--steps", help="Optimizer steps of TRL's SFTTrainer on a tiny model (0: none)."),
        mask: Optional[str] = typer.Option(
            None, "--mask", help="The mask the export was made with (all or last; default: read from its flags).",
        ),
        show: int = typer.Option(0, "--show", help="Print N examples with the trained spans marked."),
    ) -> None:
        """Check that an export puts the loss on exactly the character's trained turns, token by token."""
        from augmentlab.core.errors import AugmentlabError
        from augmentlab.traincheck import train_check as run

        report = run(dataset, tokenizer=tokenizer, steps=steps, mask=mask, show=show, colour=sys.stdout.isatty())
        for n, text in enumerate(report.shown, 1):
            print(f"--- example {n} (trained spans {'in green' if sys.stdout.isatty() else 'in [[ ]]'})")
            print(text)
        print("\n".join(report.summary()))
        if not report.ok:
            # Exit 1 (the export fails the check), not 2 (bad input): the summary above says why.
            failed = AugmentlabError(report.failure())
            failed.exit_code = 1
            raise failed
