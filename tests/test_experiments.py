"""Splits, optimizers and the runner on the fake LM (experiments.*)."""

from __future__ import annotations

import pytest

from augmentlab.errors import AugmentlabError
from augmentlab.model import GoldExample, Line, Scene
from experiments.splits import group_key, split_gold


def _gold(i: int, group: str | None = None) -> GoldExample:
    scene = Scene(lines=[Line(speaker="A", text=f"line {i}")]).with_id()
    prov = {"source": "hand-written"}
    if group:
        prov["scene_id"] = group
    return GoldExample(id=f"g{i}", scene=scene, scenario=f"s{i}", provenance=prov)


def test_split_is_grouped_seeded_and_complete() -> None:
    examples = [_gold(i, group=f"scene{i // 3}") for i in range(30)]  # 10 source scenes of 3
    split = split_gold(examples, train=0.6, dev=0.2, test=0.2, seed=7)
    again = split_gold(examples, train=0.6, dev=0.2, test=0.2, seed=7)
    assert split.ids() == again.ids()
    assert sorted(ex.id for part in split.parts().values() for ex in part) == sorted(ex.id for ex in examples)
    groups = {name: {group_key(ex) for ex in part} for name, part in split.parts().items()}
    assert not groups["train"] & groups["test"] and not groups["dev"] & groups["test"]
    assert not groups["train"] & groups["dev"]
    assert split.sizes() == {"train": 18, "dev": 6, "test": 6}
    other = split_gold(examples, train=0.6, dev=0.2, test=0.2, seed=8)
    assert other.ids() != split.ids()


def test_split_caps_and_groups_by_scene_content() -> None:
    examples = [_gold(i) for i in range(12)]
    assert len({group_key(ex) for ex in examples}) == 12
    split = split_gold(examples, train=0.5, dev=0.25, test=0.25, seed=0, max_test=2, max_train=3)
    assert len(split.test) == 2 and len(split.train) == 3 and len(split.dev) == 3


def test_split_errors() -> None:
    with pytest.raises(AugmentlabError, match="sum to 1"):
        split_gold([_gold(1), _gold(2)], train=0.5, dev=0.5, test=0.5)
    with pytest.raises(AugmentlabError, match="one source scene"):
        split_gold([_gold(1, "same"), _gold(2, "same")], train=0.5, dev=0.0, test=0.5)
    with pytest.raises(AugmentlabError, match="duplicate gold example id"):
        split_gold([_gold(1), _gold(1)], train=0.5, dev=0.0, test=0.5)
    with pytest.raises(AugmentlabError, match="empty"):
        split_gold([], train=0.5, dev=0.0, test=0.5)
