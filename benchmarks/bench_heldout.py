"""Proof on held-out human gold: real prompts against controls that must produce useless data.

    .venv/bin/python benchmarks/bench_heldout.py                  # embedded SmolLM2, 4 scenes per play
    .venv/bin/python benchmarks/bench_heldout.py --scenes 10      # more scenes
    .venv/bin/python benchmarks/bench_heldout.py --save out/heldout   # keep the outputs ...
    .venv/bin/python benchmarks/bench_heldout.py --rescore out/heldout  # ... and score them again (no LM)
    AUGMENTLAB_HELDOUT_GGUF=/path/model.gguf .venv/bin/python benchmarks/bench_heldout.py --strong
    AUGMENTLAB_HELDOUT_GGUF=/path/model.gguf .venv/bin/python benchmarks/bench_heldout.py --strong --programs direct_scene
    AUGMENTLAB_HELDOUT_MODEL=openai/gpt-4o-mini AUGMENTLAB_HELDOUT_KEY_ENV=OPENAI_API_KEY \\
        .venv/bin/python benchmarks/bench_heldout.py --strong

Gold is mined with ``augmentlab gold mine``'s miner from the two Wilde plays in
``tests/data/heldout/`` (no test tunes on them; ``--plays`` mines other plays instead, for dev
runs while writing prompts). Each real program (the default ``actions/compose_scene``;
``actions/direct_scene``, one movement per line, for instruction models that echo the lines under
the default; the 2023 baseline ``scenario/seed`` + ``actions/seed``, and
``scenario/seed`` + ``actions/compose``) and the two controls (``prompts/controls/``) augment the
same scenes, each program as ``augmentlab augment`` runs it (a scene whose answer would not fit
``max_tokens`` is asked for in parts: ``augmentlab.augment.runner.pipeline_augmenter``); every
output is scored with ``metrics.composite`` (task ``both``). The table gives
each program's mean with its 95 % bootstrap interval and each real program minus each control
with its paired interval (``augmentlab.core.stats``).

Requirement (``experiments.heldout.failures``): with the embedded model the controls must not beat
the real prompts; with the stronger model (``--strong``; set ``AUGMENTLAB_HELDOUT_GGUF`` or
``AUGMENTLAB_HELDOUT_MODEL`` [+ ``_API_BASE``, ``_KEY_ENV``]) every real program must beat every
control with a paired interval that excludes zero. Exit status 1 when it does not hold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import augmentlab  # noqa: E402,F401  (offline environment first)
from augmentlab.augment.runner import pipeline_augmenter  # noqa: E402
from augmentlab.core.errors import AugmentlabError  # noqa: E402
from experiments import heldout  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=4, help="mined scenes per play (default 4)")
    parser.add_argument("--strong", action="store_true",
                        help="use the stronger LM named by AUGMENTLAB_HELDOUT_GGUF / AUGMENTLAB_HELDOUT_MODEL")
    parser.add_argument("--default-only", action="store_true",
                        help="only the default program against the controls (fewer calls)")
    parser.add_argument("--programs", help="comma-separated real programs to run (default: all; "
                        f"known: {', '.join(heldout.REAL_PROGRAMS)})")
    parser.add_argument("--plays", nargs="+", type=Path,
                        help="mine these plays instead of the held-out ones (a dev run: iterate on these, "
                        "never on the held-out plays)")
    parser.add_argument("--save", type=Path, help="write the gold and every program's outputs to this folder")
    parser.add_argument("--rescore", type=Path, help="score outputs saved with --save again (no LM)")
    args = parser.parse_args(argv)

    if args.rescore:
        try:
            result = heldout.rescore(args.rescore)
        except AugmentlabError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(heldout.table(result))
        return 1 if heldout.failures(result) else 0

    try:
        if args.strong:
            config = heldout.strong_lm_config()
            if config is None:
                print(f"--strong: set {heldout.STRONG_ENV_PREFIX}_GGUF or {heldout.STRONG_ENV_PREFIX}_MODEL", file=sys.stderr)
                return 2
        else:
            config = heldout.embedded_config()
        if args.default_only and args.programs:
            print("--default-only and --programs: give one of them", file=sys.stderr)
            return 2
        labels = [heldout.DEFAULT_PROGRAM] if args.default_only else (
            [x.strip() for x in args.programs.split(",") if x.strip()] if args.programs else None)
        real = heldout.select_programs(labels)
        for play in args.plays or ():
            if not play.is_file():
                print(f"error: no such play: {play}", file=sys.stderr)
                return 2
        gold = heldout.mine_heldout(args.scenes, plays=args.plays)
        start = time.perf_counter()
        result = heldout.run_heldout(config, gold, real=real, augmenter=pipeline_augmenter,
                                     progress=lambda m: print(f"  {m}", flush=True))
    except AugmentlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(heldout.table(result))
    print(f"  ({time.perf_counter() - start:.0f} s)")
    if args.save:
        print(f"  outputs saved to {heldout.save_outputs(result, args.save)}")
    return 1 if heldout.failures(result) else 0


if __name__ == "__main__":
    sys.exit(main())
