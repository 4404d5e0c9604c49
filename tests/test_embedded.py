"""The real embedded model (llama.cpp + SmolLM2): start, predict, stop, no orphan."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from augmentlab.lm import llama_server
from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig, use_lm

pytestmark = pytest.mark.slow


def _server_processes() -> str:
    """llama_cpp.server processes started by this test process (others may run their own)."""
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep not available")
    mine = ["pgrep", "-f", "-P", str(os.getpid()), "llama_cpp.server"]
    return subprocess.run(mine, capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def _needs_llama_cpp():
    pytest.importorskip("llama_cpp.server")


def test_scenario_writer_on_the_embedded_model():
    from prompts.data import scene_inputs
    from prompts.programs import ScenarioWriter
    from augmentlab.core.model import Line, Scene

    scene = Scene(lines=[Line(speaker="Ann", text="Where were you last night?"),
                         Line(speaker="Bob", text="Out. Walking by the harbour.")])
    config = LMConfig(kind="embedded", cache=False, max_tokens=200)
    with use_lm(config) as lm:
        server = llama_server.running()
        assert server is not None and server.alive()
        pred = ScenarioWriter("seed")(**{k: v for k, v in scene_inputs(scene).items() if k != "persona"})
        assert isinstance(pred.scenario, str) and pred.scenario.strip()
        assert lm.history[-1]["kwargs"]["response_format"]["type"] == "json_object"
    assert llama_server.running() is None
    assert server.process.poll() is not None
    assert _server_processes() == ""


def test_server_is_shared_and_refcounted():
    config = LMConfig(kind="embedded")
    with use_lm(config):
        first = llama_server.running()
        with use_lm(config):
            assert llama_server.running() is first and first.refs == 2
        assert first.alive() and first.refs == 1
    assert not first.alive() and _server_processes() == ""


def test_start_failure_is_one_error_line(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")
    with pytest.raises(AugmentlabError) as info:
        with use_lm(LMConfig(kind="embedded", gguf=str(bogus), start_timeout=60)):
            pass
    assert "exited" in str(info.value) and "\n" not in str(info.value)
    assert _server_processes() == ""


def test_port_in_use_is_reported():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(AugmentlabError, match=f"port {port}"):
            with use_lm(LMConfig(kind="embedded", port=port)):
                pass


def test_a_segfault_mid_run_is_one_line_exit_1_and_augment_resumes(tmp_path, capfd, monkeypatch):
    """The real server killed with SIGSEGV after the first scene is stored: one error line naming
    the crash and its log, exit 1; the same command then finishes the run, the stored scene kept."""
    import re
    import signal

    from augmentlab.cli import main as cli_main
    from augmentlab.store import ResultStore

    script = tmp_path / "play.fountain"
    script.write_text("\n\n".join(
        f"INT. ROOM {i} - DAY\n\nANN\nDid you bring the map, number {i}?\n\nBOB\nI left it at the station."
        for i in range(3)
    ) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    original_put = ResultStore.put
    killed: list[int] = []

    def put_then_kill(self, key, **kw):
        original_put(self, key, **kw)
        server = llama_server.running()
        if not killed and server is not None and kw.get("status") in ("ok", "failed"):
            killed.append(server.process.pid)
            os.kill(server.process.pid, signal.SIGSEGV)

    monkeypatch.setattr(ResultStore, "put", put_then_kill)
    args = ["augment", str(script), "-o", str(out), "--no-persona-writer", "-j", "1", "--max-attempts", "1",
            "--max-tokens", "256", "--no-cache"]
    capfd.readouterr()
    code = cli_main(args)
    err = capfd.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert killed and code == 1, err
    assert len(errors) == 1 and "the embedded LM server crashed (SIGSEGV) after" in errors[0], err
    assert "Connection error" not in err and "re-run" not in err and "Traceback" not in err
    log = re.search(r"its log: (\S+)", errors[0])
    assert log and os.path.isfile(log.group(1))
    assert _server_processes() == ""

    monkeypatch.setattr(ResultStore, "put", original_put)
    code = cli_main(args)
    printed = capfd.readouterr().out
    assert code == 0, printed
    assert "1 already done of 3 scenes" in printed
    store = ResultStore(out)
    try:
        assert sum(store.counts().get(s, 0) for s in ("ok", "failed")) == 3
    finally:
        store.close()
