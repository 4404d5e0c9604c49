"""LM setup: config secrets, FakeLM, the grammar adapter's request, usage accounting."""

from __future__ import annotations

import dspy
import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm.fake import FakeLM
from augmentlab.lm import GrammarJSONAdapter, LMConfig, adapter_for, open_lm, output_schema, usage_since
from augmentlab.core.text import is_verbatim

SECRET = "sk-test-do-not-log-1234567890"


class Annotate(dspy.Signature):
    """Add actions in the first person, at least two sentences of action per line."""

    lines: str = dspy.InputField()
    cast: str = dspy.InputField()
    annotated_lines: list[str] = dspy.OutputField()


LINES = "1. Ann: Where were you last night?\n2. The door creaks.\n3. Bob: Out. Walking by the harbour."


def test_defaults_per_kind():
    assert LMConfig().model == "openai/local" and LMConfig().adapter == "json-grammar"
    assert LMConfig(kind="endpoint", model="openai/gpt-4o-mini").adapter == "json"
    with pytest.raises(ValueError):
        LMConfig(kind="endpoint")


def test_api_key_never_stored_or_logged(monkeypatch):
    monkeypatch.setenv("AUGMENTLAB_TEST_KEY", SECRET)
    config = LMConfig(kind="endpoint", model="openai/gpt-4o-mini", api_key_env="AUGMENTLAB_TEST_KEY")
    assert config.api_key() == SECRET
    for text in (repr(config), str(config), str(config.safe_dict()), config.fingerprint(), config.model_dump_json()):
        assert SECRET not in text
    assert config.safe_dict()["api_key_env"] == "AUGMENTLAB_TEST_KEY"
    with open_lm(config) as lm:
        assert SECRET not in str(lm.dump_state())


def test_missing_key_variable_names_it(monkeypatch):
    monkeypatch.delenv("AUGMENTLAB_NO_SUCH_KEY", raising=False)
    config = LMConfig(kind="endpoint", model="openai/gpt-4o-mini", api_key_env="AUGMENTLAB_NO_SUCH_KEY")
    with pytest.raises(AugmentlabError, match="AUGMENTLAB_NO_SUCH_KEY"):
        with open_lm(config):
            pass


def test_fingerprint_tracks_output_settings_only():
    base = LMConfig(kind="endpoint", model="openai/gpt-4o-mini")
    assert base.fingerprint() == LMConfig(kind="endpoint", model="openai/gpt-4o-mini", timeout=5).fingerprint()
    assert base.fingerprint() == LMConfig(kind="endpoint", model="openai/gpt-4o-mini", api_key_env="X").fingerprint()
    assert base.fingerprint() != LMConfig(kind="endpoint", model="openai/gpt-4o-mini", temperature=0.7).fingerprint()
    assert base.fingerprint() != LMConfig(kind="endpoint", model="openai/gpt-4o").fingerprint()


def test_adapter_for():
    assert isinstance(adapter_for(LMConfig()), GrammarJSONAdapter)
    assert type(adapter_for(LMConfig(kind="endpoint", model="openai/x"))) is dspy.JSONAdapter
    assert type(adapter_for(LMConfig(kind="fake", adapter="chat"))) is dspy.ChatAdapter


def test_grammar_adapter_sends_json_object_schema():
    config = LMConfig(kind="fake")
    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob")
        fmt = lm.history[-1]["kwargs"]["response_format"]
    assert fmt["type"] == "json_object"
    schema = fmt["schema"]
    assert schema["required"] == ["annotated_lines"] and schema["additionalProperties"] is False
    items = schema["properties"]["annotated_lines"]
    assert items["type"] == "array" and items["items"]["type"] == "string"
    assert items["minItems"] == items["maxItems"] == 3  # one per input line


def test_output_schema_without_inputs_has_no_count():
    schema = output_schema(Annotate)
    assert "minItems" not in schema["properties"]["annotated_lines"]


@pytest.mark.parametrize("adapter", ["json-grammar", "json", "chat"])
def test_fake_lm_answers_in_the_adapters_format(adapter):
    config = LMConfig(kind="fake", adapter=adapter)
    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        pred = dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob")
    originals = ["Where were you last night?", "The door creaks.", "Out. Walking by the harbour."]
    assert len(pred.annotated_lines) == 3
    for annotated, original in zip(pred.annotated_lines, originals):
        assert is_verbatim(annotated, original)
        assert annotated.count("*") >= 2


def test_fake_lm_is_deterministic_and_prompt_sensitive():
    class ThirdPerson(Annotate):
        """Add actions in the third person."""

    config = LMConfig(kind="fake")
    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        first = dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob").annotated_lines
        again = dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob").annotated_lines
        third = dspy.Predict(ThirdPerson.with_instructions("Add actions in the third person."))(
            lines=LINES, cast="Ann\nBob"
        ).annotated_lines
    assert first == again
    assert first != third
    assert first[0].startswith("*I ") and third[0].startswith("*Ann ")


def test_usage_since_counts_calls_and_tokens():
    config = LMConfig(kind="fake", cache=False, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)
    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob")
        start = len(lm.history)
        dspy.Predict(Annotate)(lines=LINES, cast="Ann")
        dspy.Predict(Annotate)(lines="1. Ann: Hi.", cast="Ann")
        usage = usage_since(lm, start, prices=(config.prompt_price_per_1k, config.completion_price_per_1k))
        unpriced = usage_since(lm, start)
        total = usage_since(lm)
    assert usage.calls == 2 and total.calls == 3
    assert unpriced.cost is None  # prices travel with the session or the call, not on the DSPy LM
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert total.prompt_tokens > usage.prompt_tokens
    expected = usage.prompt_tokens / 1000 * 1.0 + usage.completion_tokens / 1000 * 2.0
    assert usage.cost == pytest.approx(expected)


def test_fake_lm_supports_n():
    config = LMConfig(kind="fake")
    with open_lm(config) as lm, dspy.context(lm=lm, adapter=adapter_for(config)):
        pred = dspy.Predict(Annotate, n=3)(lines=LINES, cast="Ann\nBob")
    assert len(pred.completions.annotated_lines) == 3


def test_fake_lm_copy_has_private_history():
    lm = FakeLM()
    copy = lm.copy()
    with dspy.context(lm=copy, adapter=adapter_for(LMConfig(kind="fake"))):
        dspy.Predict(Annotate)(lines=LINES, cast="Ann")
    assert len(copy.history) == 1 and lm.history == []


def test_embedded_start_failure_is_one_line(tmp_path):
    config = LMConfig(kind="embedded", gguf=str(tmp_path / "missing.gguf"))
    with pytest.raises(AugmentlabError, match="missing.gguf"):
        with open_lm(config):
            pass


def test_grammar_adapter_reads_raw_newlines_in_strings():
    adapter = GrammarJSONAdapter()
    completion = '{ "annotated_lines": [ "*I wave.*\nHi." ,"\n" ,"Bye." ]}'
    assert adapter.parse(Annotate, completion)["annotated_lines"] == ["*I wave.*\nHi.", "\n", "Bye."]


def test_usage_of_cache_hits_is_recovered_and_marked(tmp_path, monkeypatch) -> None:
    """DSPy clears usage on a cache hit; a warm re-run must still report the prompt's tokens."""
    import dspy

    from augmentlab.lm import use_lm
    from augmentlab.core.model import Line, Scene
    from prompts.programs import SceneAugmenter, augment_scene

    monkeypatch.setattr(dspy, "cache", dspy.clients.cache.Cache(
        enable_disk_cache=True, enable_memory_cache=False, disk_cache_dir=str(tmp_path), disk_size_limit_bytes=10**8))
    scene = Scene(lines=[Line(speaker="Ann", text="Hi there."), Line(speaker="Bob", text="Go away.")])
    with use_lm(LMConfig(kind="fake", cache=True)):
        cold = augment_scene(SceneAugmenter(None, "compose_scene"), scene)
    with use_lm(LMConfig(kind="fake", cache=True)):
        warm = augment_scene(SceneAugmenter(None, "compose_scene"), scene, prices=(1.0, 2.0))
    assert cold.usage.cached_calls == 0 and cold.usage.total_tokens > 0
    assert warm.usage.cached_calls == warm.usage.calls == 1
    assert (warm.usage.prompt_tokens, warm.usage.completion_tokens) == (cold.usage.prompt_tokens, cold.usage.completion_tokens)
    assert warm.usage.cost == pytest.approx(cold.usage.prompt_tokens / 1000 + cold.usage.completion_tokens / 500)
    assert (cold.usage + warm.usage).cached_calls == 1


def test_dspy_truncation_warning_is_dropped_once_an_lm_is_open(caplog) -> None:
    import logging

    from augmentlab.lm import open_lm

    with open_lm(LMConfig(kind="fake", cache=False)):
        pass
    logger = logging.getLogger("dspy.clients.lm")
    with caplog.at_level(logging.WARNING, logger="dspy.clients.lm"):
        logger.warning("LM response was truncated due to exceeding max_tokens=5. You can inspect ...")
        logger.warning("some other dspy warning")
    messages = [r.getMessage() for r in caplog.records if r.name == "dspy.clients.lm"]
    assert messages == ["some other dspy warning"]


def test_cached_litellm_response_keeps_its_usage_for_augmentlab(tmp_path) -> None:
    """LiteLLM responses (embedded server, most endpoints) lose ``usage`` in DSPy's cache copy."""
    import litellm

    from augmentlab.lm.patches import keep_cached_usage
    from augmentlab.lm.usage import response_usage

    keep_cached_usage()
    cache = dspy.clients.cache.Cache(enable_disk_cache=True, enable_memory_cache=False,
                                     disk_cache_dir=str(tmp_path), disk_size_limit_bytes=10**8)
    response = litellm.ModelResponse(
        choices=[{"message": {"role": "assistant", "content": "{}"}, "finish_reason": "stop"}],
        usage={"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366},
    )
    request = {"model": "openai/local", "messages": [{"role": "user", "content": "hi"}]}
    cache.put(request, response)
    hit = cache.get(request)
    assert not hit.usage  # DSPy cleared it: no tokens were spent on this call
    assert response_usage(hit) == (321, 45)
