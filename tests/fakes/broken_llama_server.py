"""Fake ``llama_cpp.server`` binaries that fail the ways a real one does (for tests).

Takes the real server's command line (``--model --host --port --n_threads --n_ctx``) and fails
as ``FAKE_LLAMA_MODE`` says:

- ``segv-on-request``: listens, answers ``GET /v1/models``, then dies with SIGSEGV on the first
  ``POST`` (a llama.cpp built for another CPU: every prompt longer than one token crashes);
- ``segv-after-N`` (e.g. ``segv-after-2``): answers N chat requests with a minimal valid reply,
  then dies with SIGSEGV on the next;
- ``term-on-request``: like ``segv-on-request`` but killed by SIGTERM (stopped from outside,
  not a crash of the build);
- ``segv-at-start``: writes a line to its log and dies with SIGSEGV before listening;
- ``exit1``: writes an error line and exits with code 1 before listening;
- ``never-listen``: writes a line and sleeps without ever listening.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def _crash(sig: int = signal.SIGSEGV) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), sig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n_threads")
    parser.add_argument("--n_ctx")
    args = parser.parse_args()
    mode = os.environ.get("FAKE_LLAMA_MODE", "segv-on-request")
    print(f"fake llama server: mode {mode}, model {args.model}", flush=True)
    if mode == "segv-at-start":
        _crash()
    if mode == "exit1":
        print("error: failed to load model (fake)", file=sys.stderr, flush=True)
        sys.exit(1)
    if mode == "never-listen":
        time.sleep(3600)
        return
    answers = int(mode.rsplit("-", 1)[1]) if mode.startswith("segv-after-") else 0
    served = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"object": "list", "data": [{"id": "local", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if mode == "term-on-request":
                print("fake: terminated from outside", flush=True)
                _crash(signal.SIGTERM)
            if served["n"] >= answers:
                print("ggml: fake crash while evaluating the prompt", flush=True)
                _crash()
            served["n"] += 1
            reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "local",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "{}"}}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    HTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
