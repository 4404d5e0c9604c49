"""Shared test set-up: offline, no DSPy disk cache leaking between runs, corpus location."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_CACHE = tempfile.mkdtemp(prefix="augmentlab-dspy-cache-")
os.environ.setdefault("DSPY_CACHEDIR", _CACHE)
os.environ.setdefault("AUGMENTLAB_DSPY_CACHE", "0")

import augmentlab  # noqa: E402,F401  (applies offline defaults)

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("AUGMENTLAB_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS
