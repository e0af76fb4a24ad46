"""Benchmark the synthetic renderer end to end (render + encode + LMDB write) on the training profile.

    python bench/synth.py [--images 3000] [--processes 2] [--out reports/bench/synth.json]

Writes ``{"images_per_second", "processes", "fonts", ...}`` with the machine record (bench/harness.py: the
load average around the run). The machine is shared, so the report also gives the CPU time per image;
``cpu_bound_images_per_second`` (processes / CPU seconds per image) is what the same run would reach with the
cores to itself.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from harness import Bench, parser  # bench/, on sys.path as the script's folder

from textrec.config import SynthConfig
from textrec.data.synth.generate import write_lmdb
from textrec.data.synth.profiles import TRAIN
from textrec.data.synth.suite import make_context


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "synth")
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args(argv)

    ctx = make_context(SynthConfig())
    bench = Bench.start()
    cpu0 = _cpu_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        st = write_lmdb(Path(tmp) / "bench", "bench", ctx, TRAIN, seed=0, n=args.images,
                        processes=args.processes)
    cpu_per_image = (_cpu_seconds() - cpu0) / max(st.count, 1)
    report = {
        "images_per_second": round(st.images_per_second, 1),
        "processes": args.processes,
        "fonts": len(ctx.faces),
        "images": st.count,
        "seconds": round(st.seconds, 2),
        "cpu_ms_per_image": round(1000 * cpu_per_image, 2),
        "cpu_bound_images_per_second": round(args.processes / cpu_per_image, 1),
        "mean_bytes_per_image": round(st.bytes / max(st.count, 1), 1),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(json.dumps(bench.write(args.out, report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
