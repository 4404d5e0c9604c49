"""The HTML report in a real headless browser (Debian ``chromium``).

Install it with ``apt-get install -y chromium``; without it these tests are skipped.

The report's inline script sets ``<body data-report-ready="1" data-images-ok="N/M">`` once the page
has loaded; ``--dump-dom`` shows it after scripts ran, and ``--enable-logging=stderr`` prints every
console message (``...:CONSOLE...``) — script errors, and requests the page's Content Security
Policy blocked (the report may not fetch anything).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_store import EXPERIMENT, real_store

from augmentlab.report import build_report

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
_BODY_RE = re.compile(r"<body[^>]*>")


def _chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *args, page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _load(page: Path, tmp: Path) -> tuple[dict[str, str], list[str], str]:
    """(body attributes, console lines, DOM) of ``page`` after it loaded."""
    done = _chromium(page, tmp, "--dump-dom")
    body = _BODY_RE.search(done.stdout)
    assert body, f"no <body> in the dumped DOM (chromium exit {done.returncode}): {done.stderr[-500:]}"
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return attrs, console, done.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    store = real_store(tmp_path_factory.getbasetemp())
    return build_report(EXPERIMENT, tracking_uri=store, out_dir=tmp_path_factory.mktemp("browser-report"))


def test_the_checks_catch_a_broken_page(tmp_path: Path) -> None:
    """A page with a broken image, a blocked remote image and a script error fails every check."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src data:; script-src 'unsafe-inline'\"></head><body data-report-ready=\"0\">"
        '<img src="data:image/png;base64,AAAA"><img src="http://example.invalid/x.png"><script>'
        "window.addEventListener('load', function () { var i = Array.prototype.slice.call(document.images);"
        "document.body.setAttribute('data-images-ok', i.filter(function (x) { return x.complete && x.naturalWidth > 0; })"
        ".length + '/' + i.length); document.body.setAttribute('data-report-ready', '1'); });"
        "notDefined();</script></body></html>",
        encoding="utf-8",
    )
    attrs, console, _ = _load(bad, tmp_path)
    assert attrs["data-report-ready"] == "1" and attrs["data-images-ok"] == "0/2"
    assert any("Uncaught ReferenceError" in line for line in console)
    assert any("Content Security Policy" in line for line in console)


def test_report_renders_in_chromium(report, tmp_path: Path) -> None:
    attrs, console, dom = _load(report.html, tmp_path)
    n_images = len(report.images)
    assert n_images >= 4
    assert attrs.get("data-report-ready") == "1", attrs
    assert attrs.get("data-images-ok") == f"{n_images}/{n_images}", "an image did not decode"
    assert console == [], console  # no script error, no blocked request, nothing logged
    assert 'id="leaderboard"' in dom
    for v in report.data.variants:
        assert f"<strong>{v.name}</strong>" in dom


def test_screenshot(report, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(report.html, tmp_path, f"--screenshot={shot}", "--window-size=1300,2600", "--hide-scrollbars")
    assert shot.is_file(), done.stderr[-500:]
    import numpy as np
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] == 2600 and pixels.shape[1] == 1300
    # a rendered page, not a blank one: many colours (text, tables, plots)
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200
