"""CLI: ``augmentlab ingest``, ``augmentlab attribute``, ``augmentlab inspect`` and ``augmentlab gold mine``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from augmentlab.cli.commands.augment import lm_config_from_options
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import atomic_open
from augmentlab.ingest import DEFAULT_CONTEXT_LINES, SceneStream, iter_scenes
from augmentlab.ingest.cast import load_alias_file, parse_alias_args
from augmentlab.ingest.gold import mine

_FORMAT_HELP = "Script format: auto, vn, renpy, play, fountain, prose, scx (sc3tools), kag (KiriKiri), tyrano."
_STRICT_HELP = "Fail (exit 2) when a line is unaccounted for or more than 1% of speech-like lines are skipped."

# Options shared by the commands that read a script.
ScriptFile = Annotated[Path, typer.Argument(help="Script file to read.")]
Format = Annotated[str, typer.Option("--format", "-f", help=_FORMAT_HELP)]
Alias = Annotated[Optional[list[str]], typer.Option("--alias", help="NAME=CANONICAL (repeatable; ???=NAME names a ??? speaker).")]
AliasesFile = Annotated[Optional[Path], typer.Option("--aliases", help="TOML file of NAME = CANONICAL.")]
Encoding = Annotated[Optional[str], typer.Option("--encoding", help="Force a text encoding.")]
Strict = Annotated[bool, typer.Option("--strict", help=_STRICT_HELP)]
_BUDGET_HELP = "Split scenes longer than this (approx tokens)."


def _aliases(alias: Optional[list[str]], aliases_file: Optional[Path]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if aliases_file is not None:
        mapping.update(load_alias_file(aliases_file))
    mapping.update(parse_alias_args(alias))
    return mapping


def _read(
    file: Path,
    format: str,
    alias: Optional[list[str]],
    aliases_file: Optional[Path],
    token_budget: int,
    encoding: Optional[str],
    strict: bool,
    *,
    context_lines: int = DEFAULT_CONTEXT_LINES,
) -> SceneStream:
    """The scenes of a script file as the options say (aliases from ``--alias`` and ``--aliases``)."""
    aliases = _aliases(alias, aliases_file)
    return iter_scenes(
        file, format, aliases=aliases, token_budget=token_budget, context_lines=context_lines, encoding=encoding, strict=strict
    )


def summarize(stream: SceneStream) -> dict[str, Any]:
    """Counts for ``inspect``, gathered while streaming the scenes."""
    scenes = lines = line_directions = scene_directions = 0
    kinds: dict[str, int] = {}
    for scene in stream:
        scenes += 1
        scene_directions += len(scene.directions)
        for line in scene.lines:
            lines += 1
            line_directions += len(line.directions)
            kinds[line.kind.value] = kinds.get(line.kind.value, 0) + 1
    script = stream.script()
    return {
        "file": str(stream.path),
        "title": script.title,
        "format": script.format,
        "detected_by": script.metadata.get("detected_by"),
        "wrap_width": script.metadata.get("wrap_width"),
        "encoding": script.metadata.get("encoding"),
        "encoding_guess": script.metadata.get("encoding_guess", {}),
        "scenes": scenes,
        "lines": lines,
        "line_kinds": kinds,
        "lines_per_speaker": script.metadata.get("lines_per_speaker", {}),
        "directions": {"lines": line_directions, "scenes": scene_directions},
        "cast": [c.model_dump(mode="json", exclude_defaults=True) for c in script.characters],
        "warnings": script.warnings,
        "accounting": stream.ledger.as_dict(),
        "markup": script.metadata.get("markup", {}),
    }


def ingest_cmd(
    file: ScriptFile,
    output: Path = typer.Option(..., "--output", "-o", help="Scenes JSONL to write ('-' for stdout)."),
    format: Format = "auto",
    alias: Alias = None,
    aliases_file: AliasesFile = None,
    token_budget: int = typer.Option(800, "--token-budget", help=_BUDGET_HELP),
    context_lines: int = typer.Option(3, "--context-lines", help="Previous lines kept as scene context."),
    encoding: Encoding = None,
    strict: Strict = False,
) -> None:
    """Read a script and write one Scene JSON per line (streaming)."""
    stream = _read(file, format, alias, aliases_file, token_budget, encoding, strict, context_lines=context_lines)
    count = lines = 0
    with atomic_open(output, create_parent=False) as fh:
        for scene in stream:
            fh.write(scene.model_dump_json())
            fh.write("\n")
            count += 1
            lines += len(scene.lines)
    script = stream.script()
    for warning in [*script.warnings, *stream.ledger.as_dict()["findings"]]:
        print(f"warning: {warning}", file=sys.stderr)
    if str(output) != "-":
        print(f"wrote {count} scenes ({lines} lines, format {script.format}) to {output}")
    print(stream.ledger.summary_line(), file=sys.stderr if str(output) == "-" else sys.stdout)


def attribute_cmd(
    scenes: Path = typer.Argument(..., help="Scenes JSONL written by `augmentlab ingest` (prose)."),
    output: Path = typer.Option(..., "--output", "-o", help="Scenes JSONL to write."),
    cast: Optional[list[str]] = typer.Option(None, "--cast", help="A cast name (repeatable; default: every named speaker)."),
    window: int = typer.Option(4, "--window", help="Paragraphs shown either side of the quotation."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Ask about the first N uncertain quotations only."),
    lm: str = typer.Option("embedded", "--lm", help="embedded, fake, or endpoint (with --model/--api-base)."),
    model: Optional[str] = typer.Option(None, "--model", help="Endpoint model, e.g. openai/gpt-4o-mini."),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="Endpoint base URL."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="NAME of the variable holding the key."),
    gguf: Optional[Path] = typer.Option(None, "--gguf", help="Embedded: your own GGUF model instead of SmolLM2."),
    prompt_price: Optional[float] = typer.Option(None, "--prompt-price", help="Price per 1k prompt tokens."),
    completion_price: Optional[float] = typer.Option(None, "--completion-price", help="Price per 1k completion tokens."),
) -> None:
    """Send the quotations ingest left uncertain to an LM (cast + surrounding paragraphs); cached and resumable."""
    config = lm_config_from_options(
        lm, model, api_base, api_key_env, prompt_price=prompt_price, completion_price=completion_price,
    )
    if gguf is not None:
        if config.kind != "embedded":
            raise AugmentlabError("--gguf is for the embedded LM (not with --model/--api-base)")
        if not gguf.is_file():
            raise AugmentlabError(f"GGUF file not found: {gguf}")
        config = config.model_copy(update={"gguf": str(gguf)})
    from augmentlab.ingest.attribute_lm import attribute_file  # here: it imports dspy (a fast --help)

    report = attribute_file(scenes, output, config, cast=cast, window=window, limit=limit)
    print(report.summary())
    for example in report.error_examples:
        print(f"warning: LM error: {example}", file=sys.stderr)
    print(f"wrote {output}")


def inspect_cmd(
    file: ScriptFile,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    format: Format = "auto",
    alias: Alias = None,
    aliases_file: AliasesFile = None,
    token_budget: int = typer.Option(800, "--token-budget", help=_BUDGET_HELP),
    encoding: Encoding = None,
    strict: Strict = False,
) -> None:
    """Summarise a script: format, scenes, lines per speaker, directions, cast, what was skipped, warnings."""
    stream = _read(file, format, alias, aliases_file, token_budget, encoding, strict)
    summary = summarize(stream)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    _print_summary(summary)


def gold_mine_cmd(
    play: Path = typer.Argument(..., help="A stage play (Project Gutenberg text)."),
    output: Path = typer.Option(..., "--output", "-o", help="GoldExample JSONL to write."),
    format: Format = "play",
    alias: Alias = None,
    aliases_file: AliasesFile = None,
    token_budget: int = typer.Option(400, "--token-budget", help="Scene size of each example (approx tokens)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Stop after this many examples."),
) -> None:
    """Build gold examples (scenario + directed lines) from a play's own stage directions."""
    count = 0
    with atomic_open(output, create_parent=False) as fh:
        for example in mine(play, format=format, aliases=_aliases(alias, aliases_file), token_budget=token_budget):
            fh.write(example.model_dump_json())
            fh.write("\n")
            count += 1
            if limit is not None and count >= limit:
                break
    if str(output) != "-":
        print(f"wrote {count} gold examples to {output}")


def register(app: typer.Typer) -> None:
    """Add ``ingest``, ``attribute``, ``inspect`` and the ``gold`` sub-app to ``app``."""
    app.command("ingest")(ingest_cmd)
    app.command("attribute")(attribute_cmd)
    app.command("inspect")(inspect_cmd)
    gold = typer.Typer(help="Gold examples mined from human scripts.", no_args_is_help=True)
    gold.command("mine")(gold_mine_cmd)
    app.add_typer(gold, name="gold")


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    head = Table(title=f"{summary['title']} ({summary['file']})", show_header=False)
    wrapped = f"; lines wrapped at {summary['wrap_width']} columns, joined" if summary.get("wrap_width") else ""
    head.add_row("format", f"{summary['format']} ({summary['detected_by']}{wrapped})")
    guess = summary.get("encoding_guess") or {}
    how = f" ({guess.get('by')}" + (f", confidence {guess['confidence']:.0%}" if "confidence" in guess else "") + ")" if guess else ""
    head.add_row("encoding", f"{summary['encoding']}{how}")
    if summary["accounting"].get("front_matter"):
        head.add_row("front matter", f"{summary['accounting']['front_matter']} lines (not read as the script)")
    head.add_row("scenes", str(summary["scenes"]))
    head.add_row("lines", ", ".join(f"{k} {v}" for k, v in summary["line_kinds"].items()) or "0")
    head.add_row("directions", f"{summary['directions']['lines']} on lines, {summary['directions']['scenes']} on scenes")
    markup = summary.get("markup") or {}
    if markup:
        unknown = ", ".join(f"[{name}] {entry['count']}" for name, entry in list(markup["unknown"].items())[:6])
        head.add_row(
            "markup",
            escape(f"{markup['known_tags']} engine tags stripped, {markup['unknown_tags']} unknown markup"
            + (f" ({unknown})" if unknown else "") + f", {markup['placeholder_speakers']} ??? speaker line(s)"),
        )
    console.print(head)
    speakers = Table(title="cast")
    speakers.add_column("speaker")
    speakers.add_column("lines", justify="right")
    speakers.add_column("aliases")
    speakers.add_column("description")
    counts = summary["lines_per_speaker"]
    for entry in summary["cast"]:
        speakers.add_row(
            entry["name"],
            str(counts.get(entry["name"], 0)),
            ", ".join(entry.get("aliases", [])),
            entry.get("description") or "",
        )
    console.print(speakers)
    _print_accounting(console, summary["accounting"])
    for warning in [*summary["warnings"], *summary["accounting"].get("findings", [])]:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def _print_accounting(console: Any, accounting: dict[str, Any]) -> None:
    """What became of every non-blank line: ingested by kind, skipped by reason, the file's parts."""
    lines = Table(title=f"lines ({accounting['non_blank_lines']} non-blank)")
    lines.add_column("what")
    lines.add_column("lines", justify="right")
    lines.add_column("where")
    ingested = accounting["ingested"]
    for kind, count in ingested.items():
        if kind != "lines":
            lines.add_row(f"ingested: {kind}", str(count), "")
    for reason, entry in accounting["skipped"].items():
        note = f" ({entry['speech_like']} speech-like)" if entry["speech_like"] else ""
        lines.add_row(escape(f"skipped: {reason}{note}"), str(entry["lines"]), ", ".join(entry["ranges"][:8]))
    lines.add_row("unexplained", str(accounting["unexplained"]), "")
    quotes = accounting.get("attribution")
    if quotes:  # prose: who speaks each quote
        lines.add_row("quotes: attributed", str(quotes.get("attributed", 0)), "")
        lines.add_row(
            "quotes: unattributed", str(quotes.get("unattributed", 0)),
            f"{quotes.get('abstained', 0)} below the confidence threshold (speaker kept as metadata guess)",
        )
    console.print(lines)
    parts = Table(title="parts of the file")
    parts.add_column("lines")
    parts.add_column("read as")
    for part in accounting["parts"][:40]:
        parts.add_row(part["lines"], escape(part["what"]))
    console.print(parts)
