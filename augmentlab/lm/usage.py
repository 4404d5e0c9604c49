"""LM usage: calls, tokens, cost and cache hits of an LM's history, as a :class:`~augmentlab.core.model.Usage`.

Prices come from the caller (an :class:`~augmentlab.lm.session.LMSession`'s config). A cache hit's
tokens are read from the cached response (:func:`augmentlab.lm.patches.keep_cached_usage` keeps
them there), so a warm re-run reports the same numbers as the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from augmentlab.core.model import Usage

if TYPE_CHECKING:
    import dspy

CACHED_USAGE_ATTR = "augmentlab_cached_usage"
"""Attribute of a cached response copy holding the usage of the call it repeats."""

def usage_since(lm: dspy.BaseLM, start: int = 0,
                prices: tuple[float | None, float | None] | None = None) -> Usage:
    """Usage of ``lm.history[start:]``: calls, tokens and cost.

    Cost uses ``prices`` (per 1k tokens, ``(prompt, completion)``: an
    :attr:`~augmentlab.lm.session.LMSession.prices`) when both are set, else the cost the
    provider reported (None when nothing is known). A cache hit counts the tokens and cost of the
    call it repeats (DSPy clears them; the cached response keeps them) and adds one to ``cached_calls``.
    """
    prices = prices or (None, None)
    usage = Usage()
    costs: list[float] = []
    for entry in lm.history[start:]:
        data = entry.get("usage") or {}
        prompt = int(data.get("prompt_tokens") or 0)
        completion = int(data.get("completion_tokens") or 0)
        cached = 0
        if not data:  # DSPy clears usage on a cache hit; the cached response still holds it
            prompt, completion = response_usage(entry.get("response"))
            cached = int(prompt + completion > 0)
        usage = usage + Usage(calls=1, prompt_tokens=prompt, completion_tokens=completion, cached_calls=cached)
        if prices[0] is not None and prices[1] is not None:
            costs.append(prompt / 1000 * prices[0] + completion / 1000 * prices[1])
        elif entry.get("cost") is not None:
            costs.append(float(entry["cost"]))
    if costs:
        usage.cost = sum(costs)
    return usage


def response_usage(response: Any) -> tuple[int, int]:
    """``(prompt, completion)`` tokens a provider response reports (0, 0 when it reports none).

    Reads DSPy's own ``Response`` (``usage.input_tokens``/``output_tokens``) and OpenAI-style
    responses, objects or dicts (``usage.prompt_tokens``/``completion_tokens``).
    """
    if response is None:
        return 0, 0
    kept = getattr(response, CACHED_USAGE_ATTR, None)  # see keep_cached_usage
    if kept:
        return kept
    return read_usage(response.get("usage") if isinstance(response, dict) else getattr(response, "usage", None))


def read_usage(data: Any) -> tuple[int, int]:
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


__all__ = ["usage_since", "response_usage", "read_usage"]
