"""The README's recipes for local servers (llama-server, Ollama, vLLM), run as written against a stub.

No such server runs here: each recipe's augmentlab.toml is taken from the README, its api_base
pointed at a local stub, and `augmentlab augment` run with it. The stub records what each request
looked like: the model name the server sees and the structured-output form the adapter sends.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from augmentlab.cli import main as cli_main
from augmentlab.lm import GrammarJSONAdapter, SchemaJSONAdapter, adapter_for
from augmentlab.lm.settings import resolve_lm_config
from fakes.fake_server import StubServer

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "data" / "scripts" / "tea_and_thunder.txt"


def readme_recipes() -> dict[str, str]:
    """``{server: toml}`` from the README's "Local servers you already run" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Local servers you already run", 1)[1].split("\n## ", 1)[0]
    recipes = {}
    for match in re.finditer(r"\*\*(.+?)\*\*.*?```toml\n(.*?)```", section, re.S):
        recipes[match.group(1).strip("` ")] = match.group(2)
    return recipes


EXPECTED = {
    # server: (adapter, response_format type, model the server is asked for)
    "llama.cpp `llama-server": ("json-grammar", "json_object", "local"),
    "Ollama": ("json-schema", "json_schema", "qwen2.5:1.5b"),
    "vLLM": ("json-schema", "json_schema", "Qwen/Qwen2.5-1.5B-Instruct"),
}


def test_readme_has_the_three_recipes():
    assert set(readme_recipes()) == set(EXPECTED)


@pytest.mark.parametrize("server", sorted(EXPECTED))
def test_recipe_request_shape(server, tmp_path, monkeypatch):
    adapter, form, model = EXPECTED[server]
    recipe = tomllib.loads(readme_recipes()[server])["lm"]
    assert recipe["adapter"] == adapter
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with StubServer(latency=0.0) as stub:
        recipe["api_base"] = stub.base_url
        lines = ["[lm]"] + [f"{k} = {json.dumps(v)}" for k, v in recipe.items()]
        (tmp_path / "augmentlab.toml").write_text("\n".join(lines) + "\n")
        config = resolve_lm_config(None)
        expected_cls = GrammarJSONAdapter if adapter == "json-grammar" else SchemaJSONAdapter
        assert type(adapter_for(config)) is expected_cls
        assert cli_main(["augment", str(SCRIPT), "-o", str(tmp_path / "out"), "--limit", "2",
                         "--no-persona-writer"]) == 0
        assert stub.completed >= 1
        body = stub.bodies[-1]
    assert body["model"] == model
    assert body.get("max_tokens", body.get("max_completion_tokens")) == recipe["max_tokens"]
    fmt = body["response_format"]
    assert fmt["type"] == form
    schema = fmt["schema"] if form == "json_object" else fmt["json_schema"]["schema"]
    # The schema fixes one action pair per script line.
    prop = schema["properties"]["line_actions"]
    assert prop["minItems"] == prop["maxItems"] >= 1
    assert stub.keys_seen == {"not-needed"}  # no key configured: the placeholder, never a real one
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["this_run"]["ok"] >= 1 and run["lm"]["identity"]["api_base"] == stub.base_url


def test_dspy_json_adapter_sends_no_schema_to_unknown_models(tmp_path):
    """Why the recipes name json-schema: DSPy's JSONAdapter leaves an unknown model unconstrained."""
    from augmentlab.lm import LMConfig
    from tests.test_lm_identity import _augment

    with StubServer(latency=0.0) as stub:
        result = _augment(LMConfig(kind="endpoint", model="openai/qwen2.5:1.5b", api_base=stub.base_url,
                                   adapter="json", cache=False))
    assert result.status == "ok"
    assert "response_format" not in stub.bodies[-1] or stub.bodies[-1]["response_format"] is None
