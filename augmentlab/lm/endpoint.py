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


_REFUSED_TYPES = {"ConnectError", "ConnectionRefusedError", "APIConnectionError", "ConnectTimeout"}
_REFUSED_TEXT = ("connection refused", "connection error", "failed to establish a new connection",
                 "all connection attempts failed", "name or service not known")


def unreachable(exc: BaseException, config: LMConfig | None) -> str | None:
    """``cannot connect to the LM at URL (...)`` when ``exc`` (or what caused it) is a failed
    connection — nothing listens there, or the name does not resolve — else None. The URL is
    the config's ``api_base`` (or the provider's own for a hosted model)."""
    seen: set[int] = set()
    chain: BaseException | None = exc
    hit = False
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        text = str(chain).lower()
        if type(chain).__name__ in _REFUSED_TYPES or any(t in text for t in _REFUSED_TEXT):
            hit = True
            break
        chain = chain.__cause__ or chain.__context__
    if not hit:
        return None
    where = (config.api_base if config is not None and config.api_base else
             f"the provider's URL for {config.model}" if config is not None and config.model else "the LM's URL")
    return (f"cannot connect to the LM at {where} (refused, unknown host or no answer to connect: is the server "
            "running? check --api-base / api_base in [lm])")


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
