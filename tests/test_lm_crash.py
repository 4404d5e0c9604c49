"""A crashed embedded server names itself; an endpoint that refuses connections is named by URL.

The embedded server is replaced by fake binaries (``tests/fakes/broken_llama_server.py``) that
die the ways a llama.cpp built for another CPU does: SIGSEGV on the first request, SIGSEGV while
starting, exit 1, or never listening. No model runs here.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import pytest

from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.cli import main as cli_main
from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig, llama_server, use_lm
from augmentlab.lm.llama_server import ServerCrashed
from test_augment import make_script

FAKE = Path(__file__).resolve().parent / "fakes" / "broken_llama_server.py"
SCRIPT = Path(__file__).resolve().parent / "data" / "scripts" / "tea_and_thunder.txt"


@pytest.fixture
def fake_server(monkeypatch, tmp_path):
    """``fake_server(mode) -> gguf path``: the embedded backend starts the fake binary in ``mode``."""
    def command(model_path, port, n_ctx, n_threads):
        return [sys.executable, str(FAKE), "--model", str(model_path), "--host", "127.0.0.1", "--port", str(port)]

    monkeypatch.setattr(llama_server, "server_command", command)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the kept logs go with the test's folder
    monkeypatch.setattr(llama_server, "check_llama_cpp", lambda: None)

    def use(mode: str) -> Path:
        monkeypatch.setenv("FAKE_LLAMA_MODE", mode)
        gguf = tmp_path / "fake.gguf"
        gguf.write_bytes(b"GGUF fake")
        return gguf

    yield use
    llama_server.shutdown()


def _config(gguf: Path, **kw) -> LMConfig:
    settings = {"cache": False, "num_retries": 0, "timeout": 10, "start_timeout": 20, **kw}
    return LMConfig(kind="embedded", gguf=str(gguf), **settings)


def _log_path(message: str) -> Path:
    found = re.search(r"its log: (\S+)", message)
    assert found, message
    return Path(found.group(1))


def _first_request_error(fake_server, mode: str) -> ServerCrashed:
    """The error of one prediction on a fake server in ``mode``."""
    import dspy

    gguf = fake_server(mode)
    with pytest.raises(ServerCrashed) as info:
        with use_lm(_config(gguf)):
            dspy.Predict("question -> answer")(question="Hello there")
    return info.value


def test_segfault_on_the_first_request_names_itself(fake_server):
    error = _first_request_error(fake_server, "segv-on-request")
    message = str(error)
    assert "the embedded LM server crashed (SIGSEGV) on the first request; its log: " in message
    assert "\n" not in message and "Connection error" not in message and "re-run" not in message
    assert error.exit_code == 1
    log = _log_path(message)
    assert log.is_file() and "fake crash while evaluating the prompt" in log.read_text()
    assert "fake crash while evaluating the prompt" in message  # the log's tail is in the message
    assert "built for another CPU" in message and "augmentlab.lm.smoke" in message
    assert llama_server.running() is None


def test_a_server_stopped_from_outside_is_not_blamed_on_the_build(fake_server):
    message = str(_first_request_error(fake_server, "term-on-request"))
    assert "(SIGTERM) on the first request" in message and "stopped from outside" in message
    assert "another CPU" not in message


def test_exit_1_while_starting_names_the_code_and_keeps_the_log(fake_server):
    gguf = fake_server("exit1")
    with pytest.raises(AugmentlabError) as info:
        with use_lm(_config(gguf)):
            pass
    message = str(info.value)
    assert "the embedded LM server exited with code 1 while starting; its log: " in message
    assert "failed to load model (fake)" in message and info.value.exit_code == 2
    assert _log_path(message).is_file()


def test_segfault_while_starting(fake_server):
    gguf = fake_server("segv-at-start")
    with pytest.raises(ServerCrashed, match=r"crashed \(SIGSEGV\) while starting; its log: "):
        with use_lm(_config(gguf)):
            pass


def test_a_server_that_never_listens_times_out_with_its_log(fake_server):
    gguf = fake_server("never-listen")
    with pytest.raises(AugmentlabError) as info:
        with use_lm(_config(gguf, start_timeout=2)):
            pass
    message = str(info.value)
    assert "did not answer" in message and "within the start timeout" in message
    assert "fake llama server: mode never-listen" in message
    assert _log_path(message).is_file()
    assert llama_server.running() is None


def test_augment_stops_with_one_crash_line_exit_1(fake_server, tmp_path, capfd):
    gguf = fake_server("segv-on-request")
    out = tmp_path / "out"
    code = cli_main(["augment", str(SCRIPT), "-o", str(out), "--gguf", str(gguf), "--no-persona-writer",
                     "--limit", "2", "--num-retries", "0", "-j", "2"])
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("error: the embedded LM server crashed (SIGSEGV)"), err
    assert "Connection error" not in err and "re-run" not in err and "Traceback" not in err
    assert _log_path(lines[0]).is_file()
    assert (out / "run.json").is_file()  # the outputs are written, as for any stopped run


def test_a_crash_mid_run_keeps_the_finished_scenes(fake_server, tmp_path):
    gguf = fake_server("segv-after-2")  # answers two requests (two scenes' first try), then crashes
    out = tmp_path / "out"
    with pytest.raises(ServerCrashed, match=r"crashed \(SIGSEGV\) after \d+ answered request"):
        augment_scripts([make_script(4)], out, _config(gguf, adapter="json"),
                        AugmentOptions(program="seed+seed_with_scenario", concurrency=1, max_attempts=1,
                                       write_personas=False))
    # the answers it gave ("{}") were unusable: those scenes are stored as failed; the scene it
    # crashed on is not stored at all (no "error" row: a re-run does it again)
    rows = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines() if x.strip()]
    assert rows and all(r["status"] == "failed" for r in rows)


def test_an_endpoint_that_refuses_names_its_url(tmp_path, capfd):
    from reliability.rel_helpers import free_port

    script = tmp_path / "play.fountain"
    script.write_text("\n\n".join(
        f"INT. ROOM {i} - DAY\n\nANN\nDid you bring the map, number {i}?\n\nBOB\nI left it at the station, sorry {i}."
        for i in range(10)
    ) + "\n", encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}/v1"
    code = cli_main(["augment", str(script), "-o", str(tmp_path / "out"), "--model", "openai/stub", "--api-base", url,
                     "--num-retries", "0", "-j", "1", "--no-persona-writer"])
    err = capfd.readouterr().err
    assert code == 2
    line = next(ln for ln in err.splitlines() if ln.startswith("error:"))
    assert f"cannot connect to the LM at {url}" in line, line
