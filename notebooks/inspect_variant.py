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
# # Inspect one variant
#
# One variant of an experiment logged in MLflow: its prompt (instructions and demos, as run), where
# its files live, its per-example scores and its failures next to the baseline.
#
# Parameters from the environment: `AUGMENTLAB_EXPERIMENT` (default `quickstart`),
# `AUGMENTLAB_TRACKING_URI` (default `./mlruns`), `AUGMENTLAB_VARIANT` (default: the report's
# winner).

# %%
import os

from IPython.display import HTML, Image, Markdown, display

from augmentlab.report import gather, plots, prompt_of, worst_examples
from augmentlab.report.render import example_html

EXPERIMENT = os.environ.get("AUGMENTLAB_EXPERIMENT", "quickstart")
TRACKING_URI = os.environ.get("AUGMENTLAB_TRACKING_URI") or None

data = gather(EXPERIMENT, tracking_uri=TRACKING_URI)
VARIANT = os.environ.get("AUGMENTLAB_VARIANT") or data.winner
summary = data.variant(VARIANT)
display(Markdown(f"**{VARIANT}** ({summary.kind}{', ' + summary.optimizer if summary.optimizer else ''}): "
                 f"score {summary.score or 'not scored'} on {summary.n} test examples; "
                 f"against the baseline: {summary.verdict or '—'}"))

# %% [markdown]
# ## The prompt

# %%
prompt = prompt_of(data, VARIANT)
for kind, path in prompt.sources.items():
    print(f"{kind} variant file: {path}")
for path in prompt.program_files:
    print(f"program file: {path}")
for predictor, p in prompt.predictors.items():
    display(Markdown(f"### {predictor}\n\n```text\n{p['instructions']}\n```\n\n{len(p['demos'])} demo(s)"))
    for demo in p["demos"]:
        display(Markdown("\n".join(f"- **{k}**: {v}" for k, v in demo.items())))

# %% [markdown]
# ## Per-example scores

# %%
frame = data.examples_frame(VARIANT)
score_columns = [c for c in frame if c == "score" or c.startswith("part.")]
frame[score_columns + ["prompt_tokens", "completion_tokens"]].sort_values("score").round(3)

# %%
from matplotlib.figure import Figure

figure = Figure(figsize=(6, 2.5), layout="constrained")
ax = figure.add_subplot()
ax.hist(frame["score"], bins=10, range=(0, 1), color="#2563eb")
ax.set_xlabel("composite score")
ax.set_ylabel("test examples")
ax.set_title(f"{VARIANT}: score distribution")
Image(data=plots.to_png(figure))

# %% [markdown]
# ## Failures
# The lowest-scoring examples with the metric's feedback, next to the baseline's output.

# %%
errors = frame[frame["feedback"].str.contains("program error", na=False)]
print(f"{len(errors)} example(s) where the program itself failed")
for i, view in enumerate(worst_examples(data, VARIANT, k=3), start=1):
    display(HTML(example_html(data, view, title=f"Worst {i}")))
