"""LM-assisted speaker attribution: a separate pass over ingested prose (ingest stays LM-free).

The rules of :mod:`augmentlab.ingest.attribution` leave a quotation they cannot resolve, or
whose speaker they found on evidence below the confidence threshold (``metadata["guess"]``), with
``speaker=None`` and ``metadata["attribution"] == "uncertain"``. :func:`attribute_scenes` sends
each such quotation to the LM of an :class:`~augmentlab.lm.LMSession` with the cast list and the surrounding paragraphs (``window`` either side, across scene
boundaries); the answer is constrained to a cast name or ``"unknown"`` (a ``Literal`` output:
an enum in the JSON schema / grammar) and validated again (case, punctuation and aliases
ignored). Then:

* a cast member: ``speaker`` is set, ``metadata["attribution"] = "lm"``,
  ``metadata["lm_answer"]`` holds the answer, the rules' reason moves to ``metadata["rules_why"]``;
* ``"unknown"``, an answer outside the cast, or an LM error: the line stays uncertain;
  ``metadata["lm_answer"]`` records the answer and ``why`` says what happened.

Calls go through DSPy's cache (model name + messages), so a re-run — after an interruption
too — makes no new calls for the quotations already asked; :class:`LMAttributionReport` counts
calls, cached calls, tokens and cost (:meth:`augmentlab.lm.LMSession.usage_since`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dspy
from dspy.utils.exceptions import AdapterParseError
from pydantic import ValidationError

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import write_jsonl
from augmentlab.core.model import Character, Line, LineKind, Scene, Usage
from augmentlab.lm import LMConfig, LMSession, open_session

UNKNOWN = "unknown"
WINDOW = 4
"""Paragraphs (ingested lines) shown either side of the quotation."""
MAX_PARAGRAPH = 1500
"""Characters kept of each neighbouring paragraph (its middle is elided): bounds the prompt."""
LM_RULE = "lm"
UNCERTAIN = "uncertain"

INSTRUCTIONS = (
    "You are given a passage of a novel and a list of its characters. One quotation in the "
    "passage is marked with >>> and <<<. Say who speaks the marked quotation. Paragraphs "
    "starting with [Name] were already attributed to that character; [?] means unknown. "
    f'Answer with one name exactly as written in the cast list, or "{UNKNOWN}" if the passage '
    "does not make the speaker clear. Do not guess."
)


def name_key(name: str) -> str:
    """A name compared without case, punctuation or spacing differences."""
    return re.sub(r"[^\w ]", "", name.replace("\u2019", "'").lower()).strip()


class CastIndex:
    """Cast names (with aliases) and the look-up of an answer among them."""

    def __init__(self, cast: Iterable[Character | str]) -> None:
        self.names: list[str] = []
        self._keys: dict[str, str] = {}
        for member in cast:
            name, aliases = (member, []) if isinstance(member, str) else (member.name, member.aliases)
            name = name.strip()
            if not name or name_key(name) in self._keys or name_key(name) == UNKNOWN:
                continue
            self.names.append(name)
            for key in (name, *aliases):
                self._keys.setdefault(name_key(key), name)

    def match(self, answer: str) -> str | None:
        """The cast member ``answer`` names (None for ``unknown`` or a name outside the cast)."""
        return self._keys.get(name_key(answer))


def speaker_signature(names: list[str]) -> Any:
    """A DSPy signature whose ``speaker`` output is a ``Literal`` of the cast names + ``unknown``."""
    choices = Literal.__getitem__(tuple(names) + (UNKNOWN,))  # type: ignore[attr-defined]
    return dspy.make_signature(
        {
            "cast": (str, dspy.InputField(desc="the characters, one per line")),
            "passage": (str, dspy.InputField(desc="the paragraphs around the quotation")),
            "quotation": (str, dspy.InputField(desc="the quotation to attribute")),
            "speaker": (choices, dspy.OutputField(desc=f'a name from the cast, or "{UNKNOWN}"')),
        },
        INSTRUCTIONS,
        signature_name="AttributeSpeaker",
    )


def render_paragraph(line: Line) -> str:
    """A line as its paragraph: the quoted words with the narration (directions) where it stood."""
    if line.kind is not LineKind.dialogue:
        return line.text
    text = line.text
    offsets = line.metadata.get("direction_at") or []
    if not line.directions:
        return f"\u201c{text}\u201d"
    if len(offsets) != len(line.directions):
        return " ".join(line.directions) + f" \u201c{text}\u201d"
    pieces: list[str] = []
    at = 0
    for direction, offset in sorted(zip(line.directions, offsets), key=lambda p: p[1]):
        offset = max(at, min(int(offset), len(text)))
        if offset > at:
            pieces.append(f"\u201c{text[at:offset].strip()}\u201d")
        pieces.append(direction)
        at = offset
    if at < len(text):
        pieces.append(f"\u201c{text[at:].strip()}\u201d")
    return " ".join(pieces)


def passage(lines: list[Line], index: int, window: int = WINDOW) -> str:
    """The paragraphs ``window`` either side of ``lines[index]``, that one marked ``>>> <<<``."""
    out = []
    for i in range(max(0, index - window), min(len(lines), index + window + 1)):
        line = lines[i]
        body = render_paragraph(line)
        if i != index and len(body) > MAX_PARAGRAPH:
            half = MAX_PARAGRAPH // 2
            body = f"{body[:half]} [...] {body[-half:]}"
        if i == index:
            out.append(f">>> {body} <<<")
        elif line.kind is LineKind.dialogue:
            out.append(f"[{line.speaker or '?'}] {body}")
        else:
            out.append(body)
    return "\n\n".join(out)


def is_uncertain(line: Line) -> bool:
    return line.kind is LineKind.dialogue and not line.speaker and line.metadata.get("attribution") == UNCERTAIN


@dataclass
class LMAttributionReport:
    """What an LM attribution pass did."""

    uncertain: int = 0
    """Uncertain quotations found."""
    asked: int = 0
    attributed: int = 0
    unknown: int = 0
    """The LM answered ``unknown``."""
    invalid: int = 0
    """The LM answered a name outside the cast (left uncertain)."""
    errors: int = 0
    """The call failed (left uncertain)."""
    usage: Usage = field(default_factory=Usage)
    error_examples: list[str] = field(default_factory=list)

    @property
    def new_calls(self) -> int:
        return self.usage.calls - self.usage.cached_calls

    def summary(self) -> str:
        u = self.usage
        cost = f", ${u.cost:.4f}" if u.cost is not None else ""
        return (
            f"LM attribution: {self.uncertain} uncertain quotations, {self.asked} asked: {self.attributed} attributed, "
            f"{self.unknown} unknown, {self.invalid} outside the cast, {self.errors} errors; "
            f"{u.calls} calls ({u.cached_calls} from the DSPy cache), {u.prompt_tokens:,}+{u.completion_tokens:,} tokens{cost}"
        )


def _raw_answer(response: str) -> str:
    """The ``speaker`` value of a reply the adapter refused (JSON or ``[[ ## speaker ## ]]``)."""
    try:
        data = json.loads(response, strict=False)
        if isinstance(data, dict) and isinstance(data.get("speaker"), str):
            return data["speaker"]
    except ValueError:
        pass
    match = re.search(r"\[\[ ## speaker ## \]\]\s*(.+)", response)
    if match:
        return match.group(1).strip()
    match = re.search(r'"speaker"\s*:\s*"([^"]*)"', response)
    return match.group(1) if match else response.strip()[:80]


def attribute_scenes(
    scenes: list[Scene],
    cast: Iterable[Character | str],
    session: LMSession,
    *,
    window: int = WINDOW,
    limit: int | None = None,
    sample: int | None = None,
) -> LMAttributionReport:
    """Ask the LM of ``session`` about every uncertain quotation of ``scenes``.

    Its usage is counted from the session. Lines are updated in place (scene context
    copies too) and the ids of changed scenes recomputed. ``limit`` asks about the first N only;
    ``sample`` about N spread evenly over the whole text (a measurement's sample of a book).
    """
    index = CastIndex(cast)
    if not index.names:
        raise AugmentlabError("no cast to attribute speakers from (no named speaker in the scenes and no --cast)")
    predict = dspy.Predict(speaker_signature(index.names))
    cast_text = "\n".join(index.names)
    lines = [line for scene in scenes for line in scene.lines]
    report = LMAttributionReport()
    start = session.mark()
    decided: dict[tuple[int | None, str], Line] = {}
    chosen: set[int] | None = None
    if sample is not None:
        uncertain = [i for i, line in enumerate(lines) if is_uncertain(line)]
        step = len(uncertain) / sample if sample > 0 else 0
        chosen = {uncertain[int((k + 0.5) * step)] for k in range(min(sample, len(uncertain)))}
    for i, line in enumerate(lines):
        if not is_uncertain(line):
            continue
        report.uncertain += 1
        if (limit is not None and report.asked >= limit) or (chosen is not None and i not in chosen):
            continue
        report.asked += 1
        why = line.metadata.get("why", "")
        try:
            with session.use():
                answer = str(predict(cast=cast_text, passage=passage(lines, i, window), quotation=line.text).speaker)
        except AdapterParseError as exc:
            answer = _raw_answer(str(exc.lm_response or ""))
        except Exception as exc:  # an LM or network error: leave the line as the rules left it
            report.errors += 1
            if len(report.error_examples) < 3:
                report.error_examples.append(f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
            continue
        line.metadata["lm_answer"] = answer
        name = index.match(answer)
        if name_key(answer) == UNKNOWN:
            report.unknown += 1
            line.metadata["why"] = f"{why}; the LM said unknown".lstrip("; ")
        elif name is None:
            report.invalid += 1
            line.metadata["why"] = f"{why}; the LM answered {answer!r}, not a cast member".lstrip("; ")
        else:
            report.attributed += 1
            line.speaker = name
            line.metadata["attribution"] = LM_RULE
            line.metadata.pop("why", None)
            if why:
                line.metadata["rules_why"] = why
        decided[(line.source_line, line.text)] = line
    for scene in scenes:
        changed = False
        for j, ctx in enumerate(scene.context):
            done = decided.get((ctx.source_line, ctx.text))
            if done is not None and is_uncertain(ctx):
                scene.context[j] = done.model_copy(deep=True)
        for line in scene.lines:
            changed = changed or (line.metadata.get("attribution") == LM_RULE and (line.source_line, line.text) in decided)
        if changed and scene.id:
            scene.id = scene.compute_id()
    report.usage = session.usage_since(start)
    return report


def cast_from_scenes(scenes: list[Scene]) -> list[str]:
    """The speakers named in ``scenes``, most lines first."""
    counts: dict[str, int] = {}
    for scene in scenes:
        for line in scene.lines:
            if line.speaker:
                counts[line.speaker] = counts.get(line.speaker, 0) + 1
    return sorted(counts, key=lambda n: (-counts[n], n))


def read_scenes(path: Path) -> list[Scene]:
    """Scenes of a JSONL file (one :class:`Scene` per line); a bad line is a one-line error."""
    if not path.is_file():
        raise AugmentlabError(f"scenes file not found: {path}")
    scenes = []
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                scenes.append(Scene.model_validate_json(raw))
            except ValidationError as exc:
                first = exc.errors()[0]
                raise AugmentlabError(f"{path}:{number}: not a scene ({first.get('msg', 'invalid')})") from None
    return scenes


def attribute_file(
    source: Path,
    out: Path,
    config: LMConfig,
    *,
    cast: list[str] | None = None,
    window: int = WINDOW,
    limit: int | None = None,
) -> LMAttributionReport:
    """Scenes JSONL ``source`` → ``out`` with the uncertain quotations sent to the LM of ``config``.

    The cast is ``cast`` when given, else every speaker the scenes name. Written atomically; a
    re-run is answered from the DSPy cache for every quotation already asked.
    """
    scenes = read_scenes(source)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise AugmentlabError(f"output folder does not exist: {parent}")
    if out.is_dir():
        raise AugmentlabError(f"output {out} is a directory")
    names = cast or cast_from_scenes(scenes)
    with open_session(config) as session:
        report = attribute_scenes(scenes, names, session, window=window, limit=limit)
    write_jsonl(out, scenes, create_parent=False)
    return report
