"""Run an experiment spec end to end: :func:`run_experiment`.

1. load and validate the spec (no LM yet), read the gold set(s), ingest the ``script`` if any;
2. split the gold set by source scene (train / dev / test, seeded);
3. open the LM(s) once;
4. for each variant, in spec order: build it (hand-written) or compile it from its base with the
   optimizer on train (dev for selection); evaluate it on **test**; log it as a child MLflow run
   (params, instructions, demos, scores, per-example table, usage, program file, and the
   optimizer's trajectory as step metrics ``optimizer_score`` / ``optimizer_best``); optimized
   variants are also saved as ``prompts/optimized/<spec>-<variant>.json`` with their lineage;
5. print the leaderboard (score with its 95% bootstrap interval, sub-scores, tokens per example,
   verdict against the first variant);
6. augment the spec's ``script`` with the best variant into ``<out>/augmented.jsonl``.

The same spec with a warm DSPy cache gives the same numbers: the split, the optimizers and the
bootstrap intervals are seeded, and Python's and NumPy's global generators are seeded per variant.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import augmentlab  # noqa: F401  (offline environment first)
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.model import GoldExample, Script, Usage
from augmentlab.core.stats import Interval, bootstrap_ci
from augmentlab.ingest.gold import read_gold
from experiments import leaderboard
from experiments.spec import ExperimentSpec, VariantSpec, load_spec
from experiments.splits import Split, split_gold

if TYPE_CHECKING:
    import dspy
    from rich.console import Console

    from experiments.tracking import RunLogger, Tracker
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

    def _entries(self) -> list[leaderboard.Entry]:
        return [
            leaderboard.Entry(
                name=v.name,
                scores=v.scores_by_id(),
                optimizer=v.spec.optimizer or "",
                parts=dict(v.part_means()),
                tokens_per_example=v.tokens_per_example(),
                score=v.interval,
            )
            for v in self.variants
        ]

    @property
    def best(self) -> VariantOutcome:
        """The variant the run uses: the baseline (the first variant) unless another is detectably
        better, by the one leaderboard's rule (:func:`experiments.leaderboard.best`)."""
        name = leaderboard.best(self._entries(), self.variants[0].name, seed=self.spec.seed)
        return next(v for v in self.variants if v.name == name)

    def leaderboard(self) -> list[dict[str, Any]]:
        """One row per variant (best first): the numbers ``compare`` and the CLI print
        (:func:`experiments.leaderboard.rows`)."""
        return leaderboard.rows(self._entries(), self.variants[0].name, seed=self.spec.seed)


# ------------------------------------------------------------------------------- data
def usable_for(examples: list[GoldExample], task: str) -> list[GoldExample]:
    """The gold examples that have the labels ``task`` needs."""
    need_scenario = task in ("scenario", "both")
    need_actions = task in ("actions", "both")
    return [
        ex
        for ex in examples
        if (not need_scenario or ex.scenario) and (not need_actions or ex.annotated)
    ]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass


# ------------------------------------------------------------------------------- programs
def build_program(variant: VariantSpec, task: str) -> Any:
    """The program of a hand-written variant (variant files, optional demos file, or a saved program)."""
    from prompts.programs import SceneAugmenter, load_program
    from prompts.variants import load_variant

    if variant.program:
        program = load_program(variant.program)
        if program.task != task:
            raise AugmentlabError(f"variant {variant.name!r}: saved program is for task {program.task!r}, not {task!r}")
        return program
    scenario = load_variant(variant.scenario, task="scenario") if variant.scenario else None
    actions = load_variant(variant.actions, task="actions") if variant.actions else None
    if variant.demos:
        demos = _read_demos(Path(variant.demos))
        scenario = scenario.model_copy(update={"demos": demos}) if scenario else None
        actions = actions.model_copy(update={"demos": demos}) if actions else None
    return SceneAugmenter(scenario, actions)


def _read_demos(path: Path) -> list[dict[str, Any]]:
    try:
        demos = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AugmentlabError(f"cannot read demos {path}: {exc}") from None
    if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
        raise AugmentlabError(f"demos {path} must be a JSON list of objects")
    return demos


def instructions_and_demos(program: Any) -> dict[str, dict[str, Any]]:
    """``{predictor name: {"instructions": str, "demos": [...]}}`` of a program."""
    out: dict[str, dict[str, Any]] = {}
    for name, predictor in program.named_predictors():
        demos = []
        for demo in predictor.demos:
            data = demo.toDict() if hasattr(demo, "toDict") else dict(demo)
            data.pop("gold", None)
            demos.append(data)
        out[name] = {"instructions": predictor.signature.instructions, "demos": demos}
    return out


# ------------------------------------------------------------------------------- evaluation
def evaluate(
    program: Any,
    examples: Sequence[dspy.Example],
    golds: Sequence[GoldExample],
    *,
    lm: dspy.BaseLM,
    spec: ExperimentSpec,
    weights: Any,
    embedder: Any = None,
    progress: Any = None,
    description: str = "",
    tracer: Any = None,
    trace_tags: dict[str, str] | None = None,
    run_id: str | None = None,
) -> tuple[list[ExampleResult], Usage]:
    """Run ``program`` on every example, then score all predictions in one batch.

    With a :class:`~experiments.tracing.Tracer`, each example is one MLflow trace (tagged with
    ``trace_tags`` and the example id, linked to ``run_id``).
    """
    from dspy.utils.exceptions import LMError

    from augmentlab.lm import usage_since
    from experiments.tracing import Tracer
    from metrics.composite import score_many

    predictions: list[tuple[Any, Usage, str | None]] = []
    trace_ids: list[str | None] = []
    tracer = tracer or Tracer.off()
    task_id = progress.add_task(description, total=len(examples)) if progress is not None else None
    for example, gold in zip(examples, golds, strict=True):
        start = len(lm.history)
        error = None
        inputs = example.inputs()
        try:
            with tracer.trace(
                f"{description or 'evaluate'} {gold.id}", inputs=dict(inputs), run_id=run_id,
                tags={**(trace_tags or {}), "augmentlab.example_id": gold.id},
            ) as traced:
                pred = program(**inputs)
                traced.finish(outputs=_trace_outputs(pred), attributes=_trace_usage(usage_since(lm, start)))
        except LMError as exc:
            # The LM was not reached (after its retries) or is misconfigured: scoring that as 0
            # would log a finished run whose numbers measure the connection, not the prompt.
            from augmentlab.core.redact import Redactor  # an error body can echo the API key

            reason = Redactor(spec.secret_env_names()).text(f"{type(exc).__name__}: {' '.join(str(exc).split())}")
            raise AugmentlabError(
                f"{description or 'evaluation'}: the LM failed on example {gold.id} ({reason[:200]}); "
                "the run is marked FAILED — re-run to resume (finished LM calls are served from the DSPy cache)"
            ) from None
        except Exception as exc:  # a bad output scores 0 with the reason; the run goes on
            if isinstance(exc, KeyboardInterrupt):
                raise
            pred, error = None, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        trace_ids.append(traced.trace_id)
        predictions.append((pred, usage_since(lm, start), error))
        if progress is not None:
            progress.advance(task_id)
    kwargs: dict[str, Any] = {"task": spec.task, "weights": weights}
    if spec.metrics.person:
        kwargs["person"] = spec.metrics.person
    triples = [
        (gold, getattr(pred, "scenario", None), getattr(pred, "annotated_lines", None))
        for gold, (pred, _, _) in zip(golds, predictions, strict=True)
    ]
    scores = score_many(triples, embedder=embedder, **kwargs)
    results = []
    total = Usage()
    for gold, (pred, usage, error), sc, (_, scen, lines), trace_id in zip(
        golds, predictions, scores, triples, trace_ids, strict=True
    ):
        total = total + usage
        feedback = sc.feedback if error is None else f"program error: {error}. {sc.feedback}"
        results.append(
            ExampleResult(
                example_id=gold.id,
                score=float(sc.score),
                parts=dict(sc.parts),
                feedback=feedback,
                scenario=scen if isinstance(scen, str) else None,
                annotated_lines=list(lines) if isinstance(lines, list) else None,
                usage=usage,
                error=error,
                trace_id=trace_id,
            )
        )
    if progress is not None and task_id is not None:
        progress.remove_task(task_id)
    return results, total


def _trace_outputs(pred: Any) -> dict[str, Any]:
    return {"scenario": getattr(pred, "scenario", None), "annotated_lines": getattr(pred, "annotated_lines", None)}


def _trace_usage(usage: Usage) -> dict[str, Any]:
    return {"augmentlab.lm_calls": usage.calls, "augmentlab.prompt_tokens": usage.prompt_tokens,
            "augmentlab.completion_tokens": usage.completion_tokens, "augmentlab.cached_calls": usage.cached_calls,
            "augmentlab.retries": 0}


# ------------------------------------------------------------------------------- logging
def _log_variant(
    run: RunLogger,
    outcome: VariantOutcome,
    *,
    spec: ExperimentSpec,
    split: Split,
    lm_params: dict[str, Any],
) -> None:
    v = outcome.spec
    params: dict[str, Any] = {
        "spec": spec.spec_name,
        "variant": v.name,
        "kind": "optimized" if v.optimized else "hand-written",
        "task": spec.task,
        "seed": spec.seed,
        "split_seed": spec.split.seed if spec.split.seed is not None else spec.seed,
        "n_train": len(split.train),
        "n_dev": len(split.dev),
        "n_test": len(split.test),
        "metric_threshold": spec.metrics.threshold,
        "program_name": getattr(outcome.program, "name", ""),
        **lm_params,
    }
    if v.optimized:
        params["optimizer"] = v.optimizer
        params["base"] = v.base
        params.update({f"optimizer.{k}": val for k, val in outcome.options.items()})
    else:
        for key in ("scenario", "actions", "demos", "program"):
            value = getattr(v, key)
            if value:
                params[f"source.{key}"] = _display_path(value, spec)
    weights = spec.weights().model_dump()
    params.update({f"weights.{k}": val for k, val in weights.items()})
    run.params(params)
    iv = outcome.interval
    metrics: dict[str, float | int | None] = {
        "score": outcome.score,
        "score_ci_low": iv.low if iv else None,
        "score_ci_high": iv.high if iv else None,
        "pass_rate": outcome.pass_rate(spec.metrics.threshold),
        "n_examples": len(outcome.examples),
        "n_errors": sum(e.error is not None for e in outcome.examples),
        "lm_calls": outcome.eval_usage.calls,
        "lm_cached_calls": outcome.eval_usage.cached_calls,  # tokens counted, nothing spent
        "prompt_tokens": outcome.eval_usage.prompt_tokens,
        "completion_tokens": outcome.eval_usage.completion_tokens,
        "total_tokens": outcome.eval_usage.total_tokens,
        "tokens_per_example": outcome.tokens_per_example(),
        "cost": outcome.eval_usage.cost,
        "compile_lm_calls": outcome.compile_usage.calls,
        "compile_total_tokens": outcome.compile_usage.total_tokens,
        "compile_cost": outcome.compile_usage.cost,
        "seconds": outcome.seconds,
    }
    metrics.update({f"part.{k}": val for k, val in outcome.part_means().items()})
    run.metrics(metrics)
    if outcome.trajectory:
        from experiments.optimizers import trajectory_metrics

        for step, values in trajectory_metrics(outcome.trajectory):
            run.metrics(values, step=step)
    for predictor, data in instructions_and_demos(outcome.program).items():
        run.text(data["instructions"], f"instructions/{predictor}.md")
        run.json(data["demos"], f"demos/{predictor}.json")
    rows = []
    for e in outcome.examples:
        row: dict[str, Any] = {
            "example_id": e.example_id,
            "score": e.score,
            **{f"part.{k}": e.parts.get(k) for k in sorted({k for x in outcome.examples for k in x.parts})},
            "feedback": e.feedback,
            "scenario": e.scenario or "",
            "annotated_lines": "\n".join(e.annotated_lines or []),
            "prompt_tokens": e.usage.prompt_tokens,
            "completion_tokens": e.usage.completion_tokens,
            "lm_calls": e.usage.calls,
            "trace_id": e.trace_id or "",
        }
        rows.append(row)
    from experiments.tracking import PER_EXAMPLE_TABLE

    run.table(rows, PER_EXAMPLE_TABLE)
    if outcome.program_path is not None:
        run.file(outcome.program_path, "program")


def _display_path(value: str, spec: ExperimentSpec) -> str:
    path = Path(value)
    try:
        return str(path.relative_to(spec.project_root))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------- the run
def run_experiment(
    spec_path: str | os.PathLike[str],
    *,
    tracking_uri: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    programs_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    console: Console | None = None,
    augment: bool = True,
    traces: bool | None = None,
    lm_options: Any = None,
) -> RunResult:
    """Run the spec at ``spec_path`` (see the module doc) and return its results.

    ``tracking_uri``: MLflow store (default ``./mlruns``). ``out_dir``: where the augmented script
    goes (default: the spec's ``out``, else ``out/<spec name>/``); each variant's test results are
    also written there (``results/<variant>.json``) *before* they are logged, so a tracking
    server that goes away mid-run loses nothing: the run stops with one clear line.
    ``programs_dir``: where optimized programs are saved (default ``prompts/optimized/``).
    ``augment=False`` skips the script augmentation. ``traces``: log each example's LM calls as
    an MLflow trace (default: the spec's ``traces``, on unless set to false).
    ``lm_options``: command-line LM overrides
    (:class:`augmentlab.lm.settings.LMOptions`) over the spec's ``[lm]`` (or ``augmentlab.toml``'s).
    """
    try:
        return _run_experiment(
            spec_path, tracking_uri=tracking_uri, out_dir=out_dir, programs_dir=programs_dir,
            progress=progress, console=console, augment=augment, traces=traces, lm_options=lm_options,
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


def _save_results(outcome: VariantOutcome, directory: Path) -> Path:
    """Write one variant's test results as JSON (atomically) before anything is logged."""
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "variant": outcome.name,
        "score": outcome.score,
        "interval": [outcome.interval.low, outcome.interval.high] if outcome.interval else None,
        "examples": [
            {
                "example_id": e.example_id, "score": e.score, "parts": e.parts, "feedback": e.feedback,
                "scenario": e.scenario, "annotated_lines": e.annotated_lines, "error": e.error,
                "usage": e.usage.model_dump(),
            }
            for e in outcome.examples
        ],
    }
    target = directory / f"{outcome.name}.json"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def _run_experiment(
    spec_path: str | os.PathLike[str],
    *,
    tracking_uri: str | None,
    out_dir: str | os.PathLike[str] | None,
    programs_dir: str | os.PathLike[str] | None,
    progress: bool,
    console: Console | None,
    augment: bool,
    traces: bool | None = None,
    lm_options: Any = None,
) -> RunResult:
    from rich.console import Console

    from augmentlab.lm.settings import apply_to_spec

    console = console or Console(stderr=True)
    spec = apply_to_spec(load_spec(spec_path), lm_options, source=str(spec_path))
    gold = usable_for(read_gold(spec.gold, required=True), spec.task)
    if not gold:
        raise AugmentlabError(f"no gold example has the labels task {spec.task!r} needs")
    script = _ingest(spec) if (augment and spec.script) else None
    split_seed = spec.split.seed if spec.split.seed is not None else spec.seed
    split = split_gold(
        gold,
        train=spec.split.train,
        dev=spec.split.dev,
        test=spec.split.test,
        seed=split_seed,
        max_train=spec.split.max_train,
        max_dev=spec.split.max_dev,
        max_test=spec.split.max_test,
    )
    if any(v.optimized for v in spec.variants) and not split.train:
        raise AugmentlabError("the train split is empty but a variant uses an optimizer")
    if programs_dir is None:
        from prompts import OPTIMIZED_DIR

        programs_dir = OPTIMIZED_DIR
    programs_path = Path(programs_dir)

    from prompts.data import to_example

    parts = {name: [to_example(g, spec.task) for g in part] for name, part in split.parts().items()}
    weights = spec.weights()
    configs = spec.lm_configs()

    from experiments.tracking import LEADERBOARD_TABLE, Tracker

    tracker = Tracker(spec.spec_name, tracking_uri=tracking_uri, secret_env_names=spec.secret_env_names())
    console.print(
        f"[bold]{spec.spec_name}[/]: task {spec.task}, {len(spec.variants)} variant(s), "
        f"split train/dev/test = {len(split.train)}/{len(split.dev)}/{len(split.test)}, "
        f"LM {configs['lm'].kind} ({configs['lm'].model}); MLflow {tracker.tracking_uri}"
    )
    outcomes: list[VariantOutcome] = []
    augmented_path: Path | None = None
    started = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    with ExitStack() as stack:
        import dspy

        from augmentlab.lm import adapter_for, open_lm

        lm = stack.enter_context(open_lm(configs["lm"]))
        adapter = adapter_for(configs["lm"])
        stack.enter_context(dspy.context(lm=lm, adapter=adapter))
        needs = {v.optimizer for v in spec.variants if v.optimized}
        prompt_lm = _maybe_open(stack, configs["prompt_lm"], configs["lm"], lm, "mipro" in needs)
        reflection_lm = _maybe_open(stack, configs["reflection_lm"], configs["lm"], lm, "gepa" in needs)
        from metrics.similarity import default_embedder

        embedder = default_embedder()
        parent = stack.enter_context(
            tracker.parent(f"{spec.spec_name} {started}", tags={"augmentlab.spec": spec.spec_name})
        )
        from experiments import genai

        tracer = stack.enter_context(genai.open_tracer(tracker, spec, spec.traces if traces is None else traces))
        registered: dict[str, Any] = {}
        parent.params(
            {
                "spec": spec.spec_name,
                "spec_path": _display_path(str(spec.path), spec),
                "task": spec.task,
                "seed": spec.seed,
                "split": spec.split.model_dump(),
                "n_train": len(split.train),
                "n_dev": len(split.dev),
                "n_test": len(split.test),
                "gold": [_display_path(g, spec) for g in spec.gold],
                "variants": [v.name for v in spec.variants],
                **_lm_params(configs),
            }
        )
        parent.file(spec.path, "spec")
        parent.json(split.ids(), "split.json")
        from augmentlab.lm import usage_since
        from experiments.optimizers import OptimizerContext, compile_variant, effective_options

        ctx = OptimizerContext(
            task=spec.task,
            weights=weights,
            threshold=spec.metrics.threshold,
            person=spec.metrics.person,
            seed=spec.seed,
            num_threads=spec.num_threads,
            lm=lm,
            prompt_lm=prompt_lm,
            reflection_lm=reflection_lm,
            reflection_adapter=adapter_for(configs["reflection_lm"]),
            embedder=embedder,
        )
        with _progress(console, progress) as bar:
            for v in spec.variants:
                import time

                t0 = time.perf_counter()
                _seed_everything(spec.seed)
                outcome = VariantOutcome(name=v.name, spec=v, program=None)
                with tracker.variant(v.name, tags={"augmentlab.spec": spec.spec_name}) as run:
                    outcome.run_id = run.run_id
                    if v.optimized:
                        base = next(o for o in outcomes if o.name == v.base)
                        assert v.optimizer is not None
                        outcome.options = effective_options(v.optimizer, v.options(), ctx)
                        console.print(f"compiling [bold]{v.name}[/] ({v.optimizer} from {v.base}) on {len(split.train)} train example(s)")
                        start = len(lm.history)
                        try:
                            compiled = compile_variant(
                                v.optimizer,
                                base.program.deepcopy(),
                                trainset=parts["train"],
                                devset=parts["dev"],
                                options=v.options(),
                                ctx=ctx,
                            )
                            outcome.program, outcome.trajectory = compiled.program, compiled.trajectory
                        except AugmentlabError:
                            raise
                        except Exception as exc:
                            raise AugmentlabError(
                                f"variant {v.name!r}: optimizer {v.optimizer} failed: "
                                f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                            ) from exc
                        outcome.compile_usage = usage_since(lm, start)
                    else:
                        outcome.program = build_program(v, spec.task)
                    outcome.examples, outcome.eval_usage = evaluate(
                        outcome.program,
                        parts["test"],
                        split.test,
                        lm=lm,
                        spec=spec,
                        weights=weights,
                        embedder=embedder,
                        progress=bar,
                        description=f"{v.name}: test",
                        tracer=tracer,
                        trace_tags=genai.trace_tags(spec, v.name),
                        run_id=run.run_id,
                    )
                    outcome.interval = bootstrap_ci(outcome.scores, seed=spec.seed)
                    outcome.seconds = time.perf_counter() - t0
                    outcome.program_path = _save_program(outcome, spec, programs_path, run.run_id)
                    _save_results(outcome, spec.out_dir(out_dir) / RESULTS_DIR)
                    _log_variant(run, outcome, spec=spec, split=split, lm_params=_lm_params(configs))
                    genai.log_assessments(tracer, outcome, split.test)
                    genai.register_variant(tracker, outcome, spec, registered)
                outcomes.append(outcome)
                console.print(f"  {v.name}: score {outcome.interval} on {len(outcome.examples)} test example(s)")
        result = RunResult(
            spec=spec,
            split=split,
            variants=outcomes,
            tracking_uri=tracker.tracking_uri,
            experiment_id=tracker.experiment_id,
            parent_run_id=tracker.parent_run_id,
        )
        board = result.leaderboard()
        parent.table(board, LEADERBOARD_TABLE)
        parent.tags({"augmentlab.best_variant": result.best.name})
        parent.metrics({"best_score": result.best.score})
        champion = genai.crown(tracker, spec, registered, result.best.name)
        if champion:
            console.print(f"prompt registry: [bold]{champion}[/] is the champion (aliases champion, {genai.best_alias(spec)})")
        leaderboard.print_leaderboard(board, console=console, title=f"{spec.spec_name}: test split (n={len(split.test)})")
        if script is not None:
            target = spec.out_dir(out_dir)
            augmented_path = _augment_script(
                script, result.best, spec, target, lm, adapter, configs["lm"], progress, tracer, result.parent_run_id
            )
            parent.file(augmented_path, "augmented")
            why = "the baseline: no variant is detectably better" if result.best is result.variants[0] else (
                "detectably better than the baseline")
            console.print(f"augmented {spec.script} with [bold]{result.best.name}[/] ({why}) → {augmented_path}")
        result.augmented_path = augmented_path
    return result


def _maybe_open(stack: ExitStack, config: Any, main: Any, lm: Any, needed: bool) -> Any:
    """The LM for ``config``: the main LM when it is the same config or not needed."""
    if not needed or config == main:
        return lm
    from augmentlab.lm import open_lm

    return stack.enter_context(open_lm(config))


def _lm_params(configs: dict[str, Any]) -> dict[str, Any]:
    """LM settings for MLflow: kind, model, temperature... and only the NAME of the key variable."""
    keep = ("kind", "model", "api_base", "api_key_env", "temperature", "max_tokens", "adapter", "cache")
    out: dict[str, Any] = {}
    for role, config in configs.items():
        if role != "lm" and config == configs["lm"]:
            continue
        data = config.safe_dict()
        out.update({f"{role}.{k}": data.get(k) for k in keep if data.get(k) is not None})
        out[f"{role}.identity"] = config.identity_label()  # which model answered (GGUF hash / api_base)
        out[f"{role}.fingerprint"] = config.fingerprint()
    return out


def _save_program(outcome: VariantOutcome, spec: ExperimentSpec, directory: Path, run_id: str) -> Path | None:
    """Save an optimized variant as ``<directory>/<spec>-<variant>.json`` with its lineage."""
    if not outcome.spec.optimized:
        return None
    from prompts.programs import save_program

    iv = outcome.interval
    lineage = {
        "spec": spec.spec_name,
        "variant": outcome.name,
        "parent": outcome.spec.base,
        "optimizer": outcome.spec.optimizer,
        "budget": outcome.options,
        "task": spec.task,
        "scores": {
            "test_mean": outcome.score,
            "test_ci95": [iv.low, iv.high] if iv else None,
            "n_test": len(outcome.examples),
            "parts": outcome.part_means(),
        },
        "lm": spec.lm_configs()["lm"].record(),
        "mlflow_run_id": run_id,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return save_program(outcome.program, directory / f"{spec.spec_name}-{outcome.name}.json", lineage)


def _ingest(spec: ExperimentSpec) -> Script:
    from augmentlab.ingest import load

    assert spec.script is not None
    script = load(spec.script)
    if not script.scenes:
        raise AugmentlabError(f"script {spec.script} has no scenes to augment")
    return script


def _augment_script(
    script: Script,
    best: VariantOutcome,
    spec: ExperimentSpec,
    out_dir: Path,
    lm: Any,
    adapter: Any,
    lm_config: Any,
    progress: bool,
    tracer: Any = None,
    run_id: str | None = None,
) -> Path:
    from augmentlab.augment import AugmentOptions, augment_scripts
    from augmentlab.lm.session import LMSession

    augment_scripts(
        [script],
        out_dir,
        LMSession.of(lm_config, lm, adapter),
        AugmentOptions(
            program=best.program,
            concurrency=1,
            personas=spec.personas,
            write_personas=False,
            progress=progress,
            tracer=tracer,
            trace_tags={"augmentlab.spec": spec.spec_name, "augmentlab.variant": best.name},
            trace_run_id=run_id,
        ),
    )
    return out_dir / "augmented.jsonl"


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _progress(console: Console, enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


__all__ = [
    "ExampleResult",
    "RunResult",
    "VariantOutcome",
    "build_program",
    "evaluate",
    "run_experiment",
    "usable_for",
]
