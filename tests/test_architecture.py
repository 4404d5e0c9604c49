"""The floor plan of docs/architecture.md, enforced: the layer contract (import-linter, configured in
pyproject.toml), no first-party import hidden inside a function outside the CLI layer, and the
size limits of issue #14."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_layers", REPO / "scripts" / "check_layers.py")
check_layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_layers)

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.fail("lint-imports is not installed: it is in the test extra (pip install -e '.[test]')")
    cmd = [str(LINT_IMPORTS), "--no-cache"] + (["--config", str(config)] if config else [])
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_the_layer_contract_holds():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_the_contract_has_teeth(tmp_path):
    """The same contract on a tree where the foundation imports the CLI must fail."""
    for pkg in ("augmentlab", "prompts", "metrics", "experiments"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    for sub in ("cli", "augment", "export", "report", "judging", "traincheck", "ingest", "store", "lm", "core"):
        (tmp_path / "augmentlab" / sub).mkdir()
        (tmp_path / "augmentlab" / sub / "__init__.py").write_text("")
    (tmp_path / "augmentlab" / "core" / "bad.py").write_text("import augmentlab.cli\n")
    config = tmp_path / "pyproject.toml"
    contract = (REPO / "pyproject.toml").read_text(encoding="utf-8").split("[tool.importlinter]", 1)[1]
    config.write_text("[tool.importlinter]" + contract, encoding="utf-8")
    result = _lint(tmp_path, config)
    assert result.returncode != 0
    assert "augmentlab.core.bad -> augmentlab.cli" in result.stdout


def test_no_first_party_import_inside_a_function_outside_the_cli():
    assert check_layers.inner_imports() == []


def test_the_inner_import_check_can_fail(tmp_path):
    pkg = tmp_path / "metrics"
    pkg.mkdir()
    (pkg / "m.py").write_text(textwrap.dedent("""
        import json

        def f():
            import os
            from augmentlab.core import text
            return text
    """))
    found = check_layers.inner_imports(tmp_path)
    assert found == ["metrics/m.py:6: imports augmentlab.core inside a function"]


def test_no_oversized_function_or_module():
    assert check_layers.oversized() == []
