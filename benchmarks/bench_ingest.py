"""Ingest throughput and memory, side by side with a bare read-and-split.

    .venv/bin/python benchmarks/bench_ingest.py          # largest corpus file + ~100 MB copy
    .venv/bin/python benchmarks/bench_ingest.py --quick  # ~10 MB copy instead

First one row per corpus script (so each format is measured: VN dump, play, prose, Ren'Py;
best of 5 runs in one process), one per engine dump of tests/data (sc3tools, KAG, TyranoScript;
each repeated to ~2 MB, best of 3), then the large-file rows below.

For each file: MB/s of a bare ``for line in file: line.split(":")`` and of streaming ingest to
JSONL (``augmentlab ingest``), their ratio, and the peak RSS of the streaming ingest run in a
fresh subprocess (so the numbers are comparable across file sizes: memory should stay flat).
Goal: ingest ≥ 20 MB/s; peak memory flat in file size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("AUGMENTLAB_CORPUS", REPO.parent / "shared" / "corpus"))

_CHILD = r"""
import json, resource, sys, time
import augmentlab
from augmentlab.ingest import iter_scenes
src, out, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
best = float("inf")
for _ in range(repeat):  # small files: best of a few runs, so start-up noise does not dominate
    start = time.perf_counter()
    scenes = lines = 0
    with open(out, "w", encoding="utf-8") as fh:
        stream = iter_scenes(src)
        for scene in stream:
            fh.write(scene.model_dump_json()); fh.write("\n")
            scenes += 1; lines += len(scene.lines)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "scenes": scenes, "lines": lines, "format": stream.format,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def largest_corpus_file() -> Path:
    files = corpus_files()
    if not files:
        sys.exit(f"no corpus files under {CORPUS}")
    return max(files, key=lambda p: p.stat().st_size)


def bare_split(path: Path) -> float:
    start = time.perf_counter()
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line.split(":")
    return time.perf_counter() - start


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in {".txt", ".rpy"})


def ingest_child(path: Path, tmp: Path, repeat: int = 1) -> dict:
    out = tmp / f"{path.stem}.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(out), str(repeat)], capture_output=True, text=True, check=True
    )
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["out_mb"] = out.stat().st_size / 1e6
    out.unlink()
    return data


def repeated(path: Path, target_mb: float, tmp: Path) -> Path:
    data = path.read_bytes()
    copies = max(1, int(target_mb * 1e6 // len(data)))
    big = tmp / f"{path.stem}.x{copies}{path.suffix}"
    with big.open("wb") as fh:
        for _ in range(copies):
            fh.write(data)
            fh.write(b"\n\n")
    return big


def per_format(tmp: Path) -> None:
    """One row per corpus script (each format the corpus has): ingest MB/s, best of a few runs."""
    print(f"{'corpus file':<28} {'format':<8} {'MB':>6} {'bare MB/s':>10} {'ingest MB/s':>12} {'bare/ingest':>12} {'scenes':>7}")
    print("-" * 89)
    for path in corpus_files():
        mb = path.stat().st_size / 1e6
        try:
            child = ingest_child(path, tmp, repeat=5)
        except subprocess.CalledProcessError:
            continue  # not a script (a licence text with no dialogue)
        bare = mb / min(bare_split(path) for _ in range(5))
        speed = mb / child["seconds"]
        print(
            f"{path.name:<28} {child['format']:<8} {mb:>6.2f} {bare:>10.1f} {speed:>12.1f} "
            f"{bare / speed:>11.1f}x {child['scenes']:>7}"
        )
    print()


ENGINE_FILES = ("scx/shop_01.SCX.txt", "kag/syoukai_first.ks", "tyrano/scene1_head.ks")
"""Engine dumps (tests/data): too small to time alone, so each is repeated to about 2 MB."""


def per_engine(tmp: Path) -> None:
    """One row per engine-dump reader (scx, kag, tyrano): ingest MB/s of a ~2 MB repeated file."""
    for name in ENGINE_FILES:
        source = REPO / "tests" / "data" / name
        if not source.is_file():
            continue
        path = repeated(source, 2, tmp)
        mb = path.stat().st_size / 1e6
        child = ingest_child(path, tmp, repeat=3)
        bare = mb / min(bare_split(path) for _ in range(3))
        speed = mb / child["seconds"]
        print(
            f"{path.name[:28]:<28} {child['format']:<8} {mb:>6.2f} {bare:>10.1f} {speed:>12.1f} "
            f"{bare / speed:>11.1f}x {child['scenes']:>7}"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use a ~10 MB repeated file instead of ~100 MB")
    parser.add_argument("--no-formats", action="store_true", help="skip the per-corpus-file (per-format) rows")
    args = parser.parse_args()
    base = largest_corpus_file()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.no_formats:
            per_format(tmp)
            per_engine(tmp)
        for path in (base, repeated(base, 10 if args.quick else 100, tmp)):
            mb = path.stat().st_size / 1e6
            bare = min(bare_split(path) for _ in range(2))
            child = ingest_child(path, tmp)
            rows.append(
                {
                    "file": path.name,
                    "MB": mb,
                    "bare MB/s": mb / bare,
                    "ingest MB/s": mb / child["seconds"],
                    "ratio": (mb / bare) / (mb / child["seconds"]),
                    "scenes": child["scenes"],
                    "peak RSS MB": child["maxrss_mb"],
                }
            )
    header = f"{'file':<28} {'MB':>8} {'bare MB/s':>10} {'ingest MB/s':>12} {'bare/ingest':>12} {'scenes':>8} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['file']:<28} {r['MB']:>8.1f} {r['bare MB/s']:>10.1f} {r['ingest MB/s']:>12.1f} "
            f"{r['ratio']:>11.1f}x {r['scenes']:>8} {r['peak RSS MB']:>12.1f}"
        )
    growth = rows[1]["peak RSS MB"] / rows[0]["peak RSS MB"]
    size = rows[1]["MB"] / rows[0]["MB"]
    print(f"\nfile {size:.0f}x larger -> peak memory x{growth:.2f} (flat means close to 1)")
    print(f"ingest goal 20 MB/s: {'met' if rows[-1]['ingest MB/s'] >= 20 else 'NOT met'} ({rows[-1]['ingest MB/s']:.1f} MB/s)")


if __name__ == "__main__":
    main()
