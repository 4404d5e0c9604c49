# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Which prompt variant yields better data?
#
# Loads an experiment's latest execution from MLflow with augmentlab's public API
# (`augmentlab.report.gather`) and shows what `augmentlab report` shows: the leaderboard with 95%
# bootstrap intervals, each variant against the baseline on the same test examples (paired test
# and verdict), the plots, and the examples where the variants disagree most.
#
# Parameters come from the environment: `AUGMENTLAB_EXPERIMENT` (default `quickstart`) and
# `AUGMENTLAB_TRACKING_URI` (default `./mlruns` of the working folder).

# %%
import os

from IPython.display import HTML, Image, Markdown, display

from augmentlab.report import example_view, gather, plots
from augmentlab.report.render import example_html

EXPERIMENT = os.environ.get("AUGMENTLAB_EXPERIMENT", "quickstart")
TRACKING_URI = os.environ.get("AUGMENTLAB_TRACKING_URI") or None
BASELINE = os.environ.get("AUGMENTLAB_BASELINE") or None  # default: the spec's first variant

data = gather(EXPERIMENT, tracking_uri=TRACKING_URI, baseline=BASELINE)
display(Markdown(f"**{data.headline}**"))
for note in data.notes:
    print("note:", note)

# %% [markdown]
# ## Leaderboard
# Mean composite score and sub-scores over the test split, with 95% bootstrap intervals; tokens and
# LM calls of the evaluation; the verdict against the baseline.

# %%
board = data.leaderboard_frame()
columns = ["baseline", "kind", "n", "score", "ci_low", "ci_high", "tokens_per_example", "lm_calls", "cost", "vs_baseline"]
board[[c for c in columns if c in board]]

# %%
board[[c for c in board if c.startswith("part.") and not c.endswith(("ci_low", "ci_high"))]].round(3)

# %% [markdown]
# ## Against the baseline
# Paired on the test examples both variants scored (matched by example id).

# %%
import pandas as pd

pd.DataFrame(
    [
        {
            "variant": c.variant,
            "paired n": c.n,
            "difference": c.difference.mean if c.difference else None,
            "ci_low": c.difference.low if c.difference else None,
            "ci_high": c.difference.high if c.difference else None,
            "p": c.p_value,
            "test": c.method,
            "verdict": c.verdict or "not compared",
        }
        for c in data.comparisons
    ]
)

# %%
for c in data.comparisons:
    print("-", c.sentence())

# %% [markdown]
# ## Plots

# %%
for name, (make, alt) in plots.FIGURES.items():
    figure = make(data)
    if figure is not None:
        display(Image(data=plots.to_png(figure)))  # PNG: shows whatever the matplotlib backend
    else:
        print(f"({name}: nothing to plot)")

# %% [markdown]
# ## Side by side
# The examples where the variants' scores differ most. Set `EXAMPLE` to any test example id (see
# `data.results.variant(name).example_ids`) to look at another one.

# %%
for i, view in enumerate(data.disagreements, start=1):
    display(HTML(example_html(data, view, title=f"Disagreement {i}")))

# %%
ids = data.results.variants[0].example_ids if data.results and data.results.variants else []
EXAMPLE = os.environ.get("AUGMENTLAB_EXAMPLE") or (ids[0] if ids else None)
if EXAMPLE:
    display(HTML(example_html(data, example_view(data, EXAMPLE), title="Chosen example")))
