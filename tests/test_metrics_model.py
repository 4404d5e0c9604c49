"""Metrics with the real MiniLM model (loaded once for this module)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from augmentlab.core.model import GoldExample
from metrics import similarity
from metrics.mutations import run_suite


@pytest.fixture(scope="module")
def minilm() -> similarity.Embedder:
    return similarity.default_embedder()


def test_paraphrase_beats_unrelated(minilm: similarity.Embedder) -> None:
    gold = "Alice waits in the kitchen at dawn for her brother to come home."
    para = "At first light, Alice sits in the kitchen waiting for her brother's return."
    other = "A fleet of cargo ships unloads grain in a busy harbour."
    assert minilm.similarity(gold, para) > minilm.similarity(gold, other) + 0.3
    assert 0.0 <= minilm.similarity(gold, other) <= 1.0


def test_model_loads_once(minilm: similarity.Embedder) -> None:
    minilm.encode(["one more text"])
    similarity.default_embedder().encode(["and another"])
    assert similarity.MODEL_LOADS == 1


@pytest.mark.slow
def test_suite_on_hand_written_gold(repo_root: Path, minilm: similarity.Embedder) -> None:
    files = sorted((repo_root / "experiments" / "gold").glob("*.jsonl"))
    if not files:
        pytest.skip("no hand-written gold yet")
    golds = [GoldExample.model_validate_json(x) for x in files[0].read_text().splitlines()[:8] if x.strip()]
    for row in run_suite(golds, embedder=minilm):
        assert row.passed, (row.defect, row.composite_rate, row.part_rate, row.misses)


@pytest.mark.slow
def test_suite_on_mined_gold(corpus_dir: Path, minilm: similarity.Embedder) -> None:
    gold_mod = pytest.importorskip("augmentlab.ingest.gold")
    play = corpus_dir / "wilde_importance_of_being_earnest" / "pg844.txt"
    golds = list(itertools.islice(gold_mod.mine(play), 8))
    assert golds
    for row in run_suite(golds, embedder=minilm):
        if row.n:
            assert row.passed, (row.defect, row.composite_rate, row.part_rate, row.misses)
