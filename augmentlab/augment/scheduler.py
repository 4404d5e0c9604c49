"""Planned scenes on a thread pool: each result stored as soon as it is done, progress drawn.

Workers only compute (:class:`~augmentlab.augment.runner.SceneRunner`); the calling thread
writes every result to the store in its own transaction, so an interrupted run resumes where it
stopped, and results that finish while shutting down are still written.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from augmentlab.augment.results import AugmentReport, Failure, Outcome, PlannedScene
from augmentlab.augment.runner import SceneRunner
from augmentlab.core.errors import AugmentlabError
from augmentlab.store import ResultStore
from metrics.copied import ISSUE as COPIED_ISSUE

ABORT_AFTER_LM_ERRORS = 8
"""Stop a run when this many scenes in a row fail to reach the LM and none has succeeded."""


def _todo(store: ResultStore, items: list[PlannedScene], report: AugmentReport) -> list[PlannedScene]:
    """The planned scenes with no final result yet (each key once); counts the others as skipped."""
    report.scenes = len(items)
    done_keys = store.final_keys(it.key for it in items)
    todo: list[PlannedScene] = []
    queued: set[str] = set()
    for it in items:
        if it.key not in done_keys and it.key not in queued:
            queued.add(it.key)
            todo.append(it)
    report.skipped = len(items) - len(todo)
    return todo


def run_scenes(
    runner: SceneRunner, store: ResultStore, items: list[PlannedScene], concurrency: int, show: bool, report: AugmentReport
) -> None:
    """Run every planned scene not yet done, ``concurrency`` at a time, recording each in ``store``
    and ``report``; stops with an error when the LM is unreachable from the start."""
    todo = _todo(store, items, report)
    lm_errors_in_a_row = 0
    start = time.monotonic()
    with _make_progress(show) as bar:
        task = bar.add_task("augment", total=len(todo), rate=0.0, tokens=0, failed=0)
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="augment")
        pending: set[Future[Outcome]] = set()
        feed = iter(todo)
        try:
            for it in feed:
                pending.add(pool.submit(runner.scene, it))
                if len(pending) >= concurrency * 2:
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                crash: BaseException | None = None
                for future in finished:
                    try:
                        outcome = future.result()
                    except BaseException as exc:  # a bug or an interrupt: record the others first
                        crash = crash or exc
                        continue
                    _record(store, outcome, report)
                    lm_errors_in_a_row = lm_errors_in_a_row + 1 if outcome.status == "error" else 0
                    nxt = next(feed, None)
                    if nxt is not None:
                        pending.add(pool.submit(runner.scene, nxt))
                    elapsed = time.monotonic() - start
                    bar.update(
                        task, advance=1, rate=(report.ok + report.failed + report.errors) / max(elapsed, 1e-9),
                        tokens=report.usage.total_tokens, failed=report.failed + report.errors,
                    )
                if crash is not None:
                    raise crash
                if lm_errors_in_a_row >= ABORT_AFTER_LM_ERRORS and report.ok == 0:
                    _abort(report, lm_errors_in_a_row)
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            # Results that finished while shutting down are still written (never lost).
            for future in pending:
                if future.done() and not future.cancelled() and future.exception() is None:
                    _record(store, future.result(), report)


def _abort(report: AugmentReport, in_a_row: int) -> None:
    last = next(f.reason for f in reversed(report.failures) if f.status == "error")
    raise AugmentlabError(
        f"the LM failed for {in_a_row} scenes in a row ({last}); "
        "finished scenes are kept, re-run to resume (check --lm/--model/--api-base/--api-key-env, "
        "or [lm] in augmentlab.toml)"
    )


def _record(store: ResultStore, outcome: Outcome, report: AugmentReport) -> None:
    item = outcome.item
    store.put(
        item.key,
        status=outcome.status,  # type: ignore[arg-type]
        result=outcome.result.model_dump(mode="json") if outcome.result is not None else None,
        scene_id=item.scene.id,
        attempts=outcome.attempts,
        usage=outcome.usage,
        raw=outcome.raw,
        reason=outcome.reason,
    )
    report.usage = report.usage + outcome.usage
    if outcome.status == "ok":
        report.ok += 1
        report.split += int(outcome.parts > 1)
        report.bare_lines += outcome.bare_lines
        return
    if outcome.status == "failed":
        report.failed += 1
        report.copied += int((outcome.reason or "").startswith(COPIED_ISSUE))
    else:
        report.errors += 1
    report.failures.append(Failure(item.script, item.scene.index, item.scene.id, outcome.status, outcome.reason or ""))


def _make_progress(enabled: bool) -> Any:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} scenes/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[tokens]:,} tok · [red]{task.fields[failed]} failed"),
        disable=not enabled,
        transient=False,
    )
