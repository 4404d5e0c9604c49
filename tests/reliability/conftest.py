"""The reliability suite's shared pieces and its summary line.

Every test here records what it did into the session-wide :class:`Figures` (fixture
``figures``); at the end of a run that included reliability tests one line is printed::

    faults injected=N survived=N; bad inputs tried=N handled=N; kills=N lost=N duplicated=N; secret hits=N

The counts are the ones the tests gathered, so the line is evidence, not decoration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import rel_helpers  # noqa: F401  (puts tests/ on sys.path for the shared helpers)

from test_augment import KEY_ENV, SECRET
from augmentlab.cli import main as cli_main

# The stub-server configs of tests/test_augment.py name this key variable.
os.environ.setdefault(KEY_ENV, SECRET)

# ------------------------------------------------------------------------------- figures
@dataclass
class Figures:
    """Counts the reliability tests gather (printed by :func:`pytest_terminal_summary`)."""

    faults_injected: int = 0
    faults_survived: int = 0
    inputs_tried: int = 0
    inputs_handled: int = 0
    kills: int = 0
    lost: int = 0
    duplicated: int = 0
    secret_hits: int = 0
    ran: bool = False
    notes: list[str] = field(default_factory=list)

    def fault(self, survived: bool, count: int = 1) -> None:
        self.faults_injected += count
        self.faults_survived += count if survived else 0

    def bad_input(self, handled: bool) -> None:
        self.inputs_tried += 1
        self.inputs_handled += int(handled)

    def kill(self, lost: int, duplicated: int) -> None:
        self.kills += 1
        self.lost += lost
        self.duplicated += duplicated

    def line(self) -> str:
        return (
            f"faults injected={self.faults_injected} survived={self.faults_survived}; "
            f"bad inputs tried={self.inputs_tried} handled={self.inputs_handled}; "
            f"kills={self.kills} lost={self.lost} duplicated={self.duplicated}; "
            f"secret hits={self.secret_hits}"
        )


FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("reliability") is not None:
        FIGURES.ran = True


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not FIGURES.ran:
        return
    terminalreporter.write_sep("=", "reliability")
    terminalreporter.write_line(FIGURES.line())


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture
def run_cli(capfd: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """``run_cli(args) -> (exit code, stdout, stderr)`` through ``augmentlab.cli.main``."""
    def run(args: list[str]) -> tuple[int, str, str]:
        capfd.readouterr()
        code = cli_main([str(a) for a in args])
        out, err = capfd.readouterr()
        return code, out, err

    yield run
