"""Everything a report says, gathered from the MLflow store: :func:`gather` → :class:`ReportData`.

The numbers come from the per-example tables the runner logs (one row per test example), read
back with :func:`experiments.results.load_experiment`; every interval, paired test and verdict
comes from :mod:`augmentlab.core.stats`, so the report, ``augmentlab compare`` and the notebooks agree.

What is compared with what:

- the **baseline** is the variant named with ``baseline=``, else the one the execution's tags or
  params mark (``augmentlab.baseline``), else the spec's first variant (the ``variants`` param of
  the execution), else the first variant run;
- every other variant is compared with the baseline on the test examples *both* scored (matched
  by example id): mean difference with its paired bootstrap interval, a paired test (Wilcoxon
  signed-rank, or a paired permutation test for few pairs) and a verdict;
- the **winner** is the variant with the largest mean gain among those detectably better than the
  baseline; when none is, the baseline stays the winner — a higher mean alone is not a win.

Bad or partial stores give a report of what exists plus notes (never a crash): a variant without
per-example scores (a run that failed half way) is listed without numbers, missing metrics show as
absent, one variant gives a leaderboard without comparisons.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import augmentlab  # noqa: F401  (offline environment before mlflow)
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.stats import Comparison, Interval, winner
from augmentlab.report import examples, judged, runs
from augmentlab.report.examples import ExampleView, VariantOutput
from augmentlab.report.runs import PromptText, latest_execution
from augmentlab.report.wording import format_p, format_signed, headline
from experiments import leaderboard
from experiments.judging import Evidence, cannot_separate
from experiments.results import json_list
from experiments.tracking import client

if TYPE_CHECKING:
    import pandas as pd

    from experiments.results import ExperimentResults, VariantResult

_SMALL_N = 10


# ------------------------------------------------------------------------------- types
@dataclass
class VariantSummary:
    """One variant's line of the leaderboard."""

    name: str
    run_id: str
    status: str
    kind: str
    """``hand-written`` or ``optimized``."""
    optimizer: str = ""
    base: str = ""
    description: str = ""
    score: Interval | None = None
    """Mean composite score on the test examples with its 95% bootstrap interval."""
    parts: dict[str, Interval] = field(default_factory=dict)
    """Sub-score means with their 95% bootstrap intervals."""
    n: int = 0
    n_errors: int | None = None
    pass_rate: float | None = None
    lm_calls: float | None = None
    tokens_per_example: float | None = None
    cost: float | None = None
    """Evaluation cost in the LM's currency, only when the LM is priced."""
    compile_tokens: float | None = None
    compile_cost: float | None = None
    is_baseline: bool = False
    verdict: str = ""
    """Against the baseline: ``better``, ``worse``, ``no detectable difference`` or empty."""
    notes: list[str] = field(default_factory=list)

    @property
    def scored(self) -> bool:
        return self.score is not None

    @property
    def calls_per_example(self) -> float | None:
        if self.lm_calls is None or not self.n:
            return None
        return self.lm_calls / self.n


@dataclass
class PairedComparison:
    """A variant against the baseline on the test examples both scored."""

    variant: str
    baseline: str
    n: int
    comparison: Comparison | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        return self.comparison.verdict if self.comparison else ""

    @property
    def difference(self) -> Interval | None:
        return self.comparison.difference if self.comparison else None

    @property
    def p_value(self) -> float | None:
        return self.comparison.test.p_value if self.comparison else None

    @property
    def method(self) -> str:
        if not self.comparison:
            return ""
        return {
            "wilcoxon": "Wilcoxon signed-rank",
            "permutation-exact": "exact paired permutation",
            "permutation-monte-carlo": "paired permutation (Monte Carlo)",
            "identical": "identical scores",
        }.get(self.comparison.test.method, self.comparison.test.method)

    def sentence(self) -> str:
        """The comparison in plain language, e.g. for the report's verdict column."""
        if self.comparison is None:
            return self.note or f"{self.variant} was not compared with {self.baseline}"
        d = self.comparison.difference
        span = f"{format_signed(d.mean)} (95% CI {format_signed(d.low)} to {format_signed(d.high)})"
        where = f"on {self.n} paired test example{'s' if self.n != 1 else ''}"
        test = f"p = {format_p(self.comparison.test.p_value)}, {self.method}"
        if self.verdict == "better":
            return f"{self.variant} is better than {self.baseline}: {span} composite score {where} ({test})."
        if self.verdict == "worse":
            return f"{self.variant} is worse than {self.baseline}: {span} composite score {where} ({test})."
        return (
            f"No detectable difference between {self.variant} and {self.baseline}: {span} {where} ({test}); "
            "the data cannot tell them apart."
        )


@dataclass
class ReportData:
    """Everything :func:`gather` read and computed for one execution of an experiment."""

    experiment: str
    run_id: str | None
    tracking_uri: str
    status: str = ""
    started: str = ""
    task: str = ""
    lm: str = ""
    n_test: int | None = None
    baseline: str | None = None
    variants: list[VariantSummary] = field(default_factory=list)
    comparisons: list[PairedComparison] = field(default_factory=list)
    winner: str | None = None
    headline: str = ""
    disagreements: list[ExampleView] = field(default_factory=list)
    winner_worst: list[ExampleView] = field(default_factory=list)
    winner_prompt: PromptText | None = None
    progress: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)
    """``{variant: {metric: [(step, value), ...]}}`` for metrics logged at several steps."""
    notes: list[str] = field(default_factory=list)
    results: ExperimentResults | None = None
    """The raw MLflow read-back (params, tags, per-example rows) for anything not summarised here."""
    gold: dict[str, Any] = field(default_factory=dict, repr=False)
    """The gold examples of the execution by id (``GoldExample``), when the gold set was found."""
    evidence: Evidence | None = None
    """The judge's verdicts aggregated (win rates vs the baseline), when the execution has verdicts."""
    decided_by: str = "composite"
    """Which evidence chose :attr:`winner`: ``composite``, ``lm:<identity>``, ``human``."""
    cannot_separate: bool = False
    """No verdicts, every variant above the junk floor and no composite difference detectable."""

    def variant(self, name: str) -> VariantSummary:
        for v in self.variants:
            if v.name == name:
                return v
        raise AugmentlabError(f"no variant {name!r} in experiment {self.experiment!r}")

    def comparison(self, name: str) -> PairedComparison | None:
        return next((c for c in self.comparisons if c.variant == name), None)

    @property
    def part_names(self) -> list[str]:
        return sorted({p for v in self.variants for p in v.parts})

    def ranked(self) -> list[VariantSummary]:
        """Scored variants best mean first, then the unscored ones."""
        scored = sorted((v for v in self.variants if v.score), key=lambda v: -(v.score.mean if v.score else 0.0))
        return scored + [v for v in self.variants if not v.score]

    def leaderboard(self) -> list[dict[str, Any]]:
        """One flat row per variant (best first): what the report's table and the notebooks show."""
        rows = []
        for v in self.ranked():
            row: dict[str, Any] = {
                "variant": v.name,
                "baseline": v.is_baseline,
                "kind": v.kind,
                "optimizer": v.optimizer,
                "n": v.n,
                "score": v.score.mean if v.score else None,
                "ci_low": v.score.low if v.score else None,
                "ci_high": v.score.high if v.score else None,
            }
            for name in self.part_names:
                iv = v.parts.get(name)
                row[f"part.{name}"] = iv.mean if iv else None
                row[f"part.{name}.ci_low"] = iv.low if iv else None
                row[f"part.{name}.ci_high"] = iv.high if iv else None
            comparison = self.comparison(v.name)
            row.update(
                {
                    "lm_calls": v.lm_calls,
                    "tokens_per_example": v.tokens_per_example,
                    "cost": v.cost,
                    "vs_baseline": v.verdict,
                    "diff": comparison.difference.mean if comparison and comparison.difference else None,
                    "diff_low": comparison.difference.low if comparison and comparison.difference else None,
                    "diff_high": comparison.difference.high if comparison and comparison.difference else None,
                    "p_value": comparison.p_value if comparison else None,
                    "status": v.status,
                }
            )
            rows.append(row)
        return rows

    def leaderboard_frame(self) -> pd.DataFrame:
        """:meth:`leaderboard` as a pandas DataFrame indexed by variant (for notebooks)."""
        import pandas as pd

        return pd.DataFrame(self.leaderboard()).set_index("variant")

    def examples_frame(self, variant: str) -> pd.DataFrame:
        """One variant's per-example rows (score, sub-scores, feedback, outputs) as a DataFrame."""
        import pandas as pd

        if self.results is None:
            return pd.DataFrame()
        rows = self.results.variant(variant).rows
        frame = pd.DataFrame(rows)
        return frame.set_index("example_id") if "example_id" in frame else frame


# ------------------------------------------------------------------------------- helpers
def _metric(v: VariantResult, key: str) -> float | None:
    value = v.metrics.get(key)
    return float(value) if value is not None and math.isfinite(value) else None


# ------------------------------------------------------------------------------- reading
def _summarise(v: VariantResult, seed: int) -> VariantSummary:
    summary = VariantSummary(
        name=v.name,
        run_id=v.run_id,
        status=v.status,
        kind=v.params.get("kind") or ("optimized" if v.params.get("optimizer") else "hand-written"),
        optimizer=v.params.get("optimizer", ""),
        base=v.params.get("base", ""),
        description=v.tags.get("mlflow.note.content", ""),
        n_errors=int(v.metrics["n_errors"]) if "n_errors" in v.metrics else None,
        pass_rate=_metric(v, "pass_rate"),
        lm_calls=_metric(v, "lm_calls"),
        tokens_per_example=_metric(v, "tokens_per_example"),
        cost=_metric(v, "cost"),
        compile_tokens=_metric(v, "compile_total_tokens"),
        compile_cost=_metric(v, "compile_cost"),
    )
    scores = leaderboard.finite(v.scores)
    if v.status not in ("FINISHED", ""):
        summary.notes.append(f"run {v.status.lower()}")
    if not scores:
        summary.notes.append("no per-example scores logged")
        return summary
    if len(scores) < len(v.scores):
        summary.notes.append(f"{len(v.scores) - len(scores)} example(s) without a score left out")
    summary.score = leaderboard.interval(scores, seed=seed)
    summary.n = len(scores)
    for name, values in sorted(v.parts.items()):
        part = leaderboard.interval(values, seed=seed)
        if part is not None:
            summary.parts[name] = part
    if summary.tokens_per_example is None and v.rows:
        tokens = [(r.get("prompt_tokens") or 0) + (r.get("completion_tokens") or 0) for r in v.rows]
        if any(tokens):
            summary.tokens_per_example = sum(tokens) / len(tokens)
    if summary.lm_calls is None and v.rows and any("lm_calls" in r for r in v.rows):
        summary.lm_calls = float(sum(r.get("lm_calls") or 0 for r in v.rows))
    return summary


def _paired(variant: VariantResult, baseline: VariantResult, seed: int) -> PairedComparison:
    pairing = leaderboard.pair(variant.name, variant.scores_by_id(), baseline.name, baseline.scores_by_id(), seed=seed)
    result = PairedComparison(variant=variant.name, baseline=baseline.name, n=pairing.n, comparison=pairing.comparison)
    if not pairing.n_variant:
        result.note = f"{variant.name} has no per-example scores, so it cannot be compared with {baseline.name}."
    elif not pairing.n:
        result.note = f"{variant.name} and {baseline.name} share no test example, so they cannot be compared."
    elif pairing.left_out:
        result.note = f"{pairing.left_out} example(s) scored by only one of the two were left out of the pairing."
    return result


# ------------------------------------------------------------------------------- public views
def _raw(data: ReportData, name: str) -> VariantResult:
    if data.results is None:
        raise AugmentlabError(f"no MLflow results for experiment {data.experiment!r}")
    return data.results.variant(name)


def example_view(data: ReportData, example_id: str, variants: Sequence[str] | None = None) -> ExampleView:
    """One example side by side for ``variants`` (default: every variant that scored it)."""
    names = list(variants) if variants is not None else [v.name for v in data.variants]
    view = examples.view(example_id, [_raw(data, n) for n in names], data.gold)
    if not view.outputs:
        raise AugmentlabError(f"no variant scored example {example_id!r} in experiment {data.experiment!r}")
    return view


def worst_examples(data: ReportData, variant: str, k: int = 3, *, compare_with: str | None = None) -> list[ExampleView]:
    """``variant``'s ``k`` lowest-scoring examples, next to ``compare_with`` (default: the baseline)."""
    raw = _raw(data, variant)
    other = compare_with if compare_with is not None else data.baseline
    others = [_raw(data, other)] if other and other != variant else []
    return examples.worst(raw, others, data.gold, k)


def prompt_of(data: ReportData, variant: str) -> PromptText:
    """A variant's logged instructions and demos, its variant files and program files."""
    raw = _raw(data, variant)
    return runs.prompt(client(data.tracking_uri), raw, data.experiment)


# ------------------------------------------------------------------------------- gather
def gather(
    experiment: str,
    *,
    tracking_uri: str | None = None,
    run_id: str | None = None,
    baseline: str | None = None,
    seed: int | None = None,
    n_examples: int = 3,
) -> ReportData:
    """Read an experiment's latest execution (or ``run_id``) and compute what the report shows.

    ``experiment`` is the experiment name or the spec file it was run from; ``baseline`` overrides
    the baseline variant; ``seed`` seeds the bootstrap (default: the spec's seed, the leaderboard's
    rule: :func:`experiments.leaderboard.seed_of`); ``n_examples`` is how many disagreeing and
    worst examples to show. Raises :class:`AugmentlabError` for an unknown experiment or baseline.
    """
    results, notes = runs.load(experiment, tracking_uri, run_id)
    mlflow_client = client(results.tracking_uri)
    data = _header(results, mlflow_client, notes)
    if not results.variants:
        data.notes.append("The execution logged no variant runs.")
        data.headline = "Nothing to report: the execution logged no variant runs."
        return data
    _rank(data, results, baseline, leaderboard.seed_of(results.params, seed))
    _judge(data, results, mlflow_client, leaderboard.seed_of(results.params, seed))
    data.headline = headline(data)
    _examples(data, results, mlflow_client, n_examples)
    return data


def _header(results: ExperimentResults, mlflow_client: Any, notes: list[str]) -> ReportData:
    """What the report says about the execution itself (its run, task, LM, split size)."""
    parent = mlflow_client.get_run(results.parent_run_id) if results.parent_run_id else None
    return ReportData(
        experiment=results.name,
        run_id=results.parent_run_id,
        tracking_uri=results.tracking_uri,
        status=parent.info.status if parent else "",
        started=_dt.datetime.fromtimestamp(parent.info.start_time / 1000).strftime("%Y-%m-%d %H:%M")
        if parent and parent.info.start_time
        else "",
        task=results.params.get("task", ""),
        lm=results.params.get("lm.identity")
        or " ".join(x for x in (results.params.get("lm.kind", ""), results.params.get("lm.model", "")) if x),
        n_test=int(results.params["n_test"]) if results.params.get("n_test", "").isdigit() else None,
        notes=notes,
        results=results,
    )


def _rank(data: ReportData, results: ExperimentResults, baseline: str | None, seed: int) -> None:
    """The leaderboard: summaries, the baseline, paired comparisons and the winner."""
    planned = json_list(results.params.get("variants"))
    missing = [name for name in planned if name not in {v.name for v in results.variants}]
    if missing:
        data.notes.append(f"Variant(s) in the spec but never run: {', '.join(missing)}.")
    data.baseline = leaderboard.choose_baseline(
        [v.name for v in results.variants], explicit=baseline, params=results.params, tags=results.tags,
        experiment=results.name,
    )
    data.variants = [_summarise(v, seed) for v in results.variants]
    for v in data.variants:
        v.is_baseline = v.name == data.baseline
    base_result = results.variant(data.baseline) if data.baseline else None
    base_scored = base_result is not None and bool(leaderboard.finite(base_result.scores))
    if len(results.variants) == 1:
        data.notes.append("Only one variant was run, so there is no comparison: add a variant to the spec to compare.")
    elif base_result is not None:
        if not base_scored:
            data.notes.append(f"The baseline {data.baseline} has no per-example scores, so nothing is compared.")
        else:
            for v in results.variants:
                if v is base_result:
                    continue
                pc = _paired(v, base_result, seed)
                data.comparisons.append(pc)
                data.variant(v.name).verdict = pc.verdict
            if sum(1 for c in data.comparisons if c.comparison) > 1:
                data.notes.append(
                    f"{len(data.comparisons)} variants are each tested against the baseline at the 5% level without "
                    "correction for multiple comparisons: treat a lone, borderline 'better' with care."
                )
    for v in data.variants:
        if v.score and v.n < _SMALL_N and len(data.variants) > 1:
            data.notes.append(
                f"Only {v.n} test examples per variant: intervals are wide and only large differences are detectable."
            )
            break
    if base_scored and data.baseline:
        data.winner = winner(data.baseline, {c.variant: c.comparison for c in data.comparisons})
    else:
        ranked = [v for v in data.ranked() if v.score]
        data.winner = ranked[0].name if ranked else None


def _judge(data: ReportData, results: ExperimentResults, mlflow_client: Any, seed: int) -> None:
    """The judge's verdicts decide the winner when there are some; else say whether the composite
    can separate the variants at all."""
    ev = judged.evidence_of(results, mlflow_client, data.baseline, seed) if data.baseline else None
    if ev is None or not ev.decided:
        scores = {v.name: v.score.mean for v in data.variants if v.score}
        data.cannot_separate = cannot_separate(scores, {c.variant: c.verdict for c in data.comparisons})
        return
    data.evidence, data.winner, data.decided_by = ev, ev.winner, ev.decided_by
    data.notes.extend(ev.notes)


def _examples(data: ReportData, results: ExperimentResults, mlflow_client: Any, n_examples: int) -> None:
    """The gold set, the examples worth reading, the winning prompt and the optimizer progress."""
    gold, gold_note = examples.read_gold(results)
    data.gold = gold
    if gold_note:
        data.notes.append(gold_note)
    data.disagreements = examples.disagreements(results.variants, gold, n_examples)
    base_result = results.variant(data.baseline) if data.baseline else None
    if data.winner:
        top = results.variant(data.winner)
        if top.rows:
            data.winner_worst = examples.worst(top, [base_result] if base_result else [], gold, n_examples)
        data.winner_prompt = runs.prompt(mlflow_client, top, results.name)
    data.progress = runs.progress(mlflow_client, results.variants)


__all__ = [
    "ExampleView",
    "PairedComparison",
    "PromptText",
    "ReportData",
    "VariantOutput",
    "VariantSummary",
    "example_view",
    "gather",
    "latest_execution",
    "prompt_of",
    "worst_examples",
]
