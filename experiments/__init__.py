"""Experiments: a spec file names a task, a gold set, a split, LMs, metric weights and prompt
variants (hand-written or optimized); the runner evaluates each variant on the test split and
logs it to MLflow.

- :mod:`experiments.spec` — the TOML spec model and its validation (``[judge]``:
  :mod:`experiments.judge_config`);
- :mod:`experiments.splits` — seeded, grouped train/dev/test splits;
- :mod:`experiments.optimizers` — DSPy optimizers, one module each, registered by name, behind one
  ``compile_variant`` call;
- :mod:`experiments.variants` — a variant's program (built from files or compiled);
- :mod:`experiments.evaluate` — a program run on the test examples and scored;
- :mod:`experiments.record` — what a run writes down (MLflow, results JSON, saved programs);
- :mod:`experiments.execution` — what an execution holds open (LMs, MLflow run, tracer);
- :mod:`experiments.unlabeled` — a spec without gold: its script's scenes as examples;
- :mod:`experiments.judging` — gates, pairwise verdicts and the decision they make;
- :mod:`experiments.verdict` — the run's verdict: gathered after the variants ran, logged;
- :mod:`experiments.runner` — ``run_experiment(spec_path)``.
"""
