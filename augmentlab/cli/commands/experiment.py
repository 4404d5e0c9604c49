"""CLI for experiments: ``run`` (the quick start), ``experiment run|list``, ``compare``, ``ui``.

Heavy libraries (dspy, MLflow) are imported inside the commands, so ``augmentlab --help`` stays
fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from augmentlab.core.errors import AugmentlabError
from augmentlab.cli.lm_options import lm_options as lm_options_decorator

experiment_app = typer.Typer(help="Run experiment specs and list what the MLflow store holds.", no_args_is_help=True)

_TRACKING_HELP = "MLflow tracking URI or store folder (default: ./mlruns, a SQLite store)."


def _run(spec: Path, tracking_uri: str | None, out: Path | None, programs_dir: Path | None,
         no_augment: bool, no_progress: bool, no_traces: bool = False, lm_options: Any = None,
         verdicts: list[Path] | None = None) -> None:
    from rich.console import Console

    from augmentlab.augment.best import augment_with_best
    from experiments.runner import run_experiment

    console = Console(stderr=True)
    result = run_experiment(
        spec,
        tracking_uri=tracking_uri,
        out_dir=out,
        programs_dir=programs_dir,
        progress=not no_progress,
        console=console,
        augment=None if no_augment else augment_with_best,
        traces=False if no_traces else None,
        lm_options=lm_options,
        verdicts=verdicts or (),
    )
    best = result.best
    console.print(
        f"best: [bold]{best.name}[/] {best.interval} (decided by {result.decided_by}) — MLflow experiment {result.spec.spec_name!r} "
        f"(run `augmentlab compare {result.spec.spec_name}` or `augmentlab ui`)"
    )
    if result.spec.lm.kind == "embedded" and not result.spec.lm.gguf:
        for line in next_steps(str(spec)):
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def next_steps(spec: str) -> list[str]:
    """The quick start's last lines: what the embedded model shows, and how to run on a real one."""
    return [
        "SmolLM2-135M (the embedded model) proves the plumbing, not the quality: its scores and samples are "
        "a tiny model's. The same run on a real model:",
        f"  a model server:  augmentlab run {spec} --lm endpoint --model openai/MODEL --api-base http://HOST:PORT/v1",
        f"  a GGUF file:     augmentlab run {spec} --gguf PATH/TO/MODEL.gguf",
    ]


@lm_options_decorator
def run_command(
    spec: Path = typer.Argument(..., help="Experiment spec (TOML), e.g. experiments/quickstart.toml."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
    out: Path | None = typer.Option(None, "--out", help="Folder for the augmented script (default: out/<spec>/)."),
    programs_dir: Path | None = typer.Option(
        None, "--programs-dir", help="Where optimized programs are saved (default: prompts/optimized/)."
    ),
    no_augment: bool = typer.Option(False, "--no-augment", help="Skip augmenting the spec's script."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    no_traces: bool = typer.Option(
        False, "--no-traces", help="Do not log the LM calls as MLflow traces (overrides the spec's traces = true)."
    ),
    verdicts: list[Path] = typer.Option(
        [], "--verdicts", help="A verdicts file (JSONL of Verdict) to count for \\[judge] kind = \"human\"; repeatable."
    ),
    lm_options: Any = None,
) -> None:
    """Run an experiment spec: evaluate every variant on the test split, log to MLflow.

    The LM options override the spec's LM table (or ./augmentlab.toml's when the spec has none)."""
    _run(spec, tracking_uri, out, programs_dir, no_augment, no_progress, no_traces, lm_options, verdicts)


def list_command(
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
) -> None:
    """List the experiments in the MLflow store."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Table

    from experiments.results import list_experiments

    rows = list_experiments(tracking_uri)
    console = Console()
    if not rows:
        console.print("no experiments yet (run `augmentlab run experiments/quickstart.toml`)")
        return
    table = Table()
    for column in ("experiment", "executions", "last run", "status"):
        table.add_column(column)
    for row in rows:
        when = dt.datetime.fromtimestamp(row["last_run"] / 1000).strftime("%Y-%m-%d %H:%M") if row["last_run"] else ""
        table.add_row(row["name"], str(row["executions"]), when, row["last_status"] or "")
    console.print(table)


def compare_command(
    experiment: str = typer.Argument(..., help="Experiment name (or the spec file it was run from)."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
    run_id: str | None = typer.Option(None, "--run-id", help="An execution (parent run) other than the latest."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the bootstrap intervals (default: the spec's seed, as the run used)."
    ),
) -> None:
    """Leaderboard of an experiment: score with 95% bootstrap interval, sub-scores, tokens/example."""
    from rich.console import Console

    from experiments.leaderboard import print_leaderboard, results_rows
    from experiments.results import load_experiment

    results = load_experiment(experiment, tracking_uri=tracking_uri, run_id=run_id)
    rows = results_rows(results, seed=seed)
    if not rows:
        raise AugmentlabError(f"experiment {results.name!r} has no scored variants in its latest execution")
    print_leaderboard(rows, console=Console(), title=f"{results.name} (run {results.parent_run_id})")


def ui_command(
    port: int = typer.Option(5000, "--port", help="Port of the MLflow UI."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
) -> None:
    """Start the MLflow UI on the store (Ctrl-C stops it and everything it started)."""
    from experiments.tracking import artifact_location, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    artifacts = artifact_location(uri)
    if artifacts:
        command += ["--default-artifact-root", artifacts]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    # Ctrl-C (even when started from a shell that ignores SIGINT) and SIGTERM both stop the group.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    print(f"MLflow UI on http://{host}:{port} (store {uri}); Ctrl-C to stop", file=sys.stderr)
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        _stop_group(process)
        raise typer.Exit(0) from None
    if code != 0:
        raise AugmentlabError(f"mlflow server exited with status {code} (is port {port} in use?)")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_group(process: subprocess.Popen[Any]) -> None:
    """Stop the server's whole process group: TERM, then KILL after 10 seconds."""
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def register(app: typer.Typer) -> None:
    """Add ``run``, ``experiment run|list``, ``compare`` and ``ui`` to the ``augmentlab`` app."""
    app.command("run", help="Run an experiment spec (alias of `experiment run`).")(run_command)
    experiment_app.command("run")(run_command)
    experiment_app.command("list")(list_command)
    app.add_typer(experiment_app, name="experiment")
    app.command("compare")(compare_command)
    app.command("ui")(ui_command)
