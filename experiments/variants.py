"""A variant's program: built from its files (hand-written) or compiled by its optimizer."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augmentlab.core.errors import AugmentlabError
from experiments.optimizers import Compiled, OptimizerContext, compile_variant
from experiments.spec import VariantSpec
from prompts.programs import SceneAugmenter, load_program
from prompts.variants import load_variant

if TYPE_CHECKING:
    import dspy


def seed_everything(seed: int) -> None:
    """Seed Python's and NumPy's global generators (before each variant is built or compiled)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass


def build_program(variant: VariantSpec, task: str) -> Any:
    """The program of a hand-written variant (variant files, optional demos file, or a saved program)."""
    if variant.program:
        program = load_program(variant.program)
        if program.task != task:
            raise AugmentlabError(f"variant {variant.name!r}: saved program is for task {program.task!r}, not {task!r}")
        return program
    scenario = load_variant(variant.scenario, task="scenario") if variant.scenario else None
    actions = load_variant(variant.actions, task="actions") if variant.actions else None
    if variant.demos:
        demos = _read_demos(Path(variant.demos))
        scenario = scenario.model_copy(update={"demos": demos}) if scenario else None
        actions = actions.model_copy(update={"demos": demos}) if actions else None
    return SceneAugmenter(scenario, actions)


def _read_demos(path: Path) -> list[dict[str, Any]]:
    try:
        demos = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AugmentlabError(f"cannot read demos {path}: {exc}") from None
    if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
        raise AugmentlabError(f"demos {path} must be a JSON list of objects")
    return demos


def compile_optimized(
    variant: VariantSpec,
    base_program: Any,
    *,
    trainset: Sequence[dspy.Example],
    devset: Sequence[dspy.Example],
    ctx: OptimizerContext,
) -> Compiled:
    """Compile an optimized variant from (a copy of) its base's program; an optimizer's own
    failure is one line naming the variant."""
    assert variant.optimizer is not None
    try:
        return compile_variant(
            variant.optimizer,
            base_program.deepcopy(),
            trainset=trainset,
            devset=devset,
            options=variant.optimizer_options,
            ctx=ctx,
        )
    except AugmentlabError:
        raise
    except Exception as exc:
        raise AugmentlabError(
            f"variant {variant.name!r}: optimizer {variant.optimizer} failed: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        ) from exc


def instructions_and_demos(program: Any) -> dict[str, dict[str, Any]]:
    """``{predictor name: {"instructions": str, "demos": [...]}}`` of a program."""
    out: dict[str, dict[str, Any]] = {}
    for name, predictor in program.named_predictors():
        demos = []
        for demo in predictor.demos:
            data = demo.toDict() if hasattr(demo, "toDict") else dict(demo)
            data.pop("gold", None)
            demos.append(data)
        out[name] = {"instructions": predictor.signature.instructions, "demos": demos}
    return out


__all__ = ["build_program", "compile_optimized", "instructions_and_demos", "seed_everything"]
