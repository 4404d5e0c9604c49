"""Process-wide patches of DSPy that augmentlab relies on, installed once by :func:`install`
(when an LM is opened). None changes what is sent to a model:

* :func:`memoize_dspy_model_info` — DSPy's model-metadata look-up, cached (speed);
* :func:`keep_cached_usage` — a cache hit keeps the usage of the call it repeats (usage counting);
* :func:`install_identity_cache_key` — the LM's identity joins DSPy's cache key (no cached answer
  of one model is handed out for another);
* :mod:`augmentlab.lm.speed` — schema and validator caches per call;
* DSPy's "response was truncated" warning is dropped (augmentlab reports cut-off replies itself).
"""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any

from augmentlab.lm import speed
from augmentlab.lm.identity import IDENTITY_ATTR
from augmentlab.lm.usage import CACHED_USAGE_ATTR, read_usage
from dspy.clients import cache as cache_module
from dspy.clients import capabilities, costs, execution, model_metadata


def install() -> None:
    """Install every patch (idempotent, process-wide)."""
    memoize_dspy_model_info()
    keep_cached_usage()
    install_identity_cache_key()
    speed.install()
    logging.getLogger("dspy.clients.lm").addFilter(_TRUNCATION_FILTER)  # idempotent


def memoize_dspy_model_info() -> None:
    """Cache DSPy's model-metadata look-up (process-wide, same answers).

    DSPy 3.4 looks the model up in its bundled metadata map three times per LM call (engine
    choice and cost estimate); for a model it does not know — every local or custom endpoint —
    each look-up scans the whole map (~3 ms), which capped concurrent throughput on a 2-core
    machine. The map is a fixed offline snapshot (augmentlab sets the offline variables), so the
    answer per ``(provider, model, namespaces)`` never changes; a deep copy is returned as before.
    """
    original = model_metadata.model_info
    if getattr(original, "_augmentlab_cached", False):
        return

    @functools.lru_cache(maxsize=512)
    def cached(provider: Any, model: Any, namespaces: tuple[Any, ...] | None) -> dict[str, Any]:
        return original(provider, model, namespaces=namespaces)

    def model_info(provider: Any, model: Any, *, namespaces: Any = None) -> dict[str, Any]:
        try:
            key = tuple(namespaces) if namespaces is not None else None
            return copy.deepcopy(cached(provider, model, key))
        except TypeError:  # unhashable arguments: no cache
            return original(provider, model, namespaces=namespaces)

    model_info._augmentlab_cached = True  # type: ignore[attr-defined]
    for module in (model_metadata, costs, capabilities):
        if getattr(module, "model_info", None) is original:
            module.model_info = model_info  # type: ignore[attr-defined]


def keep_cached_usage() -> None:
    """Keep the usage of a cached LM response where :func:`usage_since` can read it (process-wide).

    On a cache hit DSPy 3.4 hands out a copy of the stored response with ``usage`` cleared (no
    tokens were spent). For DSPy's own response type the numbers survive elsewhere in the copy;
    for LiteLLM responses (the embedded server and most endpoints) they are gone. This wraps the
    cache's copy step to stamp the stored usage on the copy as ``augmentlab_cached_usage``, so a
    warm re-run reports the same tokens per example as the first run (counted as cached calls).
    """
    cls = getattr(cache_module, "Cache", None)
    original = getattr(cls, "_prepare_cached_response", None)
    if original is None or getattr(original, "_augmentlab_keeps_usage", False):
        return

    def prepare(self: Any, response: Any) -> Any:
        usage = response.get("usage") if isinstance(response, dict) else getattr(response, "usage", None)
        prepared = original(self, response)
        prompt, completion = read_usage(usage)
        if prompt + completion > 0 and not isinstance(prepared, dict):
            try:
                object.__setattr__(prepared, CACHED_USAGE_ATTR, (prompt, completion))
            except (AttributeError, TypeError):  # a response type that takes no attributes
                pass
        return prepared

    prepare._augmentlab_keeps_usage = True  # type: ignore[attr-defined]
    cls._prepare_cached_response = prepare  # type: ignore[union-attr]


class _TruncationNoticeFilter(logging.Filter):
    """Drops DSPy's "LM response was truncated ... dspy.inspect_history()" warning.

    augmentlab checks ``finish_reason`` itself (:func:`prompts.programs.augment_scene`): a cut-off
    reply is retried and, if it stays cut off, recorded as a failure whose reason says to raise
    ``max_tokens``. DSPy's advice (inspect the history, raise the temperature) is for its own
    API and only cluttered the progress display.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("LM response was truncated")


_TRUNCATION_FILTER = _TruncationNoticeFilter()


def install_identity_cache_key() -> None:
    """Add an opened LM's identity digest to DSPy's response-cache key (process-wide, idempotent).

    DSPy 3.4 keys its cache on the request minus ``api_key``/``api_base``/``base_url``
    (``dspy.clients.execution.PreparedCall.key``). An LM opened by :func:`augmentlab.lm.open_lm`
    carries ``augmentlab_identity``; this wraps the key function to include it, so two servers
    or two GGUF files behind one model name never share cached answers. LMs without the attribute
    (opened by hand) keep DSPy's key unchanged. Nothing is sent to the server.
    """
    cls = getattr(execution, "PreparedCall", None)
    original = getattr(cls, "key", None)
    if original is None or getattr(original, "_augmentlab_identity", False):
        return

    def key(self: Any, lm: Any, asynchronous: Any) -> Any:
        value = original(self, lm, asynchronous)
        ident = getattr(lm, IDENTITY_ATTR, None)
        if ident and isinstance(value, dict):
            value = {**value, "_augmentlab_lm": ident}
        return value

    key._augmentlab_identity = True  # type: ignore[attr-defined]
    cls.key = key  # type: ignore[union-attr]
