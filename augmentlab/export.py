"""Training examples for one character, from an augment output folder.

One scene (or a piece of it, see below) becomes one multi-turn conversation:

- **system**: the instruction (``prompts/export/system.md``) + the character's persona card +
  the scene's scenario;
- **user** turns: the other characters' annotated lines as ``Name: *action* words`` and the
  narration as ``*narration*``, consecutive ones merged into one turn (one line each);
- **assistant** turns: the character's annotated lines (consecutive ones merged).

A conversation starts with a user turn (the opening from ``prompts/export/blocks.md`` when the
character speaks first) and ends with the character's last line in it.

**Loss masks**: ``all`` gives one conversation per scene piece and trains on every assistant
turn; ``last`` (the 2023 recipe) trains on the final turn only, and gives one conversation per
turn of the character — the piece up to and including that turn — so every line of the
character is still trained once and none is lost. They are written as OpenAI ``weight`` (0/1
on assistant messages), a per-turn ``train`` flag in ShareGPT ``conversations``, and a
``train`` column (one 0/1 per message) beside ``messages`` in the Hugging Face layout.
``augmentlab train-check`` proves these sets token by token with a real trainer.

**Uncertain speakers**: a line whose ``Line.metadata["attribution"]`` is ``uncertain`` (prose
whose speaker the parser could not settle) is never one of the character's turns by default:
it is context in a user turn, so no loss falls on words the character may not have said.
``train_uncertain=True`` (``--train-uncertain``) makes such a line of the character a normal,
trained assistant turn; a line with no speaker at all stays context either way, as
``Someone: words`` (speech, not an ``*action*``).

**Token budget**: with ``max_tokens`` a scene longer than the budget is split between
(user, assistant) exchanges into pieces that each fit, every piece keeping the full system
prompt (instruction, persona, scenario). An exchange that alone exceeds the budget is kept
whole (human words are never cut) and counted in :attr:`ExportReport.over_budget`.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import write_jsonl
from augmentlab.core.model import AugmentedLine, AugmentedScene, Line, LineKind
from augmentlab.store import STORE_NAME, ResultStore
from augmentlab.core.text import collapse_ws
from augmentlab.core.tokens import TokenCounter, load_tokenizer

Format = Literal["sharegpt", "openai", "hf"]
Mask = Literal["all", "last"]
FORMATS: tuple[str, ...] = ("sharegpt", "openai", "hf")
MASKS: tuple[str, ...] = ("all", "last")

PROMPT_DIR = Path(__file__).resolve().parent.parent / "prompts" / "export"
MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template adds around each message (role markers), counted in the budget."""

_SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}
UNCERTAIN = "uncertain"
"""``Line.metadata["attribution"]`` of a line whose speaker is not settled."""
UNATTRIBUTED = "Someone"
"""The name on a user-turn line of speech that ingest credited to nobody (not an *action*)."""


@dataclass
class Message:
    role: Literal["system", "user", "assistant"]
    content: str
    train: bool = False


@dataclass
class Example:
    """One training conversation (a scene, or a piece of one)."""

    character: str
    scene_id: str
    scene_index: int
    piece: int
    messages: list[Message]
    turn: int | None = None
    """Mask ``last``: which turn of the character (0-based, in the piece) this example ends with."""

    @property
    def id(self) -> str:
        return f"{self.scene_id}-{self.piece}" + (f"-{self.turn}" if self.turn is not None else "")


@dataclass
class ExportReport:
    """What an export wrote."""

    character: str
    format: str
    mask: str
    out: Path
    examples: int = 0
    scenes: int = 0
    split_scenes: int = 0
    over_budget: int = 0
    assistant_turns: int = 0
    trained_turns: int = 0
    uncertain_lines: int = 0
    """The character's lines with an uncertain speaker, kept as context (not trained)."""
    tokenizer: str = ""
    warnings: list[str] = field(default_factory=list)


# -- prompt files -------------------------------------------------------------------------


def _read_prompt(name: str) -> tuple[dict[str, Any], str]:
    path = PROMPT_DIR / name
    text = path.read_text(encoding="utf-8")
    if text.startswith("+++"):
        _, front, body = text.split("+++", 2)
        return tomllib.loads(front), body.strip()
    return {}, text.strip()


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def system_prompt(character: str, persona: str | None, scenario: str | None) -> str:
    """The system message: instruction, persona block, scenario block (empty blocks dropped)."""
    _, body = _read_prompt("system.md")
    blocks, _ = _read_prompt("blocks.md")
    persona_block = _fill(blocks["persona"], character=character, text=persona.strip()) if persona else ""
    scenario_block = _fill(blocks["scenario"], character=character, text=scenario.strip()) if scenario else ""
    text = _fill(body, character=character, persona=persona_block, scenario=scenario_block)
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(paragraphs)


def opening_turn() -> str:
    blocks, _ = _read_prompt("blocks.md")
    return str(blocks["opening"])


# -- loading an output folder -------------------------------------------------------------


def load_output(out_dir: str | Path) -> tuple[list[AugmentedScene], dict[str, str]]:
    """The ``ok`` augmented scenes (script order) and persona texts of an augment folder."""
    folder = Path(out_dir)
    if not folder.is_dir():
        raise AugmentlabError(f"no such output folder: {folder}")
    scenes: list[AugmentedScene]
    if (folder / STORE_NAME).is_file():
        with ResultStore(folder / STORE_NAME, create=False) as store:
            scenes = list(store.scenes())
    elif (folder / "augmented.jsonl").is_file():
        scenes = []
        for n, line in enumerate((folder / "augmented.jsonl").read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    scenes.append(AugmentedScene.model_validate_json(line))
                except ValueError as exc:
                    raise AugmentlabError(f"{folder / 'augmented.jsonl'} line {n}: not an augmented scene") from exc
    else:
        raise AugmentlabError(f"{folder} is not an augment output folder (no {STORE_NAME} or augmented.jsonl)")
    scenes = [s for s in scenes if s.status == "ok"]
    if not scenes:
        raise AugmentlabError(f"no augmented scenes in {folder} (run `augmentlab augment` first)")
    return scenes, read_personas(folder / "personas.json")


def read_personas(path: Path) -> dict[str, str]:
    """``personas.json`` as ``{name: text}`` (values may be strings or ``{"persona": ...}``)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for name, value in data.items():
        text = value.get("persona") if isinstance(value, dict) else value
        if text:
            out[name] = str(text)
    return out


def speaker_counts(scenes: Iterable[AugmentedScene]) -> Counter[str]:
    """How many dialogue lines each speaker has in ``scenes``."""
    counts: Counter[str] = Counter()
    for scene in scenes:
        for al in scene.lines:
            if al.line.speaker and al.line.kind == LineKind.dialogue:
                counts[al.line.speaker] += 1
    return counts


def resolve_character(name: str, scenes: list[AugmentedScene]) -> str:
    """The speaker label ``name`` refers to (case-insensitive), or a one-line error listing them."""
    counts = speaker_counts(scenes)
    if name in counts:
        return name
    folded = {s.casefold(): s for s in counts}
    if name.casefold() in folded:
        return folded[name.casefold()]
    known = ", ".join(f"{s} ({n})" for s, n in counts.most_common())
    raise AugmentlabError(f"unknown character {name!r}; known characters (lines): {known or 'none'}")


# -- building conversations ---------------------------------------------------------------


def _is_narration(line: Line) -> bool:
    return line.speaker is None or line.kind != LineKind.dialogue


def _user_part(al: AugmentedLine) -> str:
    if al.line.speaker is None and al.line.kind == LineKind.dialogue:  # speech nobody is credited with
        return f"{UNATTRIBUTED}: {collapse_ws(al.annotated)}"
    if _is_narration(al.line):
        return f"*{collapse_ws(al.line.text)}*"
    return f"{al.line.speaker}: {collapse_ws(al.annotated)}"


def is_uncertain(line: Line) -> bool:
    """Whether ingest marked the line's speaker as uncertain."""
    return line.metadata.get("attribution") == UNCERTAIN


def scene_turns(scene: AugmentedScene, character: str, *, train_uncertain: bool = False) -> list[Message]:
    """User/assistant turns of ``scene`` seen by ``character`` (alternating, user first, ending
    with the character's last line; empty when the character does not speak). A line with an
    uncertain speaker is a user turn (context) unless ``train_uncertain``."""
    turns: list[Message] = []
    for al in scene.lines:
        mine = not _is_narration(al.line) and al.line.speaker == character
        mine = mine and (train_uncertain or not is_uncertain(al.line))
        role: Literal["user", "assistant"] = "assistant" if mine else "user"
        part = collapse_ws(al.annotated) if mine else _user_part(al)
        if turns and turns[-1].role == role:
            turns[-1].content += "\n" + part
        else:
            turns.append(Message(role, part))
    while turns and turns[-1].role == "user":
        turns.pop()
    if not turns:
        return []
    if turns[0].role == "assistant":
        turns.insert(0, Message("user", opening_turn()))
    return turns


def _cost(counter: TokenCounter, message: Message) -> int:
    return counter.count(message.content) + MESSAGE_OVERHEAD_TOKENS


def split_turns(system: Message, turns: list[Message], counter: TokenCounter | None, max_tokens: int | None) -> tuple[list[list[Message]], int]:
    """``turns`` cut between exchanges into pieces that fit ``max_tokens`` with ``system``.

    Returns the pieces and how many exchanges alone exceed the budget (kept whole).
    """
    exchanges = [turns[i : i + 2] for i in range(0, len(turns), 2)]
    if max_tokens is None or counter is None:
        return [turns], 0
    base = _cost(counter, system)
    pieces: list[list[Message]] = []
    current: list[Message] = []
    used = base
    over = 0
    for exchange in exchanges:
        size = sum(_cost(counter, m) for m in exchange)
        if base + size > max_tokens:
            over += 1
        if current and used + size > max_tokens:
            pieces.append(current)
            current, used = [], base
        current = current + exchange
        used += size
    if current:
        pieces.append(current)
    return pieces, over


def build_examples(
    scenes: list[AugmentedScene],
    character: str,
    personas: dict[str, str] | None = None,
    *,
    mask: Mask = "all",
    max_tokens: int | None = None,
    tokenizer: TokenCounter | None = None,
    report: ExportReport | None = None,
    train_uncertain: bool = False,
) -> Iterator[Example]:
    """The training examples of ``character`` over ``scenes`` (script order)."""
    if mask not in MASKS:
        raise AugmentlabError(f"unknown mask {mask!r} (use one of: {', '.join(MASKS)})")
    if max_tokens is not None and max_tokens <= 0:
        raise AugmentlabError("--max-tokens must be a positive number")
    persona = (personas or {}).get(character)
    for scene in scenes:
        turns = scene_turns(scene, character, train_uncertain=train_uncertain)
        if report is not None and not train_uncertain:
            report.uncertain_lines += sum(
                al.line.speaker == character and not _is_narration(al.line) and is_uncertain(al.line)
                for al in scene.lines
            )
        if not turns:
            continue
        system = Message("system", system_prompt(character, persona, scene.scenario))
        pieces, over = split_turns(system, turns, tokenizer, max_tokens)
        if report is not None:
            report.scenes += 1
            report.split_scenes += len(pieces) > 1
            report.over_budget += over
        index = scene.scene.index if scene.scene is not None else 0
        for n, piece in enumerate(pieces):
            ends = [i for i, m in enumerate(piece) if m.role == "assistant"]
            if report is not None:
                report.assistant_turns += len(ends)
            # all: the whole piece; last: one prefix per turn of the character, ending with it.
            cuts = [(len(piece), None)] if mask == "all" else [(end + 1, turn) for turn, end in enumerate(ends)]
            for stop, turn in cuts:
                messages = [Message(system.role, system.content)]
                messages += [
                    Message(m.role, m.content, train=m.role == "assistant" and (mask == "all" or i == stop - 1))
                    for i, m in enumerate(piece[:stop])
                ]
                if report is not None:
                    report.examples += 1
                    report.trained_turns += sum(m.train for m in messages)
                yield Example(character, scene.scene_id, index, n, messages, turn)


# -- formats ------------------------------------------------------------------------------


def to_openai(example: Example) -> dict[str, Any]:
    """OpenAI chat fine-tuning line: ``messages`` with ``weight`` 0/1 on assistant messages."""
    out = []
    for m in example.messages:
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.role == "assistant":
            item["weight"] = int(m.train)
        out.append(item)
    return {"messages": out}


def to_sharegpt(example: Example) -> dict[str, Any]:
    """ShareGPT line: ``conversations`` of ``from``/``value`` with a per-turn ``train`` flag."""
    return {
        "id": example.id,
        "conversations": [
            {"from": _SHAREGPT_ROLES[m.role], "value": m.content, "train": m.train} for m in example.messages
        ],
    }


def to_hf_row(example: Example) -> dict[str, Any]:
    """Hugging Face row: ``messages`` (role/content) and ``train`` (one 0/1 per message)."""
    return {
        "id": example.id,
        "character": example.character,
        "scene_id": example.scene_id,
        "piece": example.piece,
        "turn": -1 if example.turn is None else example.turn,  # -1: the whole piece (mask all)
        "messages": [{"role": m.role, "content": m.content} for m in example.messages],
        "train": [int(m.train) for m in example.messages],
    }


def _write_hf(rows: list[dict[str, Any]], out: Path) -> None:
    try:
        import datasets
    except ImportError as exc:
        raise AugmentlabError("the hf format needs the datasets package (pip install augmentlab[export])") from exc
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "character": datasets.Value("string"),
            "scene_id": datasets.Value("string"),
            "piece": datasets.Value("int32"),
            "turn": datasets.Value("int32"),
            "messages": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
            "train": datasets.List(datasets.Value("int8")),
        }
    )
    ds = datasets.Dataset.from_list(rows, features=features)
    if out.suffix == ".parquet":
        out.parent.mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(out))
    elif out.suffix in (".jsonl", ".json"):
        write_jsonl(out, rows)
    else:
        if out.exists() and any(out.iterdir()) and not (out / "dataset_info.json").is_file():
            raise AugmentlabError(f"{out} exists and is not a saved dataset; choose another -o")
        ds.save_to_disk(str(out))


def export(
    out_dir: str | Path,
    character: str,
    fmt: Format,
    out: str | Path,
    *,
    mask: Mask = "all",
    max_tokens: int | None = None,
    tokenizer: str | None = None,
    train_uncertain: bool = False,
) -> ExportReport:
    """Write ``character``'s training examples from the augment folder ``out_dir`` to ``out``.

    ``fmt`` ``openai``/``sharegpt`` write JSON lines; ``hf`` saves a ``datasets.Dataset``
    (``save_to_disk`` folder, or ``.parquet`` / ``.jsonl`` by the suffix of ``out``).
    ``train_uncertain`` trains the character's lines whose speaker is uncertain (default: context).
    """
    if fmt not in FORMATS:
        raise AugmentlabError(f"unknown format {fmt!r} (use one of: {', '.join(FORMATS)})")
    if mask not in MASKS:
        raise AugmentlabError(f"unknown mask {mask!r} (use one of: {', '.join(MASKS)})")
    scenes, personas = load_output(out_dir)
    name = resolve_character(character, scenes)
    counter = load_tokenizer(tokenizer) if max_tokens is not None else None
    out = Path(out)
    report = ExportReport(name, fmt, mask, out, tokenizer=counter.name if counter else "")
    examples = list(build_examples(
        scenes, name, personas, mask=mask, max_tokens=max_tokens, tokenizer=counter, report=report,
        train_uncertain=train_uncertain,
    ))
    if fmt == "openai":
        write_jsonl(out, (to_openai(e) for e in examples))
    elif fmt == "sharegpt":
        write_jsonl(out, (to_sharegpt(e) for e in examples))
    else:
        _write_hf([to_hf_row(e) for e in examples], out)
    if report.uncertain_lines:
        report.warnings.append(
            f"{report.uncertain_lines} line(s) of {name} have an uncertain speaker: kept as context, "
            "not trained (--train-uncertain trains them)"
        )
    if report.over_budget:
        report.warnings.append(
            f"{report.over_budget} exchange(s) alone exceed {max_tokens} tokens and were kept whole"
        )
    return report
