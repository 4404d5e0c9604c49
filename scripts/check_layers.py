"""Check the floor plan of docs/architecture.md beyond what import-linter sees.

    python scripts/check_layers.py [--sizes]

* no first-party import inside a function outside the CLI layer (``augmentlab/cli/``), so the
  imports at the top of a module tell its whole story (import-linter checks their direction);
* with ``--sizes``: functions over 80 lines and modules over 500 lines (the issue's "about").

Prints one line per finding and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("augmentlab", "prompts", "metrics", "experiments")
CLI = REPO / "augmentlab" / "cli"
MAX_FUNCTION = 80
MAX_MODULE = 500


def _modules(root: Path) -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (root / pkg).rglob("*.py"))


def _first_party(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return [node.module or "."]
        names = [node.module or ""]
    else:
        names = [alias.name for alias in node.names]
    return [n for n in names if n.split(".")[0] in PACKAGES]


def inner_imports(root: Path = REPO) -> list[str]:
    """``path:line: name`` for each first-party import inside a function outside the CLI layer."""
    found = []
    cli = root / CLI.relative_to(REPO)
    for path in _modules(root):
        if cli in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        seen: set[int] = set()
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno not in seen:
                    seen.add(node.lineno)
                    for name in _first_party(node):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: imports {name} inside a function")
    return found


def oversized(root: Path = REPO) -> list[str]:
    """Functions over MAX_FUNCTION lines and modules over MAX_MODULE lines."""
    found = []
    for path in _modules(root):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(root)
        lines = text.count("\n") + 1
        if lines > MAX_MODULE:
            found.append(f"{rel}: module of {lines} lines (> {MAX_MODULE})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION:
                    found.append(f"{rel}:{node.lineno}: function {node.name} of {length} lines (> {MAX_FUNCTION})")
    return found


def main(argv: list[str]) -> int:
    findings = inner_imports()
    if "--sizes" in argv:
        findings += oversized()
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
