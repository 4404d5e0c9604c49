"""Measure the pairwise LM judge (metrics/pairwise.py) against the readers of the dev preference sets.

Reads ``../shared/preference-dev/<set>/`` directly (scenes.jsonl, candidates.jsonl,
judgements.jsonl), takes the **decisive** pairs (every reading of the scene orders the two
candidates the same way), samples a few per set (seeded), and asks the judge for each in both
orders. Prints, per pair and in total: agreement with the readers (a tie counts half), how many
verdicts were decisive and how many of those were right, the order-flip rate, unusable answers,
calls, tokens and time. The readers are models, not people (see the set's README).

The judge is your own GGUF served by the embedded ``llama_cpp.server`` (``--gguf`` or
``AUGMENTLAB_STRONG_GGUF``) or an OpenAI-compatible endpoint (``--model``, ``--api-base``)::

    AUGMENTLAB_STRONG_GGUF=/path/qwen2.5-1.5b-instruct-q4_k_m.gguf \\
        nice python scripts/measure_pairwise_judge.py --pairs 8 --budget-min 20 --json out.json

It stops starting new pairs when ``--budget-min`` is spent (the pairs judged so far are reported).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from augmentlab.core.model import GoldExample  # noqa: E402
from augmentlab.lm import LMConfig  # noqa: E402
from metrics import pairwise as P  # noqa: E402
from prompts.variants import load_variant  # noqa: E402

SETS = REPO.parent / "shared" / "preference-dev"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def decisive_pairs(folder: Path) -> tuple[dict[str, GoldExample], dict[str, dict], list[tuple[str, str, str]]]:
    """``(scenes, candidates, [(scene, better, worse)])``: the pairs every reading orders alike."""
    scenes = {row["id"]: GoldExample.model_validate(row) for row in _jsonl(folder / "scenes.jsonl")}
    cands = {row["id"]: row for row in _jsonl(folder / "candidates.jsonl")}
    readings: dict[str, list[list[str]]] = {}
    for row in _jsonl(folder / "judgements.jsonl"):
        readings.setdefault(row["scene"], []).append(row["ranking"])
    pairs = []
    for scene, ranks in sorted(readings.items()):
        for x, y in itertools.combinations(sorted(ranks[0]), 2):
            if all(r.index(x) < r.index(y) for r in ranks):
                pairs.append((scene, x, y))
            elif all(r.index(y) < r.index(x) for r in ranks):
                pairs.append((scene, y, x))
    return scenes, cands, pairs


def _candidate(row: dict) -> P.Candidate:
    return P.Candidate(row["id"], row.get("scenario"), tuple(row.get("annotated") or ()))


def _config(args: argparse.Namespace) -> LMConfig:
    if args.model:
        return LMConfig(kind="endpoint", model=args.model, api_base=args.api_base, api_key_env=args.api_key_env,
                        max_tokens=args.max_tokens, timeout=args.call_timeout, num_retries=0, adapter=args.adapter)
    gguf = args.gguf or os.environ.get("AUGMENTLAB_STRONG_GGUF")
    if not gguf:
        raise SystemExit("give --gguf, AUGMENTLAB_STRONG_GGUF or --model")
    return LMConfig(kind="embedded", gguf=gguf, n_threads=args.threads, max_tokens=args.max_tokens,
                    timeout=args.call_timeout, num_retries=0, start_timeout=300, adapter=args.adapter)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=[str(SETS / "handwritten"), str(SETS / "pygmalion")])
    ap.add_argument("--pairs", type=int, default=8, help="decisive pairs sampled per set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gguf")
    ap.add_argument("--model")
    ap.add_argument("--api-base")
    ap.add_argument("--api-key-env")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=600)
    ap.add_argument("--adapter", choices=["json-grammar", "json-schema", "json", "chat"], default=None,
                    help="the LM's adapter (default: the config's, json-grammar for a GGUF)")
    ap.add_argument("--call-timeout", type=float, default=1800.0, help="seconds per call (no retries)")
    ap.add_argument("--min-margin", type=int, default=P.DEFAULT_MIN_MARGIN)
    ap.add_argument("--prompt", default=P.DEFAULT_PROMPT)
    ap.add_argument("--budget-min", type=float, default=20.0)
    ap.add_argument("--json", help="write every verdict and the summary here")
    args = ap.parse_args(argv)

    instructions = load_variant(args.prompt, task="judge").instructions
    config = _config(args)
    per_set = []
    for folder in map(Path, args.sets):
        scenes, cands, pairs = decisive_pairs(folder)
        sample = random.Random(f"{args.seed}:{folder.name}").sample(pairs, min(args.pairs, len(pairs)))
        print(f"{folder.name}: {len(pairs)} decisive pairs, {len(sample)} sampled", flush=True)
        per_set.append([(folder.name, scenes[s], cands[b], cands[w]) for s, b, w in sample])
    # the sets interleaved, so a run cut short by the budget still measures each of them
    work = [item for group in itertools.zip_longest(*per_set) for item in group if item is not None]
    rows, verdicts = [], []
    start = time.monotonic()
    with P.open_pairwise_judge(config, instructions, min_margin=args.min_margin) as judge:
        print(f"judge: {judge.source}", flush=True)
        for name, gold, better, worse in work:
            if time.monotonic() - start > args.budget_min * 60:
                print(f"budget of {args.budget_min:g} min spent: stopping", flush=True)
                break
            t0 = time.monotonic()
            v = judge.prefer(gold, _candidate(better), _candidate(worse))
            kept = v.score_for(better["id"])
            verdicts.append(v)
            rows.append({"set": name, "better": better["source"], "worse": worse["source"], "kept": kept,
                         "seconds": round(time.monotonic() - t0, 1), "verdict": v.model_dump(mode="json")})
            if args.json:  # as it goes: a run stopped half-way keeps the pairs it judged
                with open(f"{args.json}.rows.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(rows[-1]) + "\n")
            print(f"{name:12} {better['source']:>16} > {worse['source']:<16} judge: {v.winner:4} "
                  f"(a,b: {v.extra['order_ab']!r}; b,a: {v.extra['order_ba']!r}) kept {kept:.1f} "
                  f"[{rows[-1]['seconds']:.0f}s]", flush=True)
    summary = summarize(rows, verdicts, judge.usage.model_dump(mode="json"), time.monotonic() - start)
    summary["judge"] = judge.source
    for key, value in summary.items():
        print(f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1), encoding="utf-8")
    return 0


def summarize(rows: list[dict], verdicts: list, usage: dict, seconds: float) -> dict:
    n = len(rows)
    decisive = [r for r in rows if r["verdict"]["winner"] != "tie"]
    flip = P.flip_rate(verdicts)
    out = {
        "pairs": n,
        "agreement (tie = half)": round(sum(r["kept"] for r in rows) / n, 3) if n else None,
        "decisive verdicts": len(decisive),
        "right among decisive": sum(1 for r in decisive if r["kept"] == 1.0),
        "flip rate": None if flip is None else round(flip, 3),
        "unusable (a tie with a reason)": sum(1 for v in verdicts if v.extra.get("signed_ab") is None
                                              or v.extra.get("signed_ba") is None),
        "always the first shown": sum(1 for v in verdicts if v.extra.get("bias") == "first"),
        "usage": usage,
        "minutes": round(seconds / 60, 1),
    }
    for name in sorted({r["set"] for r in rows}):
        part = [r for r in rows if r["set"] == name]
        out[f"agreement {name}"] = f"{sum(r['kept'] for r in part) / len(part):.3f} on {len(part)}"
    return out


if __name__ == "__main__":
    raise SystemExit(main())
