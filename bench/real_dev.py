"""Transfer to real photos: accuracy of a synthetic-trained model on real word crops (DTRB protocol).

Converts each `<dir>/labels.tsv` folder under --data (default ../shared/data/real-dev: IIIT5K train,
IC15 train) with the project's own converter into a temporary LMDB tree, evaluates --model on it and on
the synthetic benchmark suite under --synthetic (if given), and writes both to the JSON. The real images
never enter the repository or the pipeline; this script only reads them.

    .venv/bin/python bench/real_dev.py --model models/mobilenet_v3/best.pdparams --synthetic data/lmdb/bench
    # -> reports/bench/real_dev.json {"model", "real": {...}, "synthetic": {...}}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from textrec.config import BACKBONES
from textrec.machine import cpu_model

REPO = Path(__file__).resolve().parents[1]


def convert_real(data: Path, out: Path, charset, processes: int) -> dict[str, dict]:
    """One LMDB per label-file folder under ``data``; returns the rejection counts per folder."""
    from textrec.data.convert import convert_samples, samples_from_label_file

    report = {}
    for folder in sorted(p.parent for p in data.glob("*/labels.tsv")):
        res = convert_samples(samples_from_label_file(folder / "labels.tsv", "tsv"), out / folder.name,
                              out / f"{folder.name}.parquet", out / f"{folder.name}.rejections.json", charset,
                              processes=processes, description=folder.name)
        report[folder.name] = {"samples": res.samples, "accepted": res.written, "rejected": res.counts}
    if not report:
        raise SystemExit(f"{data}: no <folder>/labels.tsv found")
    return report


def evaluate(engine, charset, root: Path) -> dict:
    from textrec.evaluation.evaluate import evaluate_tree, summarize

    return summarize(evaluate_tree(engine, root, charset))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path, help=".pdparams, inference directory or .onnx")
    ap.add_argument("--backbone", default=None, choices=BACKBONES)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "real-dev")
    ap.add_argument("--synthetic", type=Path, default=None, help="the synthetic benchmark tree (data/lmdb/bench)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "bench" / "real_dev.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: real development data not found", file=sys.stderr)
        return 2
    from textrec.charset import Charset
    from textrec.inference.engines import load_engine
    from textrec.runtime import configure_runtime

    configure_runtime("cpu", threads=os.cpu_count())  # before paddle's first computation, as the stages do
    charset = Charset.from_file()
    engine = load_engine(args.model, charset.num_classes, args.backbone)  # loaded once for both sets
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="textrec-real-dev-") as tmp:
        conversion = convert_real(args.data, Path(tmp), charset, args.processes)
        real = evaluate(engine, charset, Path(tmp))
    result = {"machine": {"cpu": cpu_model(), "python": platform.python_version()},
              "model": str(args.model), "protocol": "DTRB: case-insensitive, 0-9a-z only",
              "conversion": conversion, "real": real,
              "synthetic": evaluate(engine, charset, args.synthetic) if args.synthetic else None,
              "seconds": round(time.perf_counter() - t0, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, part in (("real", real), ("synthetic", result["synthetic"])):
        if part:
            rows = ", ".join(f"{d['name']} {d['accuracy']:.3f} (n={d['count']})" for d in part["datasets"])
            print(f"{name}: weighted {part['weighted_accuracy']:.4f}, mean {part['mean_accuracy']:.4f}: {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
