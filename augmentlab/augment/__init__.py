"""Augment whole scripts: a program over every scene, resumable, concurrent, accounted.

::

    from augmentlab.augment import AugmentOptions, augment_scripts
    from augmentlab.lm import LMConfig

    report = augment_scripts(["play.txt"], "out/", LMConfig(kind="fake"), AugmentOptions(concurrency=8))

What one run does (see :func:`augment_scripts`):

1. ingest the scripts (or take :class:`~augmentlab.core.model.Script` objects) and plan their scenes
   in script order; each scene's *key* is the content hash of the scene, the program
   fingerprint, the LM fingerprint and the persona cards it is shown (:mod:`augmentlab.store`);
2. persona cards for the main characters: the user's (``AugmentOptions.personas``: a file or a dict) or written by
   ``prompts.programs.PersonaWriter`` (stored and resumable like scenes);
3. every scene whose key has no final result runs on a thread pool of ``concurrency`` workers
   (each in its own ``dspy.context``); each result is committed to the store in its own
   transaction as soon as it is done, so an interrupted run resumes where it stopped;
4. ``augmented.jsonl``, ``failures.jsonl``, ``personas.json`` and ``run.json`` are written from
   the store (script order) at the end — also when the run is interrupted.

**Retries, explicitly.** Transport failures are retried *inside the LM call* by DSPy:
``LMConfig.num_retries`` more attempts on timeouts, 429, 5xx and connection errors, waiting the
server's ``Retry-After`` when it sends one and ``2**attempt`` seconds (at most 60) otherwise
(``dspy/clients/execution.py``; LiteLLM's own retries are turned off by DSPy). A scene whose LM
call still fails is stored as ``error`` and is retried on the next run. Output that does not parse,
has the wrong number of lines or changes the human words (:func:`augmentlab.core.text.is_verbatim`;
checked once per answer, by :func:`prompts.programs.augment_scene`) is retried up to
``max_attempts`` times in all, the retries at ``retry_temperature`` with a fresh ``rollout_id``
(so neither DSPy's cache nor a greedy decoder hands back the same answer); then it is stored as
``failed`` with the raw output and the reason, written to ``failures.jsonl`` and listed in the
report. Nothing is dropped silently.

**Long scenes.** A scene whose answer would not fit ``max_tokens`` (or whose prompt would not fit
the embedded server's ``n_ctx``) is augmented in parts, cut at line boundaries up front
(:mod:`augmentlab.augment.scene_split`); a part whose answer is cut off anyway (``finish_reason=length``)
is halved and retried, down to one line, and a single line with no usable answer keeps its words
without actions. The parts are stored as one scene (its ``reason`` says how it was split);
:attr:`AugmentReport.split` counts such scenes.

Modules, in the order a scene meets them: :mod:`~augmentlab.augment.options`,
:mod:`~augmentlab.augment.program` (which program, the
fingerprints), :mod:`~augmentlab.augment.plan` (scripts, scenes, store keys),
:mod:`~augmentlab.augment.personas`, :mod:`~augmentlab.augment.scheduler` (the thread pool),
:mod:`~augmentlab.augment.runner` (one scene: retries, halving), :mod:`~augmentlab.augment.scene_split`,
:mod:`~augmentlab.augment.outputs`, :mod:`~augmentlab.augment.dry_run`, all driven by
:mod:`~augmentlab.augment.pipeline`.
"""

from __future__ import annotations

from augmentlab.augment.options import AugmentOptions
from augmentlab.augment.personas import main_characters, read_persona_file
from augmentlab.augment.pipeline import augment_scripts
from augmentlab.augment.program import DEFAULT_PROGRAM, program_fingerprint, resolve_program
from augmentlab.augment.results import AugmentReport, Estimate, Failure

__all__ = [
    "DEFAULT_PROGRAM",
    "AugmentOptions",
    "AugmentReport",
    "Estimate",
    "Failure",
    "augment_scripts",
    "main_characters",
    "program_fingerprint",
    "read_persona_file",
    "resolve_program",
]
