"""What MLflow traces, assessments and the Prompt Registry add to the quick start's wall time.

    .venv/bin/python benchmarks/bench_tracking.py                # fake LM and stub server (~3 min)
    .venv/bin/python benchmarks/bench_tracking.py --embedded     # + the real quick start (slow)

The quick start (``experiments/quickstart.toml``: two variants, five test examples, the sample
script augmented at the end) runs with tracing on and with tracing off (``traces=False``, what
``--no-traces`` does), side by side in one process, alternating, each into a fresh MLflow store;
a warm-up run of each kind first loads the embedding model and the tracing modules, so
neither side pays for a one-off import. Wall time is the
whole ``run_experiment`` call (split, optimizer, evaluation, metrics, MLflow logging, registry,
augmentation). Goal: tracing adds < 10 %.

LMs:

- ``fake``: the offline FakeLM answers instantly, so everything MLflow does is the whole
  difference: the worst case;
- ``stub``: an OpenAI-compatible stub server (`tests/fakes/fake_server.py`) answering
  after ``--latency`` seconds (default 0.3 s), like a fast hosted model;
- ``embedded`` (``--embedded``): the real quick start with SmolLM2-135M on the CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import augmentlab  # noqa: F401  (offline environment first)
from bench_augment import start_stub  # the stub server, started as the augment benchmark starts it
from augmentlab.augment.best import augment_with_best
from experiments.runner import run_experiment

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "experiments" / "quickstart.toml"
KEY_ENV = "AUGMENTLAB_BENCH_KEY"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def quickstart_spec(folder: Path, lm: dict[str, Any] | None) -> Path:
    """The quick start spec with absolute paths and (optionally) another ``[lm]`` table."""
    data = tomllib.loads(QUICKSTART.read_text(encoding="utf-8"))
    base = QUICKSTART.parent
    data["gold"] = [str((base / g).resolve()) for g in data["gold"]]
    if data.get("script"):
        data["script"] = str((base / data["script"]).resolve())
    for v in data["variants"]:
        for key in ("scenario", "actions", "demos", "program"):
            if v.get(key):
                v[key] = str((REPO / v[key]).resolve())
    if lm is not None:
        data["lm"] = lm
    lines = [f"{k} = {_toml(v)}" for k, v in data.items() if not isinstance(v, dict | list) or k == "gold"]
    for table in ("split", "lm", "metrics"):
        if table in data:
            lines.append(f"\n[{table}]")
            lines += [f"{k} = {_toml(v)}" for k, v in data[table].items()]
    for v in data["variants"]:
        lines.append("\n[[variants]]")
        lines += [f"{k} = {_toml(val)}" for k, val in v.items()]
    path = folder / "quickstart.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_run(spec: Path, work: Path, traces: bool) -> tuple[float, int]:
    """Seconds for one quick start into a fresh store, and how many traces it left."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    result = run_experiment(
        spec, tracking_uri=str(work / "mlruns"), out_dir=work / "out", programs_dir=work / "programs",
        progress=False, console=_quiet_console(), traces=traces, augment=augment_with_best,
    )
    seconds = time.perf_counter() - t0
    from mlflow import MlflowClient

    traces_logged = len(MlflowClient(result.tracking_uri).search_traces(locations=[result.experiment_id], max_results=500))
    return seconds, traces_logged


def _quiet_console() -> Any:
    from rich.console import Console

    return Console(file=open(os.devnull, "w"), stderr=False)  # noqa: SIM115


def compare(label: str, spec: Path, root: Path, repeats: int) -> tuple[float, float]:
    on: list[float] = []
    off: list[float] = []
    n_traces = 0
    for i in range(repeats):
        for traces in ((True, False) if i % 2 == 0 else (False, True)):
            seconds, count = one_run(spec, root / f"{label}-{i}-{traces}", traces)
            (on if traces else off).append(seconds)
            if traces:
                n_traces = count
            else:
                assert count == 0, f"tracing off still logged {count} traces"
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(
        f"{label:9s} traces on {m_on:7.2f} s   off {m_off:7.2f} s   added {100 * (m_on - m_off) / m_off:+6.1f} %   "
        f"({n_traces} traces per run; median of {repeats}; runs on {[round(x, 2) for x in on]} off {[round(x, 2) for x in off]})",
        flush=True,
    )
    return m_on, m_off


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.3, help="stub server latency per call (s)")
    parser.add_argument("--embedded", action="store_true", help="also the real quick start (SmolLM2, slow)")
    parser.add_argument("--only", choices=("fake", "stub", "embedded"), default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="bench-tracking-dspy-"))
    os.environ.setdefault(KEY_ENV, "bench")
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        root = Path(tmp)
        fake = quickstart_spec(_mkdir(root / "fake"), {"kind": "fake", "cache": False})
        print("warm-up (embedding model, imports)...", flush=True)
        one_run(fake, root / "warmup", False)
        one_run(fake, root / "warmup-traced", True)  # tracing's imports, paid once per process
        if args.only in (None, "fake"):
            compare("fake", fake, root, args.repeats)
        if args.only in (None, "stub"):
            proc, url = start_stub(args.latency)
            try:
                stub = quickstart_spec(
                    _mkdir(root / "stub"),
                    {"kind": "endpoint", "model": "openai/stub", "api_base": url, "api_key_env": KEY_ENV,
                     "cache": False, "num_retries": 0, "adapter": "json"},
                )
                compare(f"stub{args.latency:g}s", stub, root, args.repeats)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        if args.embedded or args.only == "embedded":
            lm = {**tomllib.loads(QUICKSTART.read_text(encoding="utf-8"))["lm"], "timeout": 900}  # a busy CPU is slow
            compare("embedded", quickstart_spec(_mkdir(root / "embedded"), lm), root, 1)
    return 0


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
