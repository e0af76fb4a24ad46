"""DVC stage `quantize@<backbone>`: INT8 ONNX, calibrated on training images, gated on accuracy and speed.

Inputs: <paths.exported>/<bb>/model.onnx, <paths.lmdb>/train (calibration), <paths.lmdb>/bench/<name>.
Outputs: <paths.exported>/<bb>/model_int8.onnx and <paths.reports>/quantize/<bb>.json: "benchmarks"
(per-benchmark fp32 and INT8 ONNX accuracy) and "speed" (ms/image at batch 1 and 64) of the shipped model,
"passed", "failed_gates", and every plan tried under "attempts".
Gates (params `quantize`): accuracy drop <= max_accuracy_drop on every benchmark, INT8 faster than fp32 at
both batch sizes. The plans in `quantize.plans` are tried in order; the first that passes is shipped.
The JSON is written either way; when no plan passes the stage exits 1 naming the failed gates.
"""

from __future__ import annotations

import argparse
import sys

from textrec.artifacts import QuantizeSummary
from textrec.config import BACKBONES, to_dict
from textrec.export.images import sample_lmdb, sample_lmdbs
from textrec.export.int8_check import quantize_with_gates
from textrec.preflight import load_stage_params, require_writable
from textrec.progress import on_terminal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", required=True, choices=BACKBONES)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    params = load_stage_params("quantize", args.params)
    paths = params.paths
    fp32, int8, out = (paths.onnx_model(args.backbone), paths.onnx_model(args.backbone, "int8"),
                       QuantizeSummary.path(paths, args.backbone))
    require_writable("quantize", int8.parent, out.parent)
    cfg, charset = params.quantize, params.charset.build()
    benches = {b: paths.bench_lmdb(b) for b in params.eval.benchmarks}
    shape = params.model.image_shape
    calib = sample_lmdb(paths.split_lmdb("train"), cfg.calibration_images, charset, image_shape=shape)
    if not calib.keys:
        raise SystemExit(f"quantize: no usable calibration image in {paths.split_lmdb('train')} "
                         f"({calib.summary()})")
    # one round's images, the same crops for every engine
    timing = sample_lmdbs(list(benches.values()), max(cfg.timing_batch_sizes) // len(benches) + 1, charset, shape)
    chosen, attempts = quantize_with_gates(fp32, int8, calib.images, benches, timing.images, charset, cfg,
                                           params.eval.batch_size, shape, progress=on_terminal(args.no_progress))

    shipped = chosen or min(attempts, key=lambda a: len(a.failures))
    QuantizeSummary(
        backbone=args.backbone, passed=chosen is not None, plan=shipped.plan.name,
        failed_gates=shipped.failures, max_accuracy_drop=shipped.as_dict()["max_accuracy_drop"],
        fp32_bytes=shipped.quantized.fp32_bytes, int8_bytes=shipped.quantized.int8_bytes,
        calibration=calib.summary(), timing_images=len(timing.keys), config=to_dict(cfg),
        # the shipped model's numbers at the top level (what tracking and the report read)
        benchmarks=[b.artifact() for b in shipped.benches], speed=[t.artifact() for t in shipped.timings],
        op_counts=shipped.quantized.op_counts, attempts=[a.as_dict() for a in attempts]).write(out)
    for a in attempts:
        print(f"plan {a.plan.name}: {'PASSED' if not a.failures else 'failed'}")
        for f in a.failures:
            print(f"  gate failed: {f}")
        for b in a.benches:
            print(f"  {b.name}: fp32 {b.fp32_accuracy:.4f}  int8 {b.int8_accuracy:.4f}  (n={b.count})")
        for t in a.timings:
            print(f"  {t.engine} batch {t.batch_size}: {t.ms_per_image:.3f} ms/image "
                  f"[{t.min_ms:.3f}, {t.max_ms:.3f}]")
    if chosen is None:
        failed = [f"plan '{a.plan.name}': {f}" for a in attempts for f in a.failures]
        print(f"quantize@{args.backbone}: no plan passed the gates; failed gate(s):\n  " + "\n  ".join(failed),
              file=sys.stderr)
        return 1
    print(f"quantize@{args.backbone}: shipped plan '{chosen.plan.name}' -> {int8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
