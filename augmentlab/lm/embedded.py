"""The ``embedded`` backend: a local ``llama_cpp.server`` (:mod:`augmentlab.lm.llama_server`,
shared per process) answering as a ``dspy.LM``.

:class:`EmbeddedLM` is that ``dspy.LM`` with one difference: a call made while (or failing
because) the server process has died raises
:class:`~augmentlab.lm.llama_server.ServerCrashed` — ``the embedded LM server crashed (SIGSEGV) on
the first request; its log: PATH`` — instead of the client's "Connection error", and the run
stops there with that line (exit 1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from augmentlab.lm import llama_server
from augmentlab.lm.backends import register_backend
from augmentlab.lm.config import EMBEDDED_MODEL, LMConfig
import dspy


def _raise_if_crashed(wait: float = 0.0) -> None:
    server = llama_server.dead(wait)
    if server is not None:
        raise server.crash_error() from None


def _answered() -> None:
    server = llama_server.running()
    if server is not None:
        server.answered += 1


class EmbeddedLM(dspy.LM):
    """A ``dspy.LM`` on the embedded server that names the server's crash (see the module doc).

    DSPy 3.4 runs every call from ``__call__``/``acall`` (its execution layer); ``forward`` is not
    overridden (a subclass that does is taken for a legacy custom LM)."""

    def _checked(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        _raise_if_crashed()
        try:
            out = call(*args, **kwargs)
        except Exception:
            _raise_if_crashed(wait=1.0)
            raise
        _answered()
        return out

    async def _achecked(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        _raise_if_crashed()
        try:
            out = await call(*args, **kwargs)
        except Exception:
            _raise_if_crashed(wait=1.0)
            raise
        _answered()
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._checked(super().__call__, *args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        return await self._achecked(super().acall, *args, **kwargs)


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
        lm = EmbeddedLM(
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
