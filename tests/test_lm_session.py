"""LMSession: one opened LM with its config, adapter, redactor and prices; usage read from it."""

from __future__ import annotations

import dspy
import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig, adapter_for, open_lm, usage_since
from augmentlab.lm.fake import FakeLM
from augmentlab.lm.session import LMSession, open_session

SECRET = "sk-test-session-secret-0123456789"


class Annotate(dspy.Signature):
    """Add actions in the first person."""

    lines: str = dspy.InputField()
    cast: str = dspy.InputField()
    annotated_lines: list[str] = dspy.OutputField()


LINES = "1. Ann: Where were you last night?\n2. Bob: Out. Walking by the harbour."


def test_session_holds_config_lm_adapter_and_prices() -> None:
    config = LMConfig(kind="fake", cache=False, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)
    with open_session(config) as session:
        assert session.config is config
        assert isinstance(session.lm, FakeLM)
        assert type(session.adapter) is type(adapter_for(config))
        assert session.prices == (1.0, 2.0)


def test_usage_since_mark_matches_the_module_function_and_is_priced() -> None:
    config = LMConfig(kind="fake", cache=False, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)
    with open_session(config) as session, session.use():
        assert dspy.settings.lm is session.lm and dspy.settings.adapter is session.adapter
        dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob")
        start = session.mark()
        assert start == 1
        dspy.Predict(Annotate)(lines="1. Ann: Hi.", cast="Ann")
        usage = session.usage_since(start)
        total = session.usage_since()
    assert usage.calls == 1 and total.calls == 2
    assert usage == usage_since(session.lm, start, prices=session.prices)  # the same numbers as the module function
    assert usage.cost == pytest.approx(usage.prompt_tokens / 1000 + usage.completion_tokens / 500)
    assert dspy.settings.lm is not session.lm  # the context is left on exit


def test_prices_come_from_the_session_not_the_lm() -> None:
    """An LM opened elsewhere carries no prices; the session prices its calls all the same."""
    config = LMConfig(kind="fake", cache=False, prompt_price_per_1k=3.0, completion_price_per_1k=0.0)
    session = LMSession.of(config, FakeLM(cache=False))
    with session.use():
        dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob")
    usage = session.usage_since(0)
    assert usage.prompt_tokens > 0 and usage.cost == pytest.approx(usage.prompt_tokens / 1000 * 3.0)
    assert usage_since(session.lm).cost is None  # unpriced without the session


def test_usage_of_a_private_copy_is_priced_by_the_session() -> None:
    config = LMConfig(kind="fake", cache=False, prompt_price_per_1k=1.0, completion_price_per_1k=1.0)
    with open_session(config) as session:
        local = session.lm.copy()
        with session.use(lm=local):
            dspy.Predict(Annotate)(lines=LINES, cast="Ann\nBob")
        assert session.usage_since().calls == 0
        usage = session.usage_of(local)
    assert usage.calls == 1 and usage.cost == pytest.approx(usage.total_tokens / 1000)


def test_redactor_hides_the_named_key(monkeypatch) -> None:
    monkeypatch.setenv("AUGMENTLAB_SESSION_KEY", SECRET)
    config = LMConfig(kind="endpoint", model="openai/gpt-4o-mini", api_key_env="AUGMENTLAB_SESSION_KEY")
    with open_session(config) as session:
        assert session.redactor.text(f"401: bad key {SECRET}") == "401: bad key [REDACTED:AUGMENTLAB_SESSION_KEY]"
        assert type(session.adapter) is dspy.JSONAdapter


def test_open_session_errors_like_open_lm(monkeypatch) -> None:
    monkeypatch.delenv("AUGMENTLAB_NO_SUCH_KEY", raising=False)
    config = LMConfig(kind="endpoint", model="openai/gpt-4o-mini", api_key_env="AUGMENTLAB_NO_SUCH_KEY")
    with pytest.raises(AugmentlabError) as via_session, open_session(config):
        pass
    with pytest.raises(AugmentlabError) as via_lm, open_lm(config):
        pass
    assert str(via_session.value) == str(via_lm.value)


def test_backends_register_themselves_and_open_lm_uses_the_registry(monkeypatch) -> None:
    from contextlib import contextmanager

    from augmentlab.lm import backends
    from augmentlab.lm.identity import IDENTITY_ATTR, identity_digest

    assert backends.backend_kinds() == ["embedded", "endpoint", "fake"]
    with pytest.raises(ValueError, match="already registered"):
        backends.register_backend("fake")(lambda config: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(AugmentlabError, match="no LM backend for kind 'nope'"):
        backends.opener_for("nope")

    opened: list[str] = []

    @contextmanager
    def stand_in(config):  # noqa: ANN001, ANN202
        opened.append(config.model)
        yield FakeLM(model="fake/stand-in")

    monkeypatch.setitem(backends._BACKENDS, "fake", stand_in)
    config = LMConfig(kind="fake", prompt_price_per_1k=1.0, completion_price_per_1k=2.0)
    with open_session(config) as session:
        assert session.lm.model == "fake/stand-in" and opened == ["fake/augmentlab"]
        assert getattr(session.lm, IDENTITY_ATTR) == identity_digest(config.identity())
