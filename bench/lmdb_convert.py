"""Benchmark: conversion of an image folder + label file into an LMDB (the MJSynth path).

Generates word crops like MJSynth's (height 32, width 60-200, JPEG) in a temporary directory, then converts
growing prefixes of the label file, each in a fresh process, and records throughput and peak RSS (main
process and pool workers). Flat memory shows as the same peak RSS for every size.

    .venv/bin/python bench/lmdb_convert.py                       # -> reports/bench/lmdb_convert.json
    .venv/bin/python bench/lmdb_convert.py --sizes 2000 --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Bench, parser  # bench/, on sys.path as the script's folder


def generate(root: Path, n: int, seed: int = 0) -> Path:
    import cv2
    import numpy as np

    rng = random.Random(seed)
    (root / "images").mkdir(parents=True)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    lines = []
    for i in range(n):
        word = "".join(rng.choice(letters) for _ in range(rng.randint(3, 12)))
        w = rng.randint(60, 200)
        img = np.full((32, w, 3), rng.randint(150, 255), np.uint8)
        cv2.putText(img, word, (2, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (rng.randint(0, 90),) * 3, 1)
        name = f"images/{i:07d}.jpg"
        (root / name).write_bytes(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
        lines.append(f"{name}\t{word.upper() if i % 3 == 0 else word}")
    (root / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "labels.tsv"


def run_one(labels: Path, out: Path, processes: int, chunk_size: int) -> dict:
    """Convert ``labels`` (in this process) and measure; one-off imports are timed separately."""
    start = time.perf_counter()
    import cv2  # noqa: F401
    import lmdb  # noqa: F401
    import pandas  # noqa: F401  (pyarrow imports it on the first string array: seconds on a busy machine)
    import pyarrow.parquet  # noqa: F401

    from textrec.charset import Charset
    from textrec.data.convert import convert_samples, samples_from_label_file

    imported = time.perf_counter()
    r = convert_samples(samples_from_label_file(labels, "tsv"), out / "lmdb", out / "manifest.parquet",
                        out / "rejections.json", Charset.from_file(), processes=processes, chunk_size=chunk_size)
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Resident memory now, split into anonymous (heap: would grow with a leak) and file-backed (LMDB mmap
    # pages the kernel can drop).
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    anon_mb, file_mb = (int(status[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile"))
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"import_seconds": round(imported - start, 3), "images": r.samples, "written": r.written,
            "seconds": round(r.seconds, 3),
            "images_per_second": round(r.images_per_second, 1), "peak_rss_mb": round(max(main_mb, workers_mb), 1),
            "peak_rss_main_mb": round(main_mb, 1), "peak_rss_worker_mb": round(workers_mb, 1),
            "rss_anon_end_mb": round(anon_mb, 1), "rss_file_end_mb": round(file_mb, 1),
            "lmdb_mb": round(sum(p.stat().st_size for p in (out / "lmdb").iterdir()) / 2**20, 1)}


def main() -> None:
    ap = parser(__doc__, "lmdb_convert")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 80_000])
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=256)
    ap.add_argument("--one", nargs=2, metavar=("LABELS", "OUTDIR"), help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), Path(args.one[1]), args.processes, args.chunk_size)))
        return
    bench = Bench.start()
    with tempfile.TemporaryDirectory(prefix="bench_lmdb_") as tmp:
        root = Path(tmp)
        all_lines = generate(root / "src", max(args.sizes)).read_text(encoding="utf-8").splitlines(keepends=True)
        runs = []
        for n in sorted(args.sizes):
            labels = root / "src" / f"labels_{n}.tsv"
            labels.write_text("".join(all_lines[:n]), encoding="utf-8")
            cmd = [sys.executable, __file__, "--one", str(labels), str(root / f"out_{n}"),
                   "--processes", str(args.processes), "--chunk-size", str(args.chunk_size)]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            print(f"{n} images: {res['images_per_second']:.0f} img/s, peak RSS {res['peak_rss_mb']} MB", flush=True)
            runs.append(res)
    best = runs[-1]
    report = {"images": best["images"], "images_per_second": best["images_per_second"],
              "peak_rss_mb": best["peak_rss_mb"], "processes": args.processes, "chunk_size": args.chunk_size,
              "input": "generated JPEG word crops, 32 px high, 60-200 px wide", "runs": runs}
    bench.write(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
