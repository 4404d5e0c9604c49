"""Which program augments, and the fingerprints that make a scene's store key."""

from __future__ import annotations

import json
from typing import Any

import dspy

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import content_hash
from prompts import programs
from prompts.variants import load_variant

DEFAULT_PROGRAM = "compose_scene"
"""The default program: actions variant ``compose_scene`` — one call per scene writes the scenario
and the actions around each line, and the program puts the human words between them (so no word
can change). On the embedded model it scores best of the shipped programs at under half the
tokens per line of the two-call 2023 baseline (``benchmarks/bench_augment.py --embedded``);
``--program seed+seed_with_scenario`` is that baseline, with the annotator seeing the scenario."""


def resolve_program(spec: Any = None) -> tuple[Any, str]:
    """``(program, program_id)`` for a program spec.

    ``spec`` is a ``dspy.Module`` (used as is), ``None`` (:data:`DEFAULT_PROGRAM`), a saved
    program (``.json``, loaded with ``prompts.programs.load_program``), ``SCENARIO+ACTIONS``
    variant names or paths, or one variant (its task says which half it is).
    """
    if isinstance(spec, dspy.Module):
        return spec, str(getattr(spec, "name", None) or type(spec).__name__)
    spec = str(spec or DEFAULT_PROGRAM)
    try:
        if spec.endswith(".json"):
            program = programs.load_program(spec)
        elif "+" in spec:
            scenario, actions = (part.strip() for part in spec.split("+", 1))
            program = programs.SceneAugmenter(scenario or None, actions or None)
        else:
            variant = load_variant(spec)
            if variant.task == "scenario":
                program = programs.SceneAugmenter(variant, None)
            elif variant.task == "actions":
                program = programs.SceneAugmenter(None, variant)
            else:
                raise AugmentlabError(f"variant {spec!r} is a {variant.task} variant, not a scene program")
    except AugmentlabError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise AugmentlabError(f"cannot load program {spec!r}: {exc}") from exc
    return program, str(getattr(program, "name", spec))


def program_fingerprint(program: Any) -> str:
    """A hash of everything in the program that shapes its prompts (instructions, demos, fields)."""
    try:
        state = program.dump_state()
    except Exception:  # a module with unserialisable state: fall back to its repr
        state = repr(program)
    signatures = {name: _signature_text(p.signature) for name, p in program.named_predictors()}
    return content_hash(type(program).__qualname__, state, signatures)


def _signature_text(signature: Any) -> str:
    fields = {name: str(f.json_schema_extra) for name, f in {**signature.input_fields, **signature.output_fields}.items()}
    return json.dumps([signature.instructions, fields], sort_keys=True, default=str)
