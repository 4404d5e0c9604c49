"""CLI: ``augmentlab metrics check`` (does the metric catch each defect, and does the calibration
ladder hold?) and ``augmentlab metrics score GOLD PRED`` (score predictions made anywhere)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Optional

import typer

from augmentlab.core.errors import AugmentlabError
from augmentlab.ingest.gold import read_gold
from augmentlab.cli.lm_options import lm_options as lm_options_decorator

DEFAULT_GOLD_GLOB = "experiments/gold/*.jsonl"


@lm_options_decorator
def check_command(
    gold: Optional[list[Path]] = typer.Option(
        None, "--gold", help=f"Gold JSONL file(s) (default: {DEFAULT_GOLD_GLOB})."
    ),
    mine: Optional[list[Path]] = typer.Option(
        None, "--mine", help="Play file(s) to mine gold from (augmentlab.ingest.gold.mine)."
    ),
    limit: int = typer.Option(40, "--limit", min=1, help="Most mined examples per play."),
    seed: int = typer.Option(0, "--seed", help="Random seed for the mutations."),
    show_misses: bool = typer.Option(False, "--misses", help="List the mutants the metric missed."),
    judge: bool = typer.Option(
        False, "--judge", help="Also calibrate the LLM judge on its ladder: its endpoint from the LM options "
        "(--model, --api-base, ...), else AUGMENTLAB_JUDGE_MODEL."
    ),
    judge_prompt: str = typer.Option("judge/given_circumstances", "--judge-prompt", help="Judge variant file or name."),
    judge_limit: int = typer.Option(8, "--judge-limit", min=1, help="Gold examples per set the judge sees."),
    pairs: Optional[list[Path]] = typer.Option(
        None, "--pairs", help="Preference set directory (scenes.jsonl, candidates.jsonl, judgements.jsonl): "
        "how often each evaluator keeps the readers' order. Alone, only this check runs."
    ),
    verdicts: Optional[Path] = typer.Option(
        None, "--verdicts", help="Imported verdicts JSONL (scene / a / b = the set's ids), one more evaluator."
    ),
    min_agreement: float = typer.Option(
        0.75, "--min-agreement", min=0.0, max=1.0, help="Exit 1 when an evaluator agrees with the readers less."
    ),
    lm_options: Any = None,
) -> None:
    """Apply each defect to gold outputs and report how often the metric notices, then run the
    calibration ladder (rungs of known quality, each with the bound its mean score must meet).
    With ``--pairs``: each evaluator's agreement with a preference set's readers.

    Exits 1 when a defect goal is missed (100 % for verbatim and cast defects, 90 % for
    others), a rung's mean is outside its bound, the tiers are out of order, or an evaluator's
    agreement with the readers is below ``--min-agreement``.
    """
    from rich.console import Console

    pairs_ok = True
    if pairs:
        pairs_ok = _pairs_check(pairs, verdicts, min_agreement, judge=judge, lm_options=lm_options,
                                judge_prompt=judge_prompt if judge_prompt != "judge/given_circumstances" else "judge/pairwise",
                                judge_limit=judge_limit, seed=seed)
        if not gold and not mine:
            raise typer.Exit(0 if pairs_ok else 1)
        judge = False  # --judge was the preference check's; the gold sets below get the composite's checks
    elif verdicts is not None:
        raise AugmentlabError("--verdicts needs --pairs DIR (the preference set the verdicts judge)")
    files = list(gold or sorted(Path.cwd().glob(DEFAULT_GOLD_GLOB)))
    sets: list[tuple[str, list[Any]]] = []
    if files:
        sets.append(("hand-written gold" if not gold else ", ".join(p.name for p in files), read_gold(files)))
    for play in mine or []:
        if not play.is_file():
            raise AugmentlabError(f"play not found: {play}")
        from augmentlab.ingest.gold import mine as mine_play

        sets.append((f"mined: {play.name}", list(itertools.islice(mine_play(play), limit))))
    if not sets or not any(s for _, s in sets):
        raise AugmentlabError("no gold examples: pass --gold FILE or --mine PLAY")
    console = Console(width=max(Console().width, 100))
    ok = pairs_ok
    donors = [g for _, examples in sets for g in examples]  # "another scene" may come from another set
    if judge:
        ok = _judge_check(console, sets, judge_prompt, judge_limit, seed, lm_options)
    ok = _check_sets(console, sets, donors, seed, show_misses) and ok
    if not ok:
        console.print("[red]some defect goals or ladder bounds were missed[/red]")
        raise typer.Exit(1)
    console.print("[green]all defect goals and ladder bounds met[/green]")


def score_command(
    gold_file: Path = typer.Argument(..., help="Gold JSONL (GoldExample per line)."),
    pred_file: Path = typer.Argument(
        ..., help='Predictions JSONL: {"id": <gold id>, "scenario": str, "annotated": [str, ...]} per line.'
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
) -> None:
    """Score predictions made anywhere against gold: per-example score and feedback, the mean
    and its 95 % interval."""
    import json

    from augmentlab.core.stats import bootstrap_ci
    from metrics.composite import score_examples

    golds = {g.id: g for g in read_gold(gold_file)}
    preds = read_predictions(pred_file, golds)
    if not preds:
        raise AugmentlabError(f"{pred_file}: no predictions")
    scores = score_examples([(golds[p["id"]], p["scenario"], p["annotated"]) for p in preds])
    values = [s.score for s in scores]
    ci = bootstrap_ci(values, seed=0)
    examples = [
        {"id": p["id"], "score": round(s.score, 6), "parts": {k: round(v, 6) for k, v in s.parts.items()},
         "feedback": s.feedback}
        for p, s in zip(preds, scores)
    ]
    missing = len(golds) - len(preds)
    if as_json:
        typer.echo(json.dumps({"mean": ci.mean, "ci": [ci.low, ci.high], "n": len(values),
                               "missing": missing, "examples": examples}, ensure_ascii=False))
        return
    width = max(len(e["id"]) for e in examples)
    for e in examples:
        typer.echo(f"{e['id']:<{width}}  {e['score']:.3f}  {e['feedback']}")
    typer.echo(f"mean {ci.mean:.3f}  95% CI [{ci.low:.3f}, {ci.high:.3f}]  n={len(values)}")
    if missing:
        typer.echo(f"{missing} gold example(s) had no prediction and were not scored")


def _check_sets(console: Any, sets: list[tuple[str, list[Any]]], donors: list[Any], seed: int, show_misses: bool) -> bool:
    """The defect suite and the calibration ladder of each gold set, printed; True when all hold."""
    from metrics.ladder import run_ladder
    from metrics.mutations import run_suite

    ok = True
    for title, examples in sets:
        if not examples:
            console.print(f"[yellow]{title}: no examples[/yellow]")
            continue
        rows = run_suite(examples, seed=seed)
        console.print(_table(title, len(examples), rows))
        if show_misses:
            for row in rows:
                for miss in row.misses[:10]:
                    console.print(f"  [dim]{row.defect} missed:[/dim] {miss}")
        ok = ok and all(r.passed for r in rows if r.n)
        ladder = run_ladder(examples, seed=seed, donors=donors)
        console.print(_ladder_table(title, ladder))
        for problem in ladder.bound_problems() + ladder.order_problems:
            console.print(f"  [red]{problem}[/red]")
        if not any(r.n for r in ladder.rows):
            console.print("  [yellow]no rung could be built (the ladder needs gold with a scenario and annotated lines)[/yellow]")
        else:
            ok = ok and ladder.passed
    return ok


def _pairs_check(dirs: list[Path], verdicts_file: Path | None, bound: float, *, judge: bool, lm_options: Any,
                 judge_prompt: str = "judge/pairwise", judge_limit: int = 8, seed: int = 0) -> bool:
    """Each evaluator's agreement with each preference set's readers, printed beside the length
    baseline; True when every bounded evaluator reaches ``bound`` (see :mod:`metrics.preference`).
    With ``judge``, the pairwise LM judge (``metrics.pairwise``, both orders) is one more evaluator,
    on ``judge_limit`` decisive pairs per set (drawn with ``seed``), with its order-flip rate."""
    from contextlib import ExitStack

    from rich.console import Console

    from augmentlab.core.verdicts import read_verdicts
    from metrics import preference

    psets = [preference.read_set(d) for d in dirs]  # read everything first: bad input fails before any scoring
    imported = read_verdicts(verdicts_file) if verdicts_file is not None else None
    console = Console(width=max(Console().width, 100))
    ok = True
    with ExitStack() as stack:
        lm_judge = _open_pair_judge(stack, lm_options, judge_prompt) if judge else None
        for pset in psets:
            ok = _pairs_check_set(console, pset, imported, verdicts_file, bound, lm_judge, judge_limit, seed) and ok
    console.print("[green]every evaluator meets the agreement bound[/green]" if ok
                  else "[red]some evaluators are below the agreement bound[/red]")
    return ok


def _open_pair_judge(stack: Any, lm_options: Any, prompt: str) -> Any:
    """The pairwise LM judge on the LM the options (else ``AUGMENTLAB_JUDGE_*``) describe."""
    from metrics import pairwise
    from prompts.variants import load_variant

    config = _judge_config(lm_options)
    return stack.enter_context(pairwise.open_pairwise_judge(config, load_variant(prompt, task="judge").instructions))


class _Recording:
    """An evaluator that keeps the verdicts it gives (for the LM judge's flip rate)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.verdicts = inner, inner.name, []

    def prefer(self, gold: Any, a: Any, b: Any) -> Any:
        verdict = self.inner.prefer(gold, a, b)
        self.verdicts.append(verdict)
        return verdict


def _pairs_check_set(console: Any, pset: Any, imported: Any, verdicts_file: Path | None, bound: float,
                     lm_judge: Any, judge_limit: int, seed: int) -> bool:
    import random

    from metrics import pairwise, preference

    ok = True
    pairs = preference.decisive_pairs(pset)
    if not pairs:
        raise AugmentlabError(f"{pset.path}: the readers agree on no pair (no decisive pairs)")
    evaluators: list[tuple[Any, bool]] = [  # (evaluator, bounded on pairs without the reference)
        (preference.composite_evaluator(pset, with_reference=True), True),
        (preference.composite_evaluator(pset, with_reference=False), False),
    ]
    if imported is not None:
        ev = preference.VerdictsEvaluator(verdicts_file.name if verdicts_file else "verdicts", imported)
        if ev.check_ids(pset):
            evaluators.append((ev, False))
        else:
            console.print(f"[yellow]{pset.name}: no imported verdict names this set's candidates[/yellow]")
    length = preference.agreement(pset, preference.length_evaluator(), pairs)
    rows = [(preference.agreement(pset, ev, pairs), nonref) for ev, nonref in evaluators]
    console.print(_pairs_table(pset, pairs, rows, length, bound))
    for ev, _ in evaluators:
        if isinstance(ev, preference.VerdictsEvaluator) and ev.missing:
            console.print(f"  [yellow]{ev.name}: no verdict for {ev.missing} decisive pair(s) (counted as ties)[/yellow]")
    if lm_judge is not None:
        sample = sorted(random.Random(seed).sample(range(len(pairs)), min(judge_limit, len(pairs))))
        some = [pairs[i] for i in sample]
        recorder = _Recording(lm_judge)
        agr = preference.agreement(pset, recorder, some)
        some_length = preference.agreement(pset, preference.length_evaluator(), some)
        flips = pairwise.flip_rate(recorder.verdicts)
        ties = sum(v.winner == "tie" for v in recorder.verdicts)
        console.print(f"  {agr.name} on {agr.n} of the {len(pairs)} decisive pairs: agreement {agr.rate:.3f} "
                      f"(length baseline on the same pairs {some_length.rate:.3f}); order flips "
                      f"{'n/a' if flips is None else f'{flips:.2f}'}, ties {ties} of {len(recorder.verdicts)}")
        rows.append((agr, False))
    for agr, nonref in rows:
        rate = agr.rate_nonref if nonref else agr.rate
        if not rate >= bound:
            console.print(f"  [red]{agr.name}: agreement {rate:.3f} below {bound:.2f}[/red]")
            ok = False
    return ok


def _pairs_table(pset: Any, pairs: list[Any], rows: list[tuple[Any, bool]], length: Any, bound: float) -> Any:
    from rich.table import Table

    total = sum(len(j.ranking) * (len(j.ranking) - 1) // 2 for j in {j.scene: j for j in pset.judgements}.values())
    table = Table(title=f"preference set {pset.name}: {len(pset.scenes)} scenes, readers agree on {len(pairs)} "
                        f"of {total} pairs (agreement with them; tie = half)")
    for col in ("evaluator", "all pairs", "without reference", "bounded", ""):
        table.add_column(col, justify="left" if col == "evaluator" else "right", no_wrap=col != "evaluator")

    def cells(a: Any) -> list[str]:
        return [f"{a.rate:.3f} ({a.n})", f"{a.rate_nonref:.3f} ({a.n_nonref})" if a.n_nonref else "–"]

    for agr, nonref in rows:
        rate = agr.rate_nonref if nonref else agr.rate
        beats = rate > (length.rate_nonref if nonref else length.rate)
        status = ("[green]ok[/green]" if rate >= bound else "[red]LOW[/red]") + ("" if beats else " ≤ length")
        table.add_row(agr.name, *cells(agr), "without ref" if nonref else "all", status)
    table.add_row(f"[dim]{length.name}[/dim]", *cells(length), "[dim]–[/dim]", "")
    return table


def register(app: typer.Typer) -> None:
    """Add the ``metrics`` sub-app (``check``, ``score``)."""
    metrics_app = typer.Typer(help="Metric checks.", no_args_is_help=True)
    metrics_app.command("check")(check_command)
    metrics_app.command("score")(score_command)
    app.add_typer(metrics_app, name="metrics")


def read_predictions(path: Path, golds: dict[str, Any]) -> list[dict[str, Any]]:
    """Prediction rows, checked against the gold (one clear error for the first bad line)."""
    import json

    if not path.is_file():
        raise AugmentlabError(f"predictions file not found: {path}")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AugmentlabError(f"{path}: not UTF-8 text") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AugmentlabError(f"{where}: bad JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise AugmentlabError(f"{where}: expected a JSON object, got {type(row).__name__}")
        gid = row.get("id")
        if not isinstance(gid, str):
            raise AugmentlabError(f"{where}: 'id' must be a string")
        if gid not in golds:
            raise AugmentlabError(f"{where}: unknown id {gid!r} (not in the gold file)")
        if gid in seen:
            raise AugmentlabError(f"{where}: id {gid!r} predicted twice")
        seen.add(gid)
        scenario = row.get("scenario")
        if scenario is not None and not isinstance(scenario, str):
            raise AugmentlabError(f"{where}: 'scenario' must be a string")
        annotated = row.get("annotated")
        if not isinstance(annotated, list) or not all(isinstance(a, str) for a in annotated):
            raise AugmentlabError(f"{where}: 'annotated' must be a list of strings")
        expected = len(golds[gid].scene.lines)
        if len(annotated) != expected:
            raise AugmentlabError(
                f"{where}: {gid!r} has {len(annotated)} annotated line(s), the gold scene has {expected}"
            )
        out.append({"id": gid, "scenario": scenario, "annotated": annotated})
    return out


def _ladder_table(title: str, result: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"calibration ladder: {title}")
    for col in ("rung", "tier", "n", "mean", "bound", ""):
        table.add_column(col, justify="left" if col in ("rung", "tier") else "right", no_wrap=True)
    for r in result.rows:
        status = "[dim]skip[/dim]" if not r.n else ("[green]ok[/green]" if r.in_bounds else "[red]OUT[/red]")
        table.add_row(
            r.rung, r.tier, str(r.n), f"{r.mean:.3f}" if r.n else "–", f"[{r.low:.2f}, {r.high:.2f}]", status
        )
    return table


def _table(title: str, n: int, rows: list[Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"{title} ({n} examples)")
    for col in ("defect", "target", "n", "skip", "comp↓", "part↓", "Δcomp", "Δpart", "goal", ""):
        table.add_column(col, justify="left" if col in ("defect", "target") else "right", no_wrap=True)
    for r in rows:
        table.add_row(
            r.defect, r.target, str(r.n), str(r.skipped), f"{r.composite_rate:.0%}", f"{r.part_rate:.0%}",
            f"{r.mean_composite_drop:.3f}", f"{r.mean_part_drop:.3f}", f"{r.goal:.0%}",
            "[green]ok[/green]" if r.passed else ("[dim]n/a[/dim]" if not r.n else "[red]MISS[/red]"),
        )
    return table


def _judge_config(lm_options: Any) -> Any:
    """The judge's LM: the LM options when any is given (``--model``/``--api-base`` or ``--gguf``),
    else ``AUGMENTLAB_JUDGE_MODEL`` (+ ``_API_BASE``, ``_KEY_ENV``, ``_PRICES``); one error when neither."""
    import dataclasses

    from augmentlab.lm.settings import resolve_lm_config
    from metrics import judge as judge_mod

    given = lm_options is not None and any(getattr(lm_options, f.name) is not None for f in dataclasses.fields(lm_options))
    config = resolve_lm_config(lm_options) if given else judge_mod.judge_config_from_env()
    if config is None:
        raise AugmentlabError(
            f"--judge needs a judge LM: pass --model (and --api-base, --api-key-env as needed) or --gguf, or set "
            f"{judge_mod.JUDGE_ENV_PREFIX}_MODEL (and _API_BASE, _KEY_ENV)"
        )
    return config


def _judge_check(
    console: Any, sets: list[tuple[str, list[Any]]], prompt: str, limit: int, seed: int, lm_options: Any = None
) -> bool:
    """Print the LLM judge's ladder per gold set (see :mod:`metrics.judge`); True when it holds."""
    from rich.table import Table

    from metrics import judge as judge_mod
    from prompts.variants import load_variant

    config = _judge_config(lm_options)
    variant = load_variant(prompt, task="judge")
    ok = True
    with judge_mod.open_judge(config, variant.instructions) as judge:
        for title, examples in sets:
            rungs = judge_mod.calibrate(judge, examples[:limit], seed=seed)
            table = Table(title=f"LLM judge ({config.model}, {variant.id}) on {title}")
            for col in ("rung", "what", "n", "abstained", "Σ severity", "judge part", "< gold"):
                table.add_column(col, justify="left" if col in ("rung", "what") else "right")
            for r in rungs:
                mean = "-" if r.mean is None else f"{r.mean:.3f}"
                must = "must" if r.judged else ""
                table.add_row(r.name, r.description, str(len(r.parts)), str(r.abstained), str(r.severity), mean, must)
            console.print(table)
            problems = judge_mod.calibration_problems(rungs)
            for problem in problems:
                console.print(f"[red]judge ladder: {problem}[/red]")
            ok = ok and not problems
        u = judge.usage
        cost = "unknown" if u.cost is None else f"{u.cost:.4f}"
        console.print(
            f"judge usage: {u.calls} calls ({u.cached_calls} cached), {u.total_tokens} tokens, cost {cost}"
        )
    return ok
