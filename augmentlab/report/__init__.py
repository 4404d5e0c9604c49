"""Reports that answer "which prompt yields better data?" for an experiment logged in MLflow.

```python
from augmentlab.report import build_report, gather

paths = build_report("quickstart", out_dir="out/quickstart")   # report.html + report.md (+ images/)
data = gather("quickstart")                                     # the same numbers, for notebooks
data.headline, data.leaderboard_frame(), data.comparisons
```

- :mod:`augmentlab.report.data` — :func:`gather` reads the store and computes intervals, paired
  comparisons, verdicts, the winner, the examples to show and the winning prompt;
- :mod:`augmentlab.report.runs` — which execution to report on, a variant's logged prompt, the
  optimizer progress metrics (MLflow reading);
- :mod:`augmentlab.report.examples` — test examples side by side (gold set, outputs, the ones
  worth reading);
- :mod:`augmentlab.report.plots` — the figures (matplotlib, Agg);
- :mod:`augmentlab.report.render` — HTML (self-contained) and Markdown from Jinja2 templates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from augmentlab.core.errors import AugmentlabError
from augmentlab.report import plots
from augmentlab.report.data import (
    ExampleView,
    PairedComparison,
    PromptText,
    ReportData,
    VariantOutput,
    VariantSummary,
    example_view,
    gather,
    prompt_of,
    worst_examples,
)
from augmentlab.report.render import render_html, render_markdown

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
IMAGES_DIR = "images"


@dataclass
class ReportPaths:
    """Where :func:`build_report` wrote the report."""

    html: Path
    markdown: Path
    images: list[Path] = field(default_factory=list)
    """The figures as PNG files (the Markdown twin links them; the HTML embeds them)."""
    data: ReportData | None = None


def default_out_dir(experiment: str) -> Path:
    """``out/<experiment>/`` (next to the runner's augmented script)."""
    return Path("out") / Path(str(experiment)).stem if str(experiment).endswith(".toml") else Path("out") / str(experiment)


def build_report(
    experiment: str | os.PathLike[str],
    *,
    tracking_uri: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    baseline: str | None = None,
    seed: int | None = None,
    n_examples: int = 3,
) -> ReportPaths:
    """Write ``report.html`` (self-contained) and ``report.md`` (+ ``images/*.png``) to ``out_dir``.

    ``experiment`` is the experiment name or its spec file; ``out_dir`` defaults to
    ``out/<experiment>/``. See :func:`augmentlab.report.data.gather` for the other arguments.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)

    data = gather(str(experiment), tracking_uri=tracking_uri, run_id=run_id, baseline=baseline, seed=seed,
                  n_examples=n_examples)
    out = Path(out_dir) if out_dir is not None else default_out_dir(data.experiment)
    figures = plots.render_all(data)
    try:
        (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        image_paths: dict[str, tuple[str, str]] = {}
        written = []
        for name, (png, alt) in figures.items():
            path = out / IMAGES_DIR / f"{name}.png"
            path.write_bytes(png)
            written.append(path)
            image_paths[name] = (f"{IMAGES_DIR}/{name}.png", alt)
        html_path = out / HTML_NAME
        md_path = out / MARKDOWN_NAME
        html_path.write_text(render_html(data, figures), encoding="utf-8")
        md_path.write_text(render_markdown(data, image_paths), encoding="utf-8")
    except OSError as exc:
        raise AugmentlabError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    return ReportPaths(html=html_path, markdown=md_path, images=written, data=data)


__all__ = [
    "ExampleView",
    "PairedComparison",
    "PromptText",
    "ReportData",
    "ReportPaths",
    "VariantOutput",
    "VariantSummary",
    "build_report",
    "default_out_dir",
    "example_view",
    "gather",
    "prompt_of",
    "worst_examples",
]
