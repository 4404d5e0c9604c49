"""What a person judges: blind pairs of one execution's outputs for the same test scene.

:func:`load_judging_set` reads the latest finished execution of an experiment back from MLflow
(:func:`experiments.results.load_experiment`), takes each variant's per-example outputs (scenario
and annotated lines) and the scenes' human lines from the gold set the run used, and builds the
pairs: every variant against the baseline (the spec's first variant) on each test scene, or every
pair of variants with ``all_pairs``.

:meth:`JudgingSet.order_for` shuffles them for one annotator — which pair comes first and which
candidate is shown as "A" — from a seed made of the annotator's name and the execution, so a
reload (or a restart) shows that person the same order, and another person a different one. The
page only ever sees a pair's opaque :attr:`Pair.key`, never a variant name.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from augmentlab.core.errors import AugmentlabError
from experiments.results import ExperimentResults, execution_gold, load_experiment
from experiments.verdict import HUMAN_PATH_TAG


@dataclass(frozen=True)
class Candidate:
    """One variant's output for one scene."""

    variant: str
    scenario: str
    annotated_lines: tuple[str, ...]
    trace_id: str = ""
    error: bool = False
    """The program failed on this scene (its output is empty or partial)."""


@dataclass(frozen=True)
class SceneLines:
    """The human lines of a scene: ``(speaker, text)``, the speaker empty for narration."""

    scene: str
    heading: str = ""
    lines: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Pair:
    """Two variants' outputs for the same scene (``first`` is the baseline when there is one)."""

    scene: str
    first: str
    second: str

    @property
    def key(self) -> str:
        """An opaque id for the page (names nothing)."""
        text = f"{self.scene}\x00{min(self.first, self.second)}\x00{max(self.first, self.second)}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def same(self, scene: str, a: str, b: str) -> bool:
        return scene == self.scene and {a, b} == {self.first, self.second}


@dataclass(frozen=True)
class Shown:
    """A pair as one annotator sees it: which variant is "A" and which is "B"."""

    pair: Pair
    a: str
    b: str


@dataclass
class JudgingSet:
    """An execution's outputs, the scenes' lines, and the pairs to judge."""

    experiment: str
    run_id: str
    tracking_uri: str
    experiment_id: str
    baseline: str
    variants: list[str]
    outputs: dict[tuple[str, str], Candidate]
    """``(scene, variant) -> Candidate``."""
    scenes: dict[str, SceneLines]
    pairs: list[Pair]
    note: str = ""
    """Why the scenes' human lines are missing, when they are."""
    spec_name: str = ""
    """The spec's name (the folder of `out/<spec>/verdicts/`)."""
    verdicts_path: str = ""
    """Where the run reads human verdicts (its ``augmentlab.judge.verdicts`` tag: the spec's
    ``[judge] verdicts`` or ``<its out folder>/verdicts/human.jsonl``); empty when it did not say."""
    _by_key: dict[str, Pair] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {p.key: p for p in self.pairs}

    def pair(self, key: str) -> Pair | None:
        return self._by_key.get(key)

    def candidate(self, scene: str, variant: str) -> Candidate:
        return self.outputs[(scene, variant)]

    def scene_ids(self) -> set[str]:
        return {scene for scene, _ in self.outputs}

    def order_for(self, annotator: str) -> list[Shown]:
        """The pairs in this annotator's shuffled order, each with its sides drawn at random."""
        seed = int.from_bytes(hashlib.sha256(f"{annotator}\x00{self.run_id}".encode()).digest()[:8], "big")
        rng = random.Random(seed)
        order = list(self.pairs)
        rng.shuffle(order)
        shown = []
        for p in order:
            a, b = (p.first, p.second) if rng.random() < 0.5 else (p.second, p.first)
            shown.append(Shown(pair=p, a=a, b=b))
        return shown


def load_judging_set(
    experiment: str,
    *,
    tracking_uri: str | None = None,
    run_id: str | None = None,
    all_pairs: bool = False,
) -> JudgingSet:
    """The pairs of the experiment's latest finished execution (or ``run_id``).

    No such experiment, no finished execution, fewer than two variants with outputs, or no scene
    both sides annotated: :class:`AugmentlabError` (one line).
    """
    results = load_experiment(experiment, tracking_uri=tracking_uri, run_id=run_id)
    outputs = _outputs(results)
    with_outputs = [v.name for v in results.variants if any(k[1] == v.name for k in outputs)]
    if len(with_outputs) < 2:
        raise AugmentlabError(
            f"experiment {results.name!r}: its execution has outputs for {len(with_outputs)} variant(s); "
            "judging needs two or more"
        )
    baseline = with_outputs[0]
    pairs = _pairs(results, outputs, with_outputs, all_pairs=all_pairs)
    if not pairs:
        raise AugmentlabError(f"experiment {results.name!r}: no test scene has outputs of two variants to compare")
    gold, note = execution_gold(results)
    scenes = {}
    for scene in {p.scene for p in pairs}:
        g = gold.get(scene)
        if g is not None:
            scenes[scene] = SceneLines(
                scene=scene,
                heading=g.scene.heading or g.scene.setting or "",
                lines=tuple((line.speaker or "", line.text) for line in g.scene.lines),
            )
        elif not note:
            note = "Some scenes are not in the execution's gold set: their human lines are not shown."
    return JudgingSet(
        experiment=results.name, run_id=results.parent_run_id or "", tracking_uri=results.tracking_uri,
        experiment_id=results.experiment_id, baseline=baseline, variants=with_outputs, outputs=outputs,
        scenes=scenes, pairs=pairs, note=note, spec_name=results.params.get("spec") or results.name,
        verdicts_path=results.tags.get(HUMAN_PATH_TAG, ""),
    )


def _outputs(results: ExperimentResults) -> dict[tuple[str, str], Candidate]:
    out: dict[tuple[str, str], Candidate] = {}
    for v in results.variants:
        for row in v.rows:
            scene = str(row.get("example_id") or "")
            if not scene:
                continue
            lines = str(row.get("annotated_lines") or "")
            feedback = str(row.get("feedback") or "")
            out[(scene, v.name)] = Candidate(
                variant=v.name,
                scenario=str(row.get("scenario") or ""),
                annotated_lines=tuple(lines.split("\n")) if lines else (),
                trace_id=str(row.get("trace_id") or ""),
                error=feedback.startswith("program error:"),
            )
    return out


def _pairs(
    results: ExperimentResults, outputs: dict[tuple[str, str], Candidate], variants: list[str], *, all_pairs: bool
) -> list[Pair]:
    """Every variant vs the baseline (``variants[0]``) on each scene both annotated; or all pairs."""
    scenes: list[str] = []
    for v in results.variants:
        scenes.extend(i for i in v.example_ids if i not in scenes)
    if all_pairs:
        combos = [(x, y) for i, x in enumerate(variants) for y in variants[i + 1 :]]
    else:
        combos = [(variants[0], y) for y in variants[1:]]
    return [
        Pair(scene=s, first=x, second=y)
        for s in scenes
        for x, y in combos
        if (s, x) in outputs and (s, y) in outputs
    ]


__all__ = ["Candidate", "JudgingSet", "Pair", "SceneLines", "Shown", "load_judging_set"]
