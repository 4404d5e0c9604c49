"""Persona cards: read from the user's file, or written by ``PersonaWriter`` for the main characters.

Generated cards are stored like scenes (keyed by the writer, the LM and the character's lines),
so a re-run reuses them; each scene is shown the cards of its speakers.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from augmentlab.augment.program import program_fingerprint
from augmentlab.augment.results import AugmentReport, Failure
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import LineKind, Script
from augmentlab.store import ResultStore, work_key
from prompts.data import neutralize_markers
from prompts.programs import PersonaWriter

if TYPE_CHECKING:
    from augmentlab.augment.runner import SceneRunner

MAIN_CHARACTER_MIN_LINES = 3
MAIN_CHARACTER_MIN_SHARE = 0.05
MAX_MAIN_CHARACTERS = 8
PERSONA_SAMPLE_LINES = 60


def read_persona_file(path: str | Path) -> dict[str, str]:
    """A persona file (TOML or JSON): ``{name: card}`` or ``{name: {persona = card}}``."""
    path = Path(path)
    if not path.is_file():
        raise AugmentlabError(f"persona file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise AugmentlabError(f"cannot read persona file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise AugmentlabError(f"persona file {path} must map character names to persona cards")
    out: dict[str, str] = {}
    for name, value in data.items():
        card = value.get("persona") or value.get("card") or value.get("description") if isinstance(value, dict) else value
        if not isinstance(card, str) or not card.strip():
            raise AugmentlabError(f"persona file {path}: no persona text for {name!r}")
        out[str(name)] = card.strip()
    return out


def main_characters(scripts: Sequence[Script]) -> list[str]:
    """Speakers with at least :data:`MAIN_CHARACTER_MIN_LINES` lines and
    :data:`MAIN_CHARACTER_MIN_SHARE` of all dialogue, most lines first (at most
    :data:`MAX_MAIN_CHARACTERS`)."""
    counts: Counter[str] = Counter(
        line.speaker for script in scripts for line in script.lines if line.speaker and line.kind == LineKind.dialogue
    )
    total = sum(counts.values())
    keep = [
        name for name, n in counts.most_common()
        if n >= MAIN_CHARACTER_MIN_LINES and n >= MAIN_CHARACTER_MIN_SHARE * total
    ]
    return keep[:MAX_MAIN_CHARACTERS]


def missing_characters(scripts: Sequence[Script], cards: dict[str, str], write: bool) -> list[str]:
    """The main characters without a card, when the persona writer is on (else none)."""
    return [c for c in main_characters(scripts) if c not in cards] if write else []


def persona_inputs(character: str, scripts: Sequence[Script]) -> dict[str, str]:
    """The persona writer's inputs for ``character``: a sample of its lines and the cast."""
    own = [line for script in scripts for line in script.lines if line.speaker == character]
    sample = own[:PERSONA_SAMPLE_LINES]
    cast: dict[str, None] = {}
    for script in scripts:
        for c in script.characters:
            cast.setdefault(c.name, None)
        for scene in script.scenes:
            for s in scene.speakers:
                cast.setdefault(s, None)
    # script text cannot form a DSPy field marker
    return {
        "character": neutralize_markers(character),
        "lines": "\n".join(f"{i}. {neutralize_markers(line.render())}" for i, line in enumerate(sample, 1)),
        "cast": "\n".join(neutralize_markers(name) for name in cast),
    }


def persona_cards(
    runner: SceneRunner, store: ResultStore, scripts: list[Script], user: dict[str, str],
    lm_fp: str, write: bool, concurrency: int, report: AugmentReport,
) -> dict[str, str]:
    """The cards scenes are shown: the user's, then stored or newly written ones for the main
    characters without one (recorded in ``report.personas``; a failed card is a failure)."""
    cards = dict(user)
    report.personas = {name: {"persona": card, "source": "user"} for name, card in user.items()}
    missing = missing_characters(scripts, cards, write)
    if not missing:
        return cards
    writer = PersonaWriter()
    writer_fp = program_fingerprint(writer)
    jobs = []
    for character in missing:
        inputs = persona_inputs(character, scripts)
        key = work_key("persona", inputs, writer_fp, lm_fp)
        record = store.get(key)
        if record is not None and record.status == "ok" and record.result:
            cards[character] = record.result["persona"]
            report.personas[character] = {"persona": cards[character], "source": "generated"}
            continue
        jobs.append((character, inputs, key))
    with ThreadPoolExecutor(max(1, min(concurrency, len(jobs) or 1))) as pool:
        futures = {pool.submit(runner.persona, writer, inputs): (character, key) for character, inputs, key in jobs}
        for future, (character, key) in futures.items():
            card, usage, problem = future.result()
            report.usage = report.usage + usage
            if card is None:
                store.put(key, status="failed", kind="persona", usage=usage, reason=problem, attempts=runner.max_attempts)
                report.failures.append(Failure("", -1, f"persona:{character}", "failed", problem or "no card"))
                continue
            store.put(key, status="ok", kind="persona", result={"character": character, "persona": card}, usage=usage)
            cards[character] = card
            report.personas[character] = {"persona": card, "source": "generated"}
    return cards
