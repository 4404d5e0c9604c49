"""Which model answers: the identity of an LM, for cache keys, store keys and records.

Two LMs that share a model name (``openai/local``, ``openai/default``: common with llama.cpp,
vLLM and Ollama) are not the same model. :func:`identity` says who answers:

* ``embedded`` — the GGUF file's SHA-256 (:func:`gguf_sha256`, computed once per file and
  cached by path + size + mtime), the llama-cpp-python version and the server settings that change
  outputs (``n_ctx``: a prompt longer than the context is cut or refused);
* ``endpoint`` — the model name *and* the ``api_base`` it is served from;
* ``fake`` — the model name.

:func:`augmentlab.lm.patches.install_identity_cache_key` puts that identity into DSPy's
response-cache key (DSPy leaves ``api_base`` out of its key, and never sees the GGUF file), so a
cached answer of one model is never handed out for another.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import atomic_write_text
from augmentlab.core.model import content_hash
from augmentlab.lm import llama_server

if TYPE_CHECKING:
    from augmentlab.lm.config import LMConfig

IDENTITY_ATTR = "augmentlab_identity"
"""Attribute of an opened ``dspy.LM`` holding its identity digest (read by the cache key)."""
CACHE_FILE = "gguf-sha256.json"

_lock = threading.Lock()
_memo: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    """``$AUGMENTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/augmentlab``, else ``~/.cache/augmentlab``."""
    explicit = os.environ.get("AUGMENTLAB_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "augmentlab"


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def gguf_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a model file, computed once and cached by (path, size, mtime).

    The cache lives in memory and in ``<cache_dir>/gguf-sha256.json``, so a multi-GB file is
    hashed once per change, not once per run. A cache that cannot be written is skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise AugmentlabError(f"GGUF model file not found: {path} (check --gguf / gguf in [lm])")
    key = _stat_key(path)
    with _lock:
        if key in _memo:
            return _memo[key]
    file = cache_dir() / CACHE_FILE
    text_key = f"{key[0]}|{key[1]}|{key[2]}"
    stored = _read_cache(file)
    digest = stored.get(text_key)
    if not isinstance(digest, str) or len(digest) != 64:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        stored = _read_cache(file)  # another process may have added entries meanwhile
        stored[text_key] = digest
        _write_cache(file, stored)
    with _lock:
        _memo[key] = digest
    return digest


def _read_cache(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(file: Path, data: dict[str, Any]) -> None:
    try:
        atomic_write_text(file, json.dumps(data, indent=0, sort_keys=True))
    except (OSError, AugmentlabError):
        pass  # a read-only home: hash again next time


def _llama_cpp_version() -> str | None:
    try:
        return metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        return None


def normalize_api_base(api_base: str | None) -> str | None:
    """``api_base`` without a trailing slash (``http://h:8080/v1/`` and ``.../v1`` are one server)."""
    return api_base.rstrip("/") if api_base else None


def identity(config: LMConfig) -> dict[str, Any]:
    """Who answers for ``config`` (plain data, no secret). See the module doc."""
    if config.kind == "endpoint":
        return {"kind": "endpoint", "model": config.model, "api_base": normalize_api_base(config.api_base)}
    if config.kind == "fake":
        return {"kind": "fake", "model": config.model}
    path = Path(config.gguf) if config.gguf else llama_server.default_model_path()
    return {
        "kind": "embedded",
        "model": config.model,
        "gguf": path.name,
        "gguf_sha256": gguf_sha256(path),
        "n_ctx": config.n_ctx,
        "llama_cpp_python": _llama_cpp_version(),
    }


def keyed(ident: dict[str, Any]) -> dict[str, Any]:
    """The part of an identity that decides answers: the GGUF file's *name* is left out (the same
    bytes under another name are the same model; its content hash is kept)."""
    return {k: v for k, v in ident.items() if k != "gguf"}


def identity_digest(ident: dict[str, Any]) -> str:
    """A short stable digest of an identity (16 hex digits; see :func:`keyed`)."""
    return content_hash(keyed(ident))


def identity_label(ident: dict[str, Any]) -> str:
    """One line for headers and logs: ``embedded smollm2.gguf sha256:1a2b3c4d5e6f n_ctx=8192``."""
    if ident.get("kind") == "embedded":
        return (f"embedded {ident.get('gguf')} sha256:{str(ident.get('gguf_sha256'))[:12]} "
                f"n_ctx={ident.get('n_ctx')}")
    if ident.get("kind") == "endpoint":
        return f"{ident.get('model')} @ {ident.get('api_base') or 'provider default'}"
    return f"fake {ident.get('model')}"
