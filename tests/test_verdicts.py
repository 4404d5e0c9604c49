"""The one verdict type every evaluator answers with, and its file format."""

import json

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.verdicts import Verdict, read_verdicts, write_verdicts


def _v(**kw):
    base = dict(scene="s1", a="seed", b="vivid", winner="b", margin=2, source="human:ann", kind="human")
    base.update(kw)
    return Verdict(**base)


def test_round_trip_and_scores(tmp_path):
    vs = [_v(), _v(winner="tie", margin=0, why="same"), _v(winner="a", extra={"note": "x"})]
    path = tmp_path / "verdicts.jsonl"
    assert write_verdicts(path, vs) == 3
    back = read_verdicts(path)
    assert back == vs
    assert [v.preferred() for v in back] == ["vivid", None, "seed"]
    assert [v.score_for("vivid") for v in back] == [1.0, 0.5, 0.0]
    assert back[0].swapped().preferred() == "vivid" and back[0].swapped().a == "vivid"


def test_a_verdict_needs_two_candidates_and_a_known_winner():
    with pytest.raises(ValueError):
        _v(b="seed")
    with pytest.raises(ValueError):
        _v(winner="c")
    with pytest.raises(ValueError):
        _v(margin=9)


def test_a_bad_row_is_one_error_naming_the_file(tmp_path):
    path = tmp_path / "v.jsonl"
    path.write_text(json.dumps(_v().model_dump()) + "\n" + json.dumps({"scene": "s", "a": "x"}) + "\n")
    with pytest.raises(AugmentlabError, match=r"v\.jsonl:2: bad verdict"):
        read_verdicts(path)
    with pytest.raises(AugmentlabError, match="no verdicts file"):
        read_verdicts(tmp_path / "missing.jsonl")
