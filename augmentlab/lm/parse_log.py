"""Answers the LM gave that could not be parsed: counted and kept, not printed amid the progress.

A small model's answer that DSPy's adapter cannot parse is normal on the embedded SmolLM2; DSPy
and pydantic then log a page of text (``Adapter GrammarJSONAdapter failed to parse the LM
response ... For further information visit https://errors.pydantic.dev/...``) on the ``dspy``
loggers and as Python warnings, which used to land in the middle of the progress bars.

:func:`capture` collects them instead: each one is counted and kept (its source and the start of
its text) in a :class:`ParseErrors`, written to ``parse_errors.jsonl`` by the caller, and the
caller prints one summary line (:meth:`ParseErrors.summary`: "3 of 12 answers could not be
parsed; examples in out/…/parse_errors.jsonl"). With ``--verbose`` (``AUGMENTLAB_VERBOSE=1``)
they are also shown as before. Other DSPy log lines are untouched.

Callers that catch a parse failure themselves (an evaluation keeps the error on its example)
:func:`note` it, so it is counted once in the same place.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augmentlab.core.fsio import write_jsonl

PARSE_FAILURE = re.compile(
    r"failed to parse|AdapterParseError|errors\.pydantic\.dev|validation errors? for|"
    r"cannot be serialized to a JSON object|Expected to find output fields|PydanticSerializationUnexpectedValue",
    re.I,
)
"""What a parse failure's text looks like (DSPy's adapters, pydantic's validation)."""
MAX_EXAMPLES = 50
"""Failures kept with their text (all are counted)."""
MAX_TEXT = 1000


def is_parse_failure(text: str) -> bool:
    return bool(PARSE_FAILURE.search(text))


def verbose() -> bool:
    """Is ``--verbose`` on (``AUGMENTLAB_VERBOSE=1``)?"""
    return os.environ.get("AUGMENTLAB_VERBOSE", "") not in ("", "0")


@dataclass
class ParseErrors:
    """The parse failures of one capture (thread-safe)."""

    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, source: str, text: str, **where: Any) -> None:
        with self._lock:
            self.count += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append({"source": source, **where, "text": " ".join(text.split())[:MAX_TEXT]})

    def write(self, path: Path, **tags: Any) -> Path:
        """The kept examples as JSONL (each row with ``tags``), replacing ``path`` whole."""
        write_jsonl(path, [{**tags, **row} for row in self.examples])
        return path

    def summary(self, answers: int, path: Path | None) -> str | None:
        """``3 of 12 answers could not be parsed; examples in PATH`` (None when there were none)."""
        if not self.count:
            return None
        of = f" of {answers}" if answers >= self.count else ""
        where = f"; examples in {path}" if path is not None else ""
        return f"{self.count}{of} answers could not be parsed{where} (--verbose shows them as they happen)"


_active: list[ParseErrors] = []
_active_lock = threading.Lock()


def note(source: str, text: str, **where: Any) -> bool:
    """Count ``text`` in every open capture when it is a parse failure; returns whether it was."""
    if not is_parse_failure(text):
        return False
    with _active_lock:
        targets = list(_active)
    for target in targets:
        target.add(source, text, **where)
    return True


class _Collect(logging.Handler):
    """On the ``dspy`` logger: counts parse-failure records (see :class:`_Hide` for hiding them)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            note(record.name, record.getMessage())
        except Exception:  # a log record that cannot be formatted is not ours to break on
            pass


class _Hide(logging.Filter):
    """On the handlers that print: drops parse-failure records (unless --verbose)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return not (record.name.startswith("dspy") and is_parse_failure(record.getMessage()))
        except Exception:
            return True


@contextmanager
def capture() -> Iterator[ParseErrors]:
    """Collect parse failures logged by DSPy (and pydantic's warnings) while the block runs; they
    are not printed unless ``--verbose``. Nested captures each count what happens inside them."""
    errors = ParseErrors()
    with _active_lock:
        _active.append(errors)
        first = len(_active) == 1
    collector, hide = _Collect(), _Hide()
    handlers: list[logging.Handler] = []
    if first:
        logging.getLogger("dspy").addHandler(collector)
        if not verbose():
            handlers = [h for name in ("dspy", "") for h in logging.getLogger(name).handlers if h is not collector]
            for h in handlers:
                h.addFilter(hide)
    previous_show = warnings.showwarning
    if first:
        warnings.showwarning = _showwarning(previous_show)
    try:
        yield errors
    finally:
        with _active_lock:
            _active.remove(errors)
        if first:
            warnings.showwarning = previous_show
            logging.getLogger("dspy").removeHandler(collector)
            for h in handlers:
                h.removeFilter(hide)


def _showwarning(previous: Any) -> Any:
    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        text = f"{getattr(category, '__name__', category)}: {message}"
        if note("warning", text) and not verbose():
            return
        previous(message, category, filename, lineno, file, line)

    return show


__all__ = ["PARSE_FAILURE", "ParseErrors", "capture", "is_parse_failure", "note", "verbose"]
