"""The files of an augment folder, written from the store (script order) at the end of a run.

``store.sqlite`` (the results, :mod:`augmentlab.store`), ``augmented.jsonl`` (``ok`` scenes),
``failures.jsonl`` (``failed`` and ``error``), ``personas.json`` and ``run.json`` (what the run
was and did). Each file is replaced whole or not at all.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from augmentlab.augment.results import AugmentReport
from augmentlab.core.fsio import atomic_write_json
from augmentlab.store import ResultStore


def write_outputs(store: ResultStore, out_dir: Path, report: AugmentReport, run_info: dict[str, Any]) -> None:
    """Write the output files (also after an interrupted run); sets ``report.total_usage``."""
    store.export_jsonl(out_dir / "augmented.jsonl", statuses=("ok",))
    store.export_jsonl(out_dir / "failures.jsonl", statuses=("failed", "error"))
    report.total_usage = store.total_usage()
    counts = store.counts()
    atomic_write_json(out_dir / "personas.json", report.personas)
    info = {
        **run_info,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_s": round(report.elapsed, 3),
        "interrupted": report.interrupted,
        "counts": counts,
        "this_run": {"ok": report.ok, "failed": report.failed, "errors": report.errors, "skipped": report.skipped,
                     "split": report.split, "bare_lines": report.bare_lines, "usage": report.usage.model_dump()},
        "total_usage": report.total_usage.model_dump(),
        "personas": {name: card["source"] for name, card in report.personas.items()},
    }
    atomic_write_json(out_dir / "run.json", info)
