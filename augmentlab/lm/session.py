"""Opening an LM: :func:`open_session` yields an :class:`LMSession` — one opened LM, whole: its
config, the DSPy LM, its adapter, its redactor and its prices.

Build it once from a validated :class:`~augmentlab.lm.LMConfig` and pass it along whole::

    with open_session(config) as session, session.use():
        start = session.mark()
        program(**inputs)
        usage = session.usage_since(start)

instead of a loose trio (config, ``open_lm``'s LM, ``adapter_for``'s adapter) that each caller
pairs up again. The prices live here (from the config), not on the DSPy LM.

:func:`open_lm` opens the bare DSPy LM through the backend registered for the config's kind
(:mod:`augmentlab.lm.backends`) after installing augmentlab's DSPy patches
(:mod:`augmentlab.lm.patches`); :func:`use_lm` also enters ``dspy.context``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from augmentlab.core.model import Usage
from augmentlab.core.redact import Redactor
from augmentlab.lm import patches
from augmentlab.lm.adapters import adapter_for
from augmentlab.lm.backends import opener_for
from augmentlab.lm.config import LMConfig
from augmentlab.lm.identity import IDENTITY_ATTR, identity_digest
from augmentlab.lm.usage import usage_since
import dspy

Prices = tuple[float | None, float | None]
"""``(prompt, completion)`` price per 1k tokens; ``None`` when not configured."""


def redactor_for(config: LMConfig | None) -> Redactor:
    """The secret redactor for an LM: the key variable ``config`` names and the usual ``*_API_KEY``
    / ``*_TOKEN`` variables (an error body can echo the key: a 401 from some servers does)."""
    return Redactor([config.api_key_env] if config is not None and config.api_key_env else [])


def prices_of(config: LMConfig) -> Prices:
    """The configured prices per 1k tokens, ``(prompt, completion)``."""
    return (config.prompt_price_per_1k, config.completion_price_per_1k)


@dataclass
class LMSession:
    """An opened LM and everything that goes with it (see the module doc)."""

    config: LMConfig
    lm: dspy.BaseLM
    adapter: dspy.Adapter
    redactor: Redactor = field(default_factory=lambda: Redactor(include_common=False))

    @classmethod
    def of(cls, config: LMConfig, lm: dspy.BaseLM, adapter: dspy.Adapter | None = None) -> LMSession:
        """A session over an LM opened elsewhere (a test's ``FakeLM``), with ``config``'s adapter
        unless one is given."""
        return cls(config=config, lm=lm, adapter=adapter if adapter is not None else adapter_for(config),
                   redactor=redactor_for(config))

    @property
    def prices(self) -> Prices:
        return prices_of(self.config)

    def mark(self) -> int:
        """The LM's history position now: pass it to :meth:`usage_since` later."""
        return len(self.lm.history)

    def usage_since(self, start: int = 0) -> Usage:
        """Calls, tokens and cost of this session's LM since ``start`` (a :meth:`mark`)."""
        return usage_since(self.lm, start, prices=self.prices)

    def usage_of(self, lm: dspy.BaseLM, start: int = 0) -> Usage:
        """Usage of another LM object answering for this session — a ``copy()`` of :attr:`lm` with
        a private history — priced with this session's prices."""
        return usage_since(lm, start, prices=self.prices)

    @contextmanager
    def use(self, **overrides: Any) -> Iterator[LMSession]:
        """``dspy.context(lm=self.lm, adapter=self.adapter)``; ``overrides`` replace or add settings
        (``lm=session.lm.copy()`` for a private history)."""
        with dspy.context(**{"lm": self.lm, "adapter": self.adapter, **overrides}):
            yield self


@contextmanager
def open_lm(config: LMConfig) -> Iterator[dspy.BaseLM]:
    """Open the LM ``config`` describes; close it (and the embedded server) on exit."""
    patches.install()
    ident = identity_digest(config.identity())
    with opener_for(str(config.kind))(config) as lm:
        setattr(lm, IDENTITY_ATTR, ident)
        yield lm


@contextmanager
def use_lm(config: LMConfig) -> Iterator[dspy.BaseLM]:
    """:func:`open_lm` plus ``dspy.context(lm=..., adapter=adapter_for(config))``."""
    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        yield lm


@contextmanager
def open_session(config: LMConfig) -> Iterator[LMSession]:
    """Open the LM ``config`` describes (:func:`~augmentlab.lm.open_lm`) as an :class:`LMSession`;
    close it (and the embedded server) on exit. Does not enter ``dspy.context``: use
    :meth:`LMSession.use` for that."""
    with open_lm(config) as lm:
        yield LMSession.of(config, lm)


__all__ = ["LMSession", "Prices", "open_lm", "open_session", "prices_of", "redactor_for", "use_lm"]
