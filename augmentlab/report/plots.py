"""The report's figures (matplotlib, Agg backend): each function takes :class:`ReportData` and
returns a ``Figure`` (or ``None`` when there is nothing to draw), so notebooks can show them and
the report can embed them with :func:`to_png`.

- :func:`score_distributions` — every per-example score of every variant, mean and 95% interval;
- :func:`paired_differences` — each variant minus the baseline, with its 95% interval (forest plot);
- :func:`subscore_profile` — mean sub-scores per variant with 95% intervals;
- :func:`quality_cost` — score against tokens per example, with the quality/cost frontier;
- :func:`optimizer_progress` — metrics an optimizer logged step by step, where any were.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from augmentlab.report.data import ReportData

BASELINE_COLOR = "#6b7280"
WINNER_COLOR = "#15803d"
OTHER_COLOR = "#2563eb"
WORSE_COLOR = "#b91c1c"
_DPI = 110


def _figure(width: float, height: float) -> Figure:
    # Figure() directly (not pyplot): no global state, no GUI backend, safe in threads.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    return fig


def _color(data: ReportData, name: str) -> str:
    if name == data.winner and name != data.baseline:
        return WINNER_COLOR
    if name == data.baseline:
        return BASELINE_COLOR
    if data.variant(name).verdict == "worse":
        return WORSE_COLOR
    return OTHER_COLOR


def _label(data: ReportData, name: str) -> str:
    return f"{name} (baseline)" if name == data.baseline else name


def score_distributions(data: ReportData) -> Figure | None:
    """One row per variant: each example's score as a dot, the mean and its 95% interval as a bar."""
    import numpy as np

    variants = [v for v in data.ranked() if v.score]
    if not variants or data.results is None:
        return None
    fig = _figure(7.5, 0.7 + 0.55 * len(variants))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for row, v in enumerate(reversed(variants)):
        scores = [s for s in data.results.variant(v.name).scores if s == s]
        jitter = rng.uniform(-0.15, 0.15, size=len(scores))
        color = _color(data, v.name)
        ax.scatter(scores, row + jitter, s=16, alpha=0.45, color=color, linewidths=0)
        assert v.score is not None
        ax.errorbar(
            [v.score.mean], [row], xerr=[[v.score.mean - v.score.low], [v.score.high - v.score.mean]],
            fmt="D", color=color, markersize=7, capsize=4, elinewidth=2,
        )
    ax.set_yticks(range(len(variants)), [_label(data, v.name) for v in reversed(variants)])
    ax.set_xlabel("composite score per test example (dots); mean and 95% bootstrap interval (diamond)")
    every = [s for v in variants for s in data.results.variant(v.name).scores if s == s]
    lo, hi = min(every), max(every)
    pad = max(0.02, (hi - lo) * 0.15)
    ax.set_xlim(max(-0.02, lo - pad), min(1.02, hi + pad))
    ax.set_ylim(-0.6, len(variants) - 0.4)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Score distributions")
    return fig


def paired_differences(data: ReportData) -> Figure | None:
    """Each variant minus the baseline on the same examples: mean difference and 95% interval."""
    rows = [c for c in data.comparisons if c.difference is not None]
    if not rows:
        return None
    fig = _figure(7.5, 0.8 + 0.5 * len(rows))
    ax = fig.add_subplot()
    for i, c in enumerate(reversed(rows)):
        d = c.difference
        assert d is not None
        color = {"better": WINNER_COLOR, "worse": WORSE_COLOR}.get(c.verdict, BASELINE_COLOR)
        ax.errorbar([d.mean], [i], xerr=[[d.mean - d.low], [d.high - d.mean]], fmt="o", color=color,
                    capsize=4, elinewidth=2, markersize=7)
        ax.annotate(c.verdict, (d.high, i), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=8, color=color)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), [c.variant for c in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    lo = min(c.difference.low for c in rows if c.difference)
    hi = max(c.difference.high for c in rows if c.difference)
    pad = max(0.02, (hi - lo) * 0.35)
    ax.set_xlim(min(lo, 0) - pad, max(hi, 0) + pad)
    ax.set_xlabel(f"score difference against {data.baseline} (paired, 95% bootstrap interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Difference from the baseline")
    return fig


def subscore_profile(data: ReportData) -> Figure | None:
    """Grouped bars: each sub-score's mean per variant, with its 95% interval."""
    import numpy as np

    parts = data.part_names
    variants = [v for v in data.ranked() if v.parts]
    if not parts or not variants:
        return None
    fig = _figure(7.5, 3.4)
    ax = fig.add_subplot()
    width = 0.8 / len(variants)
    x = np.arange(len(parts))
    for i, v in enumerate(variants):
        means = [v.parts[p].mean if p in v.parts else np.nan for p in parts]
        low = [v.parts[p].mean - v.parts[p].low if p in v.parts else 0 for p in parts]
        high = [v.parts[p].high - v.parts[p].mean if p in v.parts else 0 for p in parts]
        ax.bar(x + (i - (len(variants) - 1) / 2) * width, means, width, yerr=[low, high], capsize=2,
               color=_color(data, v.name), alpha=0.35 + 0.65 * (1 - i / max(1, len(variants))),
               label=_label(data, v.name), error_kw={"elinewidth": 1})
    ax.set_xticks(x, parts)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("mean sub-score (95% interval)")
    ax.legend(fontsize=8, ncols=min(4, len(variants)), loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Sub-score profile")
    return fig


def frontier(points: list[tuple[str, float, float]]) -> list[str]:
    """Names on the quality/cost frontier: no other point is both cheaper (or equal) and better.

    ``points`` are ``(name, tokens, score)``.
    """
    out = []
    for name, tokens, score in points:
        dominated = any(
            (t <= tokens and s >= score) and (t < tokens or s > score) for n, t, s in points if n != name
        )
        if not dominated:
            out.append(name)
    return out


def quality_cost(data: ReportData) -> Figure | None:
    """Score (with its 95% interval) against tokens per example; the frontier joined by a line."""
    points = [(v.name, v.tokens_per_example, v.score) for v in data.variants if v.score and v.tokens_per_example]
    if not points:
        return None
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot()
    for name, tokens, iv in points:
        assert iv is not None and tokens is not None
        color = _color(data, name)
        ax.errorbar([tokens], [iv.mean], yerr=[[iv.mean - iv.low], [iv.high - iv.mean]], fmt="o", color=color,
                    capsize=4, markersize=7)
        ax.annotate(_label(data, name), (tokens, iv.mean), xytext=(7, 4), textcoords="offset points", fontsize=8)
    on_front = frontier([(n, float(t or 0), iv.mean) for n, t, iv in points if iv])
    front = sorted((float(t or 0), iv.mean) for n, t, iv in points if n in on_front and iv)
    if len(front) > 1:
        ax.plot([p[0] for p in front], [p[1] for p in front], "--", color=WINNER_COLOR, alpha=0.6,
                label="quality/cost frontier")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("LM tokens per test example (prompt + completion)")
    ax.set_ylabel("mean composite score")
    ax.grid(alpha=0.3)
    ax.margins(x=0.25, y=0.25)
    ax.set_title("Quality against cost")
    return fig


def optimizer_progress(data: ReportData) -> Figure | None:
    """Each metric an optimizer logged at several steps, one line per (variant, metric)."""
    series = [(v, m, pts) for v, metrics in data.progress.items() for m, pts in metrics.items()]
    if not series:
        return None
    fig = _figure(7.5, 3.2)
    ax = fig.add_subplot()
    for variant, metric, points in series:
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=f"{variant}: {metric}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("logged value")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("Optimizer progress")
    return fig


#: Figure name → (function, alt text); the order the report shows them in.
FIGURES = {
    "distributions": (score_distributions, "Per-example score distributions with mean and 95% interval per variant"),
    "differences": (paired_differences, "Paired score difference of each variant against the baseline"),
    "subscores": (subscore_profile, "Mean sub-scores per variant with 95% intervals"),
    "quality_cost": (quality_cost, "Mean score against tokens per example"),
    "progress": (optimizer_progress, "Optimizer progress as logged step by step"),
}


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def render_all(data: ReportData) -> dict[str, tuple[bytes, str]]:
    """``{name: (png bytes, alt text)}`` for every figure that has something to draw."""
    out = {}
    for name, (make, alt) in FIGURES.items():
        fig = make(data)
        if fig is not None:
            out[name] = (to_png(fig), alt)
    return out


__all__ = [
    "FIGURES",
    "frontier",
    "optimizer_progress",
    "paired_differences",
    "quality_cost",
    "render_all",
    "score_distributions",
    "subscore_profile",
    "to_png",
]
