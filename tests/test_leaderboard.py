"""The one leaderboard (experiments.leaderboard): pairing by example id, the seed rule, the baseline,
the rows the run and ``compare`` print, and the winner."""

from __future__ import annotations

import math

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.stats import bootstrap_ci, compare
from experiments import leaderboard as lb

BASE = {f"ex{i}": s for i, s in enumerate([0.2, 0.3, 0.25, 0.4, 0.1, 0.35, 0.3, 0.2])}
GOOD = {k: s + 0.3 for k, s in BASE.items()}  # detectably better on every example
SAME = {k: s + (0.01 if i % 2 else -0.01) for i, (k, s) in enumerate(BASE.items())}


def test_pairs_by_example_id_not_by_position() -> None:
    shuffled = dict(reversed(list(GOOD.items())))
    by_id = lb.pair("good", shuffled, "base", BASE, seed=0)
    aligned = compare(list(GOOD.values()), list(BASE.values()), seed=0)
    assert by_id.n == len(BASE) and by_id.verdict == "better"
    assert by_id.comparison.difference.mean == pytest.approx(aligned.difference.mean)
    assert by_id.comparison.test.p_value == pytest.approx(aligned.test.p_value)
    # pairing the shuffled scores by position would compare different examples
    by_position = compare(list(shuffled.values()), list(BASE.values()), seed=0)
    assert by_position.difference.low != pytest.approx(by_id.comparison.difference.low)


def test_only_examples_both_scored_with_finite_scores_are_paired() -> None:
    mine = {**GOOD, "ex0": math.nan, "only-mine": 1.0}
    theirs = {k: v for k, v in BASE.items() if k != "ex7"}
    p = lb.pair("good", mine, "base", theirs, seed=0)
    assert p.n == len(BASE) - 2  # ex0 (NaN) and ex7 (baseline did not score it)
    assert (p.n_variant, p.n_baseline, p.left_out) == (len(BASE), len(BASE) - 1, 2)
    nothing = lb.pair("empty", {}, "base", BASE, seed=0)
    assert nothing.comparison is None and nothing.verdict == "" and nothing.n == 0


def test_seed_rule_explicit_then_spec_then_zero() -> None:
    assert lb.seed_of({"seed": "3"}) == 3
    assert lb.seed_of({"seed": "3"}, 5) == 5
    assert lb.seed_of({"seed": "3"}, 0) == 0
    assert lb.seed_of({}) == 0 and lb.seed_of(None) == 0 and lb.seed_of({"seed": "x"}) == 0


def test_baseline_explicit_marked_spec_order_then_first() -> None:
    names = ["b", "a", "c"]
    assert lb.choose_baseline(names, explicit="c") == "c"
    with pytest.raises(AugmentlabError, match="no variant 'z' in experiment 'e'"):
        lb.choose_baseline(names, explicit="z", experiment="e")
    assert lb.choose_baseline(names, tags={lb.BASELINE_KEY: "c"}) == "c"
    assert lb.choose_baseline(names, params={"variants": '["gone", "a", "b"]'}) == "a"
    assert lb.choose_baseline(names, params={"variants": "not json"}) == "b"
    assert lb.choose_baseline([]) is None


def test_rows_best_first_with_verdicts_and_the_winner() -> None:
    entries = [lb.Entry("base", BASE), lb.Entry("same", SAME, optimizer="x"), lb.Entry("good", GOOD, parts={"sim": 0.5})]
    rows = lb.rows(entries, "base", seed=3)
    assert rows[0]["variant"] == "good" and {r["variant"] for r in rows[1:]} == {"base", "same"}
    by = {r["variant"]: r for r in rows}
    assert by["base"]["vs_baseline"] == ""
    assert by["good"]["vs_baseline"] == "better" and by["good"]["part.sim"] == 0.5
    assert by["same"]["vs_baseline"] == "no detectable difference" and by["same"]["optimizer"] == "x"
    iv = bootstrap_ci(list(GOOD.values()), seed=3)
    assert (by["good"]["score"], by["good"]["ci_low"], by["good"]["ci_high"], by["good"]["n"]) == (iv.mean, iv.low, iv.high, 8)
    assert lb.best(entries, "base", seed=3) == "good"
    assert lb.best(entries[:2], "base", seed=3) == "base"  # a higher mean alone is not a win


def test_rows_show_the_judges_win_rate_beside_the_composite_when_verdicts_exist() -> None:
    import io

    from rich.console import Console

    from augmentlab.core.stats import Interval

    scores = {f"e{i}": 0.5 for i in range(6)}
    plain = [lb.Entry("seed", dict(scores)), lb.Entry("vivid", dict(scores))]
    assert all("win_rate" not in row for row in lb.rows(plain, "seed", seed=0))
    judged = [lb.Entry("seed", dict(scores)),
              lb.Entry("vivid", dict(scores), win_rate=Interval(0.79, 0.58, 1.0, 12), lc_win_rate=0.74)]
    rows = {r["variant"]: r for r in lb.rows(judged, "seed", seed=0)}
    assert (rows["vivid"]["win_rate"], rows["vivid"]["win_low"], rows["vivid"]["win_high"]) == (0.79, 0.58, 1.0)
    assert rows["vivid"]["lc_win_rate"] == 0.74 and rows["seed"]["win_rate"] is None
    assert rows["vivid"]["vs_baseline"] == "no detectable difference"  # the composite's verdict stays beside it
    out = io.StringIO()
    lb.print_leaderboard(list(rows.values()), console=Console(file=out, width=200))
    text = out.getvalue()
    assert "win vs first" in text and "0.79 [0.58, 1.00]" in text and "0.74" in text
    # `compare` reads them back from a variant run's logged metrics
    logged = {"win_rate_vs_baseline": 0.79, "win_rate_vs_baseline_low": 0.58, "win_rate_vs_baseline_high": 1.0,
              "n_verdicts": 12.0}
    assert lb._logged_win_rate(logged) == Interval(0.79, 0.58, 1.0, 12)
    assert lb._logged_win_rate({"win_rate_vs_baseline": 0.79}) is None
