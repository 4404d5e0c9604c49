"""Experiments: a spec file names a task, a gold set, a split, LMs, metric weights and prompt
variants (hand-written or optimized); the runner evaluates each variant on the test split and
logs it to MLflow.

- :mod:`experiments.spec` — the TOML spec model and its validation;
- :mod:`experiments.splits` — seeded, grouped train/dev/test splits;
- :mod:`experiments.optimizers` — DSPy optimizers behind one ``compile_variant`` call;
- :mod:`experiments.runner` — ``run_experiment(spec_path)``.
"""
