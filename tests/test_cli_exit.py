"""The CLI's exit codes: a command's ``typer.Exit(code)`` reaches the shell."""

from __future__ import annotations

import typer

from augmentlab import cli


def test_typer_exit_code_is_returned(monkeypatch):
    cli._register_all()
    app = typer.Typer()
    app.registered_commands.extend(cli.app.registered_commands)

    @app.command("exit-with")
    def _exit_with(code: int) -> None:
        raise typer.Exit(code)

    monkeypatch.setattr(cli, "app", app)
    assert cli.main(["exit-with", "1"]) == 1
    assert cli.main(["exit-with", "3"]) == 3
    assert cli.main(["exit-with", "0"]) == 0
