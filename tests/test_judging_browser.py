"""``augmentlab judge serve`` in a real headless browser: a person's click lands in the verdicts
file and in MLflow.

The driver is Debian's ``chromium`` over its DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages separated by NUL bytes on file descriptors 3 and 4),
so nothing else is needed (no chromedriver, no websocket library). The test types a note and
clicks a choice with real mouse events at the button's place on the page, then reads the page,
the file and MLflow. Screenshots go to ``test-artifacts/judging/`` (or
``$AUGMENTLAB_TEST_ARTIFACTS/judging/``). Without chromium (``apt-get install -y chromium``, or
``scripts/setup.sh --browser``) the test is skipped.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from report_store import EXPERIMENT
from test_judging import _blind, judging_store

from augmentlab.core.verdicts import read_verdicts
from augmentlab.judging import load_judging_set
from augmentlab.judging.record import FEEDBACK_NAME

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium, or scripts/setup.sh --browser)",
)
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("AUGMENTLAB_TEST_ARTIFACTS", REPO / "test-artifacts")) / "judging"
TIMEOUT = 60.0


_TRAMPOLINE = (
    "import fcntl, os, sys\n"
    "r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class DevTools:
    """A headless chromium driven over ``--remote-debugging-pipe``, with one page attached."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # chromium reads fd 3 and writes fd 4: a small Python trampoline moves the pipe ends there
        # (out of the way first, in case one of them already is 3 or 4), then becomes chromium
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(to_child_r), str(from_child_w),
             CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(profile.parent / "chromium.log", "wb"),  # noqa: SIM115
            pass_fds=(to_child_r, from_child_w), start_new_session=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()
                else:
                    self.events.put(message)

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while self._id not in self._replies:
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"chromium did not answer {method}")
            reply = self._replies.pop(self._id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if message.get("method") == event:
                return

    def goto(self, url: str) -> None:
        self._drain()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")

    def _drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real left click (mouse pressed and released) at the middle of ``selector``'s box."""
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView("
                      "{block: 'center'}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, "
                      "r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1}, session=True)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.call("Input.insertText", {"text": text}, session=True)

    def screenshot(self, name: str) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """``augmentlab judge serve`` (the real CLI, port 0) over the shared fake-LM store."""
    store = judging_store(tmp_path_factory.getbasetemp())
    tmp = tmp_path_factory.mktemp("judge-browser")
    verdicts = tmp / "human.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "augmentlab", "judge", "serve", EXPERIMENT, "--tracking-uri", store, "--port", "0",
         "--name", "browser", "--verdicts", str(verdicts)],
        stdout=subprocess.PIPE, stderr=open(tmp / "serve.log", "wb"), text=True, env=env, cwd=tmp,  # noqa: SIM115
        start_new_session=True,
    )
    try:
        line = process.stdout.readline()  # "judging page: http://127.0.0.1:PORT/"
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"no URL from judge serve: {line!r} {(tmp / 'serve.log').read_text()[-2000:]}"
        yield match.group(0), verdicts, store, process, tmp
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_a_click_in_the_browser_records_a_blind_verdict(served) -> None:
    from mlflow import MlflowClient

    url, verdicts, store, process, tmp = served
    judging = load_judging_set(EXPERIMENT, tracking_uri=store)
    first = judging.order_for("browser")[0]
    browser = DevTools(tmp / "profile")
    try:
        browser.goto(url)
        html = browser.js("document.documentElement.outerHTML")
        text = browser.js("document.body.innerText")
        assert browser.js("document.querySelector('#judged').textContent") == "0"
        assert browser.js("document.querySelector('#total').textContent") == str(len(judging.pairs))
        assert _blind(html, judging) == []  # no variant name in the page, visible or not
        a, b = judging.candidate(first.pair.scene, first.a), judging.candidate(first.pair.scene, first.b)
        assert browser.js("document.querySelector('#cand-a .scenario').innerText") == f"Scenario. {a.scenario}"
        assert browser.js("document.querySelector('#cand-b .scenario').innerText") == f"Scenario. {b.scenario}"
        speaker, words = judging.scenes[first.pair.scene].lines[-1]
        assert words in text and (not speaker or f"{speaker}:" in text)  # the scene's own lines first
        browser.screenshot("pair")
        browser.type("#note", "A keeps the mood")
        browser._drain()
        browser.click("#choice-a")  # "A is better"
        browser.wait_for("Page.loadEventFired")  # the form posts, the server redirects to the next pair
        assert browser.js("document.querySelector('#judged').textContent") == "1"
        second = judging.order_for("browser")[1]
        assert browser.js("document.querySelector('input[name=pair]').value") == second.pair.key
        browser.screenshot("after-one")
    finally:
        browser.close()
    [v] = read_verdicts(verdicts)
    assert (v.scene, v.a, v.b, v.winner, v.margin) == (first.pair.scene, first.a, first.b, "a", 2.0)
    assert (v.source, v.kind, v.why) == ("human:browser", "human", "A keeps the mood")
    client = MlflowClient(judging.tracking_uri)
    for variant, value in ((first.a, 1.0), (first.b, 0.0)):
        trace = client.get_trace(judging.candidate(first.pair.scene, variant).trace_id)
        mine = [x for x in trace.info.assessments if x.name == FEEDBACK_NAME and x.source.source_id == "browser"]
        assert [(x.source.source_type, x.feedback.value, x.rationale) for x in mine] == [("HUMAN", value, "A keeps the mood")]
    os.killpg(process.pid, signal.SIGTERM)  # Ctrl-C / kill: a clean stop with a summary line
    assert process.wait(timeout=20) == 0
    assert f"stopped: 1 of {len(judging.pairs)} pair(s) judged by browser" in (tmp / "serve.log").read_text()
