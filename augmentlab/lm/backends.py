"""The backend registry: an LM kind (``embedded``, ``endpoint``, ``fake``) → the function that opens it.

A backend module registers its opener with :func:`register_backend`; :func:`augmentlab.lm.open_lm`
looks the config's kind up here and knows no backend by name (a fake LM is just another backend)::

    @register_backend("fake")
    @contextmanager
    def open_fake(config: LMConfig) -> Iterator[dspy.BaseLM]:
        yield FakeLM(...)

An opener yields a configured ``dspy.BaseLM`` and closes what it started on exit.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm.config import LMConfig

Opener = Callable[[LMConfig], AbstractContextManager[Any]]
"""Opens the LM a config describes: a context manager yielding a ``dspy.BaseLM``."""

_BACKENDS: dict[str, Opener] = {}


def register_backend(kind: str) -> Callable[[Opener], Opener]:
    """Register the decorated opener for ``kind`` (one opener per kind)."""

    def register(opener: Opener) -> Opener:
        if _BACKENDS.get(kind, opener) is not opener:
            raise ValueError(f"an LM backend for {kind!r} is already registered")
        _BACKENDS[kind] = opener
        return opener

    return register


def opener_for(kind: str) -> Opener:
    """The opener registered for ``kind``."""
    try:
        return _BACKENDS[kind]
    except KeyError:
        known = ", ".join(sorted(_BACKENDS)) or "none"
        raise AugmentlabError(f"no LM backend for kind {kind!r} (known: {known})") from None


def backend_kinds() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_BACKENDS)


__all__ = ["Opener", "backend_kinds", "opener_for", "register_backend"]
