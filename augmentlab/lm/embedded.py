"""The ``embedded`` backend: a local ``llama_cpp.server`` (:mod:`augmentlab.lm.llama_server`,
shared per process) answering as a ``dspy.LM``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from augmentlab.lm import llama_server
from augmentlab.lm.backends import register_backend
from augmentlab.lm.config import EMBEDDED_MODEL, LMConfig
import dspy


@register_backend("embedded")
@contextmanager
def open_embedded(config: LMConfig) -> Iterator[dspy.BaseLM]:
    """Start (or share) the local server for ``config`` and yield an LM talking to it; the server is
    released on exit (stopped when no one else holds it)."""
    server = llama_server.acquire(
        model_path=Path(config.gguf) if config.gguf else None,
        port=config.port,
        n_ctx=config.n_ctx,
        n_threads=config.n_threads,
        timeout=config.start_timeout,
    )
    try:
        # engine="litellm": the grammar form of response_format ({"type": "json_object",
        # "schema": ...}) has no slot in DSPy's native request, LiteLLM sends it verbatim.
        lm = dspy.LM(
            config.model or EMBEDDED_MODEL,
            api_base=server.base_url,
            api_key="local",
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            cache=config.cache,
            num_retries=config.num_retries,
            timeout=config.timeout,
            engine="litellm",
        )
        try:
            yield lm
        finally:
            lm.close()
    finally:
        llama_server.release(server)
