"""Run an experiment spec end to end: :func:`run_experiment`.

1. load and validate the spec (no LM yet), read the gold set(s), ingest the ``script`` if the
   caller augments it;
2. split the gold set by source scene (train / dev / test, seeded);
3. open the LM(s) once, the execution's MLflow run and its tracer (:mod:`experiments.execution`);
4. for each variant, in spec order: build it (hand-written, :mod:`experiments.variants`) or
   compile it from its base with its optimizer (:mod:`experiments.optimizers`) on train (dev for
   selection); evaluate it on **test** (:mod:`experiments.evaluate`); log it as a child MLflow run
   (:mod:`experiments.record`: params, instructions, demos, scores, per-example table, usage,
   program file, and the optimizer's trajectory as step metrics ``optimizer_score`` /
   ``optimizer_best``); optimized variants are also saved as
   ``prompts/optimized/<spec>-<variant>.json`` with their lineage;
5. print the leaderboard (score with its 95% bootstrap interval, sub-scores, tokens per example,
   verdict against the first variant);
6. hand the spec's ``script`` and the best variant to the caller's ``augment`` step (the CLI's is
   :func:`augmentlab.augment.best.augment_with_best`: ``<out>/augmented.jsonl``), while the LM
   and the execution's MLflow run are still open.

The same spec with a warm DSPy cache gives the same numbers: the split, the optimizers and the
bootstrap intervals are seeded, and Python's and NumPy's global generators are seeded per variant.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import dspy
from rich.console import Console
from rich.markup import escape

import augmentlab  # noqa: F401  (offline environment first)
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample, Script, Usage
from augmentlab.core.stats import Interval, bootstrap_ci
from augmentlab.ingest import load as load_script
from augmentlab.lm import LMSession, parse_log
from augmentlab.lm.settings import apply_to_spec
from augmentlab.ingest.gold import read_gold
from experiments import genai, leaderboard, verdict
from experiments.evaluate import predict_all, progress_bar, score_predictions
from experiments.execution import Execution, open_execution
from experiments.judging import Evidence, PairJudge, cannot_separate, open_lm_judge, separate_hint
from experiments.record import log_variant, save_program, save_results
from experiments.spec import ExperimentSpec, VariantSpec, load_spec
from experiments.splits import Split, split_for, usable_for
from experiments.tracing import Tracer
from experiments.tracking import LEADERBOARD_TABLE, Tracker
from experiments.unlabeled import script_examples
from experiments.variants import build_program, compile_optimized, seed_everything
from prompts.programs import instruction_text

if TYPE_CHECKING:
    from experiments.optimizers import Trial


# ------------------------------------------------------------------------------- results
@dataclass
class ExampleResult:
    """One test example scored for one variant."""

    example_id: str
    score: float
    parts: dict[str, float]
    feedback: str
    scenario: str | None
    annotated_lines: list[str] | None
    usage: Usage
    error: str | None = None
    trace_id: str | None = None
    """The MLflow trace of this example's LM calls (None when tracing is off)."""


@dataclass
class VariantOutcome:
    """What one variant did on the test split."""

    name: str
    spec: VariantSpec
    program: Any
    examples: list[ExampleResult] = field(default_factory=list)
    interval: Interval | None = None
    options: dict[str, Any] = field(default_factory=dict)
    eval_usage: Usage = field(default_factory=Usage)
    compile_usage: Usage = field(default_factory=Usage)
    program_path: Path | None = None
    run_id: str | None = None
    seconds: float = 0.0
    trajectory: list[Trial] = field(default_factory=list)
    """The optimizer's scores while compiling (empty for hand-written variants); logged as step metrics."""

    @property
    def score(self) -> float:
        return self.interval.mean if self.interval else 0.0

    @property
    def scores(self) -> list[float]:
        return [e.score for e in self.examples]

    def scores_by_id(self) -> dict[str, float]:
        return {e.example_id: e.score for e in self.examples}

    def part_means(self) -> dict[str, float]:
        names = sorted({k for e in self.examples for k in e.parts})
        out = {}
        for name in names:
            values = [e.parts[name] for e in self.examples if name in e.parts]
            if values:
                out[name] = sum(values) / len(values)
        return out

    def pass_rate(self, threshold: float) -> float:
        return sum(s >= threshold for s in self.scores) / len(self.scores) if self.scores else 0.0

    def tokens_per_example(self) -> float:
        return self.eval_usage.total_tokens / len(self.examples) if self.examples else 0.0


@dataclass
class RunResult:
    """An execution of a spec."""

    spec: ExperimentSpec
    split: Split
    variants: list[VariantOutcome]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str | None
    augmented_path: Path | None = None
    evidence: Evidence | None = None
    """The verdicts of the spec's ``[judge]`` aggregated (:mod:`experiments.verdict`); None before they are gathered."""

    def _entries(self) -> list[leaderboard.Entry]:
        ev = self.evidence
        return [
            leaderboard.Entry(
                name=v.name,
                scores=v.scores_by_id(),
                optimizer=v.spec.optimizer or "",
                parts=dict(v.part_means()),
                tokens_per_example=v.tokens_per_example(),
                score=v.interval,
                win_rate=_rate(ev, v.name),
                lc_win_rate=_lc(ev, v.name),
            )
            for v in self.variants
        ]

    @property
    def decided_by(self) -> str:
        """Which evidence chose :attr:`best`: the verdicts' source (``lm:...``, ``human``) or ``composite``."""
        return self.evidence.decided_by if self.evidence else "composite"

    @property
    def best(self) -> VariantOutcome:
        """The variant the run uses: by the judge's verdicts when the spec's ``[judge]`` gave some
        (the detectably better win rate vs the baseline, else the baseline); otherwise the
        baseline (the first variant) unless another is detectably better by the composite, the
        one leaderboard's rule (:func:`experiments.leaderboard.best`)."""
        if self.evidence is not None and self.evidence.decided and self.evidence.winner:
            name = self.evidence.winner
        else:
            name = leaderboard.best(self._entries(), self.variants[0].name, seed=self.spec.seed)
        return next(v for v in self.variants if v.name == name)

    def leaderboard(self) -> list[dict[str, Any]]:
        """One row per variant (best first): the numbers ``compare`` and the CLI print
        (:func:`experiments.leaderboard.rows`)."""
        return leaderboard.rows(self._entries(), self.variants[0].name, seed=self.spec.seed)


def _rate(ev: Evidence | None, name: str) -> Interval | None:
    rate = ev.rates.get(name) if ev else None
    return rate.interval if rate else None


def _lc(ev: Evidence | None, name: str) -> float | None:
    lc = ev.lc.get(name) if ev else None
    return lc.mean if lc else None


# ------------------------------------------------------------------------------- evaluation
def evaluate(
    program: Any,
    examples: Sequence[dspy.Example],
    golds: Sequence[GoldExample],
    *,
    session: LMSession,
    spec: ExperimentSpec,
    weights: Any,
    embedder: Any = None,
    progress: Any = None,
    description: str = "",
    tracer: Any = None,
    trace_tags: dict[str, str] | None = None,
    run_id: str | None = None,
) -> tuple[list[ExampleResult], Usage]:
    """Run ``program`` on every example (usage read from ``session``), then score all predictions
    in one batch.

    With a :class:`~experiments.tracing.Tracer`, each example is one MLflow trace (tagged with
    ``trace_tags`` and the example id, linked to ``run_id``).
    """
    task_id = progress.add_task(description, total=len(examples)) if progress is not None else None
    predictions = predict_all(
        program, examples, golds, session=session, secret_env_names=spec.secret_env_names(), tracer=tracer,
        trace_tags=trace_tags, run_id=run_id, description=description,
        advance=(lambda: progress.advance(task_id)) if progress is not None else None,
    )
    scores = score_predictions(predictions, task=spec.task, weights=weights, person=spec.metrics.person,
                               embedder=embedder, instructions=instruction_text(program))
    results = []
    total = Usage()
    for p, sc in zip(predictions, scores, strict=True):
        total = total + p.usage
        feedback = sc.feedback if p.error is None else f"program error: {p.error}. {sc.feedback}"
        results.append(
            ExampleResult(
                example_id=p.gold.id,
                score=float(sc.score),
                parts=dict(sc.parts),
                feedback=feedback,
                scenario=p.scenario if isinstance(p.scenario, str) else None,
                annotated_lines=list(p.annotated_lines) if isinstance(p.annotated_lines, list) else None,
                usage=p.usage,
                error=p.error,
                trace_id=p.trace_id,
            )
        )
    if progress is not None and task_id is not None:
        progress.remove_task(task_id)
    return results, total


# ------------------------------------------------------------------------------- the run
class AugmentStep(Protocol):
    """The caller's last step: augment the spec's ``script`` with the run's best variant, while the
    LM and the execution's MLflow run are open; returns the augmented file (logged as an artifact
    of the execution). The CLI's is :func:`augmentlab.augment.best.augment_with_best`."""

    def __call__(self, script: Script, result: RunResult, *, session: LMSession, out_dir: Path, progress: bool,
                 tracer: Tracer, console: Console) -> Path: ...


def run_experiment(
    spec_path: str | os.PathLike[str],
    *,
    tracking_uri: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    programs_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    console: Console | None = None,
    augment: AugmentStep | None = None,
    traces: bool | None = None,
    lm_options: Any = None,
    judge: PairJudge | None = None,
    verdicts: Sequence[str | os.PathLike[str]] = (),
) -> RunResult:
    """Run the spec at ``spec_path`` (see the module doc) and return its results.

    ``tracking_uri``: MLflow store (default ``./mlruns``). ``out_dir``: where the augmented script
    goes (default: the spec's ``out``, else ``out/<spec name>/``); each variant's test results are
    also written there (``results/<variant>.json``) *before* they are logged, so a tracking
    server that goes away mid-run loses nothing: the run stops with one clear line.
    ``programs_dir``: where optimized programs are saved (default ``prompts/optimized/``).
    ``augment``: the step that augments the spec's ``script`` with the best variant (none: the
    script is not read). ``traces``: log each example's LM calls as an MLflow trace (default: the
    spec's ``traces``, on unless set to false). ``lm_options``: command-line LM overrides
    (:class:`augmentlab.lm.settings.LMOptions`) over the spec's ``[lm]`` (or ``augmentlab.toml``'s).
    ``judge``: the pairwise judge for ``[judge] kind = "lm"`` (default: opened from ``[judge.lm]``);
    ``verdicts``: verdicts files imported for ``kind = "human"`` (they count like the page's).
    """
    try:
        return _run_experiment(
            spec_path, tracking_uri=tracking_uri, out_dir=out_dir, programs_dir=programs_dir,
            progress=progress, console=console, augment=augment, traces=traces, lm_options=lm_options,
            judge=judge, verdicts=verdicts,
        )
    except AugmentlabError:
        raise
    except Exception as exc:
        if not _is_tracking_error(exc):
            raise
        where = load_spec(spec_path).out_dir(out_dir) / RESULTS_DIR
        raise AugmentlabError(
            f"MLflow tracking failed mid-run ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            f"finished variants' results are kept in {where}"
        ) from None


RESULTS_DIR = "results"
"""Folder (under the run's out folder) with one JSON file of test results per variant."""


def _is_tracking_error(exc: BaseException) -> bool:
    """An error from MLflow's client or the HTTP layer under it (server gone, store broken)."""
    names = {f"{c.__module__}.{c.__name__}" for c in type(exc).__mro__}
    return any(n.startswith(("mlflow.", "requests.", "urllib3.")) for n in names)


def _run_experiment(
    spec_path: str | os.PathLike[str],
    *,
    tracking_uri: str | None,
    out_dir: str | os.PathLike[str] | None,
    programs_dir: str | os.PathLike[str] | None,
    progress: bool,
    console: Console | None,
    augment: AugmentStep | None,
    traces: bool | None = None,
    lm_options: Any = None,
    judge: PairJudge | None = None,
    verdicts: Sequence[str | os.PathLike[str]] = (),
) -> RunResult:
    console = console or Console(stderr=True)
    spec = apply_to_spec(load_spec(spec_path), lm_options, source=str(spec_path))
    script = _ingest(spec) if spec.script and (augment is not None or not spec.gold) else None
    if spec.gold:
        gold = usable_for(read_gold(spec.gold, required=True), spec.task)
        if not gold:
            raise AugmentlabError(f"no gold example has the labels task {spec.task!r} needs")
    else:  # no gold: the script's own scenes, compared by [judge]
        assert script is not None
        gold = script_examples(script, source=Path(str(spec.script)).name)
    split = split_for(spec, gold)
    tracker = Tracker(spec.spec_name, tracking_uri=tracking_uri, secret_env_names=spec.secret_env_names())
    console.print(
        f"[bold]{spec.spec_name}[/]: task {spec.task}, {len(spec.variants)} variant(s), "
        f"split train/dev/test = {len(split.train)}/{len(split.dev)}/{len(split.test)}, "
        f"LM {spec.lm.kind} ({spec.lm.model}); MLflow {tracker.tracking_uri}"
    )
    started = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    with ExitStack() as stack:
        ex = open_execution(stack, spec, split, tracker, started=started, traces=traces, console=console,
                             out_dir=spec.out_dir(out_dir), programs_dir=programs_dir)
        if spec.judge.kind == "lm" and judge is None:
            judge = open_lm_judge(stack, spec.judge)
        outcomes: list[VariantOutcome] = []
        with progress_bar(console, progress) as bar:
            for v in spec.variants:
                outcomes.append(_run_variant(ex, v, outcomes, bar, judge))
        result = RunResult(spec=spec, split=split, variants=outcomes, tracking_uri=tracker.tracking_uri,
                           experiment_id=tracker.experiment_id, parent_run_id=tracker.parent_run_id)
        result.evidence = verdict.gather(spec, outcomes, split.test, judge=judge, out_dir=ex.out_dir,
                                         imported=[Path(p) for p in verdicts])
        verdict.log(ex, outcomes, result.evidence)
        _log_leaderboard(ex, result)
        if script is not None and augment is not None:
            result.augmented_path = augment(script, result, session=ex.lms.task, out_dir=ex.out_dir, progress=progress,
                                            tracer=ex.tracer, console=console)
            ex.parent.file(result.augmented_path, "augmented")
    return result


def _run_variant(ex: Execution, v: VariantSpec, done: list[VariantOutcome], bar: Any,
                 judge: PairJudge | None = None) -> VariantOutcome:
    """Build or compile one variant, evaluate it on test, save and log it (its own MLflow run)."""
    spec = ex.spec
    t0 = time.perf_counter()
    seed_everything(spec.seed)
    outcome = VariantOutcome(name=v.name, spec=v, program=None)
    with ex.tracker.variant(v.name, tags={"augmentlab.spec": spec.spec_name}) as run, parse_log.capture() as unparsed:
        outcome.run_id = run.run_id
        _make_program(ex, outcome, done, judge)
        outcome.examples, outcome.eval_usage = evaluate(
            outcome.program, ex.parts["test"], ex.split.test, session=ex.lms.task, spec=spec, weights=spec.weights(),
            embedder=ex.ctx.embedder, progress=bar, description=f"{v.name}: test", tracer=ex.tracer,
            trace_tags=genai.trace_tags(spec, v.name), run_id=run.run_id,
        )
        outcome.interval = bootstrap_ci(outcome.scores, seed=spec.seed)
        outcome.seconds = time.perf_counter() - t0
        outcome.program_path = save_program(outcome, spec, ex.programs_dir, run.run_id)
        save_results(outcome, ex.out_dir / RESULTS_DIR)
        log_variant(run, outcome, spec=spec, split=ex.split)
        genai.log_assessments(ex.tracer, outcome, ex.split.test)
        genai.register_variant(ex.tracker, outcome, spec, ex.registered)
    ex.console.print(f"  {v.name}: score {outcome.interval} on {len(outcome.examples)} test example(s)")
    _say_unparsed(ex, v.name, unparsed, outcome.compile_usage.calls + outcome.eval_usage.calls)
    return outcome


def _say_unparsed(ex: Execution, name: str, unparsed: parse_log.ParseErrors, answers: int) -> None:
    """One line for the variant's answers that could not be parsed (kept in results/<name>.parse_errors.jsonl)."""
    if not unparsed.count:
        return
    path = unparsed.write(ex.out_dir / RESULTS_DIR / f"{name}.parse_errors.jsonl", variant=name)
    ex.console.print(f"  {name}: {unparsed.summary(answers, path)}", markup=False, highlight=False, soft_wrap=True)


def _make_program(ex: Execution, outcome: VariantOutcome, done: list[VariantOutcome],
                  judge: PairJudge | None = None) -> None:
    """The variant's program: built from its files, or compiled from its base's (usage counted);
    a ``metric = "judge"`` variant's optimizer climbs the win against the baseline (the first variant)."""
    v = outcome.spec
    if not v.optimized:
        outcome.program = build_program(v, ex.spec.task)
        return
    base = next(o for o in done if o.name == v.base)
    outcome.options = v.optimizer_options.effective(ex.ctx)
    ex.console.print(f"compiling [bold]{v.name}[/] ({v.optimizer} from {v.base}) on {len(ex.split.train)} train example(s)")
    ctx = ex.ctx
    if v.metric == "judge":
        if judge is None:
            raise AugmentlabError(f"variant {v.name!r}: metric = \"judge\" but no LM judge is open")
        ctx = verdict.judge_context(ctx, judge, done[0], task=ex.spec.task, variant=v.name)
    start = ex.lms.task.mark()
    compiled = compile_optimized(v, base.program, trainset=ex.parts["train"], devset=ex.parts["dev"], ctx=ctx)
    outcome.program, outcome.trajectory = compiled.program, compiled.trajectory
    outcome.compile_usage = ex.lms.task.usage_since(start)


def _log_leaderboard(ex: Execution, result: RunResult) -> None:
    """The leaderboard into MLflow (table, best variant, champion prompts) and onto the console."""
    board = result.leaderboard()
    ex.parent.table(board, LEADERBOARD_TABLE)
    best = result.best  # one verdict (the judge's when it gave one, else paired tests), read three times
    ex.parent.tags({"augmentlab.best_variant": best.name})
    ex.parent.metrics({"best_score": best.score})
    champion = genai.crown(ex.tracker, ex.spec, ex.registered, best.name)
    if champion:
        ex.console.print(
            f"prompt registry: [bold]{champion}[/] is the champion (aliases champion, {genai.best_alias(ex.spec)})"
        )
    leaderboard.print_leaderboard(board, console=ex.console, title=f"{ex.spec.spec_name}: test split (n={len(ex.split.test)})")
    _print_decision(ex, result, board)


def _print_decision(ex: Execution, result: RunResult, board: list[dict[str, Any]]) -> None:
    """Which evidence chose the best variant, its notes, and the hint when the composite cannot separate."""
    ev = result.evidence
    for note in ev.notes if ev else []:
        ex.console.print(f"[yellow]note[/]: {escape(note)}")
    if ev is not None and ev.decided:
        ex.console.print(f"best: {result.best.name}, {escape(ev.sentence())}")
        return
    scores = {str(r["variant"]): float(r["score"]) for r in board}
    verdicts = {str(r["variant"]): str(r.get("vs_baseline") or "") for r in board if r["variant"] != result.variants[0].name}
    if cannot_separate(scores, verdicts):
        ex.console.print(f"[yellow]note[/]: {escape(separate_hint(ex.spec.spec_name))}")


def _ingest(spec: ExperimentSpec) -> Script:
    assert spec.script is not None
    script = load_script(spec.script)
    if not script.scenes:
        raise AugmentlabError(f"script {spec.script} has no scenes to augment")
    return script


__all__ = [
    "AugmentStep",
    "ExampleResult",
    "RunResult",
    "VariantOutcome",
    "evaluate",
    "run_experiment",
]
