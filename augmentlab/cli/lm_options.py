"""Every :class:`~augmentlab.lm.config.LMConfig` setting on the command line.

Any command that opens an LM takes the same options (``--lm``, ``--model``, ``--api-base``,
``--max-tokens``, ``--gguf``, ``--n-ctx``, ``--temperature``...): decorate it with
:func:`lm_options` and it receives one ``lm_options: LMOptions`` argument; turn that into a
config with :func:`~augmentlab.lm.settings.resolve_lm_config` (which also reads the project file
and says where settings come from)::

    @app.command()
    @lm_options
    def check(path: Path, lm_options: LMOptions) -> None:
        config = resolve_lm_config(lm_options)

Nothing from :mod:`augmentlab.lm` is imported until a command runs, so ``--help`` stays fast
(that package imports dspy).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional

import typer

_PANEL = "LM options"


def _param(name: str, annotation: Any, option: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def _option_params() -> list[inspect.Parameter]:
    o = functools.partial(typer.Option, rich_help_panel=_PANEL)
    return [
        _param("lm_kind", Optional[str], o(None, "--lm", help="embedded, endpoint or fake (default: embedded, or kind in the \\[lm] table of augmentlab.toml).")),
        _param("lm_model", Optional[str], o(None, "--model", help="Endpoint model (litellm name), e.g. openai/gpt-4o-mini; implies --lm endpoint.")),
        _param("lm_api_base", Optional[str], o(None, "--api-base", help="Endpoint base URL, e.g. http://127.0.0.1:8080/v1; implies --lm endpoint.")),
        _param("lm_api_key_env", Optional[str], o(None, "--api-key-env", help="NAME of the variable holding the key (never the key).")),
        _param("lm_temperature", Optional[float], o(None, "--temperature", help="Sampling temperature (default 0).")),
        _param("lm_max_tokens", Optional[int], o(None, "--max-tokens", help="Most tokens one LM answer may have (default 1024).")),
        _param("lm_timeout", Optional[float], o(None, "--timeout", help="Seconds per LM request (default 120).")),
        _param("lm_num_retries", Optional[int], o(None, "--num-retries", help="LM retries on timeout/429/5xx (default 2).")),
        _param("lm_prompt_price", Optional[float], o(None, "--prompt-price", help="Price per 1k prompt tokens.")),
        _param("lm_completion_price", Optional[float], o(None, "--completion-price", help="Price per 1k completion tokens.")),
        _param("lm_cache", Optional[bool], o(None, "--cache/--no-cache", help="DSPy's response cache (default on).")),
        _param("lm_adapter", Optional[str], o(None, "--adapter", help="json-grammar (llama.cpp json_object+schema), json-schema (OpenAI json_schema: Ollama, vLLM), json or chat.")),
        _param("lm_gguf", Optional[str], o(None, "--gguf", help="Embedded: a GGUF model file instead of SmolLM2; implies --lm embedded.")),
        _param("lm_port", Optional[int], o(None, "--lm-port", help="Embedded: a fixed port for the local server.")),
        _param("lm_n_ctx", Optional[int], o(None, "--n-ctx", help="Embedded: the server's context size in tokens (default 8192).")),
        _param("lm_n_threads", Optional[int], o(None, "--n-threads", help="Embedded: CPU threads of the server (default 2).")),
        _param("lm_start_timeout", Optional[float], o(None, "--start-timeout", help="Embedded: seconds to wait for the server to start.")),
    ]


_PARAM_TO_FIELD = {
    "lm_kind": "lm", "lm_model": "model", "lm_api_base": "api_base", "lm_api_key_env": "api_key_env",
    "lm_temperature": "temperature", "lm_max_tokens": "max_tokens", "lm_timeout": "timeout",
    "lm_num_retries": "num_retries", "lm_prompt_price": "prompt_price_per_1k",
    "lm_completion_price": "completion_price_per_1k", "lm_cache": "cache", "lm_adapter": "adapter",
    "lm_gguf": "gguf", "lm_port": "port", "lm_n_ctx": "n_ctx", "lm_n_threads": "n_threads",
    "lm_start_timeout": "start_timeout",
}


def lm_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a typer command every LM option; it receives them as ``lm_options: LMOptions``.

    The command must declare a parameter ``lm_options`` (its default is ignored); the options
    are listed under "LM options" in ``--help``.
    """
    signature = inspect.signature(func, eval_str=True)
    if "lm_options" not in signature.parameters:
        raise TypeError(f"{func.__name__} needs an lm_options parameter to use @lm_options")
    own = [p for name, p in signature.parameters.items() if name != "lm_options"]
    added = _option_params()
    clash = {p.name for p in own} & {p.name for p in added}
    if clash:
        raise TypeError(f"{func.__name__}: parameters {sorted(clash)} clash with the LM options")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from augmentlab.lm.settings import LMOptions  # here, not at the top: it imports dspy

        values = {field: kwargs.pop(param, None) for param, field in _PARAM_TO_FIELD.items()}
        return func(*args, lm_options=LMOptions(**values), **kwargs)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD else p
              for p in own]
    # keyword-only parameters must follow the others; typer reads names, not positions
    wrapper.__signature__ = inspect.Signature([*params, *added])  # type: ignore[attr-defined]
    annotations = {p.name: p.annotation for p in [*params, *added] if p.annotation is not inspect.Parameter.empty}
    wrapper.__annotations__ = annotations
    del wrapper.__wrapped__  # typer must read this signature, not func's
    return wrapper


__all__ = ["lm_options"]
