"""Secret redaction: the value of a named environment variable never reaches a log, a store or a trace.

:class:`Redactor` replaces the value of every environment variable it is given (an LM's
``api_key_env``) — and of any set ``*_API_KEY`` / ``*_TOKEN`` / ``*_SECRET`` / ``*_PASSWORD``
variable — with ``[REDACTED:<NAME>]``, so only the variable's *name* is ever written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_SECRET_NAME_RE = re.compile(r"(API_KEY|APIKEY|ACCESS_KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
_MIN_SECRET_LEN = 6


class Redactor:
    """Replaces secret values with ``[REDACTED:<VAR>]`` wherever they occur."""

    def __init__(self, env_names: Iterable[str] = (), *, include_common: bool = True) -> None:
        names = set(env_names)
        if include_common:
            names.update(name for name in os.environ if _SECRET_NAME_RE.search(name))
        secrets: dict[str, str] = {}
        for name in sorted(names):
            value = os.environ.get(name)
            if value and len(value) >= _MIN_SECRET_LEN:
                secrets.setdefault(value, name)
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(secrets.items(), key=lambda item: -len(item[0]))

    @property
    def active(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret, name in self._secrets:
            if secret in value:
                value = value.replace(secret, f"[REDACTED:{name}]")
        return value

    def value(self, obj: Any) -> Any:
        """``obj`` with every string inside it redacted (dicts, lists, tuples walked)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.value(k): self.value(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(v) for v in obj]
        return obj

    def file_text(self, path: Path) -> str | None:
        """The redacted text of a file, or None when it is not UTF-8 text."""
        try:
            return self.text(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            return None


__all__ = ["Redactor"]
