"""Augment throughput vs a raw OpenAI client, and tokens per augmented line (side by side, one run).

    .venv/bin/python benchmarks/bench_augment.py               # throughput table (~1-2 min)
    .venv/bin/python benchmarks/bench_augment.py --embedded    # + tokens/line on the real model (slow)
    AUGMENTLAB_NATIVE_PYTHON=/other/venv/bin/python .venv/bin/python benchmarks/bench_augment.py --llama-speed
                                                               # llama.cpp tokens/s: this build vs another

**Throughput, counted at the server.** A stub OpenAI-compatible server
(`tests/fakes/fake_server.py`, its own process, 127.0.0.1, fixed latency, no model)
answers every chat completion with valid JSON for augmentlab's signatures and counts what it
receives. For each concurrency, ``augment_scripts`` augments N scenes; the server says how many
requests it answered and the span from the first request's arrival to the last answer. A raw
``openai.AsyncOpenAI`` client then sends *the same number of requests* at the same concurrency.
Both are rates of requests the server answered, so no assumption about calls per scene enters
and the ratio cannot exceed 1 by more than noise (the raw client is the ceiling):

* **loop** — requests/s over the server-side span (augment's scene loop: set-up, persona cards
  and output files excluded) over the raw client's, measured the same way;
* **call** — requests/s over the whole ``augment_scripts`` call (ingest, planning, store, output
  files included) over the raw client's whole run;
* **loop/ceiling** — augment's loop rate over ``concurrency / latency``, the most any client can
  get from a server that holds every request ``latency`` seconds (≤ 1 by construction; on a busy
  2-core machine the Python stub server itself keeps everyone below it).

On a loaded machine the raw ``openai`` client can be the slower of the two (its per-request work
is in the same event loop as its 64 requests), so loop/raw can exceed 1; loop/ceiling cannot.

Each concurrency is measured ``--repeat`` times, augment and raw back to back each time (the
machine may be shared); the table shows the median ratio and the spread (min-max). Goal:
loop ≥ 0.9.

**Tokens per augmented line** (``--embedded``): the seed-style baseline (``scenario/seed`` +
``actions/seed``: two calls per scene, the model writes every line again, words and actions)
against the per-scene program (``actions/compose_scene``: one call per scene writes the scenario
and only the actions; the program puts the words between them), with the two-call compose
program (``scenario/seed`` + ``actions/compose``) between them, on the same gold scenes with the
embedded SmolLM2 model,
with both programs' mean scores against the gold set. Goal: half the tokens per line or less at
an equal or better score.

**llama.cpp speed** (``--embedded``, first): prompt processing and generation tokens/s of the
installed llama.cpp build (``scripts/setup.sh``'s portable one) on SmolLM2, measured in a child
process by :func:`augmentlab.lm.smoke.run_smoke` (256-token prompt, 32 generated tokens, best of
3). Beside it, where ``AUGMENTLAB_NATIVE_PYTHON`` names another venv's interpreter (for example
one where llama-cpp-python was built with llama.cpp's default ``-march=native``), the same numbers
for that build, and the ratio. A build that crashes on this CPU is shown as such, not timed.
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
from augmentlab.augment import AugmentOptions, augment_scripts
from augmentlab.core.model import Line, LineKind, Scene, Script
from augmentlab.lm import LMConfig, use_lm
from augmentlab.ingest.gold import read_gold
from metrics.composite import score
from augmentlab.lm.smoke import SmokeResult, run_smoke
from prompts.programs import SceneAugmenter, augment_scene

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
        [sys.executable, "-m", "fakes.fake_server", "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True, cwd=REPO / "tests",
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1"):
        proc.kill()
        raise SystemExit(f"stub server did not start: {url!r}")
    return proc, url


def _stats(url: str, reset: bool = False) -> dict:
    import httpx

    if reset:
        return httpx.post(f"{url}/stats/reset", timeout=10).json()
    return httpx.get(f"{url}/stats", timeout=10).json()


def run_augmentlab(url: str, n_scenes: int, concurrency: int) -> tuple[int, float, float]:
    """``(requests the server answered, server span, whole call seconds)``."""
    config = LMConfig(kind="endpoint", model="openai/stub", api_base=url, api_key_env=KEY_ENV, cache=False,
                      adapter="json", num_retries=0)
    script = bench_script(n_scenes)
    with tempfile.TemporaryDirectory() as out:
        _stats(url, reset=True)
        start = time.perf_counter()
        report = augment_scripts([script], out, config, AugmentOptions(concurrency=concurrency, write_personas=False))
        elapsed = time.perf_counter() - start
        stats = _stats(url)
    if report.ok != n_scenes:
        raise SystemExit(f"augmentlab: only {report.ok}/{n_scenes} scenes ok: {report.failures[:2]}")
    return int(stats["counted"]), float(stats["span"]), elapsed


async def _raw(url: str, requests: int, concurrency: int, prompt: str) -> float:
    import openai

    start = time.perf_counter()
    client = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await client.chat.completions.create(
                model="stub", messages=[{"role": "system", "content": prompt}, {"role": "user", "content": prompt}],
                temperature=0.0, max_tokens=1024,
            )

    await asyncio.gather(*(one() for _ in range(requests)))
    await client.close()
    return time.perf_counter() - start


def run_raw(url: str, requests: int, concurrency: int) -> tuple[int, float, float]:
    """``(requests the server answered, server span, whole run seconds)`` for the raw client."""
    prompt = "Your output fields are:\n1. `scenario` (str):\n" + "x " * 600
    _stats(url, reset=True)
    elapsed = asyncio.run(_raw(url, requests, concurrency, prompt))
    stats = _stats(url)
    return int(stats["counted"]), float(stats["span"]), elapsed


def throughput(latency: float, concurrencies: tuple[int, ...], repeat: int = 3,
               scenes: int | None = None) -> list[dict]:
    """One row per concurrency: request counts, loop and call ratios per repeat (see the module doc)."""
    os.environ.setdefault(KEY_ENV, "bench")
    proc, url = start_stub(latency)
    rows = []
    try:
        run_augmentlab(url, 4, 2)  # warm-up: imports, program build
        run_raw(url, 4, 2)
        for c in concurrencies:
            n = scenes or max(64, 16 * c)
            loop, call, ceiling, counted = [], [], [], 0
            for _ in range(repeat):
                aug_n, aug_span, aug_wall = run_augmentlab(url, n, c)
                raw_n, raw_span, raw_wall = run_raw(url, aug_n, c)
                ceiling.append((aug_n / aug_span) / (c / latency))
                loop.append((aug_n / aug_span) / (raw_n / raw_span))
                call.append((aug_n / aug_wall) / (raw_n / raw_wall))
                counted = aug_n
            rows.append({"concurrency": c, "scenes": n, "requests": counted, "raw_rps": raw_n / raw_span,
                         "loop": loop, "call": call, "ceiling": ceiling, "ceiling_rps": c / latency})
    finally:
        proc.terminate()
        proc.wait(10)
    return rows


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


EMBEDDED_PROGRAMS = (("baseline (seed + seed: 2 calls, echoes)", "seed", "seed"),
                     ("compose (seed + compose: 2 calls)", "seed", "compose"),
                     ("per-scene (compose_scene: 1 call)", None, "compose_scene"))
"""(label, scenario variant, actions variant): the 2023-style annotator first (the baseline), the
per-scene one-call program last (the goal's subject); the two-call compose program in between
shows how much each step saves."""


def gold_scenes(n_scenes: int) -> list:
    """The first ``n_scenes`` hand-written gold examples that have a scenario and annotated lines."""
    gold = [g for g in read_gold(REPO / "experiments" / "gold" / "handwritten.jsonl") if g.scenario and g.annotated]
    return gold[:n_scenes]


def tokens_per_line(gold: list) -> list[tuple[str, int, int, int, int, float]]:
    """``(program, tokens, completion tokens, lines, ok scenes, mean score)`` for each of :data:`EMBEDDED_PROGRAMS`.

    All run on the same ``gold`` scenes (see :func:`gold_scenes`)
    with the embedded model, no cache. Tokens count every call (scenario and actions, failures
    included) and lines every scene line, so a failed scene costs tokens and scores 0; the score
    is :func:`metrics.composite.score` (task ``both``) against the gold example.
    """
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


def llama_speed() -> list[tuple[str, SmokeResult]]:
    """The installed build, and the one of ``AUGMENTLAB_NATIVE_PYTHON`` when set (see the module doc)."""
    builds = [("installed (this venv)", sys.executable)]
    other = os.environ.get("AUGMENTLAB_NATIVE_PYTHON")
    if other:
        builds.append((f"other ({other})", other))
    return [(name, run_smoke(python=python, measure=True, timeout=600)) for name, python in builds]


def print_llama_speed() -> None:
    print("\nllama.cpp speed on SmolLM2-135M (2 threads; 256-token prompt, 32 generated tokens, best of 3)")
    print(f"  {'build':<44} {'features':<32} {'prompt tok/s':>12} {'gen tok/s':>10}")
    rows = llama_speed()
    for name, r in rows:
        features = " ".join(f for f in r.build_features if f not in ("SSE3", "SSSE3")) or "?"
        if r.ok and r.prompt_tps is not None and r.gen_tps is not None:
            print(f"  {name:<44} {features:<32} {r.prompt_tps:>12.0f} {r.gen_tps:>10.1f}")
        else:
            print(f"  {name:<44} {features:<32} {r.message()}")
    timed = [r for _, r in rows if r.ok and r.prompt_tps and r.gen_tps]
    if len(timed) == 2:
        mine, other = timed
        print(f"  installed / other: prompt {mine.prompt_tps / other.prompt_tps:.2f}, "
              f"generation {mine.gen_tps / other.gen_tps:.2f}")
    elif len(rows) == 1:
        print("  (set AUGMENTLAB_NATIVE_PYTHON=/path/to/other/venv/bin/python to time another build beside it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="*", default=list(CONCURRENCIES))
    parser.add_argument("--repeat", type=int, default=3, help="runs per concurrency (augment and raw back to back)")
    parser.add_argument("--scenes-per-run", type=int, default=None, help="scenes per run (default max(64, 16 x concurrency))")
    parser.add_argument("--embedded", action="store_true", help="also measure tokens/line on the embedded model")
    parser.add_argument("--scenes", type=int, default=20,
                        help="gold scenes for --embedded (default 20: all of the hand-written set; ~12 min)")
    parser.add_argument("--llama-speed", action="store_true",
                        help="only the llama.cpp speed table of --embedded (installed build vs AUGMENTLAB_NATIVE_PYTHON's)")
    args = parser.parse_args()
    if args.llama_speed:
        print_llama_speed()
        return

    print(f"augment throughput vs raw openai.AsyncOpenAI — stub server, {args.latency * 1000:.0f} ms latency,"
          f" requests counted at the server, {args.repeat} repeats (median, min-max)")
    print("  loop/call: augment's requests/s over the raw client's (same requests, same concurrency);"
          " loop/ceiling: over concurrency/latency, the most any client can get (<= 1 by construction)")
    print(f"{'conc':>5} {'scenes':>7} {'requests':>9} {'raw req/s':>10} {'ceiling':>8} {'loop/raw':>19}"
          f" {'call/raw':>19} {'loop/ceiling':>19}")
    for row in throughput(args.latency, tuple(args.concurrency), args.repeat, args.scenes_per_run):
        loop, call, ceiling = row["loop"], row["call"], row["ceiling"]
        flag = "" if _median(loop) >= 0.9 else "  < 0.9 goal"
        print(f"{row['concurrency']:>5} {row['scenes']:>7} {row['requests']:>9} {row['raw_rps']:>10.1f}"
              f" {row['ceiling_rps']:>8.1f}"
              f" {_median(loop):>6.2f} ({min(loop):.2f}-{max(loop):.2f})"
              f" {_median(call):>6.2f} ({min(call):.2f}-{max(call):.2f})"
              f" {_median(ceiling):>6.2f} ({min(ceiling):.2f}-{max(ceiling):.2f}){flag}")

    if args.embedded:
        print_llama_speed()
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
