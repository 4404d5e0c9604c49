"""Format checks: asterisks, person, tense, lengths, and nothing leaked into the text.

Heuristics (documented limits):

- **Person.** First person: actions should use "I/my/me", and the speaker must not refer to
  themself by name as a subject ("*Alice smiles.*" in Alice's line). Third person: no "I/my/me"
  in actions. Pronouns inside quotes in an action are ignored.
- **Tense.** Present by default. An action sentence is flagged as past when the word right after
  its subject (I / he / she / they / we / a capitalised name) ends in "-ed" (minus a short list
  of present-tense "-ed" verbs like "need", "shed", "feed") or is a common irregular past form
  ("was", "sat", "took", ...); forms that are also present ("set", "put", "cut", "lay", "read")
  are never flagged. Adjectives after a subject ("I, tired, ...") can mislead it.
- **Lengths.** Scenario sentences and words, action sentences per line (see :class:`FormatConfig`).
- **Echoes / leaks.** A speaker prefix ("Alice: ...") at the start of a line, four or more
  consecutive spoken words quoted inside an action, DSPy field markers ``[[ ## x ## ]]``, JSON
  objects/arrays, markdown headers or code fences.

Score: each unit (the scenario, each line) scores ``max(0, 1 − 0.34 × distinct problems)``;
the format part is the mean over units.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from augmentlab.core.model import Line
from augmentlab.core.text import actions, balanced_asterisks, normalize_spoken, words

__all__ = ["FormatConfig", "FormatResult", "check_format", "detect_person", "sentences"]

Person = Literal["first", "third"]


class FormatConfig(BaseModel):
    """Bounds and conventions the output should follow."""

    model_config = ConfigDict(extra="forbid")

    person: Person = "first"
    tense: Literal["present", "past", "any"] = "present"
    scenario_min_sentences: int = Field(1, ge=0)
    scenario_max_sentences: int = Field(6, ge=1)
    scenario_max_words: int = Field(160, ge=1)
    min_action_sentences: int = Field(0, ge=0)
    """Per line; 0 lets a line go without actions."""
    max_action_sentences: int = Field(4, ge=1)


@dataclass
class FormatResult:
    score: float
    issues: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


_SENT_RE = re.compile(r"(?<=[.!?…])[\"”’)]*\s+(?=[\"“(]?[A-Z0-9*])")
_FIRST = {"i", "my", "me", "mine", "myself", "i'm", "i've", "i'd", "i'll"}
_THIRD_SUBJECTS = {"he", "she", "they", "his", "her", "their"}
_PRESENT_ED = {"need", "needs", "shed", "feed", "bleed", "heed", "speed", "breed", "plead", "proceed",
               "succeed", "exceed", "weed", "seed", "embed", "wed", "bed", "shred", "sled", "spread",
               "tread", "head", "read", "lead", "instead", "red", "bred"}
_IRREGULAR_PAST = {
    "was", "were", "had", "did", "went", "took", "sat", "stood", "said", "saw", "came", "gave",
    "made", "felt", "held", "kept", "left", "ran", "began", "knew", "thought", "told", "found",
    "brought", "caught", "got", "rose", "fell", "threw", "drew", "grew", "spoke", "wore", "shook",
    "struck", "hid", "bit", "led", "met", "slept", "swept", "wept", "sang",
    "drank", "ate", "wrote", "broke", "chose", "froze", "woke", "bent", "sent", "spent", "lost",
    "sought", "taught", "fought", "bought", "leapt", "leaned", "knelt", "flung", "clung", "swung",
}
_SUBJECTS = {"i", "he", "she", "they", "we", "it"}
_MARKER_RE = re.compile(r"\[\[\s*##.*?##\s*\]\]")
_JSON_RE = re.compile(r"^\s*[\[{]\s*[\"\[{]|\"\w+\"\s*:\s*[\"\[{]")
_MD_RE = re.compile(r"(^|\n)\s*(#{1,6}\s+\S|```)")
_QUOTE_RE = re.compile(r"[\"“]([^\"”]{3,})[\"”]")


def sentences(text: str) -> list[str]:
    """Split prose into sentences (simple punctuation rule)."""
    text = " ".join(text.split())
    if not text:
        return []
    return [s.strip() for s in _SENT_RE.split(text) if s.strip()]


def detect_person(annotated_lines: Sequence[str]) -> Person:
    """The person the actions are written in (majority of action spans with I/my/me)."""
    first = third = 0
    for line in annotated_lines:
        for act in actions(line):
            ws = set(words(_strip_quotes(act)))
            if ws & _FIRST:
                first += 1
            else:
                third += 1
    return "first" if first >= third else "third"


def _strip_quotes(text: str) -> str:
    return _QUOTE_RE.sub(" ", text)


def _leaks(text: str) -> list[str]:
    found = []
    if _MARKER_RE.search(text):
        found.append("leaked field marker [[ ## ... ## ]]")
    if _JSON_RE.search(text):
        found.append("JSON in the text")
    if _MD_RE.search(text):
        found.append("markdown header or code fence")
    return found


def _past_tense(sentence: str, names: set[str]) -> str | None:
    toks = re.findall(r"[A-Za-z']+", sentence)
    for i, tok in enumerate(toks[:-1]):
        if tok.lower() in _SUBJECTS or tok in names:
            nxt = toks[i + 1].lower()
            if nxt in _IRREGULAR_PAST or (nxt.endswith("ed") and len(nxt) > 3 and nxt not in _PRESENT_ED):
                return f"{tok} {toks[i + 1]}"
            break
    return None


def _check_line(
    ann: str, line: Line, cfg: FormatConfig, all_names: list[str], spoken_lines: list[str]
) -> list[str]:
    probs: list[str] = []
    speaker = line.speaker or ""
    head = re.sub(r"^[\W_]+", "", ann)
    for name in all_names:
        if re.match(re.escape(name) + r"\s*:", head):
            probs.append(f"speaker prefix '{name}:'")
            break
    if not balanced_asterisks(ann):
        probs.append("unbalanced asterisks")
    probs.extend(_leaks(ann))
    acts = actions(ann)
    n_sent = sum(len(sentences(a)) or 1 for a in acts)
    if n_sent < cfg.min_action_sentences:
        probs.append(f"{n_sent} action sentence(s) < {cfg.min_action_sentences}")
    if n_sent > cfg.max_action_sentences:
        probs.append(f"{n_sent} action sentences > {cfg.max_action_sentences}")
    names = set(all_names)
    person_bad = tense_bad = echo = False
    for act in acts:
        bare = _strip_quotes(act)
        ws = words(bare)
        if cfg.person == "first":
            if speaker and re.search(r"\b" + re.escape(speaker) + r"\b", bare):
                person_bad = True
            if ws and ws[0] in {"he", "she", "they"}:
                person_bad = True
        elif set(ws) & _FIRST:
            person_bad = True
        if cfg.tense == "present":
            for sent in sentences(bare) or [bare]:
                if _past_tense(sent, names):
                    tense_bad = True
        for q in _QUOTE_RE.findall(act):
            qw = " ".join(words(q))
            if len(qw.split()) >= 4 and any(qw in sp for sp in spoken_lines):
                echo = True
    if person_bad:
        probs.append(f"not in {cfg.person} person")
    if tense_bad:
        probs.append("actions in past tense")
    if echo:
        probs.append("spoken words echoed inside an action")
    return probs


def check_format(
    scenario: str | None,
    annotated_lines: Sequence[Any] | None,
    lines: Sequence[Line],
    cfg: FormatConfig | None = None,
) -> FormatResult:
    """Format score and problems for a scenario and/or annotated lines."""
    cfg = cfg or FormatConfig()
    unit_scores: list[float] = []
    issues: list[str] = []
    per_line: list[list[str]] = []
    names = sorted({ln.speaker for ln in lines if ln.speaker}, key=len, reverse=True)
    if scenario is not None:
        probs = list(_leaks(scenario))
        sents = sentences(scenario)
        nw = len(words(scenario))
        if len(sents) < cfg.scenario_min_sentences:
            probs.append(f"{len(sents)} sentence(s) < {cfg.scenario_min_sentences}")
        if len(sents) > cfg.scenario_max_sentences:
            probs.append(f"{len(sents)} sentences > {cfg.scenario_max_sentences}")
        if nw > cfg.scenario_max_words:
            probs.append(f"{nw} words > {cfg.scenario_max_words}")
        for name in names:
            if re.match(re.escape(name) + r"\s*:", scenario.strip()):
                probs.append(f"speaker prefix '{name}:'")
        if "*" in scenario:
            probs.append("asterisks in the scenario")
        unit_scores.append(max(0.0, 1 - 0.34 * len(probs)))
        if probs:
            issues.append("scenario: " + ", ".join(probs))
    if annotated_lines is not None:
        spoken = [" ".join(words(normalize_spoken(ln.text))) for ln in lines]
        for i, ann in enumerate(annotated_lines):
            if not isinstance(ann, str):
                probs = ["not text"]
            elif i >= len(lines):
                probs = []  # extra lines are the verbatim check's business
            else:
                probs = _check_line(ann, lines[i], cfg, names, spoken)
            per_line.append(probs)
            unit_scores.append(max(0.0, 1 - 0.34 * len(probs)))
            if probs:
                issues.append(f"line {i + 1}: " + ", ".join(probs))
    if not unit_scores:
        return FormatResult(1.0, [], {"per_line": per_line})
    return FormatResult(sum(unit_scores) / len(unit_scores), issues, {"per_line": per_line})

