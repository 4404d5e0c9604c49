"""Prose speaker attribution against PDNC (people's speaker for every quotation of six novels).

    .venv/bin/python benchmarks/bench_attribution.py [DATA_DIR] [--novel Emma] [--rules] [--errors RULE]
        [--lm fake|embedded|endpoint] [--model M] [--api-base URL] [--gguf FILE] [--limit N | --sample N] [--window W]
        [--no-loo] [--fit] [--target P]

DATA_DIR defaults to ``../shared/pdnc-dev`` (``AUGMENTLAB_PDNC`` overrides). Each novel is ingested
in-process as prose; each PDNC quotation is looked up among the ingested lines the way
``score_attribution.py`` (the reference scorer next to the data) does it: its longest
sub-quotation, whitespace normalised, searched in document order. Printed per novel, per quote type
(explicit "said Emma", anaphoric "said she", implicit: no tag) and in total:

- ``attributed``: share of all quotations found in a dialogue line that has a speaker;
- ``acc``: right speaker / all quotations (a quote lost or wrongly named counts against);
- ``prec``: right speaker / attributed quotations.

A speaker is right when it is one of the gold character's names or aliases (case and punctuation
ignored; ``Narrator`` is PDNC's ``Narr``). ``--rules`` adds the precision of each attribution rule
(``Line.metadata["attribution"]``) and counts the uncertain quotes by reason
(``Line.metadata["why"]``); ``--errors RULE`` prints that rule's wrong attributions
(``BENCH_MISSED=Explicit`` adds that type's unattributed quotes as ``missed:Explicit``).

Rules only, it then prints the leave-one-novel-out table of the attribution confidence (``--no-loo`` skips it)
(:mod:`augmentlab.ingest.attribution.confidence`): for each novel, the per-evidence table and the
threshold (the lowest confidence keeping precision >= ``--target`` there) fitted on the other
novels, then that novel scored with them: precision, accuracy and coverage (share of quotes
attributed), by the reference scorer's rule and with the gold speaker resolved through PDNC's
alias table (``prec*``: PDNC's ``speaker`` is now and then an alias, ``Kemp`` for ``The
Doctor``). Every quote's evidence is in its line (the speaker kept, or ``metadata["guess"]`` when
ingest abstained), so one ingest serves every fold. ``--fit`` prints the table and threshold fitted
on all the novels, what ``confidence.py`` holds.

With an LM configured (``--lm``, ``--model``/``--api-base``, ``--gguf`` or the environment variable
``AUGMENTLAB_ATTRIBUTE_LM``), the quotations the rules leave uncertain are then sent to it
(:mod:`augmentlab.ingest.attribute_lm`) and every row prints rules-only and rules+LM side by side,
with the LM's calls, tokens and cost (cached: a re-run makes no new calls), and on the quotes
asked the LM's precision next to the precision of the rules' own guess there (the speaker they
found below the threshold, if any). Without one it prints
rules only and says so.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import csv
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import augmentlab  # noqa: E402,F401  (offline env first)
from augmentlab.cli.commands.augment import lm_config_from_options  # noqa: E402
from augmentlab.core.model import Line, LineKind, Script  # noqa: E402
from augmentlab.ingest import load  # noqa: E402
from augmentlab.ingest.attribute_lm import LMAttributionReport, attribute_scenes  # noqa: E402
from augmentlab.lm import open_session  # noqa: E402
from augmentlab.core.stats import shrunk_rates, threshold_for_precision  # noqa: E402
from augmentlab.ingest.attribution.confidence import PRIOR_WEIGHT, TARGET, confidence_of  # noqa: E402

PDNC = Path(os.environ.get("AUGMENTLAB_PDNC", REPO.parent / "shared" / "pdnc-dev"))
TYPES = ("Explicit", "Anaphoric", "Implicit")
WHY = False  # --rules: uncertain quotes by their reason
csv.field_size_limit(10**9)


def _norm(s: str) -> str:
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", s).strip().lower()


def name_key(s: str) -> str:
    k = re.sub(r"[^a-z ]", "", _norm(s)).strip()
    return "narr" if k == "narrator" else k


def load_aliases(path: Path) -> dict[str, set[str]]:
    chars: dict[str, set[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names = {row["Main Name"]}
            try:
                names |= set(ast.literal_eval(row["Aliases"]))
            except (ValueError, SyntaxError):
                pass
            chars[row["Main Name"]] = {name_key(n) for n in names if n}
    return chars


def by_alias(chars: dict[str, set[str]]) -> dict[str, set[str]]:
    """An alias → the names of its one character (PDNC's ``speaker`` is now and then an alias,
    ``Kemp`` for the character ``The Doctor``; the reference scorer then knows only that alias)."""
    owners: dict[str, list[set[str]]] = {}
    for names in chars.values():
        for key in names:
            owners.setdefault(key, []).append(names)
    return {key: found[0] for key, found in owners.items() if len(found) == 1}


@dataclass
class Tally:
    quotes: int = 0
    attributed: int = 0
    correct: int = 0

    def add(self, attributed: bool, correct: bool) -> None:
        self.quotes += 1
        self.attributed += attributed
        self.correct += correct

    def row(self) -> str:
        q = max(self.quotes, 1)
        return (
            f"quotes={self.quotes:5d} attributed={self.attributed / q:.2f} "
            f"acc={self.correct / q:.3f} prec={self.correct / max(self.attributed, 1):.3f}"
        )


@dataclass
class Record:
    """One PDNC quotation as the rules left it, for the confidence fit: the evidence of the speaker
    they found (kept or abstained; None when they found none) and whether that speaker is right,
    by the reference scorer's rule and with the gold name resolved through the alias table."""

    evidence: str | None
    right: bool
    right_alias: bool


@dataclass
class Result:
    total: Tally = field(default_factory=Tally)
    by_type: dict[str, Tally] = field(default_factory=dict)
    by_rule: dict[str, Tally] = field(default_factory=dict)
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def merge(self, other: Result) -> None:
        for mine, theirs in [(self.by_type, other.by_type), (self.by_rule, other.by_rule)]:
            for key, tally in theirs.items():
                t = mine.setdefault(key, Tally())
                t.quotes += tally.quotes
                t.attributed += tally.attributed
                t.correct += tally.correct
        self.total.quotes += other.total.quotes
        self.total.attributed += other.total.attributed
        self.total.correct += other.total.correct
        self.errors += other.errors
        self.records += other.records


def score(script: Script, folder: Path) -> Result:
    """Every PDNC quotation of ``folder`` looked up in ``script``'s lines (see the module docstring)."""
    lines: list[Line] = [ln for scene in script.scenes for ln in scene.lines]
    starts: list[int] = []
    parts: list[str] = []
    pos = 0
    for ln in lines:
        t = _norm(ln.text)
        starts.append(pos)
        parts.append(t)
        pos += len(t) + 3
    blob = " | ".join(parts)
    chars = load_aliases(folder / "character_info.csv")
    aliases = by_alias(chars)
    result = Result()
    cursor = 0
    with (folder / "quotation_info.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        qtype = row.get("quoteType") if row.get("quoteType") in TYPES else "other"
        try:
            subs = ast.literal_eval(row["subQuotationList"])
        except (ValueError, SyntaxError):
            subs = [row["quoteText"]]
        probe = max((_norm(s).strip(" ,.;:!?-'\"") for s in subs), key=len, default="")
        line = None
        if len(probe) >= 2:
            at = blob.find(probe, cursor)
            if at < 0:
                at = blob.find(probe)
            if at >= 0:
                cursor = at
                line = lines[bisect.bisect_right(starts, at) - 1]
        if line is not None and line.kind is not LineKind.dialogue and not line.speaker:
            line = None
        speaker = line.speaker if line is not None else None
        gold = chars.get(row["speaker"], {name_key(row["speaker"])})
        correct = bool(speaker) and name_key(speaker) in gold
        found = speaker or (line.metadata.get("guess") if line is not None else None)
        evidence = line.metadata.get("evidence") if found and line is not None else None
        gold_alias = aliases.get(name_key(row["speaker"]), gold) if row["speaker"] not in chars else gold
        result.records.append(Record(evidence, bool(found) and name_key(found) in gold, bool(found) and name_key(found) in gold_alias))
        rule = line.metadata.get("attribution", "?") if line is not None else "not found"
        if rule == "uncertain" and WHY:
            rule = "uncertain: " + line.metadata.get("why", "?").split(" (")[0]
        for tally in (result.total, result.by_type.setdefault(qtype, Tally()), result.by_rule.setdefault(rule, Tally())):
            tally.add(bool(speaker), correct)
        if line is not None and "lm_answer" in line.metadata:
            # a quote the LM was asked about: what it said, and the rules' guess below the threshold
            result.by_rule.setdefault("asked: lm", Tally()).add(bool(speaker), correct)
            guess = line.metadata.get("guess")
            result.by_rule.setdefault("asked: rules' guess", Tally()).add(bool(guess), bool(guess) and name_key(guess) in gold)
        if speaker and not correct:
            result.errors.append((rule, row["speaker"], speaker, row["quoteText"][:90].replace("\n", " ")))
        elif not speaker and os.environ.get("BENCH_MISSED") in (qtype, "all"):
            where = " | ".join(line.directions)[:120] if line is not None else ""
            if line is not None and not where:
                i = lines.index(line)
                where = "<<" + lines[i - 1].text[-120:] + ">> " + line.text[:60]
            result.errors.append(("missed:" + qtype, row["speaker"], "", where))
    return result


def ingest(folder: Path) -> Script:
    return load(folder / "novel_text.txt", format="prose", token_budget=100_000)


def _report(name: str, result: Result) -> None:
    print(f"{name}: {result.total.row()}")


def lm_config(args: argparse.Namespace):
    """The LM of ``--lm``/``--model``/``--api-base``/``--gguf`` (or ``AUGMENTLAB_ATTRIBUTE_LM``); None for rules only."""
    kind = args.lm or os.environ.get("AUGMENTLAB_ATTRIBUTE_LM")
    if not kind and not (args.model or args.api_base or args.gguf):
        return None
    config = lm_config_from_options(
        kind or "embedded", args.model, args.api_base, args.api_key_env,
        prompt_price=args.prompt_price, completion_price=args.completion_price,
    )
    if args.gguf:
        config = config.model_copy(update={"gguf": args.gguf})
    return config


def _summary(label: str, total: Result, elapsed: float) -> str:
    t = total.total
    return (
        f"pdnc[{label}] acc={t.correct / max(t.quotes, 1):.3f} prec={t.correct / max(t.attributed, 1):.3f} "
        f"attributed={t.attributed / max(t.quotes, 1):.3f} quotes={t.quotes} ({elapsed:.1f} s)"
    )


def _pair(rules: Tally, lm: Tally) -> str:
    return f"{rules.row()}  |  {lm.row()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(PDNC))
    parser.add_argument("--novel", action="append", help="only this novel (repeatable)")
    parser.add_argument("--rules", action="store_true", help="precision of each attribution rule")
    parser.add_argument("--errors", metavar="RULE", help="print the wrong attributions of RULE ('all' for every rule)")
    lm = parser.add_argument_group("rules+LM column (augmentlab.ingest.attribute_lm)")
    lm.add_argument("--lm", help="embedded, fake or endpoint (env AUGMENTLAB_ATTRIBUTE_LM); none: rules only")
    lm.add_argument("--model", help="endpoint model, e.g. openai/gpt-4o-mini")
    lm.add_argument("--api-base", help="endpoint base URL")
    lm.add_argument("--api-key-env", help="NAME of the variable holding the key")
    lm.add_argument("--gguf", help="embedded: your own GGUF file")
    lm.add_argument("--prompt-price", type=float, help="price per 1k prompt tokens")
    lm.add_argument("--completion-price", type=float, help="price per 1k completion tokens")
    lm.add_argument("--limit", type=int, help="ask the LM about the first N uncertain quotations per novel")
    lm.add_argument("--sample", type=int, help="ask the LM about N uncertain quotations per novel, spread over the book")
    lm.add_argument("--window", type=int, default=4, help="paragraphs shown the LM either side of the quotation")
    parser.add_argument("--no-loo", dest="loo", action="store_false", help="skip the leave-one-novel-out table (rules only)")
    parser.add_argument("--loo", dest="loo", action="store_true", default=True, help=argparse.SUPPRESS)
    parser.add_argument("--fit", action="store_true", help="print the confidence table and threshold fitted on all novels")
    parser.add_argument("--target", type=float, default=TARGET, help="precision the threshold is chosen for")
    args = parser.parse_args(argv)
    global WHY
    WHY = args.rules
    data = Path(args.data)
    if not data.is_dir():
        print(f"PDNC data not found at {data} (set AUGMENTLAB_PDNC)", file=sys.stderr)
        return 2
    novels = args.novel or sorted(d.name for d in data.iterdir() if (d / "quotation_info.csv").is_file())
    config = lm_config(args)
    total = Result()
    start = time.perf_counter()
    if config is None:
        print("== rules (no LM configured: rules only; pass --lm fake|embedded|endpoint, --model or --gguf for rules+LM)")
        results: dict[str, Result] = {}
        for novel in novels:
            result = results[novel] = score(ingest(data / novel), data / novel)
            _report(f"{novel:30s}", result)
            total.merge(result)
        _details(total, args)
        print(_summary("rules", total, time.perf_counter() - start))
        if args.loo and len(results) > 1:
            print_loo(results, args.target)
        if args.fit:
            print_fit(results, args.target)
        return 0

    with_lm = Result()
    usage = LMAttributionReport()
    print(f"== rules  |  rules+LM ({config.kind} {config.model}{' ' + config.gguf if config.gguf else ''})")
    with open_session(config) as opened:
        for novel in novels:
            script = ingest(data / novel)
            result = score(script, data / novel)
            report = attribute_scenes(script.scenes, script.characters, opened, limit=args.limit,
                                       sample=args.sample, window=args.window)
            lm_result = score(script, data / novel)
            print(f"{novel:30s} {_pair(result.total, lm_result.total)}  (LM asked {report.asked}: "
                  f"{report.attributed} named, {report.unknown} unknown, {report.invalid} invalid, {report.errors} errors)")
            for key in ("asked: lm", "asked: rules' guess"):
                if key in lm_result.by_rule:
                    print(f"    {key:20s} {lm_result.by_rule[key].row()}")
            total.merge(result)
            with_lm.merge(lm_result)
            for name in ("uncertain", "asked", "attributed", "unknown", "invalid", "errors"):
                setattr(usage, name, getattr(usage, name) + getattr(report, name))
            usage.usage = usage.usage + report.usage
            usage.error_examples += report.error_examples[: 3 - len(usage.error_examples)]
    for qtype in (*TYPES, "other"):
        if qtype in total.by_type:
            print(f"  {qtype:10s} {_pair(total.by_type[qtype], with_lm.by_type.get(qtype, Tally()))}")
    lm_rule = with_lm.by_rule.get("lm")
    if lm_rule is not None:
        print(f"  rule lm: {lm_rule.attributed} attributed by the LM, precision {lm_rule.correct / max(lm_rule.attributed, 1):.3f}")
    _details(with_lm, args, types=False)  # --rules / --errors: of rules+LM
    elapsed = time.perf_counter() - start
    print(_summary("rules", total, elapsed))
    print(_summary("rules+lm", with_lm, elapsed))
    print(usage.summary())
    for example in usage.error_examples:
        print(f"  LM error: {example}")
    return 0


def _fit(records: list[Record], target: float) -> tuple[dict[str, float], float]:
    """The confidence table and the threshold for ``target`` precision, fitted on ``records``
    (labels: the gold speaker resolved through the alias table)."""
    decided = [r for r in records if r.evidence]
    table = shrunk_rates([(r.evidence, r.right_alias) for r in decided], prior_weight=PRIOR_WEIGHT)
    scores = [confidence_of(r.evidence, table) for r in decided]
    return table, threshold_for_precision(scores, [r.right_alias for r in decided], target)


def _held_out(records: list[Record], table: dict[str, float], threshold: float) -> tuple[Tally, Tally]:
    """The records scored with that table and threshold: by the reference rule, and by alias."""
    ref, alias = Tally(), Tally()
    for r in records:
        kept = bool(r.evidence) and confidence_of(r.evidence, table) >= threshold
        ref.add(kept, kept and r.right)
        alias.add(kept, kept and r.right_alias)
    return ref, alias


def loo(results: dict[str, Result], target: float) -> list[tuple[str, float, Tally, Tally]]:
    """Leave-one-novel-out: fit on the others, threshold on the others, score the one left out."""
    rows = []
    for held in results:
        train = [r for name, res in results.items() if name != held for r in res.records]
        table, threshold = _fit(train, target)
        rows.append((held, threshold, *_held_out(results[held].records, table, threshold)))
    return rows


def print_loo(results: dict[str, Result], target: float) -> None:
    """The leave-one-novel-out table: per held-out novel precision, accuracy, coverage."""
    print(f"== leave-one-novel-out (confidence table + threshold fitted on the other five for precision >= {target:.2f})")
    print(f"  {'held out':30s} thr    prec   acc    coverage | prec*  acc*   (* gold speaker resolved through the alias table)")
    ref_total, alias_total = Tally(), Tally()
    for held, threshold, ref, alias in loo(results, target):
        q = max(ref.quotes, 1)
        print(f"  {held:30s} {threshold:.3f}  {ref.correct / max(ref.attributed, 1):.3f}  {ref.correct / q:.3f}  "
              f"{ref.attributed / q:.3f}    | {alias.correct / max(alias.attributed, 1):.3f}  {alias.correct / q:.3f}")
        for total, tally in ((ref_total, ref), (alias_total, alias)):
            total.quotes += tally.quotes
            total.attributed += tally.attributed
            total.correct += tally.correct
    q = max(ref_total.quotes, 1)
    print(f"  {'all held-out folds':30s}        {ref_total.correct / max(ref_total.attributed, 1):.3f}  "
          f"{ref_total.correct / q:.3f}  {ref_total.attributed / q:.3f}    | "
          f"{alias_total.correct / max(alias_total.attributed, 1):.3f}  {alias_total.correct / q:.3f}")


def print_fit(results: dict[str, Result], target: float) -> None:
    """The table and threshold fitted on all the novels (what confidence.py holds)."""
    table, threshold = _fit([r for res in results.values() for r in res.records], target)
    print("TABLE: dict[str, float] = {")
    for key in sorted(table):
        print(f"    {key!r}: {table[key]:.3f},")
    print("}")
    print(f"THRESHOLD = {threshold:.3f}")


def _details(total: Result, args: argparse.Namespace, *, types: bool = True) -> None:
    for qtype in (*TYPES, "other") if types else ():
        if qtype in total.by_type:
            print(f"  {qtype:10s} {total.by_type[qtype].row()}")
    if args.rules:
        for rule, tally in sorted(total.by_rule.items(), key=lambda kv: -kv[1].quotes):
            print(f"  rule {rule:14s} {tally.row()}")
    if args.errors:
        for rule, gold, got, text in total.errors:
            if args.errors in ("all", rule):
                print(f"    [{rule}] gold={gold!r} got={got!r}: {text}")


if __name__ == "__main__":
    sys.exit(main())
