"""CPU per augmented scene, with and without augmentlab's caches of DSPy's per-call work (A/B).

    .venv/bin/python benchmarks/cpu_per_scene.py [--scenes 512] [--concurrency 64] [--adapter json]

Wall-clock ratios on a shared 2-core machine say little about where the time goes; CPU time does.
A stub server with no latency answers; augment's workers are timed with ``time.thread_time`` and
the whole process with ``time.process_time``. Each setting runs in its own process (the caches
are process-wide), ``--repeat`` times, alternating. ``--profile`` dumps a cProfile of the worker
(concurrency 1, thread CPU time) to ``$TMPDIR/cpu_per_scene.prof`` too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def one(scenes: int, concurrency: int, adapter: str, caches: bool, profile: bool) -> str:
    import bench_augment as b

    import augmentlab.augment as A
    from augmentlab.augment import AugmentOptions
    from augmentlab.augment.runner import SceneRunner
    import augmentlab.lm.speed as speed
    from augmentlab.lm import LMConfig

    if not caches:
        speed.install = lambda: None
    os.environ.setdefault(b.KEY_ENV, "bench")
    proc, url = b.start_stub(0.0)
    try:
        config = LMConfig(kind="endpoint", model="openai/stub", api_base=url, api_key_env=b.KEY_ENV, cache=False,
                          adapter=adapter, num_retries=0)
        A.augment_scripts([b.bench_script(4)], tempfile.mkdtemp(), config,
                          AugmentOptions(concurrency=1, write_personas=False))
        cpu: list[float] = []
        real = SceneRunner.scene
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.thread_time)  # CPU time, not wall: a busy machine adds no noise
            concurrency = 1

        def scene(self, item):  # noqa: ANN001, ANN202
            t = time.thread_time()
            if profiler:
                profiler.enable()
            try:
                return real(self, item)
            finally:
                if profiler:
                    profiler.disable()
                cpu.append(time.thread_time() - t)

        SceneRunner.scene = scene
        p0, t0 = time.process_time(), time.perf_counter()
        A.augment_scripts([b.bench_script(scenes)], tempfile.mkdtemp(), config,
                          AugmentOptions(concurrency=concurrency, write_personas=False))
        process, wall = time.process_time() - p0, time.perf_counter() - t0
        if profiler:
            path = Path(tempfile.gettempdir()) / "cpu_per_scene.prof"
            profiler.dump_stats(path)
            print(f"profile: {path}", flush=True)
        cpu.sort()
        return (f"caches {'on ' if caches else 'off'} worker {cpu[len(cpu) // 2] * 1000:.2f} ms  "
                f"process {process / scenes * 1000:.2f} ms  wall {wall / scenes * 1000:.2f} ms per scene")
    finally:
        proc.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--adapter", default="json")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--one", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(one(args.scenes, args.concurrency, args.adapter, args.one == "on", args.profile), flush=True)
        return
    print(f"CPU per scene, {args.adapter} adapter, concurrency {args.concurrency}, {args.scenes} scenes (median worker)")
    for _ in range(args.repeat):
        for setting in ("off", "on"):
            subprocess.run([sys.executable, __file__, "--one", setting, "--scenes", str(args.scenes),
                            "--concurrency", str(args.concurrency), "--adapter", args.adapter]
                           + (["--profile"] if args.profile else []), check=True)


if __name__ == "__main__":
    main()
