"""How to augment: everything about a run but the scripts, the output folder and the LM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augmentlab.core.errors import AugmentlabError


@dataclass(frozen=True)
class AugmentOptions:
    """The options of :func:`~augmentlab.augment.augment_scripts` (checked when made).

    ``program``: see :func:`~augmentlab.augment.resolve_program`. ``personas``: a TOML/JSON file
    or a dict of persona cards; the main characters without one get a card from
    ``PersonaWriter`` when ``write_personas``. ``dry_run``: no LM call and nothing written; the
    report's ``estimate`` counts tokens with ``estimate_tokenizer``. ``retry_failed``: redo scenes
    stored as ``failed``. ``limit``: only the first N scenes. ``tracer``: an open
    :class:`~experiments.tracing.Tracer` makes each scene an MLflow trace (tagged ``trace_tags``,
    linked to the run ``trace_run_id``). ``halve_unusable``: a part of a split scene whose answer
    is unusable (not cut off: unparseable, lines missing, words changed) is halved and retried,
    down to one line (``False``: the scene fails there, as a one-part scene does; measurements use
    it, so a program is scored on its answers, not on how many smaller tries rescue it).
    """

    program: Any = None
    concurrency: int = 4
    max_attempts: int = 3
    retry_temperature: float = 0.7
    personas: str | Path | dict[str, str] | None = None
    write_personas: bool = True
    dry_run: bool = False
    retry_failed: bool = False
    limit: int | None = None
    progress: bool = False
    estimate_tokenizer: str | None = None
    tracer: Any = None
    trace_tags: dict[str, str] | None = None
    trace_run_id: str | None = None
    halve_unusable: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise AugmentlabError("--concurrency must be at least 1")
        if self.max_attempts < 1:
            raise AugmentlabError("max_attempts must be at least 1")
