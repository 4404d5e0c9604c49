"""``augment_scripts``: plan, persona cards, scenes on a thread pool, outputs (see the package doc)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from augmentlab.augment.dry_run import dry_run
from augmentlab.augment.options import AugmentOptions
from augmentlab.augment.outputs import write_outputs
from augmentlab.augment.personas import persona_cards
from augmentlab.augment.plan import Work, plan_scenes, prepare
from augmentlab.augment.results import PARSE_ERRORS_FILE, AugmentReport
from augmentlab.augment.runner import SceneRunner
from augmentlab.augment.scheduler import run_scenes
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import Script
from augmentlab.lm import LMConfig, parse_log
from augmentlab.lm.patches import memoize_dspy_model_info
from augmentlab.lm.session import LMSession, open_session
from augmentlab.store import ResultStore


def augment_scripts(
    scripts: Sequence[str | Path | Script],
    out_dir: str | Path,
    lm: LMSession | LMConfig | None = None,
    options: AugmentOptions | None = None,
) -> AugmentReport:
    """Augment every scene of ``scripts`` into ``out_dir`` (see the package doc).

    ``lm``: an open :class:`~augmentlab.lm.session.LMSession`, or the
    :class:`~augmentlab.lm.LMConfig` of one to open for the run — after the inputs are read, and
    not at all for a dry run (default: the embedded LM). ``options``: :class:`AugmentOptions`.
    """
    options = options or AugmentOptions()
    config = lm.config if isinstance(lm, LMSession) else (lm or LMConfig())
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise AugmentlabError(f"--out {out_dir} is a file, not a folder")
    started = time.time()
    work = prepare(scripts, options)
    if options.dry_run:
        return dry_run(work, config, out_dir, options, started)

    memoize_dspy_model_info()
    lm_fp = config.fingerprint()  # the model's identity (hashes a GGUF once per file)
    report = AugmentReport(out_dir=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out_dir)
    run_info = _run_info(work, config, lm_fp, options, started)
    with ExitStack() as stack:
        stack.callback(store.close)
        store.set_meta("lm", run_info["lm"])  # who answered (the identity is also in every scene key)
        session = lm if isinstance(lm, LMSession) else stack.enter_context(open_session(config))
        runner = SceneRunner(work.program, work.program_id, session, options)
        unparsed = report.parse_errors = stack.enter_context(parse_log.capture())
        try:
            _run(work, runner, store, lm_fp, options, report)
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        finally:
            report.elapsed = time.time() - started
            write_outputs(store, out_dir, report, run_info)
            if unparsed.count:
                unparsed.write(out_dir / PARSE_ERRORS_FILE)
    return report


def _run(work: Work, runner: SceneRunner, store: ResultStore, lm_fp: str, options: AugmentOptions,
         report: AugmentReport) -> None:
    """Persona cards, then the plan (stored, failures reset with ``retry_failed``), then the scenes."""
    cards = persona_cards(runner, store, work.scripts, work.user_personas, lm_fp, options.write_personas,
                          options.concurrency, report)
    items = plan_scenes(work.loaded, cards, work.program_fp, lm_fp, options.limit)
    store.set_plan((it.script_index, it.scene.index, it.script, it.key) for it in items)
    if options.retry_failed:
        store.reset_failures(it.key for it in items)
    run_scenes(runner, store, items, options.concurrency, options.progress, report)


def _run_info(work: Work, config: LMConfig, lm_fp: str, options: AugmentOptions, started: float) -> dict[str, Any]:
    """What ``run.json`` says about the run besides its counts."""
    return {
        "scripts": [name for name, _ in work.loaded],
        "program": work.program_id,
        "program_fingerprint": work.program_fp,
        "lm": config.record(),
        "lm_identity": config.identity_label(),
        "lm_fingerprint": lm_fp,
        "concurrency": options.concurrency,
        "max_attempts": options.max_attempts,
        "retry_temperature": options.retry_temperature,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
    }
