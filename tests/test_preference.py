"""Preference sets: reading, decisive pairs, agreement (tie = half), the length baseline, imported
verdicts, ``augmentlab metrics check --pairs`` exit codes, and the composite on the two dev sets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample, Line, Scene
from augmentlab.core.verdicts import Verdict, write_verdicts
from metrics import preference as P

REPO = Path(__file__).resolve().parent.parent
DEV = REPO.parent / "shared" / "preference-dev"

LINES = ["Where were you last night?", "Out. Walking, mostly.", "In the rain? Your coat is dry."]


def _gold(sid: str) -> GoldExample:
    speakers = ["Alice", "Bob", "Alice"]
    return GoldExample(
        id=sid,
        scene=Scene(lines=[Line(speaker=s, text=t) for s, t in zip(speakers, LINES)]),
        scenario="Alice waits up in the kitchen for her brother.",
        annotated=[f"*I fold my arms.* {LINES[0]}", f"*I drop my keys.* {LINES[1]}", LINES[2]],
    )


def _cand(sid: str, tag: str, source: str, action: str, scenario: str = "A kitchen at night.") -> dict:
    return {"id": f"{sid}::{tag}", "scene": sid, "source": source, "scenario": scenario,
            "annotated": [f"*{action}* {t}" for t in LINES]}


def make_set(root: Path, *, rankings: dict[str, list[list[str]]] | None = None,
             candidates: list[dict] | None = None) -> Path:
    """Two scenes, four candidates each (gold, long, short, none); two readings per scene."""
    root.mkdir(parents=True, exist_ok=True)
    scenes = ["s1", "s2"]
    (root / "scenes.jsonl").write_text("".join(_gold(s).model_dump_json() + "\n" for s in scenes))
    if candidates is None:
        candidates = []
        for s in scenes:
            candidates.append({"id": f"{s}::gold", "scene": s, "source": "reference", "scenario": _gold(s).scenario,
                               "annotated": _gold(s).annotated})
            candidates.append(_cand(s, "L", "strong", "I lean on the doorframe and study his dry coat for a long while."))
            candidates.append(_cand(s, "S", "weak", "I nod."))
            candidates.append(_cand(s, "N", "junk", "Pauses."))
    (root / "candidates.jsonl").write_text("".join(json.dumps(c) + "\n" for c in candidates))
    rankings = rankings or {
        # s1: both readings agree on everything; s2: they swap S and N (that pair is not decisive)
        "s1": [["gold", "L", "S", "N"], ["gold", "L", "S", "N"]],
        "s2": [["L", "gold", "S", "N"], ["L", "gold", "N", "S"]],
    }
    rows = [{"scene": s, "judge": f"reader-{k}", "ranking": [f"{s}::{c}" for c in r], "grades": {}, "why": ""}
            for s, rs in rankings.items() for k, r in enumerate(rs)]
    (root / "judgements.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_read_set_and_decisive_pairs(tmp_path: Path) -> None:
    pset = P.read_set(make_set(tmp_path / "set"))
    assert sorted(pset.scenes) == ["s1", "s2"] and len(pset.candidates) == 8
    pairs = P.decisive_pairs(pset)
    assert len(pairs) == 6 + 5  # s2's (S, N) is ordered both ways: not decisive
    assert P.Pair("s2", "s2::L", "s2::gold") in pairs
    assert P.Pair("s2", "s2::S", "s2::N") not in pairs and P.Pair("s2", "s2::N", "s2::S") not in pairs
    assert sum(1 for p in pairs if not (pset.is_reference(p.better) or pset.is_reference(p.worse))) == 3 + 2


def test_agreement_counts_ties_as_half_and_the_length_baseline(tmp_path: Path) -> None:
    pset = P.read_set(make_set(tmp_path / "set"))
    pairs = P.decisive_pairs(pset)
    by_source = {"reference": 3.0, "strong": 2.0, "weak": 1.0, "junk": 1.0}  # weak = junk: a tie
    ev = P.ScoreEvaluator("by source", lambda g, c: by_source[c.source])
    agr = P.agreement(pset, ev, pairs)
    # s1: 6 pairs, 5 kept + (S, N) tie; s2: (L, gold) lost, 4 others kept
    assert agr.kept == pytest.approx(5.5 + 4) and agr.n == 11
    assert agr.rate_nonref == pytest.approx((2.5 + 2) / 5)
    assert isinstance(ev, P.PairEvaluator)
    v = ev.prefer(pset.scenes["s1"], pset.candidates["s1::L"], pset.candidates["s1::S"])
    assert isinstance(v, Verdict) and v.winner == "a" and v.kind == "composite"
    length = P.agreement(pset, P.length_evaluator(), pairs)
    # longer wins: L > gold (scenario + actions chars) on both scenes; S (6 chars x 3) > N (7 x 3) is wrong
    assert P.candidate_length(pset.candidates["s1::L"]) > P.candidate_length(pset.candidates["s1::gold"])
    assert 0 < length.rate < 1


def test_imported_verdicts_are_an_evaluator(tmp_path: Path) -> None:
    pset = P.read_set(make_set(tmp_path / "set"))
    pairs = P.decisive_pairs(pset)
    # the readers' own order for s1, reversed (b, a) for one pair, nothing for s2
    vs = [Verdict(scene=p.scene, a=p.worse, b=p.better, winner="b", source="human:x", kind="human")
          for p in pairs if p.scene == "s1"]
    path = tmp_path / "v.jsonl"
    write_verdicts(path, vs)
    from augmentlab.core.verdicts import read_verdicts

    ev = P.VerdictsEvaluator("v.jsonl", read_verdicts(path))
    assert ev.check_ids(pset) == 6
    agr = P.agreement(pset, ev, pairs)
    assert agr.kept == pytest.approx(6 + 0.5 * 5)  # s2 has no verdict: ties
    assert ev.missing == 5


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no-candidates", "candidates.jsonl not found"),
        ("bad-json", "candidates.jsonl:1: not valid JSON"),
        ("changed-line", "does not keep the words"),
        ("short", "has 2 line(s), its scene has 3"),
        ("unknown-scene", "unknown scene"),
        ("ranking-other-scene", "not a candidate of scene"),
    ],
)
def test_bad_sets_are_one_error(tmp_path: Path, breakage: str, message: str) -> None:
    root = make_set(tmp_path / "set")
    cands = [json.loads(x) for x in (root / "candidates.jsonl").read_text().splitlines()]
    if breakage == "no-candidates":
        (root / "candidates.jsonl").unlink()
    elif breakage == "bad-json":
        (root / "candidates.jsonl").write_text("{nope\n")
    elif breakage in ("changed-line", "short", "unknown-scene"):
        c = cands[1]
        if breakage == "changed-line":
            c["annotated"][1] = "*I shrug.* Out. Running, mostly."
        elif breakage == "short":
            c["annotated"] = c["annotated"][:2]
        else:
            c["scene"] = "s9"
        (root / "candidates.jsonl").write_text("".join(json.dumps(x) + "\n" for x in cands))
    else:
        make_set(root, rankings={"s1": [["gold", "L"], ["gold", "s2::L"]]})
        text = (root / "judgements.jsonl").read_text().replace("s1::s2::L", "s2::L")
        (root / "judgements.jsonl").write_text(text)
    with pytest.raises(AugmentlabError, match=re.escape(message)):
        P.read_set(root)


def test_cli_pairs_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from augmentlab.cli import main

    assert main(["metrics", "check", "--pairs", str(tmp_path / "missing")]) == 2
    assert "preference set not found" in capsys.readouterr().err
    root = make_set(tmp_path / "set")
    (root / "judgements.jsonl").write_text('{"scene": "s1", "judge": "r", "ranking": "s1::L"}\n')
    assert main(["metrics", "check", "--pairs", str(root)]) == 2
    err = capsys.readouterr().err
    assert "judgements.jsonl:1" in err and "Traceback" not in err
    good = make_set(tmp_path / "good")
    assert main(["metrics", "check", "--verdicts", str(tmp_path / "v.jsonl")]) == 2
    assert main(["metrics", "check", "--pairs", str(good), "--verdicts", str(tmp_path / "none.jsonl")]) == 2
    assert main(["metrics", "check", "--pairs", str(good), "--judge"]) == 2
    assert "--judge needs a judge LM" in capsys.readouterr().err


def test_cli_pairs_with_the_pairwise_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """--judge adds the pairwise LM judge (both orders) as an evaluator, with its flip rate."""
    from augmentlab.cli import main

    from test_metrics import BagOfWordsModel
    from metrics import similarity

    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy"))
    root = make_set(tmp_path / "set")
    saved = similarity._DEFAULT
    similarity._DEFAULT = similarity.Embedder(BagOfWordsModel())
    try:
        code = main(["metrics", "check", "--pairs", str(root), "--judge", "--lm", "fake",
                     "--judge-limit", "5", "--min-agreement", "0"])
    finally:
        similarity._DEFAULT = saved
    out = capsys.readouterr().out
    assert code == 0, out
    flat = " ".join(out.split())
    assert re.search(r"lm judge \(fake/augmentlab\) on 5 of the 11 decisive pairs: agreement \d\.\d{3} "
                     r"\(length baseline on the same pairs \d\.\d{3}\); order flips \d\.\d\d, ties \d of 5", flat), flat


def test_cli_pairs_bound_sets_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from augmentlab.cli import main

    from test_metrics import BagOfWordsModel
    from metrics import similarity

    root = make_set(tmp_path / "set")
    saved = similarity._DEFAULT
    similarity._DEFAULT = similarity.Embedder(BagOfWordsModel())
    try:
        assert main(["metrics", "check", "--pairs", str(root), "--min-agreement", "0"]) == 0
        out = capsys.readouterr().out
        assert "composite, with the reference" in out and "composite, no gold" in out and "length baseline" in out
        assert "readers agree on 11 of 12 pairs" in out
        assert main(["metrics", "check", "--pairs", str(root), "--min-agreement", "1"]) == 1
    finally:
        similarity._DEFAULT = saved


@pytest.mark.skipif(not DEV.is_dir(), reason=f"preference-dev sets not found at {DEV}")
@pytest.mark.parametrize("name", ["handwritten", "pygmalion"])
def test_composite_keeps_the_readers_order_on_the_dev_sets(name: str) -> None:
    """The real MiniLM composite on ../shared/preference-dev: >= 0.75 of the readers' decisive
    pairs with the reference (pairs without it) and without any gold, above "the longer wins",
    and junk never above a competent candidate of the same scene."""
    pset = P.read_set(DEV / name)
    pairs = P.decisive_pairs(pset)
    length = P.agreement(pset, P.length_evaluator(), pairs)
    with_ref = P.composite_evaluator(pset, with_reference=True)
    no_gold = P.composite_evaluator(pset, with_reference=False)
    a_ref, a_none = P.agreement(pset, with_ref, pairs), P.agreement(pset, no_gold, pairs)
    assert a_ref.rate_nonref >= 0.75 and a_none.rate >= 0.75, (a_ref.rate_nonref, a_none.rate)
    assert a_ref.rate_nonref > length.rate_nonref and a_none.rate > length.rate, (length.rate, length.rate_nonref)
    for ev in (with_ref, no_gold):
        for scene in pset.scenes:
            cands = pset.of_scene(scene)
            junk = max(ev.scores[c.id] for c in cands if c.source == "junk-transplant")
            competent = min(ev.scores[c.id] for c in cands if c.source in ("strong-vivid", "strong-blocking"))
            assert junk < competent, (ev.name, scene, junk, competent)
