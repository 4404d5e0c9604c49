"""A dry run: the exact prompts a run would send (on the offline FakeLM), counted, priced; no LM call.

Completions are the FakeLM's (an estimate). Persona cards the real run would generate are
written by the persona writer on the FakeLM too, so their calls are counted and the scene prompts
carry a card of about the right length.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import dspy
from dspy.utils.callback import BaseCallback

from augmentlab.augment.options import AugmentOptions
from augmentlab.augment.personas import missing_characters, persona_inputs
from augmentlab.augment.plan import Work, plan_scenes
from augmentlab.augment.results import AugmentReport, Estimate
from augmentlab.core.tokens import load_tokenizer
from augmentlab.lm import LMConfig, adapter_for
from augmentlab.lm.fake import FakeLM
from augmentlab.lm.session import prices_of
from prompts import programs


class PromptRecorder(BaseCallback):
    """Keeps the messages and outputs of every LM call (for the dry-run estimate)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], list[Any]]] = []
        self._open: dict[str, list[Any]] = {}

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        messages = inputs.get("messages") or ([{"content": inputs["prompt"]}] if inputs.get("prompt") else [])
        self._open[call_id] = list(messages)

    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        messages = self._open.pop(call_id, [])
        self.calls.append((messages, list(outputs or []) if isinstance(outputs, list) else [outputs]))


def dry_run(work: Work, config: LMConfig, out_dir: Path, options: AugmentOptions, started: float) -> AugmentReport:
    """Run the program with the offline FakeLM to get the exact prompts; count their tokens with
    ``options.estimate_tokenizer`` (default: the embedded model's for the embedded LM, else the
    word estimate); price them with ``config``'s prices."""
    tokenizer = options.estimate_tokenizer
    if tokenizer is None:
        tokenizer = "embedded" if config.kind == "embedded" else "words"
    counter = load_tokenizer(tokenizer)
    adapter = adapter_for(config)
    estimate = Estimate(tokenizer=counter.name)
    recorder = PromptRecorder()
    fake = FakeLM(cache=False)
    cards = dict(work.user_personas)
    scripts = work.scripts
    missing = missing_characters(scripts, cards, options.write_personas)
    if missing:
        writer = programs.PersonaWriter()
        for character in missing:
            with dspy.context(lm=fake, adapter=adapter, callbacks=[recorder]):
                try:
                    cards[character] = writer(**persona_inputs(character, scripts)).persona
                except Exception:  # an estimate never fails on one odd character
                    continue
            estimate.personas += 1
    items = plan_scenes(work.loaded, cards, "dry", "dry", options.limit)
    for item in items:
        with dspy.context(lm=fake, adapter=adapter, callbacks=[recorder]):
            try:
                programs.augment_scene(work.program, item.scene, item.personas)
            except Exception:  # an estimate never fails on one odd scene
                pass
        estimate.scenes += 1
    _count(recorder, counter, estimate)
    prompt_price, completion_price = prices_of(config)
    if prompt_price is not None and completion_price is not None:
        estimate.cost = estimate.prompt_tokens / 1000 * prompt_price + estimate.completion_tokens / 1000 * completion_price
    return AugmentReport(out_dir=out_dir, scenes=len(items), estimate=estimate, elapsed=time.time() - started)


def _count(recorder: PromptRecorder, counter: Any, estimate: Estimate) -> None:
    for messages, outputs in recorder.calls:
        estimate.calls += 1
        estimate.prompt_tokens += sum(counter.count(_content(m)) + 4 for m in messages)
        for out in outputs:
            estimate.completion_tokens += counter.count(out if isinstance(out, str) else json.dumps(out, default=str))


def _content(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")
