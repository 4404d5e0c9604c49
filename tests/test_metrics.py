"""Metrics: composite score, bad input, DSPy adapters, defect detection, caching."""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from augmentlab.core.model import GoldExample, Line, Scene
from metrics import Weights, composite, consistency, dspy_metric, gepa_metric, score, score_many
from metrics.format import FormatConfig, check_format, detect_person
from metrics.mutations import DEFECTS, mutate, run_suite
from metrics.similarity import Embedder


class BagOfWordsModel:
    """A fast deterministic stand-in for MiniLM: hashed bag-of-words, L2-normalised."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, **_: object) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in re.findall(r"[a-z']+", text.lower()):
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % 384] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


@pytest.fixture()
def emb() -> Embedder:
    return Embedder(BagOfWordsModel())


def make_gold(**overrides: object) -> GoldExample:
    lines = [
        Line(speaker="Alice", text="Where were you last night?"),
        Line(speaker="Bob", text="Out. Walking, mostly."),
        Line(speaker="Alice", text="In the rain? Your coat is dry."),
        Line(speaker="Bob", text="I stood under the bridge for a while."),
    ]
    data = dict(
        id="kitchen",
        scene=Scene(lines=lines, setting="A small kitchen at dawn"),
        scenario=(
            "Alice waits in the small kitchen at dawn for her brother Bob. "
            "Bob comes home after a night out and avoids her questions about where he was."
        ),
        annotated=[
            "*I fold my arms and lean against the counter.* Where were you last night?",
            "*I drop my keys on the table and avoid her eyes.* Out. Walking, mostly.",
            "*I reach out and touch his sleeve.* In the rain? Your coat is dry.",
            "*I shrug off the coat and hang it on the door.* I stood under the bridge for a while.",
        ],
        personas={
            "Alice": "Alice is Bob's sister. She is 34 years old, tall, with red hair and green eyes.",
            "Bob": "A quiet man with black hair who works nights.",
        },
    )
    data.update(overrides)
    return GoldExample(**data)  # type: ignore[arg-type]


GOLD = make_gold()


def test_gold_scores_one_and_feedback_says_so(emb: Embedder) -> None:
    s = score(GOLD, GOLD.scenario, GOLD.annotated, embedder=emb)
    assert s.score == pytest.approx(1.0)
    assert set(s.parts) == {"similarity", "relevance", "setup", "verbatim", "cast", "grounding", "contradiction", "format"}
    assert "all checks passed" in s.feedback


def test_verbatim_is_a_gate(emb: Embedder) -> None:
    ann = list(GOLD.annotated)
    ann[1] = ann[1].replace("mostly", "")
    s = score(GOLD, GOLD.scenario, ann, embedder=emb)
    assert s.parts["verbatim"] == pytest.approx(0.75)
    assert s.score <= 0.75**2 + 1e-9
    assert "line 2" in s.feedback and "mostly" in s.feedback


@pytest.mark.parametrize(
    "scenario, annotated, reason",
    [
        (None, None, "no scenario"),
        ("", [], "empty"),
        (123, ["x"], "scenario must be text"),
        (GOLD.scenario, "not a list", "must be a list"),
        ("x" * 1_000_000, GOLD.annotated, "too long"),
        (GOLD.scenario, ["y" * 1_000_000] * 4, "too long"),
    ],
)
def test_bad_input_scores_zero_with_reason(emb: Embedder, scenario, annotated, reason) -> None:
    s = score(GOLD, scenario, annotated, embedder=emb)
    # zero, or the fair partial when one half (lines or scenario) is still usable
    assert s.score == pytest.approx(0.0) or (s.score < 0.75 and isinstance(annotated, list) and annotated)
    assert reason in s.feedback
    assert score(GOLD, scenario, None, task="scenario", embedder=emb).score == 0.0 or isinstance(scenario, str) and len(scenario) < 1000


def test_wrong_length_and_non_strings_give_partial_never_raise(emb: Embedder) -> None:
    s = score(GOLD, GOLD.scenario, GOLD.annotated[:2], embedder=emb)
    assert s.parts["verbatim"] == pytest.approx(0.5)
    assert "missing" in s.feedback
    s2 = score(GOLD, GOLD.scenario, [None, 3, {"a": 1}, GOLD.annotated[3]], embedder=emb)
    assert 0 < s2.score < 0.2 and "not text" in s2.feedback
    s3 = score("not gold", "x", ["y"], embedder=emb)  # type: ignore[arg-type]
    assert s3.score == 0 and "GoldExample" in s3.feedback


def test_tasks_use_only_their_parts(emb: Embedder) -> None:
    s = score(GOLD, GOLD.scenario, None, task="scenario", embedder=emb)
    assert s.score == pytest.approx(1.0) and "verbatim" not in s.parts
    a = score(GOLD, None, GOLD.annotated, task="actions", embedder=emb)
    assert a.score == pytest.approx(1.0) and "grounding" not in a.parts


def test_weights_validation() -> None:
    with pytest.raises(ValueError):
        Weights(similarity=-1)
    with pytest.raises(ValueError):
        Weights(**{k: 0 for k in composite.PART_NAMES})
    w = Weights(similarity=2, relevance=0, setup=0, verbatim=2, cast=0, grounding=0, contradiction=0, format=0).normalised()
    assert w["similarity"] == pytest.approx(0.5) and sum(w.values()) == pytest.approx(1.0)


def test_dspy_metric_threshold_and_trace(emb: Embedder) -> None:
    import dspy

    ex = dspy.Example(gold=GOLD.model_dump_json())
    good = dspy.Prediction(scenario=GOLD.scenario, annotated_lines=GOLD.annotated)
    bad = dspy.Prediction(scenario=GOLD.scenario, annotated_lines=["*I nod.*"] * 4)
    metric = dspy_metric("both", threshold=0.8, embedder=emb)
    assert metric(ex, good) == pytest.approx(1.0)
    assert metric(ex, good, trace=[]) is True
    assert metric(ex, bad, trace=[]) is False
    assert isinstance(metric(ex, bad), float) and metric(ex, bad) < 0.1
    assert metric(dspy.Example(), good) == 0.0  # no gold field: 0, no exception
    assert metric(ex, None) == 0.0


def test_gepa_metric_returns_feedback(emb: Embedder) -> None:
    import dspy

    ex = dspy.Example(gold=GOLD.model_dump_json())
    pred = dspy.Prediction(scenario=GOLD.scenario + " Marcus watches from the hall.", annotated_lines=GOLD.annotated)
    out = gepa_metric("both", embedder=emb)(ex, pred, None, "annotate", None)
    assert isinstance(out, dspy.Prediction)
    assert out.score < 1.0 and "Marcus" in out.feedback


def test_format_checks() -> None:
    lines = GOLD.scene.lines
    bad = [
        "Alice: *I fold my arms.* Where were you last night?",
        "*Bob dropped his keys.* Out. Walking, mostly.",
        "*I reach out* In the rain? Your coat is dry. *",
        "[[ ## annotated_lines ## ]] I stood under the bridge for a while.",
    ]
    r = check_format(None, bad, lines, FormatConfig(person="first"))
    text = " ".join(r.issues)
    for expected in ("speaker prefix", "past tense", "unbalanced", "field marker"):
        assert expected in text
    third = check_format(None, ["*She folds her arms.* x", "*I shrug.* y"], lines[:2], FormatConfig(person="third"))
    assert third.details["per_line"][0] == [] and "not in third person" in third.details["per_line"][1]
    assert detect_person(GOLD.annotated) == "first"


def test_cast_and_contradiction_checks() -> None:
    c = consistency.cast(GOLD, "Alice and Marcus wait.", ["*Bob grabs the cup.* Where were you last night?"])
    assert c.details["invented"] == ["Marcus"] and c.details["acting"] == [(1, "Bob", "Alice")]
    assert consistency.cast(GOLD, "Alice and Marcus wait.", None, known_names=["Marcus"]).score == 1.0
    ct = consistency.contradiction(GOLD, "Alice, Bob's wife, tosses her black hair.", None)
    assert len(ct.details["contradictions"]) == 2
    ok = consistency.contradiction(GOLD, "Alice tucks her auburn hair behind an ear.", None)
    assert ok.score == 1.0


def test_grounding_flags_unsupported_sentence(emb: Embedder) -> None:
    g = consistency.grounding(GOLD, GOLD.scenario + " A brass band marches past the window.", embedder=emb)
    assert g.score == pytest.approx(2 / 3)
    assert "brass band" in g.issues[0]


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_lowers_score_and_target_part(emb: Embedder, defect: str) -> None:
    pool = [GOLD, make_gold(id="other", scenario="A lighthouse keeper counts ships in a storm off the coast.")]
    for seed in range(5):
        m = mutate(defect, GOLD, random.Random(seed), pool)
        assert m is not None
        base = score(m.gold, m.gold.scenario, m.gold.annotated, embedder=emb)
        s = score(m.gold, m.scenario, m.annotated, embedder=emb)
        target = DEFECTS[defect].target
        assert s.score < base.score, (defect, m.note, s.feedback)
        assert s.parts[target] < base.parts[target], (defect, m.note, s.parts)
        assert s.feedback != base.feedback


def test_contradiction_mutation_synthesises_a_persona_when_missing(emb: Embedder) -> None:
    g = make_gold(personas={})
    m = mutate("contradict_persona", g, random.Random(0), [g])
    assert m is not None and "red hair" in m.gold.personas["Alice"]
    assert score(m.gold, m.scenario, m.annotated, embedder=emb).parts["contradiction"] < 1


def test_score_many_encodes_once_and_caches_gold() -> None:
    model = BagOfWordsModel()
    emb = Embedder(model)
    pairs = [(GOLD, GOLD.scenario, GOLD.annotated)] * 50
    results = score_many(pairs, embedder=emb)
    assert all(r.score == pytest.approx(1.0) for r in results)
    assert model.calls <= 2  # gold texts, then prediction texts
    before = emb.texts_encoded
    score_many(pairs, embedder=emb)
    assert emb.texts_encoded == before  # nothing re-encoded


def test_embedder_disk_cache(tmp_path: Path) -> None:
    path = tmp_path / "gold.npz"
    e1 = Embedder(BagOfWordsModel(), cache_path=path)
    v = e1.encode(["hello there"], pin=True)
    e1.save()
    model = BagOfWordsModel()
    e2 = Embedder(model, cache_path=path)
    assert np.allclose(e2.encode(["hello there"]), v) and model.calls == 0


def test_mutation_suite_on_repo_gold(repo_root: Path, emb: Embedder) -> None:
    files = sorted((repo_root / "experiments" / "gold").glob("*.jsonl"))
    if not files:
        pytest.skip("no hand-written gold yet")
    golds = [GoldExample.model_validate_json(x) for x in files[0].read_text().splitlines()[:6] if x.strip()]
    rows = run_suite(golds, embedder=emb)
    for row in rows:
        if row.target == "similarity":
            continue  # a bag-of-words stand-in; the real model is checked in test_metrics_model.py
        assert row.passed, (row.defect, row.composite_rate, row.part_rate, row.misses)


def test_cli_metrics_check(tmp_path: Path) -> None:
    from augmentlab.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    assert main(["metrics", "check", "--gold", str(bad)]) == 2
    assert main(["metrics", "check", "--gold", str(tmp_path / "missing.jsonl")]) == 2
