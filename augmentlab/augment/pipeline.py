"""``augment_scripts``: plan, persona cards, scenes on a thread pool, outputs (see the package doc)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dspy

from augmentlab.augment.dry_run import dry_run as _dry_run
from augmentlab.augment.outputs import write_outputs
from augmentlab.augment.personas import persona_cards, read_persona_file
from augmentlab.augment.plan import load_scripts, plan_scenes
from augmentlab.augment.program import program_fingerprint, resolve_program
from augmentlab.augment.results import AugmentReport
from augmentlab.augment.runner import SceneRunner
from augmentlab.augment.scheduler import run_scenes
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import Script, content_hash
from augmentlab.lm import LMConfig, adapter_for, memoize_dspy_model_info, open_lm
from augmentlab.store import ResultStore
from augmentlab.core.redact import Redactor

if TYPE_CHECKING:
    pass


def augment_scripts(
    scripts: Sequence[str | Path | Script],
    out_dir: str | Path,
    *,
    program: Any = None,
    lm_config: LMConfig | None = None,
    lm: dspy.BaseLM | None = None,
    adapter: Any = None,
    concurrency: int = 4,
    max_attempts: int = 3,
    retry_temperature: float = 0.7,
    personas: str | Path | dict[str, str] | None = None,
    write_personas: bool = True,
    dry_run: bool = False,
    retry_failed: bool = False,
    limit: int | None = None,
    progress: bool = False,
    estimate_tokenizer: str | None = None,
    tracer: Any = None,
    trace_tags: dict[str, str] | None = None,
    trace_run_id: str | None = None,
) -> AugmentReport:
    """Augment every scene of ``scripts`` into ``out_dir`` (see the module doc).

    ``program``: see :func:`resolve_program`. ``lm_config``: the LM (default: embedded);
    ``lm``/``adapter``: an already open LM (the config is then only used for its fingerprint
    and prices). ``personas``: a TOML/JSON file or a dict of persona cards; the main characters
    without one get a card from ``PersonaWriter`` when ``write_personas``. ``dry_run``: no LM
    call and nothing written; returns :attr:`AugmentReport.estimate`. ``retry_failed``: redo
    scenes stored as ``failed``. ``limit``: only the first N scenes. ``tracer``: an open
    :class:`~experiments.tracing.Tracer` makes each scene an MLflow trace (tagged ``trace_tags``,
    linked to the run ``trace_run_id``).
    """
    if concurrency < 1:
        raise AugmentlabError("--concurrency must be at least 1")
    if max_attempts < 1:
        raise AugmentlabError("max_attempts must be at least 1")
    if lm_config is None and lm is None:
        lm_config = LMConfig()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise AugmentlabError(f"--out {out_dir} is a file, not a folder")
    started = time.time()
    loaded = load_scripts(scripts)
    script_objs = [s for _, s in loaded]
    prog, program_id = resolve_program(program)
    program_fp = program_fingerprint(prog)
    user_personas = read_persona_file(personas) if isinstance(personas, (str, Path)) else dict(personas or {})

    if dry_run:
        return _dry_run(loaded, prog, user_personas, lm_config, out_dir, limit, estimate_tokenizer, started,
                        write_personas)

    memoize_dspy_model_info()
    lm_fp = _lm_fingerprint(lm_config, lm)  # the model's identity (hashes a GGUF once per file)
    report = AugmentReport(out_dir=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out_dir)
    lm_safe = lm_config.record() if lm_config is not None else {"model": getattr(lm, "model", "")}
    run_info: dict[str, Any] = {
        "scripts": [name for name, _ in loaded],
        "program": program_id,
        "program_fingerprint": program_fp,
        "lm": lm_safe,
        "lm_identity": lm_config.identity_label() if lm_config is not None else lm_safe["model"],
        "lm_fingerprint": lm_fp,
        "concurrency": concurrency,
        "max_attempts": max_attempts,
        "retry_temperature": retry_temperature,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
    }
    with ExitStack() as stack:
        stack.callback(store.close)
        store.set_meta("lm", lm_safe)  # who answered (the identity is also in every scene key)
        if lm is None:
            assert lm_config is not None
            lm = stack.enter_context(open_lm(lm_config))
        if adapter is None:
            adapter = adapter_for(lm_config) if lm_config is not None else dspy.JSONAdapter()
        runner = SceneRunner(
            program=prog, lm=lm, adapter=adapter, lm_safe=lm_safe, program_id=program_id,
            max_attempts=max_attempts, retry_temperature=retry_temperature,
            redact=_redactor(lm_config).text,
            tracer=tracer, trace_tags=trace_tags, trace_run_id=trace_run_id,
            max_tokens=lm_config.max_tokens if lm_config is not None else (getattr(lm, "kwargs", {}) or {}).get("max_tokens"),
            n_ctx=lm_config.n_ctx if lm_config is not None and lm_config.kind == "embedded" else None,
        )
        try:
            cards = persona_cards(runner, store, script_objs, user_personas, lm_fp, write_personas, concurrency, report)
            items = plan_scenes(loaded, cards, program_fp, lm_fp, limit)
            store.set_plan((it.script_index, it.scene.index, it.script, it.key) for it in items)
            if retry_failed:
                store.reset_failures(it.key for it in items)
            run_scenes(runner, store, items, concurrency, progress, report)
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        finally:
            report.elapsed = time.time() - started
            write_outputs(store, out_dir, report, run_info)
    return report


def _lm_fingerprint(lm_config: LMConfig | None, lm: Any) -> str:
    if lm_config is not None:
        return lm_config.fingerprint()
    return content_hash(getattr(lm, "model", type(lm).__name__), {k: v for k, v in getattr(lm, "kwargs", {}).items() if "key" not in k})


def _redactor(lm_config: LMConfig | None) -> Any:
    """The secret redactor for a run: the key variable the config names and the usual ``*_API_KEY``
    / ``*_TOKEN`` variables (an error body can echo the key: a 401 from some servers does)."""
    return Redactor([lm_config.api_key_env] if lm_config is not None and lm_config.api_key_env else [])
