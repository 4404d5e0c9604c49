"""The ``augmentlab`` command: a thin shell over the Python API.

Each area registers its commands from its own module under :mod:`augmentlab.cli.commands`
(``register(app)``); those modules import heavy libraries (dspy, torch, MLflow) inside the
command functions, so ``augmentlab --help`` stays fast.

Errors: an :class:`~augmentlab.core.errors.AugmentlabError` is printed as one line on stderr and
exits 2; any other exception exits 1 with one line and a pointer to ``--verbose`` (which
shows the traceback).
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from augmentlab.core.errors import AugmentlabError

COMMAND_MODULES = ("ingest", "metrics", "experiment", "augment", "report", "judge", "traincheck")

app = typer.Typer(
    name="augmentlab",
    help="Human-sourced, AI-augmented role-play data: ingest, augment, measure, compare, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and debug logs."),
) -> None:
    if verbose:
        os.environ["AUGMENTLAB_VERBOSE"] = "1"


_registered = False


def _register_all() -> None:
    """Add every area's commands to :data:`app`, once per process (``main`` may run many times)."""
    global _registered
    if _registered:
        return
    _registered = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"augmentlab.cli.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"augmentlab.cli.commands.{name}":
                continue
            raise
        module.register(app)


def error_line(message: str) -> None:
    """Print one error line on stderr."""
    print(f"error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning errors into one line and an exit code."""
    _register_all()
    verbose = "--verbose" in (argv or sys.argv) or "-v" in (argv or sys.argv)[:2]
    try:
        # Outside standalone mode click *returns* a typer.Exit's code instead of raising it.
        result = app(args=argv, standalone_mode=False)
    except AugmentlabError as exc:
        if verbose:
            raise
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        error_line("aborted")
        return 1
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if verbose:
            raise
        error_line(f"{type(exc).__name__}: {' '.join(str(exc).split())} (run with --verbose for the traceback)")
        return 1
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
