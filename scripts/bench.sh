#!/usr/bin/env bash
# Run every benchmark; each prints ratios measured side by side in one run.
# Pass --full for the 100 MB ingest file and the embedded-model token comparison.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ "${1:-}" = "--full" ]; then
    $PY benchmarks/bench_ingest.py
    $PY benchmarks/bench_metrics.py
    $PY benchmarks/bench_augment.py --embedded
else
    $PY benchmarks/bench_ingest.py --quick
    $PY benchmarks/bench_metrics.py
    $PY benchmarks/bench_augment.py
fi
# prose speaker attribution against PDNC (skipped with a note when ../shared/pdnc-dev is absent)
PYTHONPATH=. $PY benchmarks/bench_attribution.py || true
