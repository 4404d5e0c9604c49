"""Which LM a run uses, how it is opened, and how its usage is counted.

* :mod:`~augmentlab.lm.config` — :class:`LMConfig`, the settings (kind ``embedded`` | ``endpoint``
  | ``fake``). A key is never stored: ``api_key_env`` names the variable that holds it.
  :mod:`~augmentlab.lm.settings` resolves one from ``augmentlab.toml``, a spec and overrides.
* :mod:`~augmentlab.lm.session` — :func:`open_session` yields an :class:`LMSession`: the DSPy LM,
  its adapter, its redactor and its prices, with usage read from it (:func:`open_lm` /
  :func:`use_lm` open the bare LM).
* :mod:`~augmentlab.lm.backends` — kind → opener; each backend registers itself:
  :mod:`~augmentlab.lm.embedded` (a local ``llama_cpp.server``, :mod:`~augmentlab.lm.llama_server`),
  :mod:`~augmentlab.lm.endpoint` (litellm), :mod:`~augmentlab.lm.fake` (the offline FakeLM).
* :mod:`~augmentlab.lm.adapters` and :mod:`~augmentlab.lm.schema` — the DSPy adapter to pair with
  the LM; for the embedded server, JSON output constrained by llama.cpp's grammar.
* :mod:`~augmentlab.lm.usage` — token usage of ``lm.history[start:]`` as a
  :class:`~augmentlab.core.model.Usage`.
* :mod:`~augmentlab.lm.identity` (who answers), :mod:`~augmentlab.lm.patches` and
  :mod:`~augmentlab.lm.speed` (process-wide DSPy patches, installed when an LM is opened).

This package imports dspy: code that only reads settings (the CLI's ``--help``) imports nothing
from it. Importing :mod:`augmentlab` first (this package does) sets the offline variables.
"""

from __future__ import annotations

import augmentlab  # noqa: F401  (offline environment first)
from augmentlab.lm import embedded, endpoint, fake  # noqa: F401  (the backends register themselves)
from augmentlab.lm.adapters import GrammarJSONAdapter, SchemaJSONAdapter, adapter_for
from augmentlab.lm.config import EMBEDDED_MODEL, FAKE_MODEL, AdapterName, LMConfig, LMKind
from augmentlab.lm.schema import (
    COMPACT_OUTPUT_HEADER,
    ITEMS_PER_LINE,
    PROSE_PATTERN,
    SENTENCE_PATTERN,
    compact_field_structure,
    output_schema,
)
from augmentlab.lm.session import LMSession, open_lm, open_session, use_lm
from augmentlab.lm.usage import usage_since

__all__ = [
    "COMPACT_OUTPUT_HEADER",
    "EMBEDDED_MODEL",
    "FAKE_MODEL",
    "ITEMS_PER_LINE",
    "PROSE_PATTERN",
    "SENTENCE_PATTERN",
    "AdapterName",
    "GrammarJSONAdapter",
    "LMConfig",
    "LMKind",
    "LMSession",
    "SchemaJSONAdapter",
    "adapter_for",
    "compact_field_structure",
    "open_lm",
    "open_session",
    "output_schema",
    "usage_since",
    "use_lm",
]
