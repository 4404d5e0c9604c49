"""Answers that could not be parsed are counted and summarised, not printed amid the progress."""

from __future__ import annotations

import io
import json
import logging
import warnings

import pytest

from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.cli import main as cli_main
from augmentlab.lm import parse_log
from fakes.fake_server import StubServer
from test_augment import KEY_ENV, SECRET, make_script, stub_config

PYDANTIC = ("Adapter GrammarJSONAdapter failed to parse the LM response. 1 validation error for Output "
            "For further information visit https://errors.pydantic.dev/2.11/v/json_invalid")


@pytest.fixture
def dspy_stream(monkeypatch):
    """What a handler on the ``dspy`` logger prints (as DSPy's own does, on stderr)."""
    monkeypatch.delenv("AUGMENTLAB_VERBOSE", raising=False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("dspy")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def test_parse_failures_are_counted_not_printed(dspy_stream):
    with parse_log.capture() as errors:
        logging.getLogger("dspy.adapters.json_adapter").warning(PYDANTIC)
        logging.getLogger("dspy.predict").warning("an unrelated notice")
    assert errors.count == 1 and errors.examples[0]["source"] == "dspy.adapters.json_adapter"
    printed = dspy_stream.getvalue()
    assert "failed to parse" not in printed and "an unrelated notice" in printed
    logging.getLogger("dspy.adapters.json_adapter").warning(PYDANTIC)  # outside a capture: as before
    assert "failed to parse" in dspy_stream.getvalue()


def test_verbose_shows_them_and_still_counts(dspy_stream, monkeypatch):
    monkeypatch.setenv("AUGMENTLAB_VERBOSE", "1")
    with parse_log.capture() as errors:
        logging.getLogger("dspy.adapters").warning(PYDANTIC)
    assert errors.count == 1 and "failed to parse" in dspy_stream.getvalue()


def test_pydantic_warnings_are_counted_and_hidden(capsys, monkeypatch):
    monkeypatch.delenv("AUGMENTLAB_VERBOSE", raising=False)
    with parse_log.capture() as errors, warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("1 validation error for Output: see https://errors.pydantic.dev/2.11/v/missing", UserWarning)
    assert errors.count == 1
    assert "pydantic" not in capsys.readouterr().err


def test_nested_captures_each_count_and_the_summary_reads(tmp_path):
    with parse_log.capture() as outer:
        with parse_log.capture() as inner:
            assert parse_log.note("evaluate", "AdapterParseError: " + PYDANTIC, example="g1")
            assert not parse_log.note("evaluate", "ValueError: something else")
        parse_log.note("augment", PYDANTIC)
    assert (inner.count, outer.count) == (1, 2)
    path = inner.write(tmp_path / "parse_errors.jsonl", variant="seed")
    row = json.loads(path.read_text().splitlines()[0])
    assert row["variant"] == "seed" and row["example"] == "g1" and "failed to parse" in row["text"]
    assert outer.summary(12, path) == (f"2 of 12 answers could not be parsed; examples in {path} "
                                       "(--verbose shows them as they happen)")
    assert parse_log.ParseErrors().summary(12, path) is None


def test_augment_summarises_unparsed_answers(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv(KEY_ENV, SECRET)
    monkeypatch.delenv("AUGMENTLAB_VERBOSE", raising=False)
    out = tmp_path / "out"
    with StubServer(latency=0.0, faults=["garbage"] * 2) as server:
        report = augment_scripts([make_script(3)], out, stub_config(server, num_retries=0),
                                 AugmentOptions(program="seed+seed_with_scenario", concurrency=1, write_personas=False))
    assert report.parse_errors.count >= 1
    rows = [json.loads(x) for x in (out / "parse_errors.jsonl").read_text().splitlines()]
    assert len(rows) == min(report.parse_errors.count, parse_log.MAX_EXAMPLES)
    note = next(n for n in report.notes() if "could not be parsed" in n)
    assert f"of {report.usage.calls} answers could not be parsed; examples in {out / 'parse_errors.jsonl'}" in note
    err = capfd.readouterr().err
    assert "pydantic" not in err and "failed to parse" not in err


def test_the_cli_prints_the_summary_line_once(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv(KEY_ENV, SECRET)
    monkeypatch.delenv("AUGMENTLAB_VERBOSE", raising=False)
    script = tmp_path / "play.fountain"
    script.write_text("INT. ROOM - DAY\n\nANN\nDid you bring the map?\n\nBOB\nI left it at the station.\n",
                      encoding="utf-8")
    with StubServer(latency=0.0, faults=["garbage"] * 3) as server:
        code = cli_main(["augment", str(script), "-o", str(tmp_path / "out"), "--model", "openai/stub",
                         "--api-base", server.base_url, "--api-key-env", KEY_ENV, "--adapter", "json",
                         "--no-persona-writer", "--num-retries", "0"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert out.count("could not be parsed") == 1 and "pydantic" not in out + err
