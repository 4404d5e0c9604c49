"""The per-call caches of augmentlab.lm.speed change nothing a request or a parse sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys
import augmentlab
import dspy
if sys.argv[1] == "on":
    from augmentlab.lm import speed as lm_speed
    lm_speed.install()
    lm_speed.install()  # idempotent
from augmentlab.augment import resolve_program
from augmentlab.core.model import Line, Scene
from prompts.data import scene_inputs

program, _ = resolve_program(None)
predictor = program.named_predictors()[0][1]
scene = Scene(index=0, heading="h", lines=[Line(speaker="Ann", text="Where were you?"), Line(speaker="Bob", text="Out.")]).with_id()
inputs = scene_inputs(scene)
out = {}
for name, adapter in (("json", dspy.JSONAdapter()), ("chat", dspy.ChatAdapter())):
    messages = adapter.format(predictor.signature, [], {**inputs, "scenario": "A room."})
    out[name] = messages
completion = json.dumps({"scenario": "A quiet room.", "line_actions": [{"before": "I look up.", "after": "I nod."}] * 2})
parsed = dspy.JSONAdapter().parse(predictor.signature, completion)
out["parsed"] = {k: (v.model_dump() if hasattr(v, "model_dump") else [x.model_dump() if hasattr(x, "model_dump") else x for x in v] if isinstance(v, list) else v) for k, v in parsed.items()}
for _ in range(2):  # a second call goes through the caches
    out["again"] = dspy.JSONAdapter().format(predictor.signature, [], {**inputs, "scenario": "A room."})
from dspy._vendor.lm15.transports import _proxy
from dspy._vendor.lm15.transports._url import parse_url
import os
target = parse_url("http://example.org/v1")
os.environ["HTTP_PROXY"] = "http://127.0.0.1:3128"
first = _proxy.proxy_route_for(target, proxy=None, trust_env=True)
os.environ["NO_PROXY"] = "example.org"
second = _proxy.proxy_route_for(target, proxy=None, trust_env=True)
out["proxy"] = [repr(first), repr(second)]
print(json.dumps(out, default=str, sort_keys=True))
"""


def _run(mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_caches_change_no_prompt_no_parse_and_follow_proxy_variables():
    off, on = _run("off"), _run("on")
    assert on == off
    assert "127.0.0.1" in on["proxy"][0] and on["proxy"][1] == "None"  # NO_PROXY set later still applies
    assert on["again"] == on["json"]
