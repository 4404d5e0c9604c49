"""The one error type for user mistakes.

Anything the user can fix (a missing file, a bad spec, an unreadable script, an LM that
cannot be reached) raises :class:`AugmentlabError` with a one-line message. The CLI prints
it as ``error: <message>`` and exits 2; anything else is a bug and exits 1.
"""

from __future__ import annotations


class AugmentlabError(Exception):
    """A problem the user can fix, described in one line."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = " ".join(str(message).split())
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class LMUnavailable(AugmentlabError):
    """The LM cannot answer at all — its server process crashed, its endpoint refuses
    connections — so the run stops with this one line instead of failing scene after scene.
    Finished results are kept either way."""
