"""The installed llama.cpp answers on this CPU (one test, one reason), and the smoke test's report.

``test_installed_llama_cpp_answers_a_two_token_prompt`` is the check a llama.cpp built for another
CPU fails: then this one test fails with the smoke test's line (how it died, which instruction sets
the build uses that this CPU lacks), instead of every embedded-model test failing on "Connection
error". The others check the report itself with fake interpreters (no model).
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest

from augmentlab.lm import smoke

SYSTEM_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | "
               "AVX512_VNNI = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |")


def _fake_python(tmp_path: Path, body: str) -> str:
    """An executable that stands in for a venv's python: runs ``body`` (Python) whatever it is given."""
    script = tmp_path / "fake_python"
    script.write_text(f"#!{sys.executable}\n{body}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _gguf(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    return path


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_installed_llama_cpp_answers_a_two_token_prompt():
    try:
        gguf = smoke.default_model_path()
    except Exception as exc:
        pytest.skip(f"the embedded model package is not installed: {exc}")
    result = smoke.run_smoke(gguf, timeout=300)
    assert result.ok, result.message()
    assert result.step == "chat turn" and result.build_features


def test_build_features_and_what_this_cpu_lacks():
    features = smoke.build_features(SYSTEM_INFO)
    assert features == ["SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2", "AVX512", "AVX512_VNNI"]
    zen3 = {"pni", "ssse3", "sse4_2", "avx", "avx2", "f16c", "fma", "bmi2"}
    assert smoke.missing_features(features, zen3) == ["AVX512", "AVX512_VNNI"]
    assert smoke.missing_features(features, set()) == []  # flags unknown: nothing claimed


def test_a_crash_is_reported_with_the_signal_the_step_and_the_missing_features(tmp_path, monkeypatch):
    monkeypatch.setattr(smoke, "cpu_flags", lambda: {"pni", "ssse3", "avx", "avx2", "f16c", "fma", "bmi2"})
    body = (f"import json, os, signal\nprint(json.dumps({{'step': 'import', 'system_info': {SYSTEM_INFO!r}}}), flush=True)\n"
            "print(json.dumps({'step': 'load'}), flush=True)\nos.kill(os.getpid(), signal.SIGILL)")
    result = smoke.run_smoke(_gguf(tmp_path), python=_fake_python(tmp_path, body), timeout=30)
    assert not result.ok and result.returncode == -4
    message = result.message()
    assert message.startswith("smoke test FAILED: llama.cpp crashed (SIGILL) at step 'two-token prompt'")
    assert "the build uses AVX512, AVX512_VNNI, which this CPU lacks" in message


def test_an_import_error_is_reported_with_its_last_line(tmp_path):
    body = "import sys\nsys.stderr.write('ModuleNotFoundError: No module named llama_cpp\\n')\nsys.exit(1)"
    result = smoke.run_smoke(_gguf(tmp_path), python=_fake_python(tmp_path, body), timeout=30)
    assert not result.ok and result.step == ""
    assert "exited with code 1 at step 'import'" in result.message()
    assert "No module named llama_cpp" in result.message()


def test_the_command_exits_1_with_one_line(tmp_path, capsys):
    body = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"
    code = smoke.main(["--gguf", str(_gguf(tmp_path)), "--python", _fake_python(tmp_path, body), "--timeout", "30"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "crashed (SIGSEGV)" in err[0]


def test_a_passing_child_reports_its_speed(tmp_path):
    steps = [{"step": "import", "system_info": SYSTEM_INFO}, {"step": "load"}, {"step": "two-token prompt", "text": "!"},
             {"step": "chat turn", "text": "hi"}, {"step": "measure", "prompt_tps": 900.0, "gen_tps": 60.0}]
    body = "import json\n" + "\n".join(f"print(json.dumps({s!r}))" for s in steps)
    result = smoke.run_smoke(_gguf(tmp_path), python=_fake_python(tmp_path, body), timeout=30, measure=True)
    assert result.ok and (result.prompt_tps, result.gen_tps) == (900.0, 60.0)
    assert "prompt 900 tok/s, generation 60.0 tok/s" in result.message()


def test_no_cpu_flags_file_means_no_flags(monkeypatch):
    monkeypatch.setattr(smoke, "Path", lambda _p: Path(os.devnull) / "missing")
    assert smoke.cpu_flags() == set()


def test_no_answer_in_time_is_not_called_a_crash(tmp_path, capsys):
    body = "import time\ntime.sleep(30)"
    code = smoke.main(["--gguf", str(_gguf(tmp_path)), "--python", _fake_python(tmp_path, body), "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == smoke.EXIT_TIMEOUT and "no answer within 1s" in err and "crashed" not in err
