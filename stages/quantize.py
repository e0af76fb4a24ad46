"""DVC stage `quantize@<backbone>`: INT8 ONNX, calibrated on training images, gated on accuracy and speed.

Inputs: <paths.exported>/<bb>/model.onnx, <paths.lmdb>/train (calibration), <paths.lmdb>/bench/<name>.
Outputs: <paths.exported>/<bb>/model_int8.onnx and <paths.reports>/quantize/<bb>.json (per-benchmark
accuracy of fp32 and INT8 ONNX, ms/image at batch 1 and 64, gate results). Gates (params `quantize`):
accuracy drop <= max_accuracy_drop on every benchmark, INT8 faster than fp32 at both batch sizes.
The JSON is written either way; a failed gate exits 1 naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from textrec.config import BACKBONES, load_params, to_dict
from textrec.export.bundle import INT8_NAME, ONNX_NAME
from textrec.export.images import sample_lmdb, sample_lmdbs
from textrec.export.int8_check import compare_accuracy, gate_failures
from textrec.export.quantize import quantize_model
from textrec.export.speed import time_engines
from textrec.inference.engines import OnnxEngine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", required=True, choices=BACKBONES)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args(argv)

    params = load_params(args.params)
    cfg, charset = params.quantize, params.charset.build()
    model_dir, lmdb = Path(params.paths.exported) / args.backbone, Path(params.paths.lmdb)
    calib = sample_lmdb(lmdb / "train", cfg.calibration_images)
    result = quantize_model(model_dir / ONNX_NAME, model_dir / INT8_NAME, calib.images, cfg)

    fp32 = OnnxEngine(model_dir / ONNX_NAME, cfg.timing_threads)
    int8 = OnnxEngine(model_dir / INT8_NAME, cfg.timing_threads)
    benches = {b: lmdb / "bench" / b for b in params.eval.benchmarks}
    accuracy = compare_accuracy(fp32, int8, benches, charset, params.eval.batch_size)
    timing_images = sample_lmdbs(list(benches.values()), max(1, 64 // len(benches) + 1)).images
    timings = time_engines({"onnx_fp32": fp32, "onnx_int8": int8}, timing_images, (1, 64), cfg.timing_rounds)
    failures = gate_failures(accuracy, timings, cfg)

    metrics = {"backbone": args.backbone, "passed": not failures, "failed_gates": failures,
               "max_accuracy_drop": max(b.drop for b in accuracy), "config": to_dict(cfg),
               "calibration": calib.summary(), "fp32_bytes": result.fp32_bytes, "int8_bytes": result.int8_bytes,
               "op_counts": result.op_counts, "benchmarks": [b.as_dict() for b in accuracy],
               "speed": [t.as_dict() for t in timings]}
    out = Path(params.paths.reports) / "quantize" / f"{args.backbone}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2) + "\n")
    for b in accuracy:
        print(f"{b.name}: fp32 {b.fp32_accuracy:.4f}  int8 {b.int8_accuracy:.4f}  (n={b.count})")
    for t in timings:
        print(f"{t.engine} batch {t.batch_size}: {t.ms_per_image:.3f} ms/image [{t.min_ms:.3f}, {t.max_ms:.3f}]")
    if failures:
        print(f"quantize@{args.backbone}: {len(failures)} gate(s) failed:\n  " + "\n  ".join(failures),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
