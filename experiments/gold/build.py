"""Build and check the hand-written gold set.

``handwritten.toml`` (human-editable) → ``handwritten.jsonl`` (one :class:`GoldExample` per line,
what the rest of augmentlab reads). The same rules are checked on every build, so a gold line that
drops a human word, leaves an asterisk open or runs past five scenario sentences never lands in the
JSONL.

Usage (from the repository root)::

    .venv/bin/python experiments/gold/build.py           # write handwritten.jsonl
    .venv/bin/python experiments/gold/build.py --check   # exit 1 if invalid or out of date

Source format — one ``[[scene]]`` table per example::

    [[scene]]
    heading = "The forge at first light"
    genre = "fantasy"                      # optional tags, kept in scene.metadata
    mood = "gruff, tender"
    persona_cards = "../scripts/personas.toml"   # optional: cards for speakers not given below
    scenario = "..."

    [scene.personas]
    Brenna = "..."

    [[scene.line]]
    kind = "narration"                     # optional; default "dialogue" when speaker is set
    text = "Sparks drift up from the coals."

    [[scene.line]]
    speaker = "Brenna"
    text = "You bent it again."
    annotated = "*I turn the blade in the light. I sigh.* You bent it again."

A narration line's ``annotated`` defaults to its text. ``source_line`` of every line is the line
number of its ``[[scene.line]]`` header in the TOML file.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from augmentlab.core.model import GoldExample, Line, LineKind, Scene
from augmentlab.core.text import action_text, actions, balanced_asterisks, is_verbatim, words

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "handwritten.toml"
TARGET = HERE / "handwritten.jsonl"
PROVENANCE: dict[str, Any] = {"source": "hand-written", "author": "augmentlab", "set": "handwritten-v1"}
PERSONA_FIELDS = ("name", "role", "appearance", "relationships", "manner")

MAX_SCENARIO_SENTENCES = 5
MIN_ACTION_SENTENCES = 2
MAX_ACTION_SENTENCES = 3
MIN_LINES, MAX_LINES = 4, 10
MIN_SPEAKERS, MAX_SPEAKERS = 2, 3

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+")
_LINE_HEADER = re.compile(r"^\s*\[\[\s*scene\.line\s*\]\]\s*(#.*)?$")
_QUOTES = "\"“”„«»"
_FIRST_PERSON = {"i", "i'm", "i've", "i'd", "i'll", "my", "me", "myself"}


def sentences(text: str) -> list[str]:
    """Sentences of ``text``, split after ``.``, ``!``, ``?`` or ``…`` followed by white space."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def persona_card(card: dict[str, str]) -> str:
    """One persona string from a card table (fields in :data:`PERSONA_FIELDS` order)."""
    return " ".join(card[field].strip() for field in PERSONA_FIELDS if card.get(field))


def load_cards(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        return {name: persona_card(card) for name, card in tomllib.load(handle).items()}


def build(source: Path = SOURCE) -> list[GoldExample]:
    """Parse the TOML source into gold examples (not yet validated)."""
    raw = source.read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    headers = [no for no, text in enumerate(raw.splitlines(), start=1) if _LINE_HEADER.match(text)]
    header_iter = iter(headers)
    examples: list[GoldExample] = []
    for index, entry in enumerate(data.get("scene", [])):
        lines: list[Line] = []
        annotated: list[str] = []
        for item in entry.get("line", []):
            speaker = item.get("speaker")
            kind = LineKind(item.get("kind", "dialogue" if speaker else "narration"))
            lines.append(
                Line(speaker=speaker, text=item["text"], kind=kind, source_line=next(header_iter, None))
            )
            annotated.append(item.get("annotated", item["text"]))
        metadata = {key: entry[key] for key in ("genre", "mood") if key in entry}
        scene = Scene(index=index, heading=entry.get("heading"), lines=lines, metadata=metadata).with_id()
        personas = dict(entry.get("personas", {}))
        if "persona_cards" in entry:
            cards = load_cards((source.parent / entry["persona_cards"]).resolve())
            for name in scene.speakers:
                if name not in personas and name in cards:
                    personas[name] = cards[name]
        examples.append(
            GoldExample(
                id=scene.id,
                scene=scene,
                scenario=" ".join(entry["scenario"].split()) if "scenario" in entry else None,
                annotated=annotated,
                personas=personas,
                provenance=dict(PROVENANCE),
            )
        )
    return examples


def problems(example: GoldExample) -> list[str]:
    """Every rule the example breaks, as ``"<heading>: <what>"`` strings (empty when valid)."""
    scene = example.scene
    where = scene.heading or example.id
    found: list[str] = []

    def bad(message: str) -> None:
        found.append(f"{where}: {message}")

    if example.id != scene.compute_id():
        bad("id is not scene.compute_id()")
    if not MIN_LINES <= len(scene.lines) <= MAX_LINES:
        bad(f"{len(scene.lines)} lines (want {MIN_LINES}-{MAX_LINES})")
    if not MIN_SPEAKERS <= len(scene.speakers) <= MAX_SPEAKERS:
        bad(f"{len(scene.speakers)} speakers (want {MIN_SPEAKERS}-{MAX_SPEAKERS})")
    for name in scene.speakers:
        if not example.personas.get(name, "").strip():
            bad(f"no persona for {name}")
    if not example.scenario:
        bad("no scenario")
    elif len(sentences(example.scenario)) > MAX_SCENARIO_SENTENCES:
        bad(f"scenario has {len(sentences(example.scenario))} sentences (max {MAX_SCENARIO_SENTENCES})")
    annotated = example.annotated or []
    if len(annotated) != len(scene.lines):
        bad(f"{len(annotated)} annotated lines for {len(scene.lines)} scene lines")
    for number, (line, text) in enumerate(zip(scene.lines, annotated), start=1):
        if line.text.strip()[:1] in _QUOTES or line.text.strip()[-1:] in _QUOTES:
            bad(f"line {number}: human text keeps its enclosing quotes")
        if not balanced_asterisks(text):
            bad(f"line {number}: unbalanced asterisks")
        if not is_verbatim(text, line.text):
            bad(f"line {number}: not verbatim")
        if line.kind is not LineKind.dialogue:
            continue
        if line.speaker and re.match(rf"\s*\**\s*{re.escape(line.speaker)}\s*:", text):
            bad(f"line {number}: starts with a speaker prefix")
        spans = actions(text)
        count = sum(len(sentences(span)) for span in spans)
        if not MIN_ACTION_SENTENCES <= count <= MAX_ACTION_SENTENCES:
            bad(f"line {number}: {count} action sentences (want {MIN_ACTION_SENTENCES}-{MAX_ACTION_SENTENCES})")
        if any(q in span for span in spans for q in _QUOTES):
            bad(f"line {number}: quoted speech inside an action")
        if not _FIRST_PERSON & set(words(action_text(text))):
            bad(f"line {number}: actions are not in the first person")
    return found


def check_all(examples: list[GoldExample]) -> list[str]:
    """Problems of every example plus set-level ones (duplicate ids)."""
    found = [message for example in examples for message in problems(example)]
    seen: set[str] = set()
    for example in examples:
        if example.id in seen:
            found.append(f"{example.scene.heading}: duplicate id {example.id}")
        seen.add(example.id)
    return found


def render(examples: list[GoldExample]) -> str:
    return "".join(example.model_dump_json() + "\n" for example in examples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="validate; fail if the JSONL is stale")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    examples = build(args.source)
    found = check_all(examples)
    for message in found:
        print(f"invalid: {message}", file=sys.stderr)
    if found:
        return 1
    text = render(examples)
    if args.check:
        current = args.target.read_text(encoding="utf-8") if args.target.exists() else ""
        if current != text:
            print(f"stale: {args.target} differs from {args.source}; run build.py", file=sys.stderr)
            return 1
        print(f"ok: {len(examples)} gold examples")
        return 0
    args.target.write_text(text, encoding="utf-8")
    print(f"wrote {len(examples)} gold examples to {args.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
