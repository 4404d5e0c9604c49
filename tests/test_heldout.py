"""Proof on held-out human gold (issue 12, item 7): real prompts against controls that must
produce useless data, on gold mined from plays no test tunes on (tests/data/heldout/).

The fast tests check the harness (mining, running, the requirement's logic) with the FakeLM; the
slow ones run the real embedded model, and the stronger model when one is configured
(``AUGMENTLAB_HELDOUT_GGUF`` or ``AUGMENTLAB_HELDOUT_MODEL``, see
:func:`experiments.heldout.strong_lm_config`).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from augmentlab.augment.runner import pipeline_augmenter
from augmentlab.cli import main as cli_main
from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig
from augmentlab.core.model import GoldExample
from experiments import heldout as H

SCENES_PER_PLAY = 3
"""Scenes per held-out play in the slow embedded-model test (two plays: six scenes)."""
STRONG_SCENES_PER_PLAY = 8
"""Scenes per held-out play with the stronger model: enough pairs for the paired test to tell
real data from the controls (sixteen scenes)."""


def _cli_mined(tmp_path: Path) -> list[GoldExample]:
    """Gold mined with ``augmentlab gold mine`` from every held-out play."""
    out: list[GoldExample] = []
    for play in H.heldout_plays():
        text = tmp_path / play.with_suffix("").name
        text.write_bytes(gzip.decompress(play.read_bytes()))
        jsonl = tmp_path / f"{text.stem}.jsonl"
        assert cli_main(["gold", "mine", str(text), "-o", str(jsonl)]) == 0
        out.extend(GoldExample.model_validate_json(x) for x in jsonl.read_text().splitlines() if x.strip())
    return out


def _run(label: str, scores: list[float], control: bool = False) -> H.ProgramRun:
    return H.ProgramRun(label=label, control=control, scores=scores)


def _result(real: list[list[float]], controls: list[list[float]], strong: bool) -> H.HeldoutResult:
    runs = [_run(f"real{i}", s) for i, s in enumerate(real)] + [_run(f"control{i}", s, True) for i, s in enumerate(controls)]
    return H.HeldoutResult(gold=[], runs=runs, lm="test", strong=strong)


# ----------------------------------------------------------------------------- fast: the harness


def test_heldout_plays_are_not_in_the_tuning_corpus(corpus_dir: Path):
    plays = H.heldout_plays()
    assert len(plays) == 2 and (H.HELDOUT_DIR / "SOURCE.md").is_file()
    titles = {gzip.decompress(p.read_bytes()).decode("utf-8-sig")[:200].split("\n")[0] for p in plays}
    corpus = {f.read_text(encoding="utf-8-sig", errors="replace")[:200].split("\n")[0] for f in corpus_dir.rglob("*.txt")}
    assert not titles & corpus


def test_mined_heldout_gold_is_what_the_cli_mines(tmp_path: Path):
    mined = _cli_mined(tmp_path)
    assert len(mined) >= 100  # 71 + 55 with the default token budget
    picked = H.mine_heldout(3)
    assert len(picked) == 6
    assert {g.id for g in picked} <= {g.id for g in mined}
    assert len({g.provenance["play"] for g in picked}) == 2
    assert all(len(g.scene.lines) <= 10 and g.scenario and any("*" in a for a in g.annotated) for g in picked)
    assert H.mine_heldout(3) == picked  # deterministic


def test_spread_picks_evenly():
    assert H.spread(list(range(10)), 3) == [1, 5, 8]
    assert H.spread([1, 2], 5) == [1, 2] and H.spread([1, 2], 0) == []


def test_strong_lm_config_from_environment(tmp_path: Path):
    assert H.strong_lm_config({}) is None
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    cfg = H.strong_lm_config({"AUGMENTLAB_HELDOUT_GGUF": str(gguf)})
    assert cfg.kind == "embedded" and cfg.gguf == str(gguf)
    cfg = H.strong_lm_config({"AUGMENTLAB_HELDOUT_MODEL": "openai/gpt-4o-mini", "AUGMENTLAB_HELDOUT_KEY_ENV": "OPENAI_API_KEY"})
    assert (cfg.kind, cfg.model, cfg.api_key_env) == ("endpoint", "openai/gpt-4o-mini", "OPENAI_API_KEY")
    with pytest.raises(AugmentlabError, match="no such file"):
        H.strong_lm_config({"AUGMENTLAB_HELDOUT_GGUF": str(tmp_path / "none.gguf")})


def test_requirement_logic():
    good = [0.6, 0.7, 0.65, 0.8, 0.7, 0.75]
    bad = [0.1, 0.05, 0.2, 0.1, 0.0, 0.15]
    noisy = [x + d for x, d in zip(bad, (0.05, -0.03, 0.04, -0.02, 0.03, -0.04))]  # +0.005 on average
    # stronger model: every real program must beat every control (paired interval above zero)
    assert H.failures(_result([good], [bad, bad], strong=True)) == []
    tie = H.failures(_result([good], [bad, good], strong=True))
    assert len(tie) == 1 and "does not beat control1" in tie[0]
    assert len(H.failures(_result([good, bad], [noisy], strong=True))) == 1  # real1 only ties control0
    # embedded model: a control ahead by noise is allowed, a control ahead by the interval is not
    assert H.failures(_result([good, bad], [noisy], strong=False)) == []
    assert H.failures(_result([good, good], [good], strong=False)) == []
    beaten = H.failures(_result([good, bad], [[x + 0.3 for x in bad]], strong=False))
    assert len(beaten) == 1 and beaten[0].startswith("control0 beats real1")


def test_reference_programs_are_reported_but_not_held_to_the_requirement(tmp_path: Path):
    good, bad = [0.5] * 8, [0.0] * 8
    runs = [_run("compose_scene", good), _run("seed+seed", bad), _run("control0", [0.1] * 8, True)]
    runs[1].failed, runs[1].reasons = 8, ["human words changed in line(s) 1, 2"] * 6 + ["unparseable LM output: x"] * 2
    result = H.HeldoutResult(gold=H.mine_heldout(4), runs=runs, lm="test", strong=True)
    assert "seed+seed" in H.REFERENCE_PROGRAMS and H.failures(result) == []
    text = H.table(result)
    assert "seed+seed (ref)" in text and "(ref) seed+seed: reported, not held to the requirement" in text
    assert "seed+seed failed 8/8: human words changed (6), unparseable LM output (2)" in text
    # the same program under another label is held to it
    runs[1].label = "seed+again"
    assert H.failures(result) == ["seed+again does not beat control0: paired difference "
                                  f"{result.comparison(runs[1], runs[2]).difference}, p="
                                  f"{result.comparison(runs[1], runs[2]).test.p_value:.3g}"]
    # the reasons survive a save and a rescore
    runs[0].outputs = runs[1].outputs = runs[2].outputs = [(None, None)] * 8
    H.save_outputs(result, tmp_path / "run")
    again = H.rescore(tmp_path / "run")
    assert again.runs[1].reasons == runs[1].reasons


def test_harness_end_to_end_with_the_fake_lm():
    gold = H.mine_heldout(1)
    real = {H.DEFAULT_PROGRAM: H.REAL_PROGRAMS[H.DEFAULT_PROGRAM], "seed+seed": H.REAL_PROGRAMS["seed+seed"]}
    result = H.run_heldout(LMConfig(kind="fake", cache=False), gold, real=real)
    assert [r.label for r in result.runs] == [H.DEFAULT_PROGRAM, "seed+seed", *H.CONTROL_PROGRAMS]
    assert [r.control for r in result.runs] == [False, False, True, True]
    for run in result.runs:
        assert len(run.scores) == len(gold) == 2 and all(0 <= s <= 1 for s in run.scores)
        calls = 2 if run.label == "seed+seed" else 1  # two calls per scene for the 2023 baseline
        assert run.usage.calls == calls * len(gold)
        assert all(scen and lines for scen, lines in run.outputs)
    text = H.table(result)
    assert "compose_scene - control:placeholder" in text and "requirement:" in text
    assert result.strong  # the fake model is not the embedded one


def test_pipeline_augmenter_measures_long_scenes_in_parts():
    """With the pipeline's augmenter a program is measured as ``augmentlab augment`` runs it: a
    scene whose answer would not fit ``max_tokens`` is asked for in parts, and every line comes
    back; one call per scene (augment_scene) would have been cut off and scored as nothing."""
    gold = [g for g in H.mine_heldout(2) if len(g.scene.lines) >= 4][:2]
    assert gold
    real = {"seed+seed": H.REAL_PROGRAMS["seed+seed"]}
    small = LMConfig(kind="fake", cache=False, max_tokens=300)
    whole = H.run_heldout(small, gold, real=real)
    parts = H.run_heldout(small, gold, real=real, augmenter=pipeline_augmenter)
    seed_whole, seed_parts = whole.runs[0], parts.runs[0]
    assert seed_whole.usage.calls == 2 * len(gold)  # a scenario call and one actions call per scene
    assert seed_parts.usage.calls > seed_whole.usage.calls  # the actions were asked for in parts
    for g, (scenario, lines) in zip(gold, seed_parts.outputs):
        assert scenario and lines is not None and len(lines) == len(g.scene.lines)
    assert seed_parts.failed == 0


def test_pipeline_augmenter_reports_an_unreachable_lm_with_the_scene():
    gold = H.mine_heldout(1)[:1]
    down = LMConfig(kind="endpoint", model="openai/x", api_base="http://127.0.0.1:9/v1", cache=False,
                    timeout=2.0, num_retries=0)
    real = {H.DEFAULT_PROGRAM: H.REAL_PROGRAMS[H.DEFAULT_PROGRAM]}
    with pytest.raises(AugmentlabError, match=f"compose_scene: the LM failed on {gold[0].id}"):
        H.run_heldout(down, gold, real=real, augmenter=pipeline_augmenter)


# ----------------------------------------------------------------------------- slow: real models


@pytest.mark.slow
def test_embedded_model_controls_do_not_beat_the_real_prompts(capsys):
    """SmolLM2-135M is a poor writer; the score must still not prefer useless data."""
    gold = H.mine_heldout(SCENES_PER_PLAY)
    # The two one-call programs (24 calls, ~3 min unloaded); the benchmark runs every real program.
    real = H.select_programs([H.DEFAULT_PROGRAM, H.DIRECTED_PROGRAM])
    result = H.run_heldout(H.embedded_config(), gold, real=real, augmenter=pipeline_augmenter)
    with capsys.disabled():
        print("\n" + H.table(result))
    assert not result.strong
    assert H.failures(result) == []


@pytest.mark.slow
def test_stronger_model_real_prompts_beat_the_controls(capsys):
    config = H.strong_lm_config()
    if config is None:
        pytest.skip("no stronger model: set AUGMENTLAB_HELDOUT_GGUF or AUGMENTLAB_HELDOUT_MODEL")
    # The two one-call programs (the benchmark runs every real program) on 8 scenes per play: on
    # 4 per play the paired test could not separate direct_scene from the other-story control
    # (p = 0.195), on 8 per play it did (p = 0.001). ~50 calls, ~25 min with Qwen2.5-1.5B on 2 cores.
    gold = H.mine_heldout(STRONG_SCENES_PER_PLAY)
    real = H.select_programs([H.DEFAULT_PROGRAM, H.DIRECTED_PROGRAM])
    result = H.run_heldout(config, gold, real=real, augmenter=pipeline_augmenter)
    with capsys.disabled():
        print("\n" + H.table(result))
    assert result.strong
    assert H.failures(result) == []


def test_controls_are_variant_files():
    from prompts.variants import load_variant

    for _, actions in H.CONTROL_PROGRAMS.values():
        variant = load_variant(actions, task="actions")
        assert variant.writes_scenario and variant.output == "actions"
        assert variant.description.startswith("CONTROL")
    assert json.dumps(H.REAL_PROGRAMS)  # plain data, printable in reports


def test_saved_outputs_rescore_to_the_same_table(tmp_path: Path):
    gold = H.mine_heldout(1)
    real = {H.DEFAULT_PROGRAM: H.REAL_PROGRAMS[H.DEFAULT_PROGRAM]}
    result = H.run_heldout(LMConfig(kind="fake", cache=False), gold, real=real)
    H.save_outputs(result, tmp_path / "run")
    again = H.rescore(tmp_path / "run")
    assert [r.scores for r in again.runs] == [r.scores for r in result.runs]
    assert H.table(again) == H.table(result)
    rows = [json.loads(x) for x in (tmp_path / "run" / "compose_scene.pred.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [g.id for g in gold] and set(rows[0]) == {"id", "scenario", "annotated"}
    (tmp_path / "run" / "gold.jsonl").write_text("")
    with pytest.raises(AugmentlabError, match="ids do not match"):
        H.rescore(tmp_path / "run")
    # a damaged run is one clear error naming the file, never a traceback
    meta = json.loads((tmp_path / "run" / "runs.json").read_text())
    (tmp_path / "run" / "compose_scene.pred.jsonl").write_text("{not json\n")
    with pytest.raises(AugmentlabError, match="compose_scene.pred.jsonl: cannot read the saved outputs"):
        H.rescore(tmp_path / "run")
    meta["programs"][0]["file"] = "missing.jsonl"
    (tmp_path / "run" / "runs.json").write_text(json.dumps(meta))
    with pytest.raises(AugmentlabError, match="missing.jsonl: cannot read"):
        H.rescore(tmp_path / "run")
    (tmp_path / "run" / "runs.json").write_text(json.dumps({"programs": []}))
    with pytest.raises(AugmentlabError, match="not a saved held-out run"):
        H.rescore(tmp_path / "run")


def test_select_programs_and_dev_plays():
    assert list(H.select_programs(None)) == list(H.REAL_PROGRAMS)
    assert list(H.select_programs([H.DIRECTED_PROGRAM, H.DEFAULT_PROGRAM])) == [H.DIRECTED_PROGRAM, H.DEFAULT_PROGRAM]
    with pytest.raises(AugmentlabError, match="unknown real program 'nope'.*direct_scene"):
        H.select_programs(["nope"])
    # a dev run mines other plays (never the held-out ones) with the same picker
    dev = sorted((Path(__file__).parent / "data" / "plays").glob("shaw_*.txt.gz"))
    gold = H.mine_heldout(2, plays=dev)
    assert len(gold) == 2 and {g.provenance.get("play") for g in gold} != {None}
    assert not any("woman" in str(g.provenance.get("play", "")).lower() for g in gold)


def test_bench_dev_run_options(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_heldout", H.REPO / "benchmarks" / "bench_heldout.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--programs", "nope"]) == 2
    assert "unknown real program 'nope'" in capsys.readouterr().err
    assert bench.main(["--plays", "/no/such/play.txt"]) == 2
    assert "no such play" in capsys.readouterr().err
    assert bench.main(["--default-only", "--programs", "direct_scene"]) == 2
