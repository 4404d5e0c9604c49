"""Where an :class:`~augmentlab.lm.config.LMConfig` comes from: defaults, the project file, a spec's
``[lm]`` and overrides (the command line's :class:`LMOptions`), merged key by key.

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

The command-line options themselves are :mod:`augmentlab.cli.lm_options`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm.config import LMConfig

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


def lm_config_from_settings(settings: dict[str, Any], *, source: str = "") -> LMConfig:
    """An :class:`~augmentlab.lm.LMConfig` from plain settings; a bad one is one error line that
    names the flag and the key that fix it. ``source`` names where the settings came from."""
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
                      base_source: str | None = None, cwd: str | Path | None = None) -> LMConfig:
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
    "merge_lm_settings",
    "project_lm_settings",
    "resolve_lm_config",
]
