"""Human judging (``augmentlab judge serve|import``) without a browser: the pairs, the verdicts
file, MLflow feedback, the HTTP endpoints and the CLI's error lines.

The store is a fake-LM run of ``tests/report_store.py``'s three-variant spec (seed, third, boot),
made once under the session's temp folder; ``tests/test_judging_browser.py`` reuses it.
"""

from __future__ import annotations

import html
import http.client
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from report_store import EXPERIMENT, real_store, synthetic_store

from augmentlab import cli
from augmentlab.core.errors import AugmentlabError
from augmentlab.core.verdicts import Verdict, read_verdicts, write_verdicts
from augmentlab.judging import (
    CHOICES,
    VerdictLog,
    import_verdicts,
    load_judging_set,
    make_server,
    make_verdict,
    open_app,
)
from augmentlab.judging.record import FEEDBACK_NAME
from augmentlab.judging.server import check_loopback

VARIANTS = ("seed", "third", "boot")


def judging_store(base: Path) -> str:
    """The fake-LM store the judging tests share (made once per session)."""
    return real_store(base / "judging")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return judging_store(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def judging(store: str):
    return load_judging_set(EXPERIMENT, tracking_uri=store)


class Served:
    def __init__(self, app, server) -> None:
        self.app, self.server = app, server
        self.port = server.server_address[1]

    def request(self, method: str, path: str, body: str | bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8"), dict(response.getheaders())
        finally:
            conn.close()

    def post_form(self, fields: dict[str, str], **headers: str) -> tuple[int, str, dict[str, str]]:
        return self.request("POST", "/judge", urlencode(fields),
                            {"Content-Type": "application/x-www-form-urlencoded", **headers})

    def post_json(self, data: object) -> tuple[int, dict, dict[str, str]]:
        status, text, headers = self.request("POST", "/judge", json.dumps(data), {"Content-Type": "application/json"})
        return status, json.loads(text), headers


@pytest.fixture
def serve(judging, tmp_path: Path) -> Iterator:
    servers = []

    def start(name: str = "tester", verdicts: Path | None = None, judging_set=None, mlflow: bool = True) -> Served:
        app = open_app(judging_set or judging, verdicts or tmp_path / "human.jsonl", name, mlflow=mlflow)
        server = make_server(app, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Served(app, server)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _blind(page: str, judging) -> list[str]:
    """The variant names the page shows outside the scene's and the candidates' own texts."""
    rest = page
    texts = [t for c in judging.outputs.values() for t in (c.scenario, *c.annotated_lines)]
    texts += [t for s in judging.scenes.values() for _, t in s.lines]
    for t in sorted(texts, key=len, reverse=True):
        if t:
            rest = rest.replace(html.escape(t), " ")
    return [name for name in VARIANTS if re.search(rf"\b{name}\b", rest, re.I)]


def _key(page: str) -> str:
    match = re.search(r"name=pair value=([0-9a-f]{16})", page)
    assert match, page[:500]
    return match.group(1)


# ------------------------------------------------------------------------------- pairs
def test_pairs_are_each_variant_against_the_baseline_on_each_test_scene(judging) -> None:
    assert judging.baseline == "seed" and judging.variants == list(VARIANTS)
    scenes = {p.scene for p in judging.pairs}
    assert len(scenes) >= 3
    assert {(p.first, p.second) for p in judging.pairs} == {("seed", "third"), ("seed", "boot")}
    assert len(judging.pairs) == 2 * len(scenes)
    assert all(judging.scenes[s].lines for s in scenes)  # the gold set gave every scene's human lines
    everything = load_judging_set(EXPERIMENT, tracking_uri=judging.tracking_uri, all_pairs=True)
    assert len(everything.pairs) == 3 * len(scenes)
    assert {(p.first, p.second) for p in everything.pairs} == {("seed", "third"), ("seed", "boot"), ("third", "boot")}


def test_the_order_is_shuffled_per_annotator_and_stable(judging) -> None:
    orders = {name: judging.order_for(name) for name in ("ann", "bea", "cai", "dee", "eve")}
    assert judging.order_for("ann") == orders["ann"]  # a reload shows the same order
    as_lists = [[(s.pair.key, s.a) for s in o] for o in orders.values()]
    assert len({tuple(x) for x in as_lists}) == len(as_lists)  # each annotator sees their own order
    sides = [s.a == judging.baseline for o in orders.values() for s in o]
    assert any(sides) and not all(sides)  # the baseline is shown as A and as B
    for order in orders.values():
        assert sorted(s.pair.key for s in order) == sorted(p.key for p in judging.pairs)
        assert all({s.a, s.b} == {s.pair.first, s.pair.second} for s in order)


def test_choices_become_human_verdicts(judging) -> None:
    shown = judging.order_for("ann")[0]
    expected = {"a_much": ("a", 3.0), "a": ("a", 2.0), "same": ("tie", 0.0), "b": ("b", 2.0), "b_much": ("b", 3.0)}
    assert {k: v[:2] for k, v in CHOICES.items()} == expected
    for choice, (winner, margin) in expected.items():
        v = make_verdict(shown, choice, annotator="ann", note="  too   many\nnods ", judging=judging)
        assert (v.winner, v.margin, v.kind, v.source) == (winner, margin, "human", "human:ann")
        assert (v.scene, v.a, v.b) == (shown.pair.scene, shown.a, shown.b) and v.why == "too many nods"
        assert v.extra["shown"] == {"A": shown.a, "B": shown.b} and v.extra["run_id"] == judging.run_id
    with pytest.raises(AugmentlabError, match="unknown choice"):
        make_verdict(shown, "A!!", annotator="ann", note="", judging=judging)


# ------------------------------------------------------------------------------- the file
def test_the_log_appends_one_line_per_verdict_and_cuts_a_torn_tail(judging, tmp_path: Path) -> None:
    path = tmp_path / "v" / "human.jsonl"
    log = VerdictLog(path)
    order = judging.order_for("ann")
    first = make_verdict(order[0], "a", annotator="ann", note="", judging=judging)
    second = make_verdict(order[1], "same", annotator="ann", note="", judging=judging)
    log.append(first)
    log.append(second)
    assert read_verdicts(path) == [first, second]
    assert path.read_text().count("\n") == 2
    # a crash in the middle of the third write leaves half a line: it is dropped on the next start
    with open(path, "a") as fh:
        fh.write(json.dumps(first.model_dump(mode="json"))[:40])
    reopened = VerdictLog(path)
    assert "torn" in reopened.repaired and reopened.verdicts == [first, second]
    assert read_verdicts(path) == [first, second]
    # a whole last line only missing its newline is kept
    path.write_text(path.read_text().rstrip("\n"))
    assert VerdictLog(path).verdicts == [first, second] and path.read_text().endswith("\n")
    assert VerdictLog(path).judged("human:ann") == {
        (first.scene, frozenset((first.a, first.b))), (second.scene, frozenset((second.a, second.b)))
    }


# ------------------------------------------------------------------------------- HTTP
def test_the_page_is_blind_and_shows_progress(serve, judging) -> None:
    served = serve("blind")
    status, page, headers = served.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert re.search(rf"<span id=judged>0</span> of <span id=total>{len(judging.pairs)}</span>", page)
    assert _blind(page, judging) == []
    shown = served.app.next_pair()
    assert _key(page) == shown.pair.key
    for side in (shown.a, shown.b):  # the page shows the outputs themselves
        candidate = judging.candidate(shown.pair.scene, side)
        assert candidate.scenario and html.escape(candidate.scenario) in page
        words = [w.strip() for x in candidate.annotated_lines for w in re.split(r"\*[^*]*\*", x) if w.strip()]
        assert words and all(html.escape(w) in page for w in words)
    status, text, _ = served.request("GET", "/progress")
    assert status == 200 and json.loads(text) == {"judged": 0, "total": len(judging.pairs), "annotator": "blind"}
    assert served.request("GET", "/health")[:2] == (200, "ok")
    assert served.request("GET", "/nope")[0] == 404


def test_bad_requests_are_400_with_one_line_not_a_traceback(serve, tmp_path: Path) -> None:
    served = serve("bad")
    key = _key(served.request("GET", "/")[1])
    for fields in ({"pair": key, "choice": "A!!"}, {"pair": "0" * 16, "choice": "a"}, {"choice": "a"}, {}):
        status, page, _ = served.post_form(fields)
        assert status == 400, fields
        assert "Traceback" not in page and re.search(r"unknown (choice|pair)", page), page[-300:]
    status, data, _ = served.post_json({"pair": key, "choice": "nope"})
    assert status == 400 and "unknown choice" in data["error"]
    status, text, _ = served.request("POST", "/judge", "{not json", {"Content-Type": "application/json"})
    assert status == 400 and "not JSON" in text
    status, text, _ = served.request("POST", "/judge", "[1]", {"Content-Type": "application/json"})
    assert status == 400 and "JSON object" in text
    status, _, _ = served.post_form({"pair": key, "choice": "a"}, Origin="http://evil.example")
    assert status == 403
    assert not (tmp_path / "human.jsonl").exists()  # nothing was recorded


def test_a_choice_lands_in_the_file_and_in_mlflow_and_is_not_recorded_twice(serve, judging, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    served = serve("mlf")
    shown = served.app.next_pair()
    status, _, headers = served.post_form({"pair": shown.pair.key, "choice": "b_much", "note": "B fits the lines"},
                                          Origin=f"http://127.0.0.1:{served.port}")
    assert status == 303 and headers["Location"] == "/"
    [v] = read_verdicts(tmp_path / "human.jsonl")
    assert (v.scene, v.a, v.b, v.winner, v.margin, v.why) == (shown.pair.scene, shown.a, shown.b, "b", 3.0, "B fits the lines")
    assert v.source == "human:mlf" and v.kind == "human"
    # a double click: the same pair is not recorded again
    status, data, _ = served.post_json({"pair": shown.pair.key, "choice": "a"})
    assert status == 409 and data["recorded"] is False and len(read_verdicts(tmp_path / "human.jsonl")) == 1
    page = served.request("GET", "/")[1]
    assert "<span id=judged>1</span>" in page and _key(page) != shown.pair.key
    # MLflow: HUMAN feedback on both sides' traces (1 for the winner, 0 for the loser)
    client = MlflowClient(judging.tracking_uri)
    values = {}
    for variant in (shown.a, shown.b):
        trace = client.get_trace(judging.candidate(shown.pair.scene, variant).trace_id)
        mine = [a for a in trace.info.assessments if a.name == FEEDBACK_NAME and a.source.source_id == "mlf"]
        assert len(mine) == 1 and mine[0].source.source_type == "HUMAN"
        assert mine[0].rationale == "B fits the lines" and mine[0].metadata["opponent"] in VARIANTS
        values[variant] = mine[0].feedback.value
    assert values == {shown.a: 0.0, shown.b: 1.0}
    artifacts = [a.path for a in client.list_artifacts(judging.run_id, "verdicts")]
    assert artifacts == ["verdicts/human.jsonl"]


def test_judging_resumes_and_each_annotator_has_their_own_progress(serve, judging, tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    first = serve("res", verdicts=path, mlflow=False)
    judged_keys = []
    for choice in ("a", "same"):
        shown = first.app.next_pair()
        assert first.post_json({"pair": shown.pair.key, "choice": choice})[0] == 200
        judged_keys.append(shown.pair.key)
    again = serve("res", verdicts=path, mlflow=False)  # a restart over the same file
    assert again.app.progress() == (2, len(judging.pairs))
    assert again.app.next_pair().pair.key not in judged_keys
    other = serve("someone", verdicts=path, mlflow=False)
    assert other.app.progress() == (0, len(judging.pairs))
    # judge everything: the page says done
    while (shown := again.app.next_pair()) is not None:
        assert again.post_json({"pair": shown.pair.key, "choice": "b"})[0] == 200
    page = again.request("GET", "/")[1]
    assert "id=done" in page and f"All {len(judging.pairs)} pairs judged" in page
    assert len([v for v in read_verdicts(path) if v.source == "human:res"]) == len(judging.pairs)


def test_without_traces_the_verdicts_file_goes_to_the_run(serve, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    store = synthetic_store(tmp_path / "mlruns", "untraced", [
        {"name": "base", "scores": [0.4, 0.5, 0.6]}, {"name": "other", "scores": [0.5, 0.5, 0.5]},
    ])
    untraced = load_judging_set("untraced", tracking_uri=store)
    assert untraced.note and not any(c.trace_id for c in untraced.outputs.values())
    served = serve("nt", verdicts=tmp_path / "nt.jsonl", judging_set=untraced)
    page = served.request("GET", "/")[1]
    assert "human lines are not shown" in page  # the synthetic run logged no gold set
    assert served.post_json({"pair": _key(page), "choice": "a_much"})[0] == 200
    local = MlflowClient(untraced.tracking_uri).download_artifacts(untraced.run_id, "verdicts/nt.jsonl", str(tmp_path / "dl"))
    assert [v.source for v in read_verdicts(local)] == ["human:nt"]


def test_only_loopback_addresses() -> None:
    assert check_loopback("127.0.0.1") == "127.0.0.1" and check_loopback("::1") == "::1"
    assert check_loopback("localhost") == "127.0.0.1"
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(AugmentlabError, match="loopback"):
            check_loopback(host)


# ------------------------------------------------------------------------------- import
def _verdicts(judging, n: int, name: str = "colleague") -> list[Verdict]:
    return [make_verdict(s, "a", annotator=name, note="", judging=judging) for s in judging.order_for(name)[:n]]


def test_import_checks_the_file_against_the_run_and_adds_new_verdicts_once(judging, tmp_path: Path) -> None:
    source = tmp_path / "colleague.jsonl"
    write_verdicts(source, _verdicts(judging, 3))
    dest = tmp_path / "out" / "human.jsonl"
    result = import_verdicts(judging, source, dest, mlflow=False)
    assert (result.added, result.skipped) == (3, 0)
    got = read_verdicts(dest)
    assert [v.extra["imported_from"] for v in got] == ["colleague.jsonl"] * 3
    assert [v.source for v in got] == ["human:colleague"] * 3
    again = import_verdicts(judging, source, dest, mlflow=False)
    assert (again.added, again.skipped) == (0, 3) and len(read_verdicts(dest)) == 3


def test_import_refuses_verdicts_the_run_does_not_know(judging, tmp_path: Path) -> None:
    good = _verdicts(judging, 2)
    dest = tmp_path / "human.jsonl"
    cases = {
        "scene": good[0].model_copy(update={"scene": "no-such-scene"}),
        "variant": good[0].model_copy(update={"b": "ghost" if good[0].a != "ghost" else "ghost2"}),
        "kind": good[0].model_copy(update={"kind": "lm", "source": "lm:x"}),
    }
    for what, bad in cases.items():
        source = tmp_path / f"bad-{what}.jsonl"
        write_verdicts(source, [good[1], bad])
        with pytest.raises(AugmentlabError, match=rf"verdict 2: .*nothing imported") as err:
            import_verdicts(judging, source, dest, mlflow=False)
        assert {"scene": "not a test scene", "variant": "not a variant", "kind": "not 'human'"}[what] in str(err.value)
        assert not dest.exists()


# ------------------------------------------------------------------------------- CLI
def test_cli_errors_are_one_line_and_exit_2(store: str, tmp_path: Path, capsys) -> None:
    empty = synthetic_store(tmp_path / "mlruns", "no-outputs", [
        {"name": "a", "scores": [0.5], "table": False}, {"name": "b", "scores": [0.5], "table": False},
    ])
    cases = [
        (["judge", "serve", "no-such-experiment", "--tracking-uri", store], "no experiment named"),
        (["judge", "serve", "no-outputs", "--tracking-uri", empty], "judging needs two or more"),
        (["judge", "serve", EXPERIMENT, "--tracking-uri", store, "--host", "0.0.0.0"], "loopback"),
        (["judge", "serve", EXPERIMENT, "--tracking-uri", store, "--name", "two words"], "annotator name"),
        (["judge", "import", EXPERIMENT, str(tmp_path / "missing.jsonl"), "--tracking-uri", store], "no verdicts file"),
    ]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"scene": "x"}\n')
    assert cli.main(["judge", "import", EXPERIMENT, str(bad), "--tracking-uri", store]) == 2
    assert f"{bad}:1: bad verdict" in capsys.readouterr().err


def test_cli_import_writes_the_default_verdicts_file(judging, store: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "from-bob.jsonl"
    write_verdicts(source, _verdicts(judging, 2, name="bob"))
    assert cli.main(["judge", "import", EXPERIMENT, str(source), "--tracking-uri", store]) == 0
    out = capsys.readouterr().out
    dest = Path("out") / EXPERIMENT / "verdicts" / "human.jsonl"
    assert f"imported 2 verdict(s) into {dest}" in out
    assert [v.source for v in read_verdicts(tmp_path / dest)] == ["human:bob", "human:bob"]


def test_cli_writes_where_the_run_reads_human_verdicts(judging, store: str, tmp_path: Path, monkeypatch, capsys) -> None:
    """A spec whose verdicts live elsewhere (``out = ...`` or ``[judge] verdicts``): the run tags
    the file it reads, and ``judge serve`` / ``judge import`` write that file, not ./out/<spec>."""
    from experiments.tracking import client as tracking_client
    from experiments.verdict import HUMAN_PATH_TAG

    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere" / "verdicts" / "human.jsonl"
    client = tracking_client(store, create=False)
    client.set_tag(judging.run_id, HUMAN_PATH_TAG, str(elsewhere))
    try:
        assert load_judging_set(EXPERIMENT, tracking_uri=store).verdicts_path == str(elsewhere)
        source = tmp_path / "from-carol.jsonl"
        write_verdicts(source, _verdicts(judging, 1, name="carol"))
        assert cli.main(["judge", "import", EXPERIMENT, str(source), "--tracking-uri", store]) == 0
        assert f"into {elsewhere}" in capsys.readouterr().out
        assert [v.source for v in read_verdicts(elsewhere)] == ["human:carol"]
        assert not (tmp_path / "out").exists()
    finally:
        client.delete_tag(judging.run_id, HUMAN_PATH_TAG)
