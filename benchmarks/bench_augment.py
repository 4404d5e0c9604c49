"""Augment throughput vs a raw OpenAI client, and tokens per augmented line (side by side, one run).

    .venv/bin/python benchmarks/bench_augment.py               # throughput table (~30 s)
    .venv/bin/python benchmarks/bench_augment.py --embedded    # + tokens/line on the real model (slow)

**Throughput.** A stub OpenAI-compatible server (:mod:`augmentlab.testing.fake_server`, its own
process, 127.0.0.1, fixed latency, no model) answers every chat completion with valid JSON for
augmentlab's signatures. For each concurrency, ``augment_scripts`` augments N scenes (two calls
each: scenario, then actions) — the whole call is timed, set-up and output files included — and
a raw ``openai.AsyncOpenAI`` client then makes the same number of requests at the same
concurrency. The ratio is augmentlab's scenes/s over the raw client's (requests/2)/s; the goal
is ≥ 0.9.

**Tokens per augmented line** (``--embedded``): the seed-style baseline (``scenario/seed`` +
``actions/seed``: two calls per scene, the model writes every line again, words and actions)
against the per-scene program (``actions/compose_scene``: one call per scene writes the scenario
and only the actions; the program puts the words between them), with the two-call compose
program (``scenario/seed`` + ``actions/compose``) between them, on the same gold scenes with the
embedded SmolLM2 model,
with both programs' mean scores against the gold set. Goal: half the tokens per line or less at
an equal or better score.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import augmentlab  # noqa: F401  (offline environment first)
from augmentlab.lm import LMConfig
from augmentlab.model import Line, LineKind, Scene, Script

KEY_ENV = "AUGMENTLAB_BENCH_KEY"
CONCURRENCIES = (1, 8, 32, 64)
REPO = Path(__file__).resolve().parent.parent


def bench_script(n_scenes: int) -> Script:
    scenes = []
    for i in range(n_scenes):
        lines = [
            Line(speaker="Ann", text=f"Did you bring the map for stop {i}? We cannot afford to get lost again."),
            Line(speaker=None, text="The wind rattles the loose window of the station.", kind=LineKind.narration),
            Line(speaker="Bob", text=f"I left it at the station, sorry. Stop {i} is only a short walk anyway."),
            Line(speaker="Ann", text="Then we walk, and you carry the bags this time."),
            Line(speaker="Bob", text=f"Fine. But if it rains I am blaming you for number {i}."),
        ]
        scenes.append(Scene(index=i, heading=f"scene {i}", lines=lines).with_id())
    return Script(title="bench", source="bench.txt", scenes=scenes)


def start_stub(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "augmentlab.testing.fake_server", "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1"):
        proc.kill()
        raise SystemExit(f"stub server did not start: {url!r}")
    return proc, url


def run_augmentlab(url: str, n_scenes: int, concurrency: int) -> tuple[float, int]:
    from augmentlab.augment import augment_scripts

    config = LMConfig(kind="endpoint", model="openai/stub", api_base=url, api_key_env=KEY_ENV, cache=False,
                      adapter="json", num_retries=0)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        report = augment_scripts([bench_script(n_scenes)], out, lm_config=config, concurrency=concurrency,
                                 write_personas=False)
        elapsed = time.perf_counter() - start
    if report.ok != n_scenes:
        raise SystemExit(f"augmentlab: only {report.ok}/{n_scenes} scenes ok: {report.failures[:2]}")
    return elapsed, report.usage.calls


async def _raw(url: str, requests: int, concurrency: int, prompt: str) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await client.chat.completions.create(
                model="stub", messages=[{"role": "system", "content": prompt}, {"role": "user", "content": prompt}],
                temperature=0.0, max_tokens=1024,
            )

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def run_raw(url: str, requests: int, concurrency: int) -> float:
    prompt = "Your output fields are:\n1. `scenario` (str):\n" + "x " * 600
    return asyncio.run(_raw(url, requests, concurrency, prompt))


def throughput(latency: float, concurrencies: tuple[int, ...]) -> list[tuple[int, int, float, float, float]]:
    os.environ.setdefault(KEY_ENV, "bench")
    proc, url = start_stub(latency)
    rows = []
    try:
        run_augmentlab(url, 2, 2)  # warm-up: imports, program build
        run_raw(url, 4, 2)
        for c in concurrencies:
            n = max(8, 4 * c)
            t_aug, calls = run_augmentlab(url, n, c)
            t_raw = run_raw(url, calls, c)
            aug_rate = n / t_aug
            raw_rate = (calls / 2) / t_raw
            rows.append((c, n, aug_rate, raw_rate, aug_rate / raw_rate))
    finally:
        proc.terminate()
        proc.wait(10)
    return rows


EMBEDDED_PROGRAMS = (("baseline (seed + seed: 2 calls, echoes)", "seed", "seed"),
                     ("compose (seed + compose: 2 calls)", "seed", "compose"),
                     ("per-scene (compose_scene: 1 call)", None, "compose_scene"))
"""(label, scenario variant, actions variant): the 2023-style annotator first (the baseline), the
per-scene one-call program last (the goal's subject); the two-call compose program in between
shows how much each step saves."""


def gold_scenes(n_scenes: int) -> list:
    """The first ``n_scenes`` hand-written gold examples that have a scenario and annotated lines."""
    from experiments.runner import load_gold

    gold = [g for g in load_gold([REPO / "experiments" / "gold" / "handwritten.jsonl"]) if g.scenario and g.annotated]
    return gold[:n_scenes]


def tokens_per_line(gold: list) -> list[tuple[str, int, int, int, int, float]]:
    """``(program, tokens, completion tokens, lines, ok scenes, mean score)`` for each of :data:`EMBEDDED_PROGRAMS`.

    All run on the same ``gold`` scenes (see :func:`gold_scenes`)
    with the embedded model, no cache. Tokens count every call (scenario and actions, failures
    included) and lines every scene line, so a failed scene costs tokens and scores 0; the score
    is :func:`metrics.composite.score` (task ``both``) against the gold example.
    """
    from metrics.composite import score
    from prompts.programs import SceneAugmenter, augment_scene
    from augmentlab.lm import use_lm

    rows = []
    with use_lm(LMConfig(kind="embedded", cache=False, max_tokens=512)):
        for label, scenario, actions in EMBEDDED_PROGRAMS:
            program = SceneAugmenter(scenario, actions)
            tokens = written = lines = ok = 0
            scores = []
            for example in gold:
                result = augment_scene(program, example.scene, example.personas)
                tokens += result.usage.total_tokens
                written += result.usage.completion_tokens
                lines += len(example.scene.lines)
                if result.status == "failed":
                    scores.append(0.0)
                    continue
                ok += 1
                annotated = [line.annotated for line in result.lines]
                scores.append(score(example, result.scenario, annotated, task="both").score)
            rows.append((label, tokens, written, lines, ok, sum(scores) / len(scores) if scores else 0.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="*", default=list(CONCURRENCIES))
    parser.add_argument("--embedded", action="store_true", help="also measure tokens/line on the embedded model")
    parser.add_argument("--scenes", type=int, default=20,
                        help="gold scenes for --embedded (default 20: all of the hand-written set; ~12 min)")
    args = parser.parse_args()

    print(f"augment throughput vs raw openai.AsyncOpenAI — stub server, {args.latency * 1000:.0f} ms latency")
    print(f"{'conc':>5} {'scenes':>7} {'augmentlab sc/s':>16} {'raw sc/s':>10} {'ratio':>7}")
    for c, n, aug, raw, ratio in throughput(args.latency, tuple(args.concurrency)):
        flag = "" if ratio >= 0.9 else "  < 0.9 goal"
        print(f"{c:>5} {n:>7} {aug:>16.2f} {raw:>10.2f} {ratio:>7.2f}{flag}")

    if args.embedded:
        gold = gold_scenes(args.scenes)
        print(f"\ntokens per augmented line, embedded SmolLM2, same {len(gold)} gold scenes")
        rows = tokens_per_line(gold)
        print(f"  {'program':<40} {'tokens/line':>11} {'written/line':>12} {'ok':>5} {'score':>6}")
        for program, total, written, lines, ok, mean in rows:
            print(f"  {program:<40} {total / lines:>11.1f} {written / lines:>12.1f} {ok:>3}/{len(gold)} {mean:>6.3f}")
        (_, b_total, b_written, b_lines, _, b_score), (_, n_total, n_written, n_lines, _, n_score) = rows[0], rows[-1]
        ratio = (n_total / n_lines) / (b_total / b_lines)
        written_ratio = (n_written / n_lines) / (b_written / b_lines)
        goal = "meets" if ratio <= 0.5 and n_score >= b_score else "misses"
        print(f"  ratio per-scene / baseline: {ratio:.2f} tokens/line (prompt + completion),"
              f" {written_ratio:.2f} written (completion) tokens/line; score {n_score:.3f} vs {b_score:.3f}")
        print(f"  {goal} the goal (<= 0.5 tokens/line at an equal or better score)")


if __name__ == "__main__":
    main()
