"""Small MLflow stores for the report and notebook tests.

- :func:`real_store` runs a three-variant spec with the fake LM through the real runner (once per
  test session: later callers reuse the store found under the session's base temp folder);
- :func:`synthetic_store` logs hand-made runs through :class:`experiments.tracking.Tracker`, for the
  bad-input cases the runner never produces on purpose (failed runs, missing metrics, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "experiments" / "gold" / "handwritten.jsonl"
EXPERIMENT = "report-demo"

SPEC = f"""
name = "{EXPERIMENT}"
task = "both"
gold = ["{GOLD}"]
seed = 3

[split]
train = 0.4
dev = 0.2
test = 0.4
max_train = 3
max_dev = 2
max_test = 6

[lm]
kind = "fake"

[metrics]
threshold = 0.3

[[variants]]
name = "seed"
scenario = "prompts/scenario/seed.md"
actions = "prompts/actions/seed.md"

[[variants]]
name = "third"
scenario = "prompts/scenario/seed.md"
actions = "prompts/actions/third_person.md"

[[variants]]
name = "boot"
optimizer = "bootstrap"
base = "seed"
max_bootstrapped_demos = 1
"""


def real_store(base: Path) -> str:
    """The tracking folder of a fake-LM run of :data:`SPEC` under ``base`` (made once)."""
    store = base / "report-store"
    done = store / "DONE"
    if done.is_file():
        return str(store / "mlruns")
    from experiments.runner import run_experiment

    store.mkdir(parents=True, exist_ok=True)
    spec = store / f"{EXPERIMENT}.toml"
    spec.write_text(SPEC, encoding="utf-8")
    run_experiment(
        spec,
        tracking_uri=str(store / "mlruns"),
        programs_dir=store / "programs",
        out_dir=store / "out",
        progress=False,
    )
    done.write_text("ok")
    return str(store / "mlruns")


def synthetic_store(
    tracking: Path,
    name: str,
    variants: Sequence[dict[str, Any]],
    *,
    fail_parent: bool = False,
    parent_params: dict[str, Any] | None = None,
) -> str:
    """Log one execution of ``name`` with the given variants; returns the tracking folder.

    Each variant dict: ``name``, optional ``scores`` (list), ``ids`` (list, default ``e0..``),
    ``metrics`` (dict), ``fail`` (the run fails after logging what it has), ``table`` (False: no
    per-example table).
    """
    from experiments.tracking import PER_EXAMPLE_TABLE, Tracker

    tracker = Tracker(name, tracking_uri=str(tracking))
    params = {"spec": name, "task": "both", "variants": [v["name"] for v in variants], **(parent_params or {})}

    class _Fail(Exception):
        pass

    try:
        with tracker.parent(f"{name} run", tags={"augmentlab.spec": name}) as parent:
            parent.params(params)
            for v in variants:
                try:
                    with tracker.variant(v["name"]) as run:
                        run.params({"variant": v["name"], "kind": "hand-written"})
                        if v.get("metrics"):
                            run.metrics(v["metrics"])
                        scores = v.get("scores")
                        if scores is not None and v.get("table", True):
                            ids = v.get("ids") or [f"e{i}" for i in range(len(scores))]
                            rows = [
                                {"example_id": i, "score": s, "part.similarity": s, "feedback": f"feedback {i}",
                                 "scenario": f"scenario by {v['name']}", "annotated_lines": f"*nods* line of {i}"}
                                for i, s in zip(ids, scores, strict=True)
                            ]
                            run.table(rows, PER_EXAMPLE_TABLE)
                        if v.get("fail"):
                            raise _Fail
                except _Fail:
                    pass
            if fail_parent:
                raise _Fail
    except _Fail:
        pass
    return str(tracking)
