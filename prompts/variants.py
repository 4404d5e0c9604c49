"""Prompt variants as files.

A variant is a Markdown file with TOML front matter between ``+++`` lines; the body is the
instruction text given to the model::

    +++
    name = "seed"
    task = "actions"            # scenario | actions | persona | judge
    parent = ""                 # the variant this one was derived from
    description = "the 2023 approach"
    mode = "scene"              # actions only: scene (one call per scene) | line (one per line)
    output = "lines"            # actions only: lines (the model writes each line again, words and
                                # actions) | actions (the model writes only the actions before and
                                # after each line; the program puts the human words between them)
    sees_scenario = false       # actions only: is the scenario passed to the annotator?
    writes_scenario = false     # actions only (output = "actions"): the same call writes the
                                # scenario too, so one call per scene does the whole augmentation
    actions_per_line = 2        # actions only (output = "actions"): 2 = an action before and one
                                # after the words; 1 = one action, before the words
    person = "first"            # first | third
    persona = false             # are persona cards passed?
    max_sentences = 5
    min_action_sentences = 2
    +++
    Instruction text ...

Options may also sit in an ``[options]`` table. Demos, when any, sit beside the file as
``<name>.demos.json`` (a JSON list of objects with the signature's field names).
Variants are found by path or by name under ``prompts/<task>/``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import atomic_write_json, atomic_write_text

PROMPTS_DIR = Path(__file__).resolve().parent
TASKS: tuple[str, ...] = ("scenario", "actions", "persona", "judge")
Task = Literal["scenario", "actions", "persona", "judge"]
_FENCE = "+++"
_HEADER_KEYS = ("name", "task", "parent", "description")
_OPTION_KEYS = (
    "mode", "output", "sees_scenario", "writes_scenario", "actions_per_line", "person", "persona", "max_sentences",
    "min_action_sentences",
)
_ACTIONS_ONLY = ("mode", "output", "sees_scenario", "writes_scenario", "actions_per_line")


class Variant(BaseModel):
    """One prompt variant: instruction text plus the options that shape its program."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    task: Task
    parent: str | None = None
    description: str = ""
    mode: Literal["scene", "line"] = "scene"
    output: Literal["lines", "actions"] = "lines"
    sees_scenario: bool = True
    writes_scenario: bool = False
    actions_per_line: Literal[1, 2] = 2
    person: Literal["first", "third"] = "first"
    persona: bool = False
    max_sentences: int | None = Field(None, ge=1)
    min_action_sentences: int | None = Field(None, ge=0)
    instructions: str = Field(min_length=1)
    demos: list[dict[str, Any]] = Field(default_factory=list)
    path: Path | None = Field(None, exclude=True)

    @property
    def id(self) -> str:
        """``task/name``, how variants are referred to in specs and runs."""
        return f"{self.task}/{self.name}"

    def options(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _OPTION_KEYS}


def _fail(path: Path | str, message: str) -> AugmentlabError:
    return AugmentlabError(f"{path}: {message}")


def parse_variant(text: str, path: Path | str = "<variant>") -> Variant:
    """A :class:`Variant` from the text of a variant file (demos not included)."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != _FENCE:
        raise _fail(path, f"a variant file must start with a '{_FENCE}' line (TOML front matter)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == _FENCE)
    except StopIteration:
        raise _fail(path, f"front matter is not closed by a '{_FENCE}' line") from None
    try:
        front = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"malformed front matter: {exc}") from None
    options = front.pop("options", {})
    if not isinstance(options, dict):
        raise _fail(path, "'options' must be a table")
    data: dict[str, Any] = {**front, **options}
    unknown = sorted(set(data) - set(_HEADER_KEYS) - set(_OPTION_KEYS))
    if unknown:
        allowed = ", ".join(_HEADER_KEYS + _OPTION_KEYS)
        raise _fail(path, f"unknown option {unknown[0]!r} (allowed: {allowed})")
    for key in ("name", "task"):
        if key not in data:
            raise _fail(path, f"front matter needs '{key}'")
    if data.get("parent") == "":
        data["parent"] = None
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise _fail(path, "the instruction text (the body after the front matter) is empty")
    try:
        variant = Variant(**data, instructions=body, path=Path(path) if path != "<variant>" else None)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "front matter"
        raise _fail(path, f"bad value for {where}: {err['msg']}") from None
    if variant.task != "actions" and any(key in data for key in _ACTIONS_ONLY):
        raise _fail(
            path, "options 'mode', 'output', 'sees_scenario', 'writes_scenario' and 'actions_per_line' only apply to task 'actions'"
        )
    if variant.output == "actions" and variant.mode != "scene":
        raise _fail(path, "output = 'actions' needs mode = 'scene'")
    if variant.writes_scenario and (variant.output != "actions" or variant.sees_scenario):
        raise _fail(path, "writes_scenario = true needs output = 'actions' and sees_scenario = false")
    if variant.actions_per_line != 2 and variant.output != "actions":
        raise _fail(path, "actions_per_line = 1 needs output = 'actions'")
    return variant


def _demos_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.demos.json")


def _load_demos(path: Path) -> list[dict[str, Any]]:
    demos_path = _demos_path(path)
    if not demos_path.exists():
        return []
    try:
        demos = json.loads(demos_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise _fail(demos_path, f"unreadable demos: {exc}") from None
    if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
        raise _fail(demos_path, "demos must be a JSON list of objects")
    return demos


def _resolve(path_or_name: str | Path, task: str | None) -> Path:
    candidate = Path(path_or_name)
    if candidate.suffix == ".md" or candidate.exists():
        if not candidate.is_file():
            raise AugmentlabError(f"variant file not found: {candidate}")
        return candidate
    name = str(path_or_name)
    if "/" in name:
        task, name = name.split("/", 1)
    if task is not None and task not in TASKS:
        raise AugmentlabError(f"unknown task {task!r} (tasks: {', '.join(TASKS)})")
    tasks = [task] if task else list(TASKS)
    found = [PROMPTS_DIR / t / f"{name}.md" for t in tasks if (PROMPTS_DIR / t / f"{name}.md").is_file()]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise AugmentlabError(f"variant name {name!r} exists for several tasks; say which, e.g. '{tasks[0]}/{name}'")
    known = ", ".join(v.id for v in list_variants(task)) or "none"
    raise AugmentlabError(f"no variant named {path_or_name!r} (known: {known})")


def load_variant(path_or_name: str | Path, task: str | None = None) -> Variant:
    """Load a variant by file path, by ``task/name``, or by name (``task`` narrows the search)."""
    path = _resolve(path_or_name, task)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read: {exc}") from None
    variant = parse_variant(text, path)
    if task is not None and variant.task != task:
        raise _fail(path, f"is a {variant.task!r} variant, expected task {task!r}")
    variant.demos = _load_demos(path)
    return variant


def list_variants(task: str | None = None) -> list[Variant]:
    """Every variant shipped under ``prompts/`` (for one task, or all), sorted by id."""
    tasks = [task] if task else list(TASKS)
    variants = []
    for t in tasks:
        for path in sorted((PROMPTS_DIR / t).glob("*.md")):
            variants.append(load_variant(path))
    return sorted(variants, key=lambda v: v.id)


def render_variant(variant: Variant) -> str:
    """The file text of a variant (front matter + instructions)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return json.dumps(str(v), ensure_ascii=False)

    front = {
        "name": variant.name, "task": variant.task, "parent": variant.parent or "",
        "description": variant.description,
    }
    defaults = Variant(name="x", task=variant.task, instructions="x").options()
    for key, val in variant.options().items():
        if val is not None and (val != defaults[key] or key in ("sees_scenario", "person")):
            if variant.task != "actions" and key in _ACTIONS_ONLY:
                continue
            front[key] = val
    lines = [_FENCE, *(f"{k} = {value(v)}" for k, v in front.items()), _FENCE, "", variant.instructions.strip(), ""]
    return "\n".join(lines)


def save_variant(variant: Variant, directory: str | Path | None = None) -> Path:
    """Write ``<directory>/<name>.md`` (default ``prompts/<task>/``) and its demos; return the path.

    The file is written whole to a temporary name and renamed, so a crash never leaves half a file.
    """
    folder = Path(directory) if directory is not None else PROMPTS_DIR / variant.task
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{variant.name}.md"
    atomic_write_text(path, render_variant(variant))
    demos_path = _demos_path(path)
    if variant.demos:
        atomic_write_json(demos_path, variant.demos)
    variant.path = path
    return path

