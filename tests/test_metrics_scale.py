"""The anchored scale: skill over uninformed outputs, relevance of actions, no credit without content,
the calibration ladder (real MiniLM), ``augmentlab metrics score`` and the run's choice of variant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmentlab.core.model import GoldExample
from metrics import anchors, composite, relevance, score
from metrics.ladder import RUNGS, TIERS, run_ladder
from metrics.similarity import Embedder, default_embedder
from test_metrics import GOLD, BagOfWordsModel, make_gold


@pytest.fixture()
def emb() -> Embedder:
    return Embedder(BagOfWordsModel())


def test_skill_is_zero_at_the_uninformed_baseline_and_one_at_gold() -> None:
    assert anchors.skill(0.3, 0.3) == 0.0
    assert anchors.skill(0.2, 0.3) == 0.0
    assert anchors.skill(1.0, 0.3) == 1.0
    assert anchors.skill(0.65, 0.3) == pytest.approx(0.5)
    assert anchors.skill(1.0, 1.0) == 1.0  # a stock gold action: the baseline is capped
    assert anchors.skill(0.9, 1.0) == pytest.approx(0.5)


def test_no_content_earns_nothing(emb: Embedder) -> None:
    bare = [ln.text for ln in GOLD.scene.lines]
    nothing = score(GOLD, "", bare, embedder=emb)
    assert nothing.score == 0.0
    assert nothing.parts["verbatim"] == 1.0 and nothing.parts["relevance"] == 0.0
    half = score(GOLD, GOLD.scenario, bare, embedder=emb)
    assert 0.15 < half.score < 0.6 and "no line has an action" in half.feedback


def test_score_is_content_times_hygiene_times_gate() -> None:
    w = composite.Weights().normalised()
    parts = {"similarity": 0.6, "relevance": 0.4, "verbatim": 1.0, "cast": 0.5, "grounding": 1.0,
             "contradiction": 1.0, "format": 1.0}
    total, content, hygiene = composite.combine(parts, w, gate=0.81)
    assert content == pytest.approx((0.6 * w["similarity"] + 0.4 * w["relevance"]) / (w["similarity"] + w["relevance"]))
    assert hygiene == pytest.approx(1 - 0.5 * w["cast"] / sum(w[k] for k in parts))
    assert total == pytest.approx(0.81 * content * hygiene)
    # a defect part alone, with no content, earns nothing
    zero, _, _ = composite.combine({**parts, "similarity": 0.0, "relevance": 0.0}, w, gate=1.0)
    assert zero == 0.0


def test_echoed_named_and_foreign_actions_are_not_relevant(emb: Embedder) -> None:
    g = make_gold(annotated=None)  # no gold actions: relevance is all that judges them
    lines = [
        "*Where were you last night.* Where were you last night?",       # echo of its own line
        "*Bob.* Out. Walking, mostly.",                                   # only a name
        "*I steer the spaceship past the glowing asteroid belt toward Jupiter.* In the rain? Your coat is dry.",  # untied
        "*I glance at the dry coat and then at the rain.* I stood under the bridge for a while.",
    ]
    r = relevance.relevance(g, lines, exact=[True] * 4, embedder=emb)
    assert r is not None
    # an action naming nothing of the scene is not 0 by itself (a good one need not name a scene
    # noun): half; it is 0 when most lines' actions are untied like that (see the next test)
    assert r.details["fit"] == [0.0, 0.0, relevance.UNTIED, 1.0]
    text = " ".join(r.issues)
    assert "repeats spoken words of its own line" in text and "only a name" in text and "ties it to this scene" in text
    other = relevance.relevance(g, ["x", "*Out. Walking, mostly.* y", "z", "w"], exact=[True] * 4, embedder=emb)
    assert other is not None and "line 2" in " ".join(other.issues)  # another speaker's words


def test_actions_mostly_about_another_scene_earn_nothing(emb: Embedder) -> None:
    g = make_gold(annotated=None)
    bare = [ln.text for ln in g.scene.lines]
    foreign = ["I steer the spaceship past the glowing asteroid belt toward Jupiter.",
               "I polish the brass telescope and log the comet's position carefully.",
               "I strap the oxygen tank onto my suit and check every valve twice."]
    lines = [f"*{a}* {t}" for a, t in zip(foreign, bare)] + ["*I glance at the dry coat and then at the rain.* " + bare[3]]
    r = relevance.relevance(g, lines, exact=[True] * 4, embedder=emb)
    assert r is not None and r.details["fit"] == [0.0, 0.0, 0.0, 1.0]


def test_craft_weighs_each_line_stock_and_bare_actions_earn_less(emb: Embedder) -> None:
    g = make_gold(annotated=None)
    bare = [ln.text for ln in g.scene.lines]
    vivid = ["*I fold my arms over my dressing gown and plant myself between Bob and the kitchen door.* " + bare[0],
             "*I shrug off the wet scarf and hang it on the hook without meeting her eyes.* " + bare[1]]
    plain = ["*I look at Bob.* " + bare[0], "*I look away.* " + bare[1]]
    rv = relevance.relevance(g, vivid + bare[2:], exact=[True] * 4, embedder=emb)
    rp = relevance.relevance(g, plain + bare[2:], exact=[True] * 4, embedder=emb)
    assert rv is not None and rp is not None
    assert rv.score > rp.score and max(c for c in rp.details["craft"] if c is not None) < 0.3
    assert rv.details["credit"][0] == pytest.approx(rv.details["fit"][0] * rv.details["craft"][0])
    # padding a line with more spans earns nothing: the craft is the mean over its spans
    padded = [vivid[0] + " *I look away.*", vivid[1]]
    rpad = relevance.relevance(g, padded + bare[2:], exact=[True] * 4, embedder=emb)
    assert rpad is not None and rpad.score < rv.score


def test_the_same_action_on_every_line_and_stock_actions_earn_little(emb: Embedder) -> None:
    g = make_gold(annotated=None)
    bare = [ln.text for ln in g.scene.lines]
    # a form filled in without reading the lines: one action (not a stock one) everywhere
    form = [f"*I glance at the kitchen door.* {t}" for t in bare]
    r = relevance.relevance(g, form, exact=[True] * 4, embedder=emb)
    assert r is not None and r.details["fit"] == [0.0] * 4 and r.score == 0.0
    assert "the same action on 4 lines" in " ".join(r.issues)
    # the same action on two of four lines is not "everywhere": each is judged on its own
    twice = ["*I glance at the kitchen door.* " + bare[0], bare[1], "*I glance at the kitchen door.* " + bare[2], bare[3]]
    r2 = relevance.relevance(g, twice, exact=[True] * 4, embedder=emb)
    assert r2 is not None and r2.details["fit"] == [1.0, None, 1.0, None]
    # a stock action fits any line of any scene: half credit at most
    stock = ["*I nod.* " + bare[0], bare[1], "*Sighs.* " + bare[2], bare[3]]
    r3 = relevance.relevance(g, stock, exact=[True] * 4, embedder=emb)
    assert r3 is not None and r3.details["fit"] == [0.5, None, 1.0, None]
    assert "stock action" in " ".join(r3.issues)


def test_an_action_span_that_recurs_on_every_line_earns_nothing(emb: Embedder) -> None:
    """A model that cycles sentences through the scene (seen with SmolLM2 on the held-out plays):
    each line's whole action differs, but a span recurs on half the lines or more."""
    g = make_gold(annotated=None)
    bare = [ln.text for ln in g.scene.lines]
    befores = ["I glance at the kitchen door.", "I set the dry coat on the chair.",
               "I point at the rain on the window.", "I turn the coat over in my hands."]
    after = "I look at the rain outside."
    cycled = [f"*{b}* {t} *{after}*" for b, t in zip(befores, bare)]
    r = relevance.relevance(g, cycled, exact=[True] * 4, embedder=emb)
    assert r is not None and r.details["fit"] == [0.5] * 4  # the before span fits, the after span recurs
    assert "an action recurs on 4 lines" in " ".join(r.issues)
    # only recurring spans: nothing
    both = [f"*I look at the rain outside.* {t} *I glance at the kitchen door.*" if i % 2 else
            f"*I glance at the kitchen door.* {t} *I look at the rain outside.*" for i, t in enumerate(bare)]
    r2 = relevance.relevance(g, both, exact=[True] * 4, embedder=emb)
    assert r2 is not None and r2.details["fit"] == [0.0] * 4 and "they do not read its line" in " ".join(r2.issues)
    # each span once: judged on its own
    fresh = [f"*{b}* {t}" for b, t in zip(befores, bare)]
    r3 = relevance.relevance(g, fresh, exact=[True] * 4, embedder=emb)
    assert r3 is not None and r3.details["fit"] == [1.0] * 4


def test_changed_words_are_a_hard_failure_of_the_line(emb: Embedder) -> None:
    ann = list(GOLD.annotated or [])
    ann[0] = ann[0].replace("last night", "LAST NIGHT")
    s = score(GOLD, GOLD.scenario, ann, embedder=emb)
    assert s.details["action_skill_per_line"][0] == 0.0 and s.details["relevance"]["fit"][0] == 0.0
    assert s.score < 0.75**2


def test_weights_need_a_content_part() -> None:
    with pytest.raises(ValueError, match="content part"):
        composite.Weights(similarity=0, relevance=0, setup=0)


def test_extra_part_is_called_only_when_weighted(emb: Embedder) -> None:
    from metrics.consistency import Check

    calls: list[int] = []

    def judge(gold: GoldExample, scen: object, lines: object) -> Check:
        calls.append(1)
        return Check(0.0, ["invents a fact"], {})

    base = score(GOLD, GOLD.scenario, GOLD.annotated, embedder=emb, extra_parts={"judge": judge})
    assert not calls and base.score == pytest.approx(1.0)
    judged = score(GOLD, GOLD.scenario, GOLD.annotated, embedder=emb, extra_parts={"judge": judge},
                   weights=composite.Weights(judge=0.3))
    assert calls and judged.parts["judge"] == 0.0 and judged.score < 0.9 and "invents a fact" in judged.feedback


def _hand_written(repo_root: Path) -> list[GoldExample]:
    path = repo_root / "experiments" / "gold" / "handwritten.jsonl"
    return [GoldExample.model_validate_json(x) for x in path.read_text().splitlines() if x.strip()]


def test_ladder_has_every_tier_and_ten_rungs() -> None:
    assert len(RUNGS) >= 10 and {r.tier for r in RUNGS} == set(TIERS)


def test_calibration_ladder_on_hand_written_gold(repo_root: Path) -> None:
    """The CI check of the scale: every rung within its bound, tiers in order (real MiniLM)."""
    result = run_ladder(_hand_written(repo_root), embedder=default_embedder())
    table = {r.rung: round(r.mean, 3) for r in result.rows}
    assert result.passed, (result.bound_problems(), result.order_problems, table)
    assert table["gold"] >= 0.95 and table["nothing"] <= 0.10
    assert all(table[r.name] <= 0.20 for r in RUNGS if r.tier == "junk")


def test_ladder_fails_when_a_bound_or_the_order_breaks(repo_root: Path) -> None:
    from metrics.ladder import Rung

    golds = _hand_written(repo_root)[:4]
    by_name = {r.name: r for r in RUNGS}
    mislabelled = [
        Rung("nothing, called gold", "gold", "", by_name["nothing"].build),
        by_name["no actions"],
        Rung("gold, called junk", "junk", "", by_name["gold"].build),
    ]
    bad = run_ladder(golds, embedder=default_embedder(), rungs=mislabelled)
    assert not bad.passed
    assert any("nothing, called gold" in p for p in bad.bound_problems())
    assert any("gold, called junk" in p for p in bad.bound_problems())
    assert bad.order_problems


def test_defect_heavy_weights_still_give_nothing_zero(repo_root: Path) -> None:
    # weights that put almost everything on the defect parts: absence of a defect is still no credit
    golds = _hand_written(repo_root)[:4]
    w = composite.Weights(similarity=0.01, relevance=0.0, setup=0.0, verbatim=1, cast=1, grounding=1, contradiction=1, format=1)
    res = run_ladder(golds, embedder=default_embedder(), weights=w,
                     rungs=[r for r in RUNGS if r.name in ("gold", "placeholder", "nothing")])
    means = {r.rung: r.mean for r in res.rows}
    assert means["gold"] >= 0.95 and means["placeholder"] == 0.0 and means["nothing"] == 0.0


@pytest.fixture(scope="module")
def gold_file(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    path = tmp_path_factory.mktemp("score") / "gold.jsonl"
    golds = _hand_written(repo_root)[:4]
    path.write_text("".join(g.model_dump_json() + "\n" for g in golds))
    return path


def _preds(path: Path, rows: list[dict]) -> Path:
    out = path.parent / "pred.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def test_metrics_score_cli(gold_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from augmentlab.cli import main

    golds = [GoldExample.model_validate_json(x) for x in gold_file.read_text().splitlines()]
    rows = [{"id": golds[0].id, "scenario": golds[0].scenario, "annotated": golds[0].annotated},
            {"id": golds[1].id, "scenario": "", "annotated": [ln.text for ln in golds[1].scene.lines]}]
    pred = _preds(gold_file, rows)
    assert main(["metrics", "score", str(gold_file), str(pred), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 2 and len(out["examples"]) == 2
    assert out["examples"][0]["score"] >= 0.95 and out["examples"][1]["score"] <= 0.1
    assert out["ci"][0] <= out["mean"] <= out["ci"][1]
    assert main(["metrics", "score", str(gold_file), str(pred)]) == 0
    text = capsys.readouterr().out
    assert golds[0].id in text and "95% CI" in text and "the scenario is empty" in text


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "nope", "scenario": "", "annotated": []}\n', "unknown id"),
        ("{not json}\n", "bad JSON"),
        ('{"id": "@ID", "scenario": "x", "annotated": ["a"]}\n', "annotated line(s)"),
        ('{"id": "@ID", "scenario": 3, "annotated": []}\n', "'scenario' must be a string"),
    ],
)
def test_metrics_score_cli_errors(gold_file: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from augmentlab.cli import main

    gid = GoldExample.model_validate_json(gold_file.read_text().splitlines()[0]).id
    pred = gold_file.parent / "bad.jsonl"
    pred.write_text(content.replace("@ID", gid))
    assert main(["metrics", "score", str(gold_file), str(pred)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_run_uses_the_baseline_unless_another_variant_is_detectably_better() -> None:
    from augmentlab.core.model import Usage
    from experiments.runner import ExampleResult, RunResult, VariantOutcome
    from experiments.spec import VariantSpec
    from augmentlab.core.stats import bootstrap_ci

    def outcome(name: str, scores: list[float]) -> VariantOutcome:
        ex = [ExampleResult(f"e{i}", s, {}, "", None, None, Usage()) for i, s in enumerate(scores)]
        return VariantOutcome(name, VariantSpec(name=name), None, ex, bootstrap_ci(scores))

    class _Spec:
        seed = 0

    base = outcome("seed", [0.30, 0.20, 0.40, 0.35, 0.25])
    slightly = outcome("bootstrap", [0.32, 0.21, 0.38, 0.40, 0.27])  # higher mean, not detectable
    assert slightly.score > base.score
    run = RunResult(_Spec(), None, [base, slightly], "", "", None)  # type: ignore[arg-type]
    assert run.best is base
    clearly = outcome("better", [s + 0.3 for s in [0.30, 0.20, 0.40, 0.35, 0.25, 0.3, 0.2, 0.4, 0.35, 0.25]])
    base10 = outcome("seed", [0.30, 0.20, 0.40, 0.35, 0.25, 0.3, 0.2, 0.4, 0.35, 0.25])
    run2 = RunResult(_Spec(), None, [base10, clearly], "", "", None)  # type: ignore[arg-type]
    assert run2.best is clearly
