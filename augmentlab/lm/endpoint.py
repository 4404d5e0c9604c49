"""The ``endpoint`` backend: any litellm model (OpenAI, a team server, a local llama-server,
Ollama or vLLM through ``api_base``), as a ``dspy.LM``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from augmentlab.lm.backends import register_backend
from augmentlab.lm.config import LMConfig
import dspy

LOCAL_API_KEY = "not-needed"
"""The key sent to an endpoint with an ``api_base`` and no ``api_key_env`` when the provider's own
variable (``OPENAI_API_KEY``...) is unset: local OpenAI-compatible servers need no key, but the
client refuses to send a request without one."""


def _provider_key_variable(model: str) -> str:
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    return f"{provider.upper()}_API_KEY"


@register_backend("endpoint")
@contextmanager
def open_endpoint(config: LMConfig) -> Iterator[dspy.BaseLM]:
    """A ``dspy.LM`` for ``config.model`` at ``config.api_base``, with the key ``api_key_env`` names."""
    kwargs: dict[str, Any] = {"timeout": config.timeout}
    key = config.api_key()
    if key is None and config.api_base and not os.environ.get(_provider_key_variable(config.model or "")):
        key = LOCAL_API_KEY  # a local server (llama-server, Ollama, vLLM) takes any key
    if key is not None:
        kwargs["api_key"] = key
    if config.api_base:
        kwargs["api_base"] = config.api_base
    lm = dspy.LM(
        config.model or "",
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        cache=config.cache,
        num_retries=config.num_retries,
        **kwargs,
    )
    try:
        yield lm
    finally:
        lm.close()
