#!/usr/bin/env bash
# Run every benchmark; each prints ratios measured side by side in one run.
# Pass --full for the 100 MB ingest file, the embedded-model token comparison and the held-out
# proof (real prompts vs controls on mined gold; with AUGMENTLAB_HELDOUT_GGUF or
# AUGMENTLAB_HELDOUT_MODEL set, also on that stronger model).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ "${1:-}" = "--full" ]; then
    $PY benchmarks/bench_ingest.py
    $PY benchmarks/bench_metrics.py
    $PY benchmarks/bench_augment.py --embedded
    $PY benchmarks/bench_heldout.py
    if [ -n "${AUGMENTLAB_HELDOUT_GGUF:-}${AUGMENTLAB_HELDOUT_MODEL:-}" ]; then
        $PY benchmarks/bench_heldout.py --strong --default-only
    fi
else
    $PY benchmarks/bench_ingest.py --quick
    $PY benchmarks/bench_metrics.py
    $PY benchmarks/bench_augment.py
fi
# prose speaker attribution against PDNC (skipped with a note when ../shared/pdnc-dev is absent)
PYTHONPATH=. $PY benchmarks/bench_attribution.py || true
