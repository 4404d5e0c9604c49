"""Seeded train / dev / test splits of a gold set, grouped by source scene.

Several gold examples may come from the same source scene (overlapping windows of one play scene,
a scenario and an actions example of the same lines...). If they landed on both sides of a split
the test score would be inflated, so examples are grouped by :func:`group_key` and whole groups go
to one side: nothing leaks between train, dev and test. Final numbers are reported on ``test``.

The split uses scikit-learn's :class:`~sklearn.model_selection.GroupShuffleSplit` twice (test off
the whole set, then dev off the rest), seeded, so the same gold set, fractions and seed always give
the same split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample

if TYPE_CHECKING:
    from experiments.spec import ExperimentSpec

#: Provenance keys that name the source scene an example was cut from, most specific first.
GROUP_KEYS = ("group", "scene_id", "source_scene")


def group_key(example: GoldExample) -> str:
    """The source scene of a gold example: what must not be split across train/dev/test.

    ``provenance["group"]`` / ``["scene_id"]`` / ``["source_scene"]`` when given; else the
    play-style ``source`` + ``act`` + ``scene`` provenance when present; else the scene's content id.
    """
    prov = example.provenance or {}
    for key in GROUP_KEYS:
        if prov.get(key) not in (None, ""):
            return f"{key}:{prov[key]}"
    if prov.get("scene") not in (None, "") and (prov.get("source") or prov.get("play") or prov.get("work")):
        work = prov.get("play") or prov.get("work") or prov.get("source")
        return f"scene:{work}/{prov.get('act', '')}/{prov['scene']}"
    return f"id:{example.scene.id or example.scene.compute_id()}"


@dataclass
class Split:
    """Train / dev / test lists of gold examples (disjoint by source scene)."""

    train: list[GoldExample] = field(default_factory=list)
    dev: list[GoldExample] = field(default_factory=list)
    test: list[GoldExample] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}

    def ids(self) -> dict[str, list[str]]:
        return {name: [ex.id for ex in part] for name, part in self.parts().items()}

    def parts(self) -> dict[str, list[GoldExample]]:
        return {"train": self.train, "dev": self.dev, "test": self.test}


def _group_shuffle(
    items: list[GoldExample], fraction: float, seed: int, *, strict: bool = True
) -> tuple[list[GoldExample], list[GoldExample]]:
    """(rest, taken): ``fraction`` of the groups taken out, seeded.

    With one source scene only, ``strict`` raises; otherwise nothing is taken.
    """
    if fraction <= 0 or not items:
        return items, []
    groups = [group_key(ex) for ex in items]
    n_groups = len(set(groups))
    if fraction >= 1:
        return [], items
    if n_groups < 2:
        if not strict:
            return items, []
        raise AugmentlabError(
            f"cannot split {len(items)} gold examples: they all come from one source scene"
        )
    from sklearn.model_selection import GroupShuffleSplit

    # At least one group on each side, whatever the rounding.
    n_take = min(max(1, round(fraction * n_groups)), n_groups - 1)
    splitter = GroupShuffleSplit(n_splits=1, test_size=n_take, random_state=seed)
    rest_idx, take_idx = next(splitter.split(items, groups=groups))
    return [items[i] for i in sorted(rest_idx)], [items[i] for i in sorted(take_idx)]


def split_gold(
    examples: Sequence[GoldExample],
    *,
    train: float,
    dev: float,
    test: float,
    seed: int = 0,
    max_train: int | None = None,
    max_dev: int | None = None,
    max_test: int | None = None,
) -> Split:
    """Split ``examples`` into train / dev / test by source scene.

    Fractions are of source scenes (groups), must be non-negative and sum to 1. ``max_*`` caps a
    part after splitting (keeping the first examples of a seeded order; whole groups stay on
    their side, so caps never cause leaks). Raises :class:`AugmentlabError` for impossible splits.
    """
    fractions = {"train": train, "dev": dev, "test": test}
    for name, value in fractions.items():
        if value < 0 or value > 1:
            raise AugmentlabError(f"split fraction {name} = {value} must be between 0 and 1")
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise AugmentlabError(f"split fractions must sum to 1 (train + dev + test = {sum(fractions.values()):g})")
    items = list(examples)
    if not items:
        raise AugmentlabError("the gold set is empty")
    ids = [ex.id for ex in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise AugmentlabError(f"duplicate gold example id {dup!r}")

    rest, test_part = _group_shuffle(items, test, seed)
    remaining = train + dev
    dev_share = dev / remaining if remaining > 0 else 0.0
    train_part, dev_part = _group_shuffle(rest, dev_share, seed + 1, strict=False)
    if remaining <= 0:
        train_part, dev_part = [], []
    split = Split(train=train_part, dev=dev_part, test=test_part)
    for name, cap in (("train", max_train), ("dev", max_dev), ("test", max_test)):
        if cap is not None:
            part = getattr(split, name)
            setattr(split, name, _cap(part, cap, seed))
    check_disjoint(split)
    return split


def _cap(part: list[GoldExample], cap: int, seed: int) -> list[GoldExample]:
    if cap < 0:
        raise AugmentlabError(f"split cap must be >= 0, got {cap}")
    if len(part) <= cap:
        return part
    import random

    order = list(range(len(part)))
    random.Random(seed).shuffle(order)
    return [part[i] for i in sorted(order[:cap])]


def check_disjoint(split: Split) -> None:
    """Raise when any source scene appears in two parts of ``split``."""
    seen: dict[str, str] = {}
    for name, part in split.parts().items():
        for ex in part:
            key = group_key(ex)
            other = seen.setdefault(key, name)
            if other != name:
                raise AugmentlabError(f"source scene {key} is in both {other} and {name} (leak)")


# ------------------------------------------------------------------------------- for a spec
def usable_for(examples: list[GoldExample], task: str) -> list[GoldExample]:
    """The gold examples that have the labels ``task`` needs."""
    need_scenario = task in ("scenario", "both")
    need_actions = task in ("actions", "both")
    return [
        ex
        for ex in examples
        if (not need_scenario or ex.scenario) and (not need_actions or ex.annotated)
    ]


def split_for(spec: ExperimentSpec, gold: list[GoldExample]) -> Split:
    """The split a spec asks for (its ``[split]`` fractions, caps and seed) of ``gold``."""
    split = split_gold(
        gold,
        train=spec.split.train,
        dev=spec.split.dev,
        test=spec.split.test,
        seed=spec.split.seed if spec.split.seed is not None else spec.seed,
        max_train=spec.split.max_train,
        max_dev=spec.split.max_dev,
        max_test=spec.split.max_test,
    )
    if any(v.optimized for v in spec.variants) and not split.train:
        raise AugmentlabError("the train split is empty but a variant uses an optimizer")
    return split


__all__ = ["GROUP_KEYS", "Split", "check_disjoint", "group_key", "split_for", "split_gold", "usable_for"]
