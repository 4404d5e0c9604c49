"""augmentlab.core.preference_stats: win rate (ties half, scenes resampled), length control, Bradley–Terry."""

from __future__ import annotations

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.preference_stats import (
    bradley_terry,
    detectably_better,
    judged_winner,
    length_controlled_win_rate,
    wilson_interval,
    win_rate,
)
from augmentlab.core.verdicts import Verdict


def _v(scene: str, a: str, b: str, winner: str, source: str = "lm:test") -> Verdict:
    return Verdict(scene=scene, a=a, b=b, winner=winner, source=source, kind="lm")


def _nine_of_twelve() -> list[Verdict]:
    # vivid wins 9, ties 1, loses 2; half of the verdicts are written with the baseline first
    out = []
    for i in range(12):
        w = "a" if i < 9 else ("tie" if i == 9 else "b")
        v = _v(f"s{i}", "vivid", "seed", w)
        out.append(v.swapped() if i % 2 else v)
    return out


def test_win_rate_counts_ties_half_either_order_and_is_seeded() -> None:
    rate = win_rate(_nine_of_twelve(), "vivid", "seed", seed=1)
    assert rate is not None
    assert (rate.wins, rate.ties, rate.losses, rate.n_scenes) == (9, 1, 2, 12)
    assert rate.interval.mean == pytest.approx(9.5 / 12)
    assert rate.interval.low < rate.interval.mean < rate.interval.high
    assert rate.interval.low > 0.5 and rate.better and detectably_better(rate)
    assert rate == win_rate(_nine_of_twelve(), "vivid", "seed", seed=1)
    assert rate.sentence().startswith("vivid wins 9 of 12 vs seed, 1 tie, 0.79 [")
    other_side = win_rate(_nine_of_twelve(), "seed", "vivid", seed=1)
    assert other_side is not None and other_side.interval.mean == pytest.approx(2.5 / 12) and other_side.worse
    assert win_rate(_nine_of_twelve(), "vivid", "nobody") is None


def test_each_scene_weighs_the_same_however_many_verdicts_it_has() -> None:
    # two people agree vivid wins scene s0; one says it loses s1: per scene 1 and 0, so 0.5 (not 2/3)
    verdicts = [_v("s0", "vivid", "seed", "a", "human:x"), _v("s0", "vivid", "seed", "a", "human:y"),
                _v("s1", "vivid", "seed", "b", "human:x")]
    rate = win_rate(verdicts, "vivid", "seed")
    assert rate is not None and rate.interval.mean == pytest.approx(0.5) and rate.n_scenes == 2


def test_unanimous_few_scenes_are_not_detectable_by_a_point_interval() -> None:
    three = [_v(f"s{i}", "x", "y", "a") for i in range(3)]
    rate = win_rate(three, "x", "y")
    assert rate is not None and rate.interval.mean == 1.0
    assert rate.interval.low == pytest.approx(wilson_interval(1.0, 3).low) and rate.interval.low < 0.5
    assert not rate.better
    eight = win_rate([_v(f"s{i}", "x", "y", "a") for i in range(8)], "x", "y")
    assert eight is not None and eight.better
    all_ties = win_rate([_v(f"s{i}", "x", "y", "tie") for i in range(8)], "x", "y")
    assert all_ties is not None and all_ties.interval.mean == 0.5 and not all_ties.better and not all_ties.worse


def test_judged_winner_is_the_detectably_better_with_the_highest_rate_else_the_baseline() -> None:
    strong = win_rate([_v(f"s{i}", "a1", "base", "a") for i in range(10)], "a1", "base")
    good = win_rate([_v(f"s{i}", "a2", "base", "a" if i < 8 else "b") for i in range(10)], "a2", "base")
    coin = win_rate([_v(f"s{i}", "a3", "base", "a" if i % 2 else "b") for i in range(10)], "a3", "base")
    assert judged_winner("base", {"a1": strong, "a2": good, "a3": coin}) == "a1"
    assert judged_winner("base", {"a3": coin, "a4": None}) == "base"


def test_length_controlled_win_rate_takes_out_what_length_explains() -> None:
    # the variant wins exactly the scenes where it wrote more than the baseline: length explains it all
    verdicts, lengths = [], {}
    for i in range(20):
        longer = i % 2 == 0
        verdicts.append(_v(f"s{i}", "long", "base", "a" if longer else "b"))
        lengths[(f"s{i}", "long")] = 90.0 if longer else 30.0
        lengths[(f"s{i}", "base")] = 60.0
    lc = length_controlled_win_rate(verdicts, "long", "base", lengths, seed=0)
    assert lc is not None and lc.mean == pytest.approx(0.5, abs=0.02)
    # equal lengths: the GLM's intercept is the plain win rate
    wins = _nine_of_twelve()
    equal = {(f"s{i}", n): 50.0 for i in range(12) for n in ("vivid", "seed")}
    lc_equal = length_controlled_win_rate(wins, "vivid", "seed", equal, seed=0)
    assert lc_equal is not None and lc_equal.mean == pytest.approx(9.5 / 12, abs=0.01)
    assert lc_equal.low < lc_equal.mean < lc_equal.high
    # a variant that wins while being SHORTER keeps (or gains) its rate at equal length
    shorter = {**equal, **{(f"s{i}", "vivid"): 40.0 if i < 9 else 60.0 for i in range(12)}}
    lc_short = length_controlled_win_rate(wins, "vivid", "seed", shorter, seed=0)
    assert lc_short is not None and lc_short.mean >= 9.5 / 12 - 0.01
    assert length_controlled_win_rate(wins, "vivid", "seed", {}, seed=0) is None


def test_bradley_terry_orders_several_variants_with_intervals() -> None:
    verdicts = []
    for i in range(12):  # best beats mid and base; mid beats base most of the time
        verdicts.append(_v(f"s{i}", "best", "base", "a"))
        verdicts.append(_v(f"s{i}", "mid", "base", "a" if i < 8 else "b"))
        verdicts.append(_v(f"s{i}", "best", "mid", "a" if i < 10 else "tie"))
    bt = bradley_terry(verdicts, "base", seed=0)
    assert set(bt) == {"base", "best", "mid"}
    assert bt["base"].mean == 0.0
    assert bt["best"].mean > bt["mid"].mean > 0
    assert bt["mid"].low < bt["mid"].mean < bt["mid"].high
    assert bt == bradley_terry(verdicts, "base", seed=0)
    with pytest.raises(AugmentlabError, match="anchor"):
        bradley_terry(verdicts, "nobody")
