"""A long-speech dialogue (Euthyphro-like, 60 lines) on the real embedded model, from the CLI:
no scene fails, and the export holds every spoken line. Slow (SmolLM2 via llama.cpp)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmentlab.cli import main as cli_main
from augmentlab.ingest import load
from augmentlab.core.model import LineKind
from augmentlab.lm.llama_server import default_model_path

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "data" / "scripts" / "euthyphro_long.txt"


def test_sample_is_long_speeches():
    script = load(SAMPLE)
    spoken = [line for line in script.lines if line.kind == LineKind.dialogue]
    assert len(spoken) == 60
    assert sum(len(line.text.split()) for line in spoken) / len(spoken) > 50


def test_long_speeches_augment_on_the_embedded_model_and_export_every_line(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGMENTLAB_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    argv = ["augment", str(SAMPLE), "-o", str(out), "--max-tokens", "2048", "--gguf", str(default_model_path()),
            "--n-ctx", "4096", "--no-persona-writer", "--no-cache", "-j", "1", "--timeout", "900"]
    assert cli_main(argv) == 0
    assert (out / "failures.jsonl").read_text().strip() == ""
    run = json.loads((out / "run.json").read_text())
    assert run["this_run"]["failed"] == run["this_run"]["errors"] == 0
    assert run["lm"]["identity"]["n_ctx"] == 4096 and len(run["lm"]["identity"]["gguf_sha256"]) == 64
    assert run["lm"]["max_tokens"] == 2048
    # Every spoken line reached the training data: each is in the export of one of the two
    # characters (an export ends a conversation on its character's turn, so the other's last
    # line of a scene is only in the other's export).
    text = ""
    for character in ("SOCRATES", "EUTHYPHRO"):
        export = tmp_path / f"{character}.jsonl"
        assert cli_main(["export", str(out), "-c", character, "-f", "openai", "-o", str(export)]) == 0
        text += "\n".join(
            message["content"] for row in export.read_text().splitlines() for message in json.loads(row)["messages"]
        )
    spoken = [line.text for line in load(SAMPLE).lines if line.kind == LineKind.dialogue]
    missing = [line for line in spoken if line not in text]
    assert not missing, f"{len(missing)} of {len(spoken)} spoken lines missing from the export"
