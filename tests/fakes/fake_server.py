"""A local stub of an OpenAI-compatible chat server, for tests and benchmarks (no model).

:class:`StubServer` listens on ``127.0.0.1`` only, answers ``POST /v1/chat/completions`` after a
fixed latency with valid JSON for augmentlab's DSPy signatures (derived from the prompt: every
output field the system message lists, ``annotated_lines`` keeping the human words of the
``lines`` input, ``line_actions`` one ``{"before", "after"}`` pair per line), and serves at most ``max_requests`` requests (then answers 400).

Faults are scripted for the first requests, in order — each item one request:

- ``"429"`` (with ``Retry-After: retry_after``), ``"500"``, ``"502"``, ``"503"``: that status;
- ``"429-bare"``: a 429 without a ``Retry-After`` header;
- ``"401"``: an authentication error whose message echoes the bearer key it was sent (as some
  servers do; for redaction tests);
- ``"timeout"``: hold the request for ``hang`` seconds before answering normally;
- ``"trickle"``: a normal answer whose body is sent in ``trickle_chunks`` pieces spread over
  ``trickle`` seconds (a slow link);
- ``"malformed"``: a 200 whose HTTP body is not valid JSON;
- ``"garbage"``: a 200 whose content is not JSON;
- ``"missing"``: a 200 whose content is JSON without the output fields (``{}``);
- ``"extra"``: a 200 whose content has the output fields plus unknown ones, and an unknown
  top-level key in the response;
- ``"length"``: a 200 whose content is cut in half, with ``finish_reason = "length"`` (and
  ``max_answer_lines``: every answer for more lines than that, like a ``max_tokens`` limit);
- ``"empty"``: a 200 whose content is the empty string;
- ``"mangle"``: a 200 whose annotated lines change the human words (programs that write only
  actions cannot change them: for those it is a normal answer).

:data:`FAULTS` lists them all. ``"ok"`` in the list is a normal answer.

The pairwise judge's signature (a ``preference`` output, :mod:`metrics.pairwise`) is answered by
:func:`prefer_varied` (the candidate whose actions are more varied, in either order, as the fake
LM does); :func:`pairwise_responder` builds a responder from any rule, e.g. :func:`always_first`
(answers "A better" whatever is shown first: the position bias the both-orders rule must turn
into ties).

``GET /v1/stats`` counts the requests received and answered and the server-side span of those
since ``POST /v1/stats/reset`` (benchmarks count requests here, not in the client).

Run it alone with ``python -m fakes.fake_server --latency 0.2`` (prints the base
URL, serves until killed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

_FIELD_RE = re.compile(r"^\d+\. `(\w+)` \(([^)]*)\)", re.M)
_SECTION_RE = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\[\[ ## |\Z)", re.S)
_NUMBERED_RE = re.compile(r"^\s*(\d+)\.\s?(.*)$")
_SPEAKER_RE = re.compile(r"^([A-Z][\w.'\- ]{0,40}?): (.*)$")

Responder = Callable[[list[dict[str, Any]]], str]

FAULTS: tuple[str, ...] = (
    "429", "429-bare", "401", "500", "502", "503", "timeout", "trickle", "malformed", "garbage",
    "missing", "extra", "length", "empty", "mangle",
)
"""Every fault the server can inject (see the module doc)."""
_STATUS_FAULTS = {"429": 429, "429-bare": 429, "401": 401, "500": 500, "502": 502, "503": 503}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


_COMPACT_RE = re.compile(r'^"(\w+)" \(([^)]*)\)', re.M)


def output_fields(system: str) -> list[tuple[str, str]]:
    """``(name, type)`` of the output fields a DSPy system message lists (DSPy's JSON/Chat adapter
    form, or the compact form of augmentlab's grammar adapters: ``"name" (list of ...): ...``)."""
    _, found, rest = system.partition("Your output fields are:")
    if not found:
        _, found, rest = system.partition("Answer with one JSON object:")
        return [(name, "list" if kind.startswith("list") else kind) for name, kind in _COMPACT_RE.findall(rest)]
    rest = rest.split("All interactions will be structured", 1)[0]
    return _FIELD_RE.findall(rest)


def input_sections(user: str) -> dict[str, str]:
    """The ``[[ ## name ## ]]`` sections of a DSPy user message."""
    return {name: body.split("\n\nRespond with", 1)[0].strip() for name, body in _SECTION_RE.findall(user)}


def spoken_of(numbered: str) -> list[str]:
    """The human words of each ``N. Speaker: text`` line (speaker prefix removed)."""
    out = []
    for raw in numbered.splitlines():
        if not raw.strip():
            continue
        match = _NUMBERED_RE.match(raw)
        if not match:
            continue
        text = match.group(2)
        speaker = _SPEAKER_RE.match(text)
        out.append(speaker.group(2) if speaker else text)
    return out


_ACTION_RE = re.compile(r"\*([^*\n]+?)\*")
PairwiseRule = Callable[[str, str], str]
"""``(candidate_a, candidate_b) -> preference`` on the 5-point scale of :mod:`metrics.pairwise`."""


def action_variety(candidate: str) -> float:
    """Distinct action spans over all action spans (0 without actions)."""
    spans = [" ".join(m.group(1).lower().strip(" .!?").split()) for m in _ACTION_RE.finditer(candidate)]
    spans = [s for s in spans if s]
    return len(set(spans)) / len(spans) if spans else 0.0


def prefer_varied(candidate_a: str, candidate_b: str) -> str:
    """The candidate whose actions are more varied ("much better" for a difference of 0.3 or
    more, "same" under 0.05): the same winner in either order."""
    diff = action_variety(candidate_a) - action_variety(candidate_b)
    if abs(diff) < 0.05:
        return "same"
    return f"{'A' if diff > 0 else 'B'} {'much better' if abs(diff) >= 0.3 else 'better'}"


def always_first(candidate_a: str, candidate_b: str) -> str:
    """Position bias: "A better" whatever is shown first."""
    return "A better"


def pairwise_answer(messages: list[dict[str, Any]], rule: PairwiseRule = prefer_varied) -> str:
    """A JSON answer to the pairwise judge's prompt: one note per output field, ``rule``'s preference."""
    system = next((_text(m.get("content")) for m in messages if m.get("role") == "system"), "")
    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    inputs = input_sections(user)
    answer: dict[str, Any] = {name: f"The stub's note on {name}." for name, _ in output_fields(system)}
    answer["preference"] = rule(inputs.get("candidate_a", ""), inputs.get("candidate_b", ""))
    return json.dumps(answer)


def pairwise_responder(rule: PairwiseRule = prefer_varied) -> Responder:
    """A :class:`StubServer` responder answering the pairwise judge with ``rule``."""
    return lambda messages: pairwise_answer(messages, rule)


def default_responder(messages: list[dict[str, Any]], *, mangle: bool = False) -> str:
    """A valid JSON answer to a DSPy JSON/Chat-adapter prompt (see the module doc)."""
    system = next((_text(m.get("content")) for m in messages if m.get("role") == "system"), "")
    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    inputs = input_sections(user)
    if any(name == "preference" for name, _ in output_fields(system)):
        return pairwise_answer(messages)
    answer: dict[str, Any] = {}
    for name, kind in output_fields(system) or [("output", "str")]:
        if name == "line_actions":  # actions only: the program puts the words between them
            answer[name] = [{"before": "I look up.", "after": "I nod."} for _ in spoken_of(inputs.get("lines", ""))]
        elif name == "annotated_lines" or kind.startswith("list"):
            words = spoken_of(inputs.get("lines", ""))
            if mangle:
                words = [w + " (changed)" for w in words]
            answer[name] = [f"*I look up.* {w} *I nod.*" for w in words]
        elif name == "scenario":
            answer[name] = "A quiet room in the evening; two people talk while the rain falls outside."
        elif kind in ("int", "float"):
            answer[name] = 0
        elif kind == "bool":
            answer[name] = True
        else:
            answer[name] = f"A short {name} written by the stub server."
    return json.dumps(answer)


def _answer_lines(messages: list[dict[str, Any]]) -> int:
    """How many script lines the prompt asks the model to annotate."""
    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    return len(spoken_of(input_sections(user).get("lines", "")))


class StubServer:
    """An OpenAI-compatible chat-completions stub on ``127.0.0.1`` (see the module doc)."""

    def __init__(
        self,
        *,
        latency: float = 0.2,
        max_requests: int = 100_000,
        faults: Iterable[str] = (),
        retry_after: float = 0.0,
        hang: float = 5.0,
        responder: Responder | None = None,
        port: int = 0,
        trickle: float = 1.0,
        trickle_chunks: int = 10,
        max_answer_lines: int | None = None,
    ) -> None:
        self.max_answer_lines = max_answer_lines
        """Like a ``max_tokens`` limit: an answer for more lines than this is cut in half with
        ``finish_reason = "length"`` (None: no limit)."""
        self.latency = latency
        self.max_requests = max_requests
        self.faults = list(faults)
        self.retry_after = retry_after
        self.hang = hang
        self.responder = responder or default_responder
        self.port = port
        self.trickle = trickle
        self.trickle_chunks = max(1, trickle_chunks)
        self.requests = 0
        """Requests received (faults included)."""
        self.completed = 0
        """Requests answered with a 200."""
        self.keys_seen: set[str] = set()
        """Bearer keys the requests carried (to prove a test's key really was sent)."""
        self.log: list[tuple[float, str]] = []
        """``(time, outcome)`` per request."""
        self.window: list[float | None] = [None, None]
        """``[first arrival, last answer sent]`` (monotonic seconds) since the last reset:
        the server-side span of a batch of requests (``GET /v1/stats``)."""
        self.bodies: list[dict[str, Any]] = []
        """The JSON bodies of the last ``keep_bodies`` requests (to check a request's shape)."""
        self.keep_bodies = 50
        self.counted = 0
        """Requests answered since the last reset (``POST /v1/stats/reset``)."""
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self._run, name="stub-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stub server did not start")
        if self._error is not None:
            raise RuntimeError(f"stub server failed: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/chat/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/stats", self._stats)
        app.router.add_post("/v1/stats/reset", self._reset)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    # -- handlers ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Requests and completions so far, and the span of those since the last reset."""
        with self._lock:
            first, last = self.window
            return {"requests": self.requests, "completed": self.completed, "counted": self.counted,
                    "first": first, "last": last, "span": (last - first) if first is not None and last is not None else None}

    def reset_stats(self) -> None:
        with self._lock:
            self.window = [None, None]
            self.counted = 0

    async def _stats(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response(self.stats())

    async def _reset(self, request: Any) -> Any:
        from aiohttp import web

        self.reset_stats()
        return web.json_response(self.stats())

    def _next(self) -> tuple[int, str | None]:
        with self._lock:
            if self.window[0] is None:
                self.window[0] = time.monotonic()
            self.requests += 1
            n = self.requests
            fault = self.faults.pop(0) if self.faults else None
            self.log.append((time.monotonic(), fault or "ok"))
        return n, fault

    async def _models(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        n, fault = self._next()
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if bearer:
            with self._lock:
                self.keys_seen.add(bearer)
        if n > self.max_requests:
            return web.json_response({"error": {"message": "stub request budget exhausted", "type": "invalid_request_error"}}, status=400)
        body = await request.json()
        with self._lock:
            self.bodies.append(body)
            del self.bodies[: -self.keep_bodies]
        if fault in _STATUS_FAULTS:
            status = _STATUS_FAULTS[fault]
            headers = {}
            if fault != "429-bare" and (status in (429, 503) or self.retry_after):
                headers["Retry-After"] = f"{self.retry_after:g}"
            if status == 401:
                key = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
                message, kind = f"Incorrect API key provided: {key}", "invalid_request_error"
            else:
                message, kind = ("rate limited" if status == 429 else "server error"), "server_error"
            return web.json_response({"error": {"message": message, "type": kind}}, status=status, headers=headers)
        await asyncio.sleep(self.hang if fault == "timeout" else self.latency)
        messages = body.get("messages") or []
        finish = "stop"
        if fault == "garbage":
            content = "I am not JSON, sorry."
        elif fault == "mangle":
            content = default_responder(messages, mangle=True)
        elif fault == "missing":
            content = "{}"
        elif fault == "empty":
            content = ""
        elif fault == "extra":
            answer = json.loads(default_responder(messages))
            content = json.dumps({"note": "an extra field", **answer, "confidence": 0.5})
        elif fault == "length":
            full = self.responder(messages)
            content, finish = full[: len(full) // 2], "length"
        else:
            content = self.responder(messages)
        if self.max_answer_lines is not None and fault in (None, "ok") and _answer_lines(messages) > self.max_answer_lines:
            content, finish = content[: len(content) // 2], "length"
        with self._lock:
            self.completed += 1
        prompt_chars = sum(len(_text(m.get("content"))) for m in messages)
        usage = {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": len(content) // 4 + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        payload: dict[str, Any] = {
            "id": f"chatcmpl-stub-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
            ],
            "usage": usage,
        }
        if fault == "extra":
            payload["x_unknown"] = {"nested": [1, 2, 3]}
        with self._lock:
            self.window[1] = time.monotonic()
            self.counted += 1
        if fault == "malformed":
            text = json.dumps(payload)
            return web.Response(text=text[: len(text) - 7] + ",,}", content_type="application/json")
        if fault == "trickle":
            return await self._trickle(request, json.dumps(payload).encode())
        return web.json_response(payload)

    async def _trickle(self, request: Any, data: bytes) -> Any:
        """Send ``data`` in :attr:`trickle_chunks` pieces over :attr:`trickle` seconds."""
        from aiohttp import web

        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(data)
        await response.prepare(request)
        step = max(1, -(-len(data) // self.trickle_chunks))
        pause = self.trickle / self.trickle_chunks
        for start in range(0, len(data), step):
            await response.write(data[start : start + step])
            await asyncio.sleep(pause)
        await response.write_eof()
        return response


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    args = parser.parse_args(argv)
    server = StubServer(latency=args.latency, port=args.port, max_requests=args.max_requests).start()
    print(server.base_url, flush=True)
    try:
        while server._thread is not None and server._thread.is_alive():
            server._thread.join(1)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
