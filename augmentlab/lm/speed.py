"""Per-call work DSPy repeats on every LM call, done once (process-wide, idempotent).

Profiled on augment's scene loop (``benchmarks/bench_augment.py``, stub server, JSON adapter):
about a third of the CPU time per scene went into building the same JSON schemas and pydantic
``TypeAdapter`` objects again for every call — the output field types of a signature never
change, so neither do their schemas and validators. On a 2-core machine that per-call work is what
kept augment's loop below the raw client at high concurrency. :func:`install` caches:

* ``dspy.adapters.utils._get_json_schema(field_type)`` — the JSON schema of a field type, written
  into every JSON-adapter system message (a deep copy is returned, as a fresh one was before);
* ``TypeAdapter(annotation)`` as used by ``dspy.adapters.utils`` (parsing output values and
  serialising inputs) — one adapter per type; pydantic adapters are immutable and thread-safe;
* the transport's proxy look-up, which scanned the whole environment per request
  (:func:`_cache_proxy_lookup`).


Unhashable types fall through to the original code. Nothing about the requests changes: the
tests compare prompts and parsed outputs with and without the caches.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_installed = False
_lock = threading.Lock()


def install() -> None:
    """Install the caches (see the module doc); safe to call many times and from many threads."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        from dspy.adapters import utils

        original_schema = utils._get_json_schema
        if not getattr(original_schema, "_augmentlab_cached", False):
            schema_cache = functools.lru_cache(maxsize=1024)(original_schema)

            def _get_json_schema(field_type: Any) -> Any:
                try:
                    return copy.deepcopy(schema_cache(field_type))
                except TypeError:  # unhashable type
                    return original_schema(field_type)

            _get_json_schema._augmentlab_cached = True  # type: ignore[attr-defined]
            utils._get_json_schema = _get_json_schema

        original_adapter = utils.TypeAdapter
        if not getattr(original_adapter, "_augmentlab_cached", False):
            adapter_cache = functools.lru_cache(maxsize=1024)(original_adapter)

            def type_adapter(annotation: Any, *args: Any, **kwargs: Any) -> Any:
                if args or kwargs:
                    return original_adapter(annotation, *args, **kwargs)
                try:
                    return adapter_cache(annotation)
                except TypeError:  # unhashable annotation
                    return original_adapter(annotation)

            type_adapter._augmentlab_cached = True  # type: ignore[attr-defined]
            utils.TypeAdapter = type_adapter  # type: ignore[assignment]
        _cache_proxy_lookup()
        _installed = True


_PROXY_VARIABLES = tuple(f"{name}{suffix}" for suffix in ("_proxy", "_PROXY")
                         for name in ("http", "https", "all", "no", "HTTP", "HTTPS", "ALL", "NO"))
"""The variables ``urllib.request.getproxies`` and ``proxy_bypass`` read (both spellings)."""


def _cache_proxy_lookup() -> None:
    """DSPy's transport (lm15) looks up proxies per request with ``urllib.request.getproxies()``,
    which scans the whole environment (~0.3 ms per call, more on a busy machine). Cache the
    answer per target, keyed by the values of the proxy variables themselves, so setting or
    clearing ``HTTPS_PROXY``/``NO_PROXY`` still takes effect on the next request."""
    import os

    from dspy._vendor.lm15.transports import _async, _proxy, _sync

    original = _proxy.proxy_route_for
    if getattr(original, "_augmentlab_cached", False):
        return
    cache: dict[tuple[Any, ...], Any] = {}

    def proxy_route_for(parsed: Any, *, proxy: str | None, trust_env: bool) -> Any:
        if proxy is not None or not trust_env:
            return original(parsed, proxy=proxy, trust_env=trust_env)
        env = os.environ
        key = (parsed.scheme, parsed.host, tuple(env.get(name) for name in _PROXY_VARIABLES))
        try:
            return cache[key]
        except KeyError:
            pass
        route = original(parsed, proxy=proxy, trust_env=trust_env)
        if len(cache) > 256:
            cache.clear()
        cache[key] = route
        return route

    proxy_route_for._augmentlab_cached = True  # type: ignore[attr-defined]
    for module in (_proxy, _sync, _async):
        if getattr(module, "proxy_route_for", None) is original:
            module.proxy_route_for = proxy_route_for  # type: ignore[attr-defined]
