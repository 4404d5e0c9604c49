"""The DSPy adapters augmentlab pairs with an LM, and :func:`adapter_for` to pick one from a config.

* :class:`GrammarJSONAdapter` — llama.cpp's ``json_object`` + ``schema`` (the embedded server's
  grammar) with a compact prompt (:func:`~augmentlab.lm.schema.compact_field_structure`);
* :class:`SchemaJSONAdapter` — the same, sending OpenAI's ``json_schema`` form;
* DSPy's own ``JSONAdapter`` and ``ChatAdapter``.
"""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING, Any

from augmentlab.lm.schema import compact_field_structure, grammar_format, output_schema
import dspy
from dspy.adapters.utils import serialize_for_json
from dspy.clients.capabilities import with_capability_planning

if TYPE_CHECKING:
    from augmentlab.lm.config import LMConfig


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
        lm_kwargs = {**lm_kwargs, "response_format": grammar_format(signature, inputs, self.response_form)}
        return dspy.ChatAdapter.__call__(self, lm, lm_kwargs, signature, demos, inputs)

    @with_capability_planning
    async def acall(self, lm, lm_kwargs, signature, demos, inputs):  # type: ignore[override]
        lm_kwargs = {**lm_kwargs, "response_format": grammar_format(signature, inputs, self.response_form)}
        return await dspy.ChatAdapter.acall(self, lm, lm_kwargs, signature, demos, inputs)

class SchemaJSONAdapter(GrammarJSONAdapter):
    """:class:`GrammarJSONAdapter` sending OpenAI's structured-output form,
    ``{"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}``, always (for servers
    that constrain output to a schema that way: Ollama, vLLM, llama-server). DSPy's own JSONAdapter
    sends no schema to a model it does not know (every local one), so output is unconstrained."""

    response_form = "json_schema"


def adapter_for(config: LMConfig) -> dspy.Adapter:
    """The DSPy adapter to use with an LM opened from ``config``."""
    if config.adapter == "json-grammar":
        return GrammarJSONAdapter()
    if config.adapter == "json-schema":
        return SchemaJSONAdapter()
    if config.adapter == "json":
        return dspy.JSONAdapter()
    return dspy.ChatAdapter()


__all__ = ["GrammarJSONAdapter", "SchemaJSONAdapter", "adapter_for"]
