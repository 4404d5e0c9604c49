"""Every :class:`~augmentlab.lm.LMConfig` setting on the command line, and the project file.

Any command that opens an LM takes the same options (``--lm``, ``--model``, ``--api-base``,
``--max-tokens``, ``--gguf``, ``--n-ctx``, ``--temperature``...): decorate it with
:func:`lm_options` and it receives one ``lm_options: LMOptions`` argument; turn that into a
config with :func:`resolve_lm_config`::

    @app.command()
    @lm_options
    def check(path: Path, lm_options: LMOptions) -> None:
        config = resolve_lm_config(lm_options)

**Where settings come from**, later ones winning, key by key:

1. the defaults of :class:`~augmentlab.lm.LMConfig` (the embedded SmolLM2);
2. the ``[lm]`` table of ``augmentlab.toml`` in the current directory (:data:`PROJECT_FILE`),
   so a user sets their endpoint once — or, for an experiment, the spec's own ``[lm]`` table
   when it has one (the spec says which model the experiment is about);
3. the command-line options.

Choosing another kind on the command line (``--lm``, or ``--model``/``--api-base`` for an
endpoint, ``--gguf`` for the embedded server) starts from that kind's defaults instead of a file
written for another kind. Server options (``--n-ctx``...) with an endpoint are an error, not a
silent switch to the embedded model. Every error names the flag and the ``[lm]`` key that fix it.
"""

from __future__ import annotations

import functools
import inspect
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from augmentlab.core.errors import AugmentlabError

PROJECT_FILE = "augmentlab.toml"
"""The optional project config file, read from the current directory (its ``[lm]`` table)."""


@dataclass
class LMOptions:
    """The LM options of one command line (``None``: not given)."""

    lm: Optional[str] = None
    model: Optional[str] = None
    api_base: Optional[str] = None
    api_key_env: Optional[str] = None
    temperature: Optional[float] = None
    max_tokens: Optional[int] = None
    timeout: Optional[float] = None
    num_retries: Optional[int] = None
    prompt_price_per_1k: Optional[float] = None
    completion_price_per_1k: Optional[float] = None
    cache: Optional[bool] = None
    adapter: Optional[str] = None
    gguf: Optional[str] = None
    port: Optional[int] = None
    n_ctx: Optional[int] = None
    n_threads: Optional[int] = None
    start_timeout: Optional[float] = None

    def given(self) -> dict[str, Any]:
        """The LMConfig settings given on the command line (``lm`` is the kind)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        if "lm" in out:
            out["kind"] = out.pop("lm")
        return out


FLAGS: dict[str, str] = {
    "kind": "--lm", "model": "--model", "api_base": "--api-base", "api_key_env": "--api-key-env",
    "temperature": "--temperature", "max_tokens": "--max-tokens", "timeout": "--timeout",
    "num_retries": "--num-retries", "prompt_price_per_1k": "--prompt-price",
    "completion_price_per_1k": "--completion-price", "cache": "--cache/--no-cache", "adapter": "--adapter",
    "gguf": "--gguf", "port": "--lm-port", "n_ctx": "--n-ctx", "n_threads": "--n-threads",
    "start_timeout": "--start-timeout",
}
"""LMConfig key → the command-line flag that sets it (error messages name both). The port is
``--lm-port``: ``--port`` is taken by ``augmentlab ui``."""

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


# -- the project file ----------------------------------------------------------------------------


def project_file(cwd: str | Path | None = None) -> Path | None:
    """``augmentlab.toml`` in ``cwd`` (default: the current directory), if there is one."""
    path = Path(cwd or Path.cwd()) / PROJECT_FILE
    return path if path.is_file() else None


def project_lm_settings(cwd: str | Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """The ``[lm]`` table of the project file (``{}`` when there is none) and the file's path."""
    path = project_file(cwd)
    if path is None:
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AugmentlabError(f"cannot read {path}: {exc}") from None
    table = data.get("lm", {})
    if not isinstance(table, dict):
        raise AugmentlabError(f"{path}: lm must be a table ([lm] with keys such as kind, model, api_base)")
    return dict(table), path


# -- resolution ----------------------------------------------------------------------------------


def _implied_kind(given: dict[str, Any]) -> str | None:
    if "kind" in given:
        return str(given["kind"])
    if "model" in given or "api_base" in given:
        return "endpoint"
    if "gguf" in given:
        return "embedded"
    return None


_EMBEDDED_ONLY = ("n_ctx", "n_threads", "port", "start_timeout")


def merge_lm_settings(base: dict[str, Any], options: LMOptions | None) -> dict[str, Any]:
    """``base`` (a file's ``[lm]`` table) overridden by the command line (see the module doc)."""
    given = options.given() if options is not None else {}
    kind = _implied_kind(given)
    base_kind = str(base.get("kind", "embedded"))
    if kind is not None and kind != base_kind:
        settings: dict[str, Any] = {}  # another kind: the file's settings were for its own kind
        for shared in ("temperature", "max_tokens", "timeout", "num_retries", "cache"):
            if shared in base:
                settings[shared] = base[shared]
    else:
        settings = dict(base)
    settings.update(given)
    if kind is not None:
        settings["kind"] = kind
    final = settings.get("kind", "embedded")
    stray = [k for k in _EMBEDDED_ONLY if k in given] if final != "embedded" else []
    if stray:
        raise AugmentlabError(
            f"{FLAGS[stray[0]]} applies to the embedded LM only, but the LM is {final} "
            f"(add --lm embedded, or drop {FLAGS[stray[0]]})"
        )
    return settings


def lm_config_from_settings(settings: dict[str, Any], *, source: str = "") -> Any:
    """An :class:`~augmentlab.lm.LMConfig` from plain settings; a bad one is one error line that
    names the flag and the key that fix it. ``source`` names where the settings came from."""
    from pydantic import ValidationError

    from augmentlab.lm import LMConfig

    kind = settings.get("kind", "embedded")
    if kind not in ("embedded", "endpoint", "fake"):
        raise AugmentlabError(
            f"unknown --lm {kind!r}: use embedded, endpoint or fake (or kind in [lm]{_where(source)})"
        )
    try:
        return LMConfig(**settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(x) for x in first.get("loc", ()) if str(x)]
        key = loc[0] if loc else ""
        message = str(first.get("msg", exc)).removeprefix("Value error, ")
        if key and first.get("type") == "extra_forbidden":
            known = ", ".join(sorted(FLAGS))
            raise AugmentlabError(f"unknown LM setting {key!r} in [lm]{_where(source)} (known: {known})") from None
        if key in FLAGS:
            value = settings.get(key)
            raise AugmentlabError(
                f"bad LM setting {key} = {value!r}: {message} (fix {FLAGS[key]} or {key} in [lm]{_where(source)})"
            ) from None
        raise AugmentlabError(f"bad LM settings: {message}") from None


def _where(source: str) -> str:
    return f" of {source}" if source else f" of {PROJECT_FILE}"


def resolve_lm_config(options: LMOptions | None = None, *, base: dict[str, Any] | None = None,
                      base_source: str | None = None, cwd: str | Path | None = None) -> Any:
    """The LMConfig of a command: defaults, then ``base`` (e.g. a spec's ``[lm]``) or else the
    project file's ``[lm]``, then the command-line ``options``."""
    if base is None:
        base, path = project_lm_settings(cwd)
        source = str(path) if path is not None else ""
    else:
        source = base_source or ""
    return lm_config_from_settings(merge_lm_settings(base, options), source=source)


def apply_to_spec(spec: Any, options: LMOptions | None, *, source: str = "", cwd: str | Path | None = None) -> Any:
    """An experiment spec with its main ``lm`` config resolved: the spec's own ``[lm]`` when it has
    one (else the project file's), overridden by the command-line ``options``. Checked here, so a
    bad value is one line naming the flag and key."""
    if "lm" in getattr(spec, "model_fields_set", ()):
        base, where = spec.lm.model_dump(exclude_unset=True), source
    else:
        base, path = project_lm_settings(cwd)
        where = str(path) if path is not None else ""
    spec.lm = lm_config_from_settings(merge_lm_settings(base, options), source=where)
    return spec


__all__ = [
    "apply_to_spec",
    "FLAGS",
    "LMOptions",
    "PROJECT_FILE",
    "lm_config_from_settings",
    "lm_options",
    "merge_lm_settings",
    "project_lm_settings",
    "resolve_lm_config",
]
