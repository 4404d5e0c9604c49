"""The notebooks: committed without outputs, in sync with their jupytext twins, and they run.

Each notebook is executed top to bottom with nbclient on the virtualenv's Python kernel, against
a small experiment made with the fake LM (parameters through ``AUGMENTLAB_*`` environment
variables), so a broken notebook fails CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from report_store import EXPERIMENT, real_store

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["compare_variants", "inspect_variant", "quickstart"]


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("name", NAMES)
def test_twin_in_sync_and_no_outputs(name: str) -> None:
    import jupytext
    import nbformat

    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    from_text = jupytext.read(NOTEBOOKS / f"{name}.py")
    assert _cells(committed) == _cells(from_text), f"run `jupytext --sync notebooks/{name}.py` (or --to ipynb)"
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}.ipynb has outputs: clear them"


def _execute(name: str, tmp: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> object:
    import nbformat
    from nbclient import NotebookClient

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks show figures as PNG whatever the backend
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    return nb


def _text(nb) -> str:
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
            data = output.get("data", {})
            out.append(data.get("text/plain", "") + data.get("text/markdown", "") + data.get("text/html", ""))
    return "\n".join(out)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return real_store(tmp_path_factory.getbasetemp())


def test_compare_variants_runs(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute("compare_variants", tmp_path,
                  {"AUGMENTLAB_EXPERIMENT": EXPERIMENT, "AUGMENTLAB_TRACKING_URI": store}, monkeypatch)
    text = _text(nb)
    for variant in ("seed", "third", "boot"):
        assert variant in text
    assert "image/png" in str(nb.cells), "the plots were displayed"
    assert "Disagreement 1" in text


def test_inspect_variant_runs(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute("inspect_variant", tmp_path, {"AUGMENTLAB_EXPERIMENT": EXPERIMENT,
                                                 "AUGMENTLAB_TRACKING_URI": store, "AUGMENTLAB_VARIANT": "boot"},
                  monkeypatch)
    text = _text(nb)
    assert "annotator.predict" in text and "Worst 1" in text and "program file" in text


def test_quickstart_runs_with_the_fake_lm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "mlruns"
    nb = _execute("quickstart", tmp_path, {"AUGMENTLAB_NOTEBOOK_LM": "fake", "AUGMENTLAB_TRACKING_URI": str(store),
                                            "DSPY_CACHEDIR": str(tmp_path / "dspy-cache"),
                                            "AUGMENTLAB_DSPY_CACHE": os.environ.get("AUGMENTLAB_DSPY_CACHE", "0")},
                  monkeypatch)
    text = _text(nb)
    assert "LM: fake" in text and "Scenario:" in text and "report.html" in text
    from experiments.results import load_experiment

    back = load_experiment("notebook-quickstart", tracking_uri=str(store))
    assert [v.name for v in back.variants] == ["seed", "bootstrap"] and all(v.scores for v in back.variants)
