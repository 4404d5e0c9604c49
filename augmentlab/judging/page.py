"""The judging page's HTML: one blind pair at a time, the choice buttons, the progress.

Plain server-rendered HTML with a form (no script needed): the page names no variant, only the
pair's opaque key travels in the form. ``*actions*`` are shown in italics, the human words as
they are, each line under its speaker when the scene's lines are known.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from augmentlab.judging.pairs import Candidate, SceneLines, Shown
from augmentlab.judging.record import CHOICES

_ACTION = re.compile(r"\*([^*\n]+)\*")

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f5f2;color:#222}
header{background:#2d3a4a;color:#fff;padding:.6em 1.2em;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:1.1em;margin:0;font-weight:600}
main{max-width:1300px;margin:0 auto;padding:1em 1.2em 3em}
.progress{font-variant-numeric:tabular-nums}
.bar{height:6px;background:#55657a;border-radius:3px;width:220px;overflow:hidden;margin-top:4px}
.bar span{display:block;height:100%;background:#9fd39b}
section.scene,.cand{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.8em 1.1em;margin:.8em 0}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.cand h2{margin:.1em 0 .4em;font-size:1.3em}
.scenario{background:#f3f0e8;border-left:3px solid #c9b98a;padding:.4em .7em;margin:.3em 0 .8em}
p.line{margin:.35em 0}
.who{font-weight:600;color:#2d3a4a;margin-right:.3em}
em.act{color:#6b4b1f}
.narr{color:#666;font-style:italic}
form.choose{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.8em 1.1em;position:sticky;bottom:0}
.buttons{display:flex;gap:.5em;flex-wrap:wrap;margin:.4em 0}
.buttons button{font-size:1em;padding:.55em 1em;border-radius:6px;border:1px solid #8894a3;background:#eef1f5;cursor:pointer}
.buttons button:hover{background:#dbe3ee}
textarea{width:100%;box-sizing:border-box;font:inherit;min-height:2.6em}
.note{color:#555;font-size:.9em}
.missing{color:#a33}
"""


def _page(title: str, body: str, *, judged: int, total: int, annotator: str) -> str:
    share = 100.0 * judged / total if total else 100.0
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><div class=progress id=progress>"
        f"<span id=judged>{judged}</span> of <span id=total>{total}</span> pairs judged"
        f" &middot; {html.escape(annotator)}"
        f"<div class=bar><span style='width:{share:.1f}%'></span></div></div></header>"
        f"<main>{body}</main></body></html>"
    )


def _line_html(text: str) -> str:
    escaped = html.escape(text)
    return _ACTION.sub(lambda m: f"<em class=act>*{m.group(1)}*</em>", escaped)


def _scene_html(scene: SceneLines | None, note: str) -> str:
    if scene is None:
        return f"<section class=scene><p class=missing>{html.escape(note or 'The scene’s lines are not available.')}</p></section>"
    rows = []
    for speaker, text in scene.lines:
        if speaker:
            rows.append(f"<p class=line><span class=who>{html.escape(speaker)}:</span>{html.escape(text)}</p>")
        else:
            rows.append(f"<p class='line narr'>{html.escape(text)}</p>")
    heading = f" — {html.escape(scene.heading)}" if scene.heading else ""
    return f"<section class=scene><h2>The scene{heading}</h2>{''.join(rows)}</section>"


def _candidate_html(label: str, candidate: Candidate, scene: SceneLines | None) -> str:
    speakers: Sequence[str] = [s for s, _ in scene.lines] if scene is not None else []
    aligned = len(speakers) == len(candidate.annotated_lines)
    rows = []
    for i, line in enumerate(candidate.annotated_lines):
        who = speakers[i] if aligned else ""
        prefix = f"<span class=who>{html.escape(who)}:</span>" if who else ""
        rows.append(f"<p class=line>{prefix}{_line_html(line)}</p>")
    if not rows:
        rows.append("<p class=missing>(no annotated lines)</p>")
    if candidate.error:
        rows.insert(0, "<p class=missing>(the program failed on this scene: what it produced is shown)</p>")
    scenario = html.escape(candidate.scenario) if candidate.scenario else "<span class=missing>(no scenario)</span>"
    return (
        f"<div class=cand id=cand-{label.lower()}><h2>{label}</h2>"
        f"<div class=scenario><b>Scenario.</b> {scenario}</div>{''.join(rows)}</div>"
    )


def pair_page(
    shown: Shown,
    a: Candidate,
    b: Candidate,
    scene: SceneLines | None,
    *,
    judged: int,
    total: int,
    annotator: str,
    note: str = "",
) -> str:
    """The page for one blind pair: the scene's lines, A and B, the five choices and a note."""
    buttons = "".join(
        f"<button type=submit name=choice value={key} id=choice-{key}>{html.escape(label)}</button>"
        for key, (_, _, label) in CHOICES.items()
    )
    body = (
        "<p class=note>Which candidate makes better role-play training data for this scene? Judge faithfulness "
        "to the lines, how well each action fits its line and speaker, whether the scenario sets the scene up "
        "without retelling it, and craft. Longer is not better by itself.</p>"
        f"{_scene_html(scene, note)}"
        f"<div class=pair>{_candidate_html('A', a, scene)}{_candidate_html('B', b, scene)}</div>"
        "<form class=choose method=post action=/judge>"
        f"<input type=hidden name=pair value={shown.pair.key}>"
        f"<div class=buttons>{buttons}</div>"
        "<label for=note class=note>Note (optional): why?</label>"
        "<textarea id=note name=note maxlength=2000></textarea></form>"
    )
    return _page("Which is better? A or B", body, judged=judged, total=total, annotator=annotator)


def done_page(*, judged: int, total: int, annotator: str, verdicts: str) -> str:
    body = (
        f"<section class=scene id=done><h2>All {total} pairs judged — thank you.</h2>"
        f"<p>Your verdicts are in <code>{html.escape(verdicts)}</code>. You can close this page.</p></section>"
    )
    return _page("Judging done", body, judged=judged, total=total, annotator=annotator)


def error_page(status: int, message: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Error</title>"
        f"<style>{_STYLE}</style></head><body><main><section class=scene><h2>{status}</h2>"
        f"<p class=missing id=error>{html.escape(message)}</p><p><a href='/'>Back to the next pair</a></p>"
        "</section></main></body></html>"
    )


__all__ = ["done_page", "error_page", "pair_page"]
