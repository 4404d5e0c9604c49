"""CLI: ``augmentlab augment`` (scripts → augmented scenes) and ``augmentlab export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from augmentlab.core.errors import AugmentlabError


def lm_config_from_options(
    lm: Optional[str],
    model: Optional[str],
    api_base: Optional[str],
    api_key_env: Optional[str],
    *,
    prompt_price: Optional[float] = None,
    completion_price: Optional[float] = None,
    num_retries: Optional[int] = None,
    timeout: Optional[float] = None,
) -> Any:
    """The :class:`~augmentlab.lm.LMConfig` for these options over ``augmentlab.toml``'s ``[lm]``
    (kept for callers of the old signature; commands use :mod:`augmentlab.cli.lm_options`)."""
    from augmentlab.lm.settings import LMOptions, resolve_lm_config

    if lm == "embedded" and (model or api_base):
        lm = None  # as before: --model/--api-base with the default --lm mean an endpoint
    return resolve_lm_config(LMOptions(
        lm=lm, model=model, api_base=api_base, api_key_env=api_key_env, prompt_price_per_1k=prompt_price,
        completion_price_per_1k=completion_price, num_retries=num_retries, timeout=timeout,
    ))


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    if report.estimate is not None:
        e = report.estimate
        cost = f"${e.cost:.4f}" if e.cost is not None else "unknown (set prices)"
        console.print(
            f"dry run: {e.scenes} scenes, {e.personas} persona cards, {e.calls} LM calls, ~{e.prompt_tokens:,} prompt + "
            f"~{e.completion_tokens:,} completion tokens ({e.tokenizer}); cost {cost}"
        )
        return
    u = report.usage
    cost = f", ${u.cost:.4f}" if u.cost is not None else ""
    console.print(
        f"{report.ok} ok, {report.failed} failed, {report.errors} LM errors, {report.skipped} already done "
        f"of {report.scenes} scenes in {report.elapsed:.1f}s; this run {u.calls} calls, "
        f"{u.prompt_tokens:,}+{u.completion_tokens:,} tokens{cost}"
        + (f" ({u.cached_calls} calls from the DSPy cache: counted, not spent)" if u.cached_calls else "")
    )
    for note in report.notes():
        console.print(note, markup=False, highlight=False, soft_wrap=True)
    if report.failures:
        table = Table(title="not augmented (see failures.jsonl)")
        for col in ("script", "scene", "status", "reason"):
            table.add_column(col)
        for f in report.failures:
            table.add_row(f.script, str(f.scene_index), f.status, f.reason[:160])
        console.print(table)
    console.print(f"output: {report.out_dir}")


TRACE_EXPERIMENT = "augment"


def _tracer(store: str, config: Any, stack: Any) -> Any:
    """An open :class:`~experiments.tracing.Tracer` on ``store`` (experiment ``augment``)."""
    from augmentlab.lm.session import redactor_for
    from experiments.tracing import Tracer
    from experiments.tracking import client, ensure_experiment, resolve_tracking_uri

    uri = resolve_tracking_uri(store)
    try:
        experiment_id = ensure_experiment(client(uri), TRACE_EXPERIMENT, uri)
    except Exception as exc:  # an unreachable or broken store: one line, before any LM call
        if isinstance(exc, AugmentlabError):
            raise
        raise AugmentlabError(f"cannot use MLflow store {uri}: {' '.join(str(exc).split())[:200]}") from None
    return stack.enter_context(Tracer(uri, experiment_id, redactor_for(config)))


def register(app: typer.Typer) -> None:
    """Add ``augment`` and ``export`` to ``app``."""

    from augmentlab.cli.lm_options import lm_options as _with_lm_options

    @app.command()
    @_with_lm_options
    def augment(
        scripts: list[Path] = typer.Argument(..., help="Script files to augment."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder (resumable: re-run to continue)."),
        program: Optional[str] = typer.Option(
            None, "--program", "-p",
            help="Saved program (.json), SCENARIO+ACTIONS variant names, or one variant. Default: the best shipped.",
        ),
        concurrency: int = typer.Option(4, "--concurrency", "-j", help="Scenes in flight at once."),
        max_attempts: int = typer.Option(3, "--max-attempts", help="Tries per scene for unusable output."),
        personas: Optional[Path] = typer.Option(None, "--personas", help="Persona cards (TOML or JSON: name = card)."),
        no_persona_writer: bool = typer.Option(False, "--no-persona-writer", help="Do not generate missing persona cards."),
        retry_failed: bool = typer.Option(False, "--retry-failed", help="Redo scenes stored as failed."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N scenes."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Estimate tokens and cost; no LM call."),
        tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="Tokenizer for the dry-run estimate."),
        trace_to: Optional[str] = typer.Option(
            None, "--trace-to", help="Log each scene's LM calls as an MLflow trace to this store or tracking URI "
            "(experiment 'augment'; e.g. mlruns)."
        ),
        lm_options: Any = None,
    ) -> None:
        """Augment every scene of SCRIPTS (scenario + actions), resumably, into --out.

        The LM: the embedded SmolLM2 unless the LM options or ./augmentlab.toml say otherwise."""
        from contextlib import ExitStack

        from augmentlab.augment import AugmentOptions, augment_scripts
        from augmentlab.lm.settings import resolve_lm_config

        config = resolve_lm_config(lm_options)
        with ExitStack() as stack:
            tracer = _tracer(trace_to, config, stack) if trace_to and not dry_run else None
            options = AugmentOptions(
                program=program, concurrency=concurrency, max_attempts=max_attempts, personas=personas,
                write_personas=not no_persona_writer, retry_failed=retry_failed, limit=limit, dry_run=dry_run,
                progress=True, estimate_tokenizer=tokenizer, tracer=tracer,
                trace_tags={"augmentlab.program": str(program or "default"), "augmentlab.out": str(out)},
            )
            # The config, not an open session: augment opens the LM once the inputs are read
            # (a bad script is reported before the embedded server starts; a dry run opens none).
            report = augment_scripts(scripts, out, config, options)
        _print_report(report)

    @app.command()
    def export(
        folder: Path = typer.Argument(..., help="An augment output folder."),
        character: str = typer.Option(..., "--character", "-c", help="Whose lines are the assistant turns."),
        fmt: str = typer.Option(..., "--format", "-f", help="sharegpt, openai or hf."),
        out: Path = typer.Option(..., "-o", "--out", help="Output file (.jsonl; hf: folder, .parquet or .jsonl)."),
        mask: str = typer.Option("all", "--mask", help="all: one example per scene piece, every turn of the character trained; last: one example per turn of the character, ending with it and trained on it only."),
        max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Split scenes to this token budget."),
        tokenizer: Optional[str] = typer.Option(
            None, "--tokenizer", help="Tokenizer for --max-tokens: .gguf, tokenizer.json, local folder, embedded, words.",
        ),
        train_uncertain: bool = typer.Option(
            False, "--train-uncertain",
            help="Train the character's lines whose speaker ingest marked uncertain (default: context only).",
        ),
    ) -> None:
        """Export one character's training conversations from an augment folder."""
        from augmentlab.export import export as run_export

        report = run_export(
            folder, character, fmt, out, mask=mask, max_tokens=max_tokens, tokenizer=tokenizer,  # type: ignore[arg-type]
            train_uncertain=train_uncertain,
        )
        print(
            f"{report.examples} examples ({report.scenes} scenes, {report.split_scenes} split) for "
            f"{report.character}: {report.format}, mask={report.mask} → {report.out}"
        )
        for warning in report.warnings:
            print(f"warning: {warning}")
