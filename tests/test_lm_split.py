"""No scene lost to length: budgeted up front, split and retried when cut off, no line dropped."""

from __future__ import annotations

import json
from pathlib import Path

from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.augment.program import resolve_program
from augmentlab.augment.results import PlannedScene
from augmentlab.augment.runner import SceneRunner, pipeline_augmenter
from augmentlab.lm import LMConfig, open_session
from augmentlab.core.model import Line, LineKind, Scene, Script
from augmentlab.augment.scene_split import CONTEXT_LINES, budget_parts, halve
from fakes.fake_server import StubServer
from augmentlab.cli import main as cli_main
from augmentlab.ingest import load


def long_scene(n: int = 60) -> Scene:
    lines = []
    for i in range(n):
        if i % 10 == 5:
            lines.append(Line(speaker=None, text=f"They walk on past column {i}.", kind=LineKind.narration))
            continue
        who = "Socrates" if i % 2 else "Euthyphro"
        lines.append(Line(speaker=who, text=f"Speech {i}: " + "and what, then, is piety, if not that? " * (1 + i % 4)))
    return Scene(index=0, heading="the porch of the King Archon", lines=lines).with_id()


def _config(server: StubServer, **kw) -> LMConfig:
    return LMConfig(kind="endpoint", model="openai/local", api_base=server.base_url, cache=False, **kw)


def _spoken(out: Path) -> list[str]:
    lines = []
    for row in out.read_text().splitlines():
        for line in json.loads(row)["lines"]:
            lines.append(line["line"]["text"])
    return lines


def test_halve_and_budget_keep_every_line_in_order_with_context():
    scene = long_scene()
    first, second = halve(scene)
    assert first.lines + second.lines == scene.lines
    assert second.context[-1] == first.lines[-1] and len(second.context) == CONTEXT_LINES
    parts = budget_parts(scene, max_tokens=1024)
    assert len(parts) > 1
    assert [line for p in parts for line in p.lines] == scene.lines
    assert budget_parts(scene, max_tokens=100_000) == [scene]
    # A small context forces smaller parts than the answer budget alone.
    assert len(budget_parts(scene, max_tokens=1024, n_ctx=2048)) > len(parts)
    # Halving a part keeps offsets into the original scene.
    a, b = halve(second)
    assert a.metadata["part_of"] == scene.id and a.metadata["part_lines"][0] == first.metadata["part_lines"][1]
    assert b.metadata["part_lines"][1] == len(scene.lines)


def test_cut_off_scene_is_split_and_retried_no_line_lost(tmp_path):
    scene = long_scene(24)
    script = Script(title="euth", source="euth.txt", scenes=[scene])
    # The "model" cuts off any answer for more than 7 lines; max_tokens is large, so the budget
    # does not split up front: the cut-off does.
    with StubServer(latency=0.0, max_answer_lines=7) as stub:
        report = augment_scripts([script], tmp_path / "out", _config(stub, max_tokens=100_000),
                                 AugmentOptions(write_personas=False))
        assert report.ok == 1 and report.failed == 0 and report.split == 1 and report.bare_lines == 0
        assert stub.requests > 4
    assert _spoken(tmp_path / "out" / "augmented.jsonl") == [line.text for line in scene.lines]
    record = json.loads((tmp_path / "out" / "augmented.jsonl").read_text())
    assert "split into" in record["reason"]
    annotated = [line["annotated"] for line in record["lines"]]
    assert all("*" in a for a, line in zip(annotated, scene.lines) if line.kind == LineKind.dialogue)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["this_run"]["split"] == 1


def test_budget_splits_up_front_so_nothing_is_cut_off(tmp_path):
    scene = long_scene(60)
    script = Script(title="euth", source="euth.txt", scenes=[scene])
    with StubServer(latency=0.0) as stub:
        report = augment_scripts([script], tmp_path / "out", _config(stub, max_tokens=512),
                                 AugmentOptions(write_personas=False))
        parts = len(budget_parts(scene, max_tokens=512))
        assert report.ok == 1 and report.split == 1 and stub.requests == parts > 1
    assert _spoken(tmp_path / "out" / "augmented.jsonl") == [line.text for line in scene.lines]


def test_one_line_that_never_fits_keeps_its_words(tmp_path):
    scene = long_scene(3)
    script = Script(title="t", source="t.txt", scenes=[scene])
    with StubServer(latency=0.0, max_answer_lines=0) as stub:
        report = augment_scripts([script], tmp_path / "out", _config(stub, max_tokens=100_000),
                                 AugmentOptions(write_personas=False, max_attempts=2))
    assert report.ok == 1 and report.bare_lines == 3
    record = json.loads((tmp_path / "out" / "augmented.jsonl").read_text())
    assert [line["annotated"] for line in record["lines"]] == [line.text for line in scene.lines]
    assert "kept without actions" in record["reason"]


def test_lm_error_in_a_part_is_an_error_not_a_partial_scene(tmp_path):
    scene = long_scene(12)
    script = Script(title="t", source="t.txt", scenes=[scene])
    with StubServer(latency=0.0, max_answer_lines=6, faults=["ok", "401", "401", "401"]) as stub:
        report = augment_scripts([script], tmp_path / "out", _config(stub, max_tokens=100_000, num_retries=0),
                                 AugmentOptions(write_personas=False))
    assert report.ok == 0 and report.errors == 1
    assert not (tmp_path / "out" / "augmented.jsonl").read_text().strip()


def test_long_speech_sample_split_by_budget_reaches_the_export(tmp_path):
    """The Euthyphro-like sample from the CLI with a small --max-tokens: every scene is split, none
    fails, and every spoken line is in the export (the slow test does this on the real model)."""
    sample = Path(__file__).parent / "data" / "scripts" / "euthyphro_long.txt"
    out = tmp_path / "out"
    with StubServer(latency=0.0, max_answer_lines=5) as stub:
        assert cli_main(["augment", str(sample), "-o", str(out), "--api-base", stub.base_url, "--model",
                         "openai/local", "--no-persona-writer", "--max-tokens", "512"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["this_run"]["failed"] == run["this_run"]["errors"] == 0 and run["this_run"]["split"] >= 1
    text = ""
    for character in ("SOCRATES", "EUTHYPHRO"):
        export = tmp_path / f"{character}.jsonl"
        assert cli_main(["export", str(out), "-c", character, "-f", "openai", "-o", str(export)]) == 0
        text += "\n".join(m["content"] for row in export.read_text().splitlines() for m in json.loads(row)["messages"])
    spoken = [line.text for line in load(sample).lines if line.kind == LineKind.dialogue]
    assert len(spoken) == 60 and all(line in text for line in spoken)


def test_an_unusable_part_is_halved_unless_a_measurement_asks_otherwise(tmp_path):
    """augment halves a part whose answer is unusable; with ``halve_unusable=False`` (the held-out
    proof's pipeline_augmenter) the scene fails there, as a one-part scene would."""
    scene = long_scene(60)
    parts = len(budget_parts(scene, max_tokens=512))
    assert parts > 2
    item = PlannedScene(script="t", script_index=0, scene=scene, key=scene.id, personas={})
    for halve_unusable in (True, False):
        with StubServer(latency=0.0, faults=["ok", "garbage"]) as stub, \
                open_session(_config(stub, max_tokens=512)) as session:
            program, _ = resolve_program(None)
            runner = SceneRunner(program, "p", session, AugmentOptions(max_attempts=1, halve_unusable=halve_unusable))
            outcome = runner.scene(item)
            if halve_unusable:  # the garbage part is halved and both halves answered: no line lost
                assert outcome.status == "ok" and stub.requests == parts + 2
                assert [x.line for x in outcome.result.lines] == scene.lines
            else:  # the scene fails at the garbage part, nothing more is asked
                assert outcome.status == "failed" and stub.requests == 2
                assert "unparseable" in outcome.reason or "program error" in outcome.reason
    with StubServer(latency=0.0, faults=["ok", "garbage"]) as stub, open_session(_config(stub, max_tokens=512)) as session:
        result = pipeline_augmenter(session)(resolve_program(None)[0], scene)
        assert result.status == "failed" and not result.lines and stub.requests == 2
