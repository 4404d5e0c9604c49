"""The embedded LM's smoke test: can the installed llama.cpp answer on this CPU?

``python -m augmentlab.lm.smoke`` loads the shipped SmolLM2 GGUF with ``llama_cpp`` **in a
subprocess**, has it complete a two-token prompt and answer one short chat turn, and prints one
line: passed, or how it died (``SIGSEGV``/``SIGILL``/exit code), at which step, and which
instruction sets the build uses that this CPU lacks. Exit status 0 when it answered, 1 when not.
``scripts/setup.sh`` runs it last (and rebuilds llama.cpp the portable way once when it fails),
``.ci/run`` runs it first, and ``tests/test_llama_build.py`` asserts it, so a llama.cpp built for
another CPU is one clear reason, not dozens of connection errors.

:func:`run_smoke` is the same check as a :class:`SmokeResult`; with ``measure=True`` it also
times prompt processing and generation (tokens/s), which ``benchmarks/bench_augment.py --embedded``
prints for the installed build beside another venv's (``AUGMENTLAB_NATIVE_PYTHON``).

The child is a self-contained script (``python -c``): it needs ``llama_cpp`` only, so the
interpreter of any venv can run it.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm.llama_server import default_model_path, exit_description

STEPS = ("import", "load", "two-token prompt", "chat turn", "measure")
"""What the child does, in order; a crash is reported at the first step that did not finish."""

_CHILD = r"""
import json, sys, time
def step(name, **kw):
    print(json.dumps({"step": name, **kw}), flush=True)
gguf, threads, measure = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
import llama_cpp
step("import", system_info=llama_cpp.llama_print_system_info().decode("utf-8", "replace"))
llm = llama_cpp.Llama(model_path=gguf, n_ctx=512, n_threads=threads, n_batch=512, verbose=False, seed=0)
step("load")
out = llm.create_completion("Hello there", max_tokens=4, temperature=0.0)
step("two-token prompt", text=out["choices"][0]["text"])
chat = llm.create_chat_completion(messages=[{"role": "user", "content": "Say hello in three words."}],
                                  max_tokens=8, temperature=0.0)
step("chat turn", text=chat["choices"][0]["message"]["content"] or "")
if measure:
    words = ("The harbour was quiet that night and the lamps burned low along the water. " * 40).encode()
    tokens = llm.tokenize(words)[:256]
    best_p = best_g = 0.0
    for _ in range(3):
        llm.reset()
        t0 = time.perf_counter(); llm.eval(tokens); tp = time.perf_counter() - t0
        n, t0 = 32, time.perf_counter()
        for _ in range(n):
            tok = llm.sample(temp=0.0)
            llm.eval([tok])
        tg = time.perf_counter() - t0
        best_p, best_g = max(best_p, len(tokens) / tp), max(best_g, n / tg)
    step("measure", prompt_tps=best_p, gen_tps=best_g, prompt_tokens=len(tokens))
"""

# llama.cpp's system-info names -> /proc/cpuinfo flags (what the build's kernels execute)
_FEATURE_FLAGS = {
    "SSE3": "pni", "SSSE3": "ssse3", "SSE4_2": "sse4_2", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c", "FMA": "fma",
    "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8",
}


@dataclass
class SmokeResult:
    """What the smoke test found."""

    ok: bool
    step: str
    """The last step that finished (``""``: not even ``import``)."""
    returncode: int | None = None
    system_info: str = ""
    build_features: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Instruction sets the build uses that this CPU does not list."""
    detail: str = ""
    seconds: float = 0.0
    prompt_tps: float | None = None
    gen_tps: float | None = None
    python: str = ""
    timed_out: bool = False

    @property
    def failed_step(self) -> str:
        done = STEPS.index(self.step) + 1 if self.step in STEPS else 0
        return STEPS[min(done, len(STEPS) - 1)]

    def message(self) -> str:
        """One line: passed, or how and where it died and why that is likely."""
        build = " ".join(self.build_features) or "unknown"
        if self.ok:
            speed = (f"; prompt {self.prompt_tps:.0f} tok/s, generation {self.gen_tps:.1f} tok/s"
                     if self.prompt_tps is not None and self.gen_tps is not None else "")
            return (f"smoke test passed: llama.cpp (build: {build}) answered a two-token prompt and a chat turn "
                    f"in {self.seconds:.1f}s{speed}")
        how = exit_description(self.returncode) if self.returncode is not None else "did not finish"
        if self.missing:
            why = f"; the build uses {', '.join(self.missing)}, which this CPU lacks (a wheel built for another CPU)"
        elif self.returncode == -signal.SIGILL:
            why = "; an instruction this CPU lacks (a llama.cpp built for another CPU)"
        else:
            why = ""
        tail = f": {self.detail}" if self.detail else ""
        return f"smoke test FAILED: llama.cpp {how} at step '{self.failed_step}'{why}{tail}"


def cpu_flags() -> set[str]:
    """This CPU's feature flags (``/proc/cpuinfo``; empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def build_features(system_info: str) -> list[str]:
    """The CPU features llama.cpp says it was built with (``AVX2 = 1`` in its system info)."""
    out = []
    for part in system_info.replace("|", "\n").splitlines():
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if name in _FEATURE_FLAGS and value.strip() == "1" and name not in out:
            out.append(name)
    return out


def missing_features(features: list[str], flags: set[str]) -> list[str]:
    """The features of ``features`` this CPU (``flags``) does not have; none when flags are unknown."""
    if not flags:
        return []
    return [f for f in features if _FEATURE_FLAGS[f] not in flags]


TIMEOUT = 600.0
"""Seconds the child may take (SmolLM2 answers in a few seconds; a shared machine can be slow)."""
EXIT_TIMEOUT = 3
"""``main``'s exit status when the child did not finish in time (not a crash: no rebuild helps)."""


def run_smoke(gguf: Path | None = None, *, python: str | None = None, threads: int = 2,
              timeout: float = TIMEOUT, measure: bool = False) -> SmokeResult:
    """Run the child (see the module doc) with ``python`` (default: this interpreter)."""
    path = Path(gguf) if gguf is not None else default_model_path()
    if not path.is_file():
        raise AugmentlabError(f"GGUF model file not found: {path}")
    exe = python or sys.executable
    start = time.monotonic()
    try:
        proc = subprocess.run([exe, "-c", _CHILD, str(path), str(threads), "1" if measure else "0"],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return SmokeResult(False, "", None, detail=f"no answer within {timeout:.0f}s (a busy machine?)", python=exe,
                           timed_out=True)
    except OSError as exc:
        raise AugmentlabError(f"cannot run {exe}: {exc}") from None
    steps = _steps(proc.stdout)
    info = next((s.get("system_info", "") for s in steps if s["step"] == "import"), "")
    features = build_features(info)
    done = steps[-1]["step"] if steps else ""
    wanted = "measure" if measure else "chat turn"
    result = SmokeResult(
        ok=proc.returncode == 0 and done == wanted, step=done, returncode=proc.returncode, system_info=info,
        build_features=features, missing=missing_features(features, cpu_flags()),
        seconds=time.monotonic() - start, python=exe,
    )
    if not result.ok:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        result.detail = " | ".join(lines[-2:])[-300:]
    m = next((s for s in steps if s["step"] == "measure"), None)
    if m is not None:
        result.prompt_tps, result.gen_tps = float(m["prompt_tps"]), float(m["gen_tps"])
    return result


def _steps(stdout: str) -> list[dict[str, object]]:
    out = []
    for line in stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("step") in STEPS:
            out.append(item)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m augmentlab.lm.smoke", description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: the shipped SmolLM2)")
    parser.add_argument("--python", default=None, help="interpreter whose llama_cpp to test (default: this one)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    parser.add_argument("--measure", action="store_true", help="also time prompt and generation (tokens/s)")
    args = parser.parse_args(argv)
    try:
        result = run_smoke(args.gguf, python=args.python, threads=args.threads, timeout=args.timeout,
                           measure=args.measure)
    except AugmentlabError as exc:
        print(f"augmentlab: smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"augmentlab: {result.message()}", file=sys.stdout if result.ok else sys.stderr)
    if result.timed_out:
        return EXIT_TIMEOUT
    return 0 if result.ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
