"""Relevance: is each action about *this* line of *this* scene, is it an action at all, and is it
a specific one?

Closeness to gold (:mod:`metrics.similarity`) only judges lines whose gold has actions; mined
gold has directions on a third of its lines or fewer, and it is one good annotation, not the only
one. Relevance judges every line the prediction put an action on, gold or not. Each such line
gets a *fit* in [0, 1]:

- **0, words changed** — the line does not give back the human words (a hard failure of the line).
- **0, echo** — half or more of the action's words repeat spoken words of this scene (runs of
  three or more words, or a whole one- or two-word action found in a line): an "action" that
  only says the line again, or another character's line — the commonest failure of small models.
- **0, names only** — nothing but names and titles ("*Theo.*").
- **1, matches gold** — on a line whose gold has actions, a prediction with similarity skill
  ≥ 0.5 fits by definition (and is not judged for craft). One unlike the gold action is judged by
  the tests below, capped at :data:`UNLIKE_GOLD` (0.75): it may be another good action, but the
  gold line is evidence of what the line calls for (and transplanted actions that happen to share
  the scene's everyday words are not rewarded like the gold).
- **0, the same on every line** — one action (same words) on three or more lines and on half or
  more of the lines with actions: it does not depend on its line, so it shows no reading of any
  (a form filled with "*I wait.*", "*Nods.*" everywhere). Judged per action span too: a line
  whose spans are all such repeats fits 0, one with some of them keeps the share of its spans
  that are not (a model that cycles two sentences through the scene, before or after the words).
- **at most 0.5, stock** — an action that is one of the stock actions of :mod:`metrics.anchors`
  ("*I nod.*", "*Pauses.*") fits any line of any scene: half credit at most.
- otherwise, for an action with three or more content words: **1** when at least 15 % of its
  content words occur in the scene (lines, heading, setting, personas) or when it is closer to
  the scene than to every uninformed scenario of :mod:`metrics.anchors` (an embedding test);
  **0.75** when only some word is shared; **0.5** (:data:`UNTIED`) when nothing ties it to the
  scene — a good action need not name a scene noun ("I frown and start pacing") — but **0** when
  half or more of the lines with actions are untied like that: the actions are about another
  scene (transplanted).

Each line that fits and does not match its gold action is then weighed by its **craft**
(:func:`metrics.craft.span_craft`: not stock, specific; the mean over the line's spans), so
``credit = fit × craft``, and

``relevance = Σ credit / max(lines with predicted actions, lines with gold actions)``: missing
actions where gold has them count 0, so no actions at all scores 0 — there is no credit for
the absence of a bad action, and none for more actions (a mean per line, per span). ``None``
when the example has no annotated gold and no prediction lines (task ``scenario``).

Limits: an action copied from another *line of the same scene* and sharing its words passes the
scene test; on lines with gold actions similarity catches it, elsewhere only the echo and cast
checks (a character acting in another's line) do. Craft counts content words up to
:data:`metrics.craft.DETAIL_WORDS`: a span padded with words the scene supports gains up to there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from augmentlab.core.model import GoldExample
from augmentlab.core.text import action_text, actions, words
from metrics import anchors
from metrics.consistency import Check, content_words
from metrics.craft import span_craft
from metrics.names import name_tokens

__all__ = ["ECHO_SHARE", "LEX_SHARE", "relevance", "scene_text"]

ECHO_SHARE = 0.5
"""Share of an action's words found in spoken runs at which it counts as an echo."""
LEX_SHARE = 0.15
"""Share of an action's content words found in the scene at which it fits lexically."""
MIN_SPECIFIC = 3
"""Content words an action needs before the scene test judges it."""
GOLD_SKILL_FIT = 0.5
UNLIKE_GOLD = 0.75
"""Cap on the fit of an action unlike its line's gold action (similarity skill < 0.5): the gold is
one good action, not the only one, but a gold line is evidence of what the line calls for."""
UNTIED = 0.5
"""Fit of an action that names nothing of the scene and is no closer to it than to an uninformed
scenario: half (a good action need not name a scene noun). When half or more of the lines with
actions are untied like that, the actions are about another scene (transplanted): those lines fit 0."""
REPEAT_MIN = 3
"""Lines one action must appear on (and half or more of the lines with actions) to count as
the same action everywhere."""

_TITLES = {"mr", "mrs", "ms", "miss", "sir", "lady", "lord", "dr", "madam", "master", "captain"}


def scene_text(gold: GoldExample) -> str:
    """The scene as one text (heading, setting, ``speaker: words`` lines) for the embedding test."""
    scene = gold.scene
    parts = [t for t in (scene.heading, scene.setting) if t]
    parts += [ln.render() for ln in list(scene.context) + list(scene.lines) if ln.text.strip()]
    return " ".join(parts)


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _echo(act: list[str], spoken: list[list[str]], grams: list[set[tuple[str, ...]]]) -> tuple[float, int | None]:
    """(share of the action's words inside spoken 3-word runs, index of the line most echoed)."""
    if not act:
        return 0.0, None
    if len(act) <= 2:
        for j, sp in enumerate(spoken):
            if any(tuple(sp[k : k + len(act)]) == tuple(act) for k in range(len(sp) - len(act) + 1)):
                return 1.0, j
        return 0.0, None
    covered = [False] * len(act)
    best: tuple[int, int | None] = (0, None)
    for j, g in enumerate(grams):
        hits = 0
        for k in range(len(act) - 2):
            if tuple(act[k : k + 3]) in g:
                covered[k] = covered[k + 1] = covered[k + 2] = True
                hits += 1
        if hits > best[0]:
            best = (hits, j)
    return sum(covered) / len(act), best[1]


def _norm_stock(text: str) -> str:
    toks = words(text)
    return " ".join(toks[1:] if toks[:1] == ["i"] else toks)


_STOCK: frozenset[str] | None = None


def _stock_keys() -> frozenset[str]:
    """The stock actions of :mod:`metrics.anchors`, person-neutral ("I nod." and "Nod." alike)."""
    global _STOCK
    if _STOCK is None:
        _STOCK = frozenset(_norm_stock(a) for a in anchors.UNINFORMED_ACTIONS)
    return _STOCK


def _spans_stock(annotated: str, stock: frozenset[str]) -> bool:
    """Every action span of the line is a stock action."""
    spans = [_norm_stock(a) for a in actions(annotated)]
    return bool(spans) and all(s in stock for s in spans)


@dataclass
class _SceneWords:
    """What an action is compared with: the spoken words of the scene (and their 3-word runs),
    the names and titles, and the content words of the lines, heading, setting and personas."""

    spoken: list[list[str]]
    grams: list[set[tuple[str, ...]]]
    names: set[str]
    vocab: set[str]
    cast: set[str] = field(default_factory=set)
    """Name tokens of the scene's speakers and personas (no titles): an action that names one is
    about this scene."""


def _scene_words(gold: GoldExample) -> _SceneWords:
    lines = list(gold.scene.lines) + list(gold.scene.context)
    spoken = [words(ln.text) for ln in lines]
    names: set[str] = set(_TITLES)
    for ln in lines:
        if ln.speaker:
            names |= name_tokens(ln.speaker) | set(words(ln.speaker))
    for who in gold.personas:
        names |= set(words(who))
    cast = names - _TITLES
    vocab: set[str] = set()
    sources = [ln.text for ln in lines]
    sources += [t for t in (gold.scene.heading, gold.scene.setting) if t] + list(gold.personas.values())
    for text in sources:
        vocab |= content_words(text)
    return _SceneWords(spoken, [_ngrams(sp, 3) for sp in spoken], names, vocab, cast)


def _repeated(keys: Sequence[str], spans: Sequence[Sequence[str]] = ()) -> tuple[dict[str, int], set[str]]:
    """How many lines carry each action (a line's whole action text, ``keys``, and each of its
    action spans, ``spans``), and the ones found on every line (:data:`REPEAT_MIN`)."""
    with_actions = sum(1 for k in keys if k)
    counts: dict[str, int] = {}
    for i, key in enumerate(keys):
        for k in {key, *(spans[i] if i < len(spans) else ())} - {""}:  # each once per line
            counts[k] = counts.get(k, 0) + 1
    return counts, {k for k, c in counts.items() if c >= REPEAT_MIN and c * 2 >= with_actions}


@dataclass
class _Fit:
    """One line's fit, the issue it raised, and the cap it may reach when it is left to the
    embedding test (``None``: decided)."""

    fit: float
    issue: str | None = None
    pending_cap: float | None = None
    matched: bool = False
    """It matches this line's gold action: not judged further."""


def _line_fit(
    i: int,
    ann: str,
    act: str,
    scene: _SceneWords,
    *,
    n_lines: int,
    sk: float | None,
    counts: dict[str, int],
    everywhere: set[str],
    spans: Sequence[str] = (),
) -> _Fit:
    """The fit of line ``i``'s action ``act`` (its words were kept; see the module doc); ``spans``:
    its action spans as word keys, parsed once by :func:`relevance`."""
    n = i + 1
    toks = words(act)
    share, j = _echo(toks, scene.spoken, scene.grams)
    if share >= ECHO_SHARE:
        where = "its own line" if j == i else (f"line {j + 1}" if j is not None and j < n_lines else "the context")
        return _Fit(0.0, f"line {n}: the action repeats spoken words of {where} ('{act[:50]}')")
    if not [t for t in toks if t not in scene.names]:
        return _Fit(0.0, f"line {n}: the action is only a name ('{act[:40]}')")
    if sk is not None and sk >= GOLD_SKILL_FIT:
        return _Fit(1.0, matched=True)
    key = " ".join(toks)
    if key in everywhere:
        return _Fit(0.0, f"line {n}: the same action on {counts[key]} lines ('{act[:40]}'): it does not read its line")
    repeated = [sp for sp in spans if sp in everywhere]
    if spans and len(repeated) == len(spans):
        return _Fit(0.0, f"line {n}: its actions recur on {counts[repeated[0]]} lines ('{repeated[0][:40]}'): they do not read its line")
    cap = 1.0 if sk is None else UNLIKE_GOLD  # unlike this line's gold action: it may be another good one
    issue = None
    if repeated:
        cap *= 1 - len(repeated) / len(spans)
        issue = f"line {n}: an action recurs on {counts[repeated[0]]} lines ('{repeated[0][:40]}'): it does not read its line"
    if _spans_stock(ann, _stock_keys()):
        cap *= 0.5
        issue = f"line {n}: a stock action that fits any line ('{act[:40]}')"
    cw = content_words(act) - scene.names
    if len(cw) < MIN_SPECIFIC:
        return _Fit(cap, issue)
    lex = len(cw & scene.vocab) / len(cw)
    if lex >= LEX_SHARE or scene.cast & set(toks):  # shares the scene's words, or names its people
        return _Fit(cap, issue)
    return _Fit((0.75 if lex > 0 else UNTIED) * cap, issue, pending_cap=cap)


def _scene_test(
    gold: GoldExample, pending: list[tuple[int, str]], caps: dict[int, float], fits: list[float | None], embedder: Any
) -> None:
    """Lines closer to the scene than to every uninformed scenario get their cap (in ``fits``)."""
    svec = embedder.encode([scene_text(gold)], pin=True)[0]
    avecs = embedder.encode([a for _, a in pending])
    base = anchors.baselines(avecs, anchors.UNINFORMED_SCENARIOS, embedder)
    for (i, _), v, b in zip(pending, avecs, base):
        if float(np.dot(v, svec)) >= float(b):
            fits[i] = caps[i]


def _apply_craft(
    annotated: Sequence[Any], fits: list[float | None], matched: set[int], scene: _SceneWords, embedder: Any,
    issues: list[str],
) -> list[float | None]:
    """Each judged line's craft (:func:`metrics.craft.span_craft`, the mean over its spans); a line
    matching its gold action, or one that does not fit, is not judged (``None``)."""
    todo = [i for i, f in enumerate(fits) if f and i not in matched]
    spans = {i: actions(annotated[i]) for i in todo}
    flat = [sp for i in todo for sp in spans[i]]
    values = iter(span_craft(flat, scene.names, embedder))
    out: list[float | None] = [None] * len(fits)
    plain: list[int] = []
    for i in todo:
        got = [next(values) for _ in spans[i]]
        c = sum(got) / len(got) if got else 0.0
        out[i] = c
        if c < 0.3:
            plain.append(i + 1)
    if plain:
        issues.append(f"stock or unspecific actions (craft < 0.3) on line(s) {plain[:8]}")
    return out


def relevance(
    gold: GoldExample,
    annotated: Sequence[Any] | None,
    *,
    exact: Sequence[bool] = (),
    gold_skill: Sequence[float | None] = (),
    embedder: Any = None,
) -> Check | None:
    """Relevance of each line's actions (see the module doc). ``exact[i]``: line i kept its
    words; ``gold_skill[i]``: similarity skill against gold actions (``None`` where gold has none)."""
    gold_lines = [action_text(a) for a in gold.annotated or []]
    n_gold = sum(1 for a in gold_lines if a)
    if annotated is None:
        return Check(0.0, [], {"fit": []}) if n_gold else None
    n_lines = len(gold.scene.lines)
    scene = _scene_words(gold)
    acts = [action_text(a) if isinstance(a, str) and i < n_lines else "" for i, a in enumerate(annotated)]
    span_keys = [[" ".join(words(sp)) for sp in actions(a)] if isinstance(a, str) and i < n_lines else []
                 for i, a in enumerate(annotated)]
    counts, everywhere = _repeated([" ".join(words(a)) for a in acts], span_keys)

    fits: list[float | None] = []
    issues: list[str] = []
    pending: list[tuple[int, str]] = []  # lines left to the embedding test
    caps: dict[int, float] = {}
    matched: set[int] = set()  # lines whose action matches the gold's
    for i, (ann, act) in enumerate(zip(annotated, acts)):
        if not act:
            fits.append(None)
        elif i < len(exact) and not exact[i]:
            fits.append(0.0)  # the verbatim check already says how the words changed
        else:
            got = _line_fit(i, ann, act, scene, n_lines=n_lines, sk=gold_skill[i] if i < len(gold_skill) else None,
                            counts=counts, everywhere=everywhere, spans=span_keys[i])
            fits.append(got.fit)
            if got.matched:
                matched.add(i)
            if got.issue:
                issues.append(got.issue)
            if got.pending_cap is not None:
                pending.append((i, act))
                caps[i] = got.pending_cap
    if pending and embedder is not None:
        _scene_test(gold, pending, caps, fits, embedder)
    untied = [i for i, _ in pending if fits[i] is not None and fits[i] <= UNTIED * caps[i]]
    n_acted = sum(1 for f in fits if f is not None)
    elsewhere = n_acted > 0 and len(untied) * 2 >= n_acted  # most actions are about some other scene
    for i, act in pending:
        if i in untied:
            if elsewhere:
                fits[i] = 0.0
            issues.append(f"line {i + 1}: nothing in the action ties it to this scene ('{act[:50]}')")
        elif fits[i] is not None and fits[i] < caps[i]:
            issues.append(f"line {i + 1}: the action barely relates to this scene ('{act[:50]}')")
    crafts = _apply_craft(annotated, fits, matched, scene, embedder, issues) if embedder is not None else []
    credit = [f if f is None or i >= len(crafts) or crafts[i] is None else f * crafts[i] for i, f in enumerate(fits)]
    scored = [f for f in credit if f is not None]
    denom = max(len(scored), n_gold)
    if not denom:
        return None if not gold.annotated else Check(0.0, [], {"fit": fits})
    missing = n_gold - len(scored)
    if not scored:
        issues.insert(0, "no line has an action")
    elif missing > 0:
        issues.insert(0, f"actions on {len(scored)} line(s), the gold has them on {n_gold}")
    return Check(sum(scored) / denom, issues, {"fit": fits, "craft": crafts, "credit": credit, "lines_with_actions": len(scored), "gold_lines_with_actions": n_gold})
