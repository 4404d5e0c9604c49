"""The report's sentences: numbers as the report prints them, and the headline that says which
variant to use and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from experiments.judging import separate_hint

if TYPE_CHECKING:
    from augmentlab.report.data import ReportData, VariantSummary


def format_signed(value: float) -> str:
    """A difference with its sign and 3 decimals (``+0.017``; ``0.000`` when it rounds to zero)."""
    return "0.000" if abs(value) < 0.0005 else f"{value:+.3f}"


def format_p(value: float) -> str:
    """A p-value as the report prints it (``< 0.001``, ``0.375``)."""
    return "< 0.001" if value < 0.001 else f"{value:.3g}"


def _pct(new: float, old: float) -> str:
    if not old:
        return ""
    return f"{(new - old) / old * 100:+.0f}%"


def headline(data: ReportData) -> str:
    scored = [v for v in data.variants if v.score]
    if not scored:
        return "No variant has per-example scores yet, so nothing can be compared."
    if len(data.variants) == 1:
        v = data.variants[0]
        assert v.score is not None
        return f"Only one variant ({v.name}: {v.score}) — nothing to compare it with."
    if data.baseline is None or not data.variant(data.baseline).score:
        return f"The baseline {data.baseline!r} has no scores, so no variant could be compared with it."
    base = data.variant(data.baseline)
    if data.evidence is not None and data.evidence.decided:
        return judged_headline(data, base)
    text = composite_headline(data, base)
    if data.cannot_separate:
        text += " " + separate_hint(data.experiment)[0].upper() + separate_hint(data.experiment)[1:] + "."
    return text


def judged_headline(data: ReportData, base: VariantSummary) -> str:
    """The recommendation when the judge's verdicts decide, saying which evidence decided."""
    assert data.evidence is not None
    sentence = data.evidence.sentence()
    sentence = sentence[0].upper() + sentence[1:]
    if data.winner and data.winner != base.name:
        return f"Use {data.winner}. {sentence}.{cost_clause(data.variant(data.winner), base)}"
    return f"Keep {base.name}. {sentence}."


def composite_headline(data: ReportData, base: VariantSummary) -> str:
    """The recommendation by the composite's paired comparisons."""
    best = next((c for c in data.comparisons if c.variant == data.winner and c.verdict == "better"), None)
    if best is not None:
        winner = data.variant(best.variant)
        text = best.sentence()
        cost = cost_clause(winner, base)
        return f"Use {winner.name}. {text}{cost}"
    compared = [c for c in data.comparisons if c.comparison]
    if not compared:
        return f"No variant could be compared with the baseline {base.name}."
    top = max(compared, key=lambda c: c.difference.mean if c.difference else 0.0)
    assert top.difference is not None
    n = f"{top.n} paired example{'s' if top.n != 1 else ''}"
    return (
        f"No variant is detectably better than the baseline {base.name}; keep it. "
        f"The closest, {top.variant}, differs by {format_signed(top.difference.mean)} on {n} "
        f"(p = {format_p(top.p_value if top.p_value is not None else 1.0)}); the true difference most likely lies between "
        f"{format_signed(top.difference.low)} and {format_signed(top.difference.high)} (95% CI)."
    )


def cost_clause(winner: VariantSummary, base: VariantSummary) -> str:
    parts = []
    if winner.tokens_per_example and base.tokens_per_example:
        parts.append(
            f"It uses {winner.tokens_per_example:.0f} tokens per example against {base.tokens_per_example:.0f} "
            f"({_pct(winner.tokens_per_example, base.tokens_per_example)})"
        )
    if winner.cost is not None and base.cost is not None:
        parts.append(f"costs {winner.cost:.4g} against {base.cost:.4g} for the test split")
    if winner.compile_tokens:
        parts.append(f"and took {winner.compile_tokens:.0f} tokens to optimize")
    return (" " + ", ".join(parts) + ".") if parts else ""


__all__ = ["composite_headline", "cost_clause", "format_p", "format_signed", "headline", "judged_headline"]
