"""Render :class:`ReportData` and its figures to a self-contained HTML page and a Markdown twin.

The HTML has its CSS inline and its figures as ``data:image/png;base64`` URIs: one file, no
external request, readable offline or attached to an issue. A small inline script marks
``<body data-images-ok="N/M" data-report-ready="1">`` once the page has loaded, so a headless
browser can check that every figure decoded. The Markdown twin links its figures as PNG files
written next to it. Both come from Jinja2 templates in ``augmentlab/report/templates/``.
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path
from typing import Any

from augmentlab.report.data import ExampleView, ReportData
from augmentlab.report.wording import format_p, format_signed

TEMPLATES = Path(__file__).resolve().parent / "templates"
_ACTION_RE = re.compile(r"\*([^*]+)\*")


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _signed(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format_signed(value)


def _ci(interval: Any) -> str:
    if interval is None:
        return "–"
    return f"[{interval.low:.3f}, {interval.high:.3f}]"


def _p(value: Any) -> str:
    return "–" if value is None else format_p(value)


def _int(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.0f}"


def _money(value: Any) -> str:
    if value is None:
        return "not priced"
    return f"{value:.4g}"


def _actions_html(text: str) -> str:
    """Escape ``text`` and set its ``*actions*`` in italics (the human words stay plain)."""
    return _ACTION_RE.sub(lambda m: f'<em class="act">*{m.group(1)}*</em>', html.escape(text))


def _md_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _environment(autoescape: bool) -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=_num, signed=_signed, ci=_ci, p=_p, int=_int, money=_money, md=_md_cell,
    )
    return env


def _context(data: ReportData) -> dict[str, Any]:
    return {
        "d": data,
        "ranked": data.ranked(),
        "parts": data.part_names,
        "winner": data.variant(data.winner) if data.winner else None,
        "priced": any(v.cost is not None for v in data.variants),
    }


def render_html(data: ReportData, figures: dict[str, tuple[bytes, str]]) -> str:
    """The report as one self-contained HTML page (figures embedded as base64 PNGs)."""
    from markupsafe import Markup

    env = _environment(autoescape=True)
    env.filters["actions"] = lambda text: Markup(_actions_html(str(text)))
    images = {
        name: {"src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "alt": alt}
        for name, (png, alt) in figures.items()
    }
    return env.get_template("report.html").render(**_context(data), images=images)


def example_html(data: ReportData, view: ExampleView, title: str = "Example") -> str:
    """One example side by side as an HTML fragment with the report's styles (for notebooks)."""
    from markupsafe import Markup

    env = _environment(autoescape=True)
    env.filters["actions"] = lambda text: Markup(_actions_html(str(text)))
    page = (TEMPLATES / "report.html").read_text(encoding="utf-8")
    style = re.search(r"<style>.*?</style>", page, re.S)
    fragment = env.get_template("example.html").render(d=data, ex=view, title=title)
    return (style.group(0).replace("body {", ".augmentlab-example {", 1) if style else "") + (
        f'<div class="augmentlab-example">{fragment}</div>'
    )


def render_markdown(data: ReportData, image_paths: dict[str, tuple[str, str]]) -> str:
    """The report in Markdown; ``image_paths`` is ``{name: (relative path, alt text)}``."""
    env = _environment(autoescape=False)
    images = {name: {"src": path, "alt": alt} for name, (path, alt) in image_paths.items()}
    return env.get_template("report.md").render(**_context(data), images=images)


__all__ = ["TEMPLATES", "example_html", "render_html", "render_markdown"]
