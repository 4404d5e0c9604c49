"""scripts/setup.sh builds llama.cpp for a portable target: never -march=native, never AVX-512/AMX."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SETUP = REPO / "scripts" / "setup.sh"
XEON_AMX = ("fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c bmi1 bmi2 avx512f avx512dq avx512cd avx512bw "
            "avx512vl avx512_vnni avx512_bf16 avx_vnni amx_tile amx_int8 amx_bf16")
ZEN3 = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c bmi1 bmi2"
SANDY_BRIDGE = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx"
NEHALEM = "fpu sse sse2 ssse3 sse4_1 sse4_2"

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 targets")


def _target(tmp_path: Path, flags: str) -> tuple[str, str]:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n", encoding="utf-8")
    out = subprocess.run(["bash", str(SETUP), "--print-target"], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "AUGMENTLAB_CPUINFO": str(cpuinfo), "HOME": str(tmp_path)},
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    target, args = out.stdout.strip().splitlines()
    return target, args


@pytest.mark.parametrize("flags, level", [(XEON_AMX, "x86-64-v3"), (ZEN3, "x86-64-v3"),
                                          (SANDY_BRIDGE, "x86-64-avx"), (NEHALEM, "x86-64-v2")])
def test_the_target_is_a_fixed_level_the_cpu_has(tmp_path, flags, level):
    target, args = _target(tmp_path, flags)
    assert target.startswith(level + "-")
    assert "-DGGML_NATIVE=OFF" in args
    for off in ("-DGGML_AVX512=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AVX_VNNI=OFF"):
        assert off in args  # the build runs on a machine without them, whatever this one has
    if level != "x86-64-v3":
        assert "-DGGML_AVX2=OFF" in args


def test_an_avx512_machine_and_a_zen3_get_the_same_build(tmp_path):
    # so a venv or cached wheel made on one runs on the other (the stamp still re-checks it)
    assert _target(tmp_path, XEON_AMX) == _target(tmp_path, ZEN3)
