"""A deterministic stand-in LM: no network, no model, same answer for the same prompt.

:class:`FakeLM` reads the messages a DSPy adapter sends and answers any augmentlab signature with
valid output in the adapter's format (a JSON object for the JSON adapters, ``[[ ## field ## ]]``
sections for the chat adapter):

* ``scenario`` — a short scenario built from the speakers and words of the input lines;
* ``annotated_lines`` / ``annotated_line`` — one entry per input line, the human words kept
  exactly, with ``*actions*`` around them (first or third person as the instructions ask);
* ``line_actions`` — the same actions without the words, ``{"before": ..., "after": ...}`` per line;
* ``persona`` — a short character card.
* ``speaker`` — who speaks the quotation marked ``>>>`` in a ``passage``: the cast member named
  last before it, else ``unknown`` (:mod:`augmentlab.ingest.attribute_lm`).
* ``preference`` (and its notes ``faithful``, ``fit``, ``setup``, ``craft``) — the pairwise judge
  (:mod:`metrics.pairwise`): prefers the candidate whose actions are more varied
  (:func:`action_variety`, distinct action spans over all of them), whatever order they are shown
  in — "much better" for a difference of 0.3 or more, "same" under 0.05.

Its quality depends on the prompt in small, deterministic ways, so that comparing prompt
variants or optimizing them gives different (never random) scores: instructions that name what
a scenario should cover get scenarios that cover it; annotations that see a scenario reuse its
words; demos in the prompt add a second action; an instruction asking for at least N action
sentences is followed.

It reports token usage like a real LM (about one token per word or punctuation mark) and goes
through DSPy's normal LM machinery, so history, ``n``, caching and callbacks behave as with
:class:`dspy.LM`. It is the ``fake`` backend (:func:`open_fake`): ``LMConfig(kind="fake")``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import augmentlab  # noqa: F401  (offline environment first)
from augmentlab.core.text import actions
from augmentlab.lm.backends import register_backend
from augmentlab.lm.config import FAKE_MODEL, LMConfig
from augmentlab.lm.schema import COMPACT_OUTPUT_HEADER
import dspy
from dspy.clients.engines.dummy_engine import AsyncDummyEngine, DummyEngine
from dspy.clients.execution import execute, prepare
from dspy.lm15 import Message, Response, TextPart, Usage

_FIELD_RE = re.compile(r"\[\[ ## (\w+) ## \]\]\n?(.*?)(?=\n*\[\[ ## \w+ ## \]\]|\Z)", re.S)
_JSON_ORDER_RE = re.compile(r"Respond with a JSON object in the following order of fields: (.*?)\.\s*$", re.S | re.M)
_CHAT_ORDER_RE = re.compile(r"Respond with the corresponding output fields, starting with the field (.*?)(?:\n|$)")
_NUMBERED_RE = re.compile(r"^\s*\d+[.)]\s*")
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_STOP = frozenset(
    "the a an and or but if then so to of in on at for with from by is are was were be been am i you he she "
    "it we they me him her us them my your his its our their this that these those what who how why when "
    "where not no yes do does did have has had will would can could should just oh well all there here".split()
)

# Fake-model vocabulary (what the stand-in "writes"; not prompt text).
_GESTURES = (
    ("glance at {o}", "glances at {o}"),
    ("fold my arms", "folds {p} arms"),
    ("lean closer to {o}", "leans closer to {o}"),
    ("shift my weight from foot to foot", "shifts {p} weight from foot to foot"),
    ("take a slow breath", "takes a slow breath"),
    ("tilt my head", "tilts {p} head"),
    ("rub the back of my neck", "rubs the back of {p} neck"),
    ("look down at my hands", "looks down at {p} hands"),
    ("step toward {o}", "steps toward {o}"),
    ("let out a short laugh", "lets out a short laugh"),
)
_FOLLOW_UPS = (
    ("keep my eyes on {o}", "keeps {p} eyes on {o}"),
    ("nod once", "nods once"),
    ("wait for an answer", "waits for an answer"),
    ("frown slightly", "frowns slightly"),
    ("straighten up", "straightens up"),
)


def _digest(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:8], 16)


def count_tokens(text: str) -> int:
    """Roughly one token per word or punctuation mark."""
    return len(_TOKEN_RE.findall(text))


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class _Prompt:
    """What the fake model reads out of a DSPy-formatted conversation."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.system = "\n".join(_content(m) for m in messages if m.get("role") == "system")
        users = [_content(m) for m in messages if m.get("role") == "user"]
        last = users[-1] if users else ""
        self.requirements = last[last.find("Respond with"):] if "Respond with" in last else ""
        self.last = last[: last.find("Respond with")] if "Respond with" in last else last
        self.demos = max(0, len(users) - 1)
        self.inputs = {name: value.strip() for name, value in _FIELD_RE.findall(self.last)}
        self.instructions = self.system.lower()
        self.json = "JSON object" in self.requirements or "JSON object" in self.system
        self.outputs = self._output_fields()

    def _output_fields(self) -> list[str]:
        match = _JSON_ORDER_RE.search(self.requirements)
        if match:
            return re.findall(r"`(\w+)`", match.group(1))
        if COMPACT_OUTPUT_HEADER in self.system:  # the grammar adapter names them in the system message
            block = self.system.split(COMPACT_OUTPUT_HEADER, 1)[1]
            return re.findall(r'^"(\w+)" \(', block, re.M)
        match = _CHAT_ORDER_RE.search(self.requirements)
        if match:
            return [f for f in re.findall(r"\[\[ ## (\w+) ## \]\]", match.group(1)) if f != "completed"]
        return []

    def asks(self, *words: str) -> bool:
        return any(word in self.instructions for word in words)

    @property
    def third_person(self) -> bool:
        return "third person" in self.instructions or "third-person" in self.instructions

    @property
    def min_actions(self) -> int:
        match = re.search(r"at least (one|two|three|four|\d+) (?:full )?sentences? of action", self.instructions)
        if not match:
            return 1
        word = match.group(1)
        return {"one": 1, "two": 2, "three": 3, "four": 4}.get(word, int(word) if word.isdigit() else 1)


def _cast(prompt: _Prompt) -> list[str]:
    raw = prompt.inputs.get("cast", "")
    names = []
    for part in re.split(r"[\n,;]", raw):
        name = part.strip(" -*").split(":")[0].split("(")[0].strip()
        if name:
            names.append(name)
    return names


def _split_line(text: str, cast: list[str]) -> tuple[str | None, str]:
    """``N. Speaker: words`` → (speaker, words); narration has no speaker."""
    body = _NUMBERED_RE.sub("", text, count=1).strip()
    head, sep, rest = body.partition(": ")
    if sep and (head in cast or (not cast and 0 < len(head.split()) <= 3 and not re.search(r"[.!?\"]", head))):
        return head, rest.strip()
    return None, body


def _scene_lines(prompt: _Prompt) -> list[tuple[str | None, str]]:
    cast = _cast(prompt)
    raw = prompt.inputs.get("lines") or prompt.inputs.get("line") or ""
    return [_split_line(ln, cast) for ln in raw.splitlines() if ln.strip()]


def _content_words(text: str, limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for word in re.findall(r"[A-Za-z][A-Za-z']{3,}", text):
        low = word.lower()
        if low not in _STOP:
            seen.setdefault(low, None)
    return sorted(seen, key=lambda w: (-len(w), w))[:limit]


def _speakers(lines: list[tuple[str | None, str]], prompt: _Prompt) -> list[str]:
    names: dict[str, None] = {}
    for speaker, _ in lines:
        if speaker:
            names.setdefault(speaker, None)
    for name in _cast(prompt):
        names.setdefault(name, None)
    return list(names) or ["The narrator"]


def write_scenario(prompt: _Prompt) -> str:
    lines = _scene_lines(prompt)
    speakers = _speakers(lines, prompt)
    words = _content_words(" ".join(text for _, text in lines), 4)
    who = " and ".join(speakers[:2]) if len(speakers) > 1 else speakers[0]
    topic = ", ".join(words[:2]) or "something unspoken"
    sentences = [f"{who} talk about {topic}."]
    if prompt.asks("location", "setting", "place"):
        sentences.append(f"They are in a quiet room where {words[2] if len(words) > 2 else 'nothing'} is on everyone's mind.")
    if prompt.asks("relat"):
        sentences.append(f"{speakers[0]} and {speakers[-1]} know each other well enough to be blunt.")
    if prompt.asks("emotion", "feel", "mood"):
        sentences.append(f"The mood is tense, and {speakers[0]} is uneasy.")
    if prompt.asks("goal", "want"):
        sentences.append(f"{speakers[0]} wants to settle the matter of {words[0] if words else 'the day'}.")
    if prompt.inputs.get("persona"):
        sentences.append(f"{speakers[0]} acts true to character.")
    limit = re.search(r"at most (\w+) sentences", prompt.instructions)
    if limit:
        cap = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}.get(limit.group(1))
        if cap is None and limit.group(1).isdigit():
            cap = int(limit.group(1))
        if cap:
            sentences = sentences[:cap]
    return " ".join(sentences)


def _action(index: int, table: tuple[tuple[str, str], ...], speaker: str | None, other: str, third: bool) -> str:
    first, third_form = table[index % len(table)]
    if third:
        subject = speaker or "The narrator"
        return f"{subject} {third_form.format(o=other, p='their')}."
    return f"I {first.format(o=other, p='my')}."


def annotate(speaker: str | None, text: str, prompt: _Prompt, position: int, others: list[str]) -> str:
    """One annotated line: the human words verbatim, actions in asterisks around them."""
    other = next((name for name in others if name != speaker), "the others")
    key = _digest(speaker or "", text)
    third = prompt.third_person
    before = [_action(key, _GESTURES, speaker, other, third)]
    after: list[str] = []
    wanted = prompt.min_actions + (1 if prompt.demos else 0)
    scenario_words = _content_words(prompt.inputs.get("scenario", ""), 3)
    if scenario_words:
        word = scenario_words[(key + position) % len(scenario_words)]
        before.append(f"{speaker or 'The narrator'} thinks about the {word}." if third else f"I think about the {word}.")
    while len(before) + len(after) < wanted:
        after.append(_action(key // 7 + len(after), _FOLLOW_UPS, speaker, other, third))
    result = f"*{' '.join(before)}* {text}"
    if after:
        result += f" *{' '.join(after)}*"
    return result


def _split_actions(annotated: str, text: str) -> dict[str, str]:
    """``{"before": ..., "after": ...}``: the actions around ``text`` in an annotated line."""
    head, _, tail = annotated.partition(text)
    return {"before": head.strip().strip("*").strip(), "after": tail.strip().strip("*").strip()}


def write_persona(prompt: _Prompt) -> str:
    character = prompt.inputs.get("character", "").strip() or "This character"
    lines = _scene_lines(prompt)
    own = [text for speaker, text in lines if speaker == character] or [text for _, text in lines]
    words = _content_words(" ".join(own), 3)
    traits = ", ".join(words) or "few words"
    return f"{character} speaks plainly and often about {traits}. {character} keeps feelings close."


def guess_speaker(prompt: _Prompt) -> str:
    """Who speaks the quotation marked ``>>>`` in the ``passage``: the cast member named last
    before it (the mark's own paragraph first), else ``unknown``."""
    cast = _cast(prompt)
    text = prompt.inputs.get("passage", "")
    before, mark, rest = text.partition(">>>")
    marked = rest.split("<<<", 1)[0] if mark else ""
    for chunk in (marked, before):
        found = [(m.start(), name) for name in cast for m in re.finditer(rf"\b{re.escape(name)}\b", chunk)]
        if found:
            return max(found)[1]
    return "unknown"


def action_variety(candidate: str) -> float:
    """Distinct action spans over all action spans of a rendered candidate (0 without actions)."""
    spans = [" ".join(a.lower().strip(" .!?").split()) for a in actions(candidate)]
    return len(set(spans)) / len(spans) if spans else 0.0


PAIRWISE_NOTES = ("faithful", "fit", "setup", "craft")


def judge_pair(prompt: _Prompt) -> dict[str, str]:
    """The pairwise judge's answer: notes, then the candidate with the more varied actions."""
    va = action_variety(prompt.inputs.get("candidate_a", ""))
    vb = action_variety(prompt.inputs.get("candidate_b", ""))
    diff = va - vb
    if abs(diff) < 0.05:
        preference = "same"
    else:
        preference = f"{'A' if diff > 0 else 'B'} {'much better' if abs(diff) >= 0.3 else 'better'}"
    craft = f"A varies {va:.0%} of its actions, B {vb:.0%}."
    notes = {"faithful": "Both keep to the lines.", "fit": "Both fit their speakers.",
             "setup": "Both scenarios set the scene up.", "craft": craft}
    return {**notes, "preference": preference}


def _field_value(name: str, prompt: _Prompt) -> Any:
    if "preference" in prompt.outputs and (name == "preference" or name in PAIRWISE_NOTES):
        return judge_pair(prompt)[name]
    if name == "scenario":
        return write_scenario(prompt)
    if name in ("annotated_lines", "annotated_line"):
        lines = _scene_lines(prompt)
        speakers = _speakers(lines, prompt)
        out = [annotate(speaker, text, prompt, i, speakers) for i, (speaker, text) in enumerate(lines)]
        if name == "annotated_line":
            return out[-1] if out else ""
        return out
    if name == "line_actions":
        lines = _scene_lines(prompt)
        speakers = _speakers(lines, prompt)
        return [_split_actions(annotate(speaker, text, prompt, i, speakers), text) if speaker else
                {"before": "", "after": ""} for i, (speaker, text) in enumerate(lines)]
    if name == "persona":
        return write_persona(prompt)
    if name == "speaker":
        return guess_speaker(prompt)
    if name == "reasoning":
        return "The lines set the scene."
    return f"{name}"


def answer(messages: list[dict[str, Any]]) -> str:
    """The fake model's reply to a DSPy-formatted conversation."""
    prompt = _Prompt(messages)
    values = {name: _field_value(name, prompt) for name in prompt.outputs}
    if prompt.json or not prompt.outputs:
        return json.dumps(values, ensure_ascii=False, indent=2)
    parts = []
    for name, value in values.items():
        rendered = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        parts.append(f"[[ ## {name} ## ]]\n{rendered}")
    parts.append("[[ ## completed ## ]]")
    return "\n\n".join(parts)


class _FakeEngine(DummyEngine):
    """DSPy's in-process engine shape, answering with :func:`answer`."""

    def _complete_messages(self, messages: list[dict[str, Any]]) -> Response:  # type: ignore[override]
        text = answer(messages)
        prompt_tokens = sum(count_tokens(_content(m)) for m in messages)
        completion_tokens = count_tokens(text)
        return Response(
            id=None,
            model=self.owner.model,
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens),
        )


class FakeLM(dspy.BaseLM):
    """Deterministic offline LM for tests, notebooks and dry runs (``LMConfig(kind="fake")``)."""

    def __init__(self, model: str = FAKE_MODEL, *, cache: bool = False, temperature: float = 0.0,
                 max_tokens: int = 1024, **kwargs: Any) -> None:
        super().__init__(model=model, model_type="chat", temperature=temperature, max_tokens=max_tokens,
                         cache=cache, num_retries=0, **kwargs)
        self._bind_engine()

    def _bind_engine(self) -> None:
        self._engine_spec = _FakeEngine(self)
        self._async_engine_spec = AsyncDummyEngine(self._engine_spec)

    def forward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
        return execute(self, prepare(self, prompt, messages, kwargs, direct=True)).provider_response()

    async def aforward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
        return self.forward(prompt=prompt, messages=messages, **kwargs)

    def copy(self, **kwargs: Any) -> FakeLM:
        copied = super().copy(**kwargs)
        copied._bind_engine()
        return copied  # type: ignore[return-value]

    def dump_state(self) -> dict[str, Any]:
        return {"model": self.model, "cache": self.cache}


@register_backend("fake")
@contextmanager
def open_fake(config: LMConfig) -> Iterator[dspy.BaseLM]:
    """The ``fake`` backend: a :class:`FakeLM` (nothing to start or close)."""
    yield FakeLM(model=config.model or FAKE_MODEL, cache=config.cache)
