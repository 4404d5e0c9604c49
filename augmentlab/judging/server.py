"""The judging web app: the standard library's threaded HTTP server, on a loopback address only.

Routes:

- ``GET /`` — the next pair this annotator has not judged (in their shuffled order), or "done";
- ``POST /judge`` — ``pair`` (the key on the page), ``choice`` (a key of
  :data:`~augmentlab.judging.record.CHOICES`), ``note`` (optional); form-encoded (the page's
  buttons: answered with a redirect to ``/``) or JSON (answered with JSON). A bad choice, an unknown
  pair or a malformed body is a 400 with one line, never a traceback; a pair already judged is not
  recorded twice (a double click);
- ``GET /progress`` — ``{"judged", "total", "annotator"}``; ``GET /health`` — ``ok``.

A request from another origin (a page on another site posting to this one) is refused (403), so
only the page itself can record a verdict.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.verdicts import Verdict
from augmentlab.judging import page
from augmentlab.judging.pairs import JudgingSet, Shown
from augmentlab.judging.record import VerdictLog, log_to_mlflow, make_verdict

logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


@dataclass
class JudgingApp:
    """One annotator's session over a :class:`JudgingSet`, writing to a :class:`VerdictLog`."""

    judging: JudgingSet
    log: VerdictLog
    annotator: str
    mlflow: bool = True
    on_verdict: Callable[[Verdict, int, int, list[str]], None] | None = None
    order: list[Shown] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.order = self.judging.order_for(self.annotator)

    @property
    def source(self) -> str:
        return f"human:{self.annotator}"

    def _done(self) -> set[str]:
        judged = self.log.judged(self.source)
        return {s.pair.key for s in self.order if (s.pair.scene, frozenset((s.a, s.b))) in judged}

    def progress(self) -> tuple[int, int]:
        return len(self._done()), len(self.order)

    def next_pair(self) -> Shown | None:
        done = self._done()
        return next((s for s in self.order if s.pair.key not in done), None)

    def record(self, key: str, choice: str, note: str) -> Verdict | None:
        """Record a choice on the pair ``key``; ``None`` when it was already judged."""
        shown = next((s for s in self.order if s.pair.key == key), None)
        if shown is None:
            raise AugmentlabError(f"unknown pair {key!r}")
        with self._lock:
            if key in self._done():
                return None
            verdict = make_verdict(shown, choice, annotator=self.annotator, note=note, judging=self.judging)
            self.log.append(verdict)  # on disk before anything else happens
        problems = log_to_mlflow(verdict, self.judging, self.log.path) if self.mlflow else []
        if self.on_verdict is not None:
            judged, total = self.progress()
            self.on_verdict(verdict, judged, total, problems)
        return verdict

    def render(self) -> str:
        judged, total = self.progress()
        shown = self.next_pair()
        if shown is None:
            return page.done_page(judged=judged, total=total, annotator=self.annotator, verdicts=str(self.log.path))
        scene = shown.pair.scene
        return page.pair_page(
            shown, self.judging.candidate(scene, shown.a), self.judging.candidate(scene, shown.b),
            self.judging.scenes.get(scene), judged=judged, total=total, annotator=self.annotator,
            note=self.judging.note,
        )


class _Handler(BaseHTTPRequestHandler):
    server_version = "augmentlab-judge"
    app: JudgingApp  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._guarded(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def _guarded(self, handler: Callable[[], None]) -> None:
        try:
            handler()
        except AugmentlabError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):  # the browser went away
            pass
        except Exception as exc:  # one line to the client, the traceback only in the debug log
            logger.debug("judging request failed", exc_info=True)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")

    def _get(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            self._send(HTTPStatus.OK, self.app.render(), "text/html; charset=utf-8")
        elif path == "/progress":
            judged, total = self.app.progress()
            self._json(HTTPStatus.OK, {"judged": judged, "total": total, "annotator": self.app.annotator})
        elif path == "/health":
            self._send(HTTPStatus.OK, "ok", "text/plain; charset=utf-8")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no page {path}")

    def _post(self) -> None:
        if urlsplit(self.path).path != "/judge":
            self._error(HTTPStatus.NOT_FOUND, f"no page {urlsplit(self.path).path}")
            return
        if not self._same_origin():
            self._error(HTTPStatus.FORBIDDEN, "verdicts are recorded from the judging page only")
            return
        fields = self._fields()
        verdict = self.app.record(fields.get("pair", ""), fields.get("choice", ""), fields.get("note", ""))
        if self._wants_json():
            judged, total = self.app.progress()
            status = HTTPStatus.OK if verdict is not None else HTTPStatus.CONFLICT
            self._json(status, {"recorded": verdict is not None, "judged": judged, "total": total})
            return
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", "/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _fields(self) -> dict[str, str]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise AugmentlabError("bad Content-Length") from None
        if length > MAX_BODY or length < 0:
            raise AugmentlabError(f"request body too large ({length} bytes; at most {MAX_BODY})")
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        if self._wants_json():
            try:
                data = json.loads(raw or "{}")
            except ValueError:
                raise AugmentlabError("the body is not JSON") from None
            if not isinstance(data, dict):
                raise AugmentlabError("the body must be a JSON object")
            return {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items() if v}

    def _wants_json(self) -> bool:
        return "json" in (self.headers.get("Content-Type") or "").lower()

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is None:  # not a browser's cross-site request (curl, a script)
            return True
        return urlsplit(origin).netloc == (self.headers.get("Host") or "")

    def _send(self, status: int, text: str, content_type: str) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data), "application/json")

    def _error(self, status: int, message: str) -> None:
        if self.command == "POST" and self._wants_json():
            self._json(status, {"error": message})
        else:
            self._send(status, page.error_page(int(status), message), "text/html; charset=utf-8")


def check_loopback(host: str) -> str:
    """``host`` when it is a loopback address (127.0.0.0/8, ::1, localhost); else one error line."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise AugmentlabError(f"--host {host!r}: the judging page is served on a loopback address only (127.0.0.1, ::1)")


def make_server(app: JudgingApp, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server for ``app`` bound to ``host:port`` (``port`` 0: a free one); not yet serving."""
    host = check_loopback(host)
    handler = type("JudgingHandler", (_Handler,), {"app": app})
    server_class = ThreadingHTTPServer
    if ":" in host:
        server_class = type("JudgingServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    try:
        server = server_class((host, port), handler)
    except OSError as exc:
        raise AugmentlabError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    server.daemon_threads = True
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"http://{shown}:{port}/"


def open_app(judging: JudgingSet, verdicts: Path, annotator: str, *, mlflow: bool = True,
             on_verdict: Callable[[Verdict, int, int, list[str]], None] | None = None) -> JudgingApp:
    return JudgingApp(judging=judging, log=VerdictLog(verdicts), annotator=annotator, mlflow=mlflow,
                      on_verdict=on_verdict)


__all__ = ["JudgingApp", "check_loopback", "make_server", "open_app", "server_url"]
