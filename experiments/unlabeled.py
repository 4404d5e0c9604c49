"""Specs without gold: the scenes of the spec's own ``script`` as examples with no reference.

Each scene of the script becomes a :class:`~augmentlab.core.model.GoldExample` with the scene only
(no scenario, no annotated lines; ``provenance.source = "script"``): the split, the caps
(``max_test``) and the seed work as for a gold set, so "sampled from the script, seeded" is the
same split. Variants are compared by the spec's ``[judge]`` (:mod:`experiments.judging`) after each
output passes its gate; the composite still runs (without a reference) and is shown, never decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample, Script
from prompts.data import INPUT_FIELDS, scene_inputs, to_example

if TYPE_CHECKING:
    import dspy

MIN_LINES = 2
"""A scene with fewer spoken / narrated lines gives a judge nothing to compare."""


def is_unlabeled(gold: GoldExample) -> bool:
    return gold.scenario is None and gold.annotated is None


def script_examples(script: Script, *, source: str = "") -> list[GoldExample]:
    """The script's scenes (with at least :data:`MIN_LINES` lines) as examples without reference."""
    out = []
    for n, scene in enumerate(script.scenes, start=1):
        if len(scene.lines) < MIN_LINES:
            continue
        scene = scene.with_id()
        out.append(GoldExample(id=f"scene-{n}-{scene.id[:8]}", scene=scene,
                               provenance={"source": "script", "script": source, "scene_id": scene.id}))
    if len(out) < 2:
        raise AugmentlabError(
            f"script {source or script.title!r} has {len(out)} scene(s) of {MIN_LINES}+ lines: "
            "a spec without gold needs at least two to split into train/dev/test"
        )
    return out


def example_for(gold: GoldExample, task: str) -> dspy.Example:
    """The DSPy example of a gold example; of a scene without reference, the inputs only."""
    if not is_unlabeled(gold):
        return to_example(gold, task)
    import dspy

    data = scene_inputs(gold.scene, gold.personas)
    example = dspy.Example(**data, scenario=None, annotated_lines=None, gold=gold.model_dump_json(), gold_id=gold.id)
    return example.with_inputs(*INPUT_FIELDS)


__all__ = ["MIN_LINES", "example_for", "is_unlabeled", "script_examples"]
