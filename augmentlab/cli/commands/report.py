"""CLI: ``augmentlab report EXPERIMENT [--out DIR]`` — which prompt yields better data."""

from __future__ import annotations

from pathlib import Path

import typer

_TRACKING_HELP = "MLflow tracking URI or store folder (default: ./mlruns, a SQLite store)."


def report_command(
    experiment: str = typer.Argument(..., help="Experiment name (or the spec file it was run from)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: out/<experiment>/)."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
    run_id: str | None = typer.Option(None, "--run-id", help="An execution (parent run) other than the latest."),
    baseline: str | None = typer.Option(None, "--baseline", help="Variant to compare against (default: the spec's first)."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the bootstrap intervals (default: the spec's seed, as the run used)."
    ),
    examples: int = typer.Option(3, "--examples", min=0, help="How many disagreeing / worst examples to show."),
) -> None:
    """Write an HTML report (self-contained) and its Markdown twin: leaderboard with 95% intervals,
    paired comparisons against the baseline, plots, side-by-side examples and the winning prompt."""
    from augmentlab.report import build_report

    paths = build_report(
        experiment, tracking_uri=tracking_uri, out_dir=out, run_id=run_id, baseline=baseline, seed=seed,
        n_examples=examples,
    )
    if paths.data is not None:
        typer.echo(paths.data.headline)
    typer.echo(f"report: {paths.html}")
    typer.echo(f"markdown: {paths.markdown}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``augmentlab`` app."""
    app.command("report")(report_command)
