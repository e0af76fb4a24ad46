"""Benchmark the synthetic renderer end to end (render + encode + LMDB write) on the training profile.

    python bench/synth.py [--images 3000] [--processes 2] [--out reports/bench/synth.json]

Writes ``{"images_per_second", "processes", "fonts", ...}``. The machine is shared, so the report also gives
the load average around the run and the CPU time per image; ``cpu_bound_images_per_second`` (processes /
CPU seconds per image) is what the same run would reach with the cores to itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from textrec.config import SynthConfig
from textrec.data.synth.generate import write_lmdb
from textrec.data.synth.profiles import TRAIN
from textrec.data.synth.suite import make_context
from textrec.machine import cpu_model


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--out", default="reports/bench/synth.json")
    args = ap.parse_args(argv)

    ctx = make_context(SynthConfig())
    load_before = os.getloadavg()
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
        "machine": {"cpu_model": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
