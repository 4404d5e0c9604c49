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
# # augmentlab quick start
#
# 1. ingest a human script into scenes;
# 2. run a tiny experiment — the hand-written seed prompts against a BootstrapFewShot-optimized
#    copy — on the hand-written gold set, logged to MLflow;
# 3. look at the results: which variant is better, by how much, how sure we are, and the script
#    augmented by the winner.
#
# The LM is the embedded SmolLM2 model (a few minutes on a laptop CPU). Set
# `AUGMENTLAB_NOTEBOOK_LM=fake` for augmentlab's deterministic stand-in (seconds, no model — what
# CI runs). `AUGMENTLAB_TRACKING_URI` picks the MLflow store (default: a fresh temporary one).

# %%
import os
import tempfile
from pathlib import Path

import augmentlab  # noqa: F401  (offline environment first)
import prompts

ROOT = Path(prompts.__file__).resolve().parent.parent  # the augmentlab project
LM_KIND = os.environ.get("AUGMENTLAB_NOTEBOOK_LM", "embedded")
WORK = Path(tempfile.mkdtemp(prefix="augmentlab-quickstart-"))
TRACKING_URI = os.environ.get("AUGMENTLAB_TRACKING_URI") or str(WORK / "mlruns")
print(f"LM: {LM_KIND}; MLflow store: {TRACKING_URI}")

# %% [markdown]
# ## 1. Ingest a script

# %%
from augmentlab.ingest import load

script = load(ROOT / "experiments" / "scripts" / "sample.txt")
print(f"{script.title or 'sample'}: {len(script.scenes)} scenes, cast {[c.name for c in script.characters]}")
for line in script.scenes[0].lines[:6]:
    print(f"  {line.speaker or '(narration)'}: {line.text}")

# %% [markdown]
# ## 2. Run a tiny experiment
# The spec is written here so the notebook is self-contained; `experiments/quickstart.toml` is
# the full-size version (`augmentlab run experiments/quickstart.toml`).

# %%
spec = WORK / "notebook-quickstart.toml"
spec.write_text(f'''
name = "notebook-quickstart"
task = "both"
gold = ["{ROOT / 'experiments' / 'gold' / 'handwritten.jsonl'}"]
script = "{ROOT / 'experiments' / 'scripts' / 'sample.txt'}"
seed = 0

[split]
train = 0.5
dev = 0.2
test = 0.3
max_train = 2
max_dev = 1
max_test = 3

[lm]
kind = "{LM_KIND}"
max_tokens = 384

[metrics]
threshold = 0.3

[[variants]]
name = "seed"
scenario = "prompts/scenario/seed.md"
actions = "prompts/actions/seed.md"

[[variants]]
name = "bootstrap"
optimizer = "bootstrap"
base = "seed"
max_bootstrapped_demos = 1
max_labeled_demos = 1
''', encoding="utf-8")

from augmentlab.augment.best import augment_with_best
from experiments.runner import run_experiment

result = run_experiment(
    spec,
    tracking_uri=TRACKING_URI,
    out_dir=WORK / "out",
    programs_dir=WORK / "programs",
    progress=False,
    augment=augment_with_best,  # the sample script, augmented by the winner
)

# %% [markdown]
# ## 3. Results
# Read back from MLflow, as `augmentlab report notebook-quickstart` does.

# %%
from IPython.display import Image, Markdown, display

from augmentlab.report import gather, plots

data = gather("notebook-quickstart", tracking_uri=TRACKING_URI)
display(Markdown(f"**{data.headline}**"))
for note in data.notes:
    print("note:", note)
data.leaderboard_frame()[["score", "ci_low", "ci_high", "tokens_per_example", "vs_baseline"]]

# %%
Image(data=plots.to_png(plots.score_distributions(data)))

# %% [markdown]
# The sample script, augmented by the winner of the run (first scene):

# %%
import json

rows = [json.loads(line) for line in result.augmented_path.read_text(encoding="utf-8").splitlines()]
first = rows[0]
print("Scenario:", first.get("scenario"))
for line in first.get("lines", [])[:6]:
    print(" ", line.get("annotated") if isinstance(line, dict) else line)

# %% [markdown]
# The full report (HTML with plots and side-by-side examples, plus a Markdown twin):

# %%
from augmentlab.report import build_report

paths = build_report("notebook-quickstart", tracking_uri=TRACKING_URI, out_dir=WORK / "report")
print(paths.html)
