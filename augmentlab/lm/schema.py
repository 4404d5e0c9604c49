"""What a signature's output must look like: its JSON schema (the grammar the embedded server
enforces) and the few-line field description the grammar adapter puts in the prompt.

The schema is built from the signature alone — the LM layer knows no task fields; only
:data:`ITEMS_PER_LINE` ties an output list to the input whose lines it follows, and
:func:`output_schema` fixes its length to that input's line count.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import dspy
from dspy.adapters.json_adapter import _get_structured_outputs_response_format

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


def grammar_format(signature: Any, inputs: dict[str, Any], form: str = "json_object") -> dict[str, Any]:
    schema = output_schema(signature, inputs)
    if form == "json_schema":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", getattr(signature, "__name__", "output"))[:64] or "output"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    return {"type": "json_object", "schema": schema}
