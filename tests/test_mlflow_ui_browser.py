"""``augmentlab ui`` (MLflow 3's UI) in a real headless browser, on a store a fake-LM experiment filled.

MLflow's UI is a React app that fetches everything after the page loads. The driver is Debian's
``chromium`` itself, as in ``tests/test_report_browser.py``: ``--headless --dump-dom`` prints the
DOM after scripts ran, and ``--virtual-time-budget`` holds the dump until the page's requests
have come back and rendered (virtual time does not advance while a fetch is in flight). Nothing
else to install (no chromedriver, no selenium, no node); ``--screenshot`` saves each page as a
PNG under ``test-artifacts/mlflow-ui/`` (or ``$AUGMENTLAB_TEST_ARTIFACTS/mlflow-ui/``).

Every check reads what the browser rendered: the evaluation runs with their scores, a variant
run's linked prompts and its instructions, the Prompts page with the versions and the
``champion`` alias, and the Traces tab with the examples' inputs and their assessments.
Install Chromium with ``apt-get install -y chromium`` (``scripts/setup.sh --browser`` does it);
without it these tests are skipped.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed and could not be installed here (apt-get install -y chromium, "
    "or scripts/setup.sh --browser)",
)
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("AUGMENTLAB_TEST_ARTIFACTS", REPO / "test-artifacts")) / "mlflow-ui"
START_DEADLINE = 180.0
LABELED = '\n[[variants]]\nname = "labeled"\noptimizer = "labeled"\nbase = "seed"\nmax_labeled_demos = 1\n'


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Browser:
    def __init__(self, base: str, tmp: Path) -> None:
        self.base = base
        self.tmp = tmp
        self.n = 0

    def _run(self, url: str, *args: str) -> subprocess.CompletedProcess[str]:
        assert CHROMIUM is not None
        self.n += 1
        command = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={self.tmp / f'p{self.n}'}",
            "--virtual-time-budget=30000", "--window-size=2200,1200", *args, url,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)

    def text(self, fragment: str, shot: str) -> str:
        """The visible text of ``#<fragment>`` once rendered; a screenshot saved as ``<shot>.png``."""
        url = f"{self.base}/#{fragment}"
        done = self._run(url, "--dump-dom")
        assert "<body" in done.stdout, f"no page for {url} (chromium exit {done.returncode}): {done.stderr[-500:]}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self._run(url, f"--screenshot={ARTIFACTS / (shot + '.png')}", "--hide-scrollbars")
        dom = re.sub(r"<script.*?</script>|<style.*?</style>", " ", done.stdout, flags=re.S)
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A store with one fake-LM execution (seed + labeled), served by ``augmentlab ui``."""
    from test_experiments import _run, _spec

    tmp = tmp_path_factory.mktemp("mlflow-ui")
    spec = _spec(tmp, name="uitest", lm='kind = "fake"\ncache = false', variants=LABELED)
    result = _run(tmp, spec)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp / "ui.log", "wb")  # noqa: SIM115
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "augmentlab", "ui", "--port", str(port), "--tracking-uri", str(tmp / "mlruns")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"augmentlab ui did not start: {(tmp / 'ui.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield result, Browser(base, tmp)
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def test_the_experiment_lists_its_variant_runs_with_scores(ui) -> None:
    result, browser = ui
    text = browser.text(f"/experiments/{result.experiment_id}/evaluation-runs", "evaluation-runs")
    assert "score" in text and "part.similarity" in text
    for variant in result.variants:
        assert re.search(rf"\b{variant.name}\b", text), variant.name
        assert str(variant.score)[:6] in text  # its score, as the table shows it


def test_a_run_shows_its_prompts(ui) -> None:
    from experiments.registry import predictor_prompts

    result, browser = ui
    labeled = result.variants[1]
    predictor, name, _ = predictor_prompts(labeled.program)[0]
    run_page = f"/experiments/{result.experiment_id}/runs/{labeled.run_id}"
    overview = browser.text(run_page, "run-overview")
    assert "Registered prompts" in overview and f"{name} (v" in overview  # linked to its registry versions
    text = browser.text(f"{run_page}/artifacts/instructions/{predictor}.md", "run-prompt")
    instructions = labeled.program.named_predictors()[0][1].signature.instructions
    first_paragraph = " ".join(instructions.strip().split("\n\n")[0].split())  # the page renders it as Markdown
    assert len(first_paragraph) > 40 and first_paragraph in text  # and shows the instruction text it used


def test_the_prompts_page_lists_versions_and_the_champion(ui) -> None:
    from augmentlab.report.data import gather

    result, browser = ui
    listing = browser.text("/prompts", "prompts")
    assert "augmentlab-scenario" in listing and "augmentlab-annotated-lines" in listing
    text = browser.text("/prompts/augmentlab-scenario", "prompt-versions")
    assert "Version 1" in text and "Version 2" in text
    winner = gather("uitest", tracking_uri=result.tracking_uri, run_id=result.parent_run_id).winner
    champion = 1 if winner == "seed" else 2  # seed registered version 1, labeled (with its demo) 2
    versions = dict(re.findall(r"Version (\d+)(.*?)(?=Version \d|Viewing version)", text))
    assert "@ champion" in versions[str(champion)] and "@ uitest-best" in versions[str(champion)], versions
    assert "champion" not in versions[str(3 - champion)], versions


def test_the_traces_tab_lists_the_traces_with_assessments(ui) -> None:
    result, browser = ui
    text = browser.text(f"/experiments/{result.experiment_id}/traces", "traces")
    assert "score" in text and "part.verbatim" in text  # assessment columns
    from mlflow import MlflowClient

    traces = MlflowClient(result.tracking_uri).search_traces(locations=[result.experiment_id])
    assert len(traces) == sum(len(v.examples) for v in result.variants)
    shown = sum(1 for t in traces if t.info.tags["augmentlab.example_id"] and t.info.request_preview[:40] in text)
    assert shown == len(traces), f"{shown} of {len(traces)} traces' inputs are on the page"
