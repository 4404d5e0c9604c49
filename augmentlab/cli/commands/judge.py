"""CLI: ``augmentlab judge serve EXPERIMENT`` (a person judges blind pairs in a browser) and
``augmentlab judge import EXPERIMENT FILE`` (a verdicts file made elsewhere, checked and copied in)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import typer

judge_app = typer.Typer(help="Human verdicts: judge blind pairs of a run's outputs in a browser, or import them.",
                        no_args_is_help=True)

_TRACKING_HELP = "MLflow tracking URI or store folder (default: ./mlruns, a SQLite store)."
_EXPERIMENT_HELP = "Experiment name (or the spec file it was run from); its latest finished execution is judged."
_VERDICTS_HELP = "Verdicts file (JSONL) to write (default: out/<spec>/verdicts/human.jsonl)."


def _default_name() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "annotator"


def serve_command(
    experiment: str = typer.Argument(..., help=_EXPERIMENT_HELP),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port (0: a free one, printed)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to listen on (127.0.0.1 or ::1)."),
    name: str | None = typer.Option(None, "--name", help="Your name as annotator (default: $USER); verdicts are "
                                    "recorded as human:<name>, and pairs you judged before are skipped."),
    verdicts: Path | None = typer.Option(None, "--verdicts", help=_VERDICTS_HELP),
    all_pairs: bool = typer.Option(False, "--all-pairs", help="Every pair of variants, not only each vs the baseline."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
    run_id: str | None = typer.Option(None, "--run-id", help="An execution (parent run) other than the latest."),
) -> None:
    """Serve a local page showing blind, shuffled pairs of the run's outputs for the same scene; each
    choice is a verdict in the verdicts file and MLflow feedback with a HUMAN source. Ctrl-C stops it."""
    from augmentlab.judging import check_annotator, load_judging_set, make_server, open_app, server_url
    from augmentlab.judging.server import check_loopback

    annotator = check_annotator(name if name is not None else _default_name())
    check_loopback(host)
    judging = load_judging_set(experiment, tracking_uri=tracking_uri, run_id=run_id, all_pairs=all_pairs)
    path = verdicts or _run_verdicts(judging)

    def said(verdict: Any, judged: int, total: int, problems: list[str]) -> None:
        print(f"verdict {judged} of {total} recorded", file=sys.stderr, flush=True)
        for p in problems:
            print(f"warning: {p}", file=sys.stderr, flush=True)

    app = open_app(judging, path, annotator, on_verdict=said)
    if app.log.repaired:
        print(f"warning: {app.log.repaired}", file=sys.stderr)
    server = make_server(app, host, port)
    judged, total = app.progress()
    traced = sum(1 for c in judging.outputs.values() if c.trace_id)
    where = "its traces and the run" if traced else "the run (no traces: the verdicts file is logged as an artifact)"
    print(f"judging page: {server_url(server)}", flush=True)
    print(f"{total} pair(s) of {judging.experiment!r} (execution {judging.run_id[:8]}), {judged} judged by "
          f"{annotator}; verdicts -> {path}; MLflow feedback on {where}. Ctrl-C stops.", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    judged, total = app.progress()
    print(f"stopped: {judged} of {total} pair(s) judged by {annotator} ({path})", file=sys.stderr)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def import_command(
    experiment: str = typer.Argument(..., help=_EXPERIMENT_HELP),
    file: Path = typer.Argument(..., help="A verdicts file (JSONL of augmentlab.core.verdicts.Verdict rows)."),
    verdicts: Path | None = typer.Option(None, "--verdicts", help=_VERDICTS_HELP.replace("to write", "to add to")),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
    run_id: str | None = typer.Option(None, "--run-id", help="An execution (parent run) other than the latest."),
) -> None:
    """Check a verdicts file against the run (human verdicts on its test scenes and variants) and add
    the new ones to the run's verdicts file (and MLflow); they count like any other human verdict."""
    from augmentlab.judging import import_verdicts, load_judging_set

    judging = load_judging_set(experiment, tracking_uri=tracking_uri, run_id=run_id, all_pairs=True)
    result = import_verdicts(judging, file, verdicts or _run_verdicts(judging))
    for p in result.problems:
        print(f"warning: {p}", file=sys.stderr)
    typer.echo(f"imported {result.added} verdict(s) into {result.destination}"
               + (f" ({result.skipped} already there)" if result.skipped else ""))


def register(app: typer.Typer) -> None:
    """Add ``judge serve`` and ``judge import`` to the ``augmentlab`` app."""
    judge_app.command("serve")(serve_command)
    judge_app.command("import")(import_command)
    app.add_typer(judge_app, name="judge")


def _run_verdicts(judging: Any) -> Path:
    """Where the run reads human verdicts (its out folder or ``[judge] verdicts``, from its tag),
    else ``out/<spec>/verdicts/human.jsonl`` here."""
    from augmentlab.judging import default_verdicts_path

    return Path(judging.verdicts_path) if judging.verdicts_path else default_verdicts_path(judging.spec_name)
