"""Which INT8 plan for which backbone: accuracy drop and speed of several quantization plans of one model.

    python bench/int8_plans.py --model exported/mobilenet_v3 --bench data/lmdb/bench --calib data/lmdb/train

For every plan (the pipeline's own `quantize.plans` plus variants that quantize fewer convolutions or
calibrate differently): INT8 accuracy on every benchmark LMDB against fp32, the largest drop and whether it
passes the quantize stage's accuracy gate, and ms/image at batch 1 and 64 relative to fp32 (interleaved
rounds, --threads). Also the share of fp32 time per ONNX operator type (ONNX Runtime's profiler), which
bounds what quantizing some operators can gain. Writes reports/bench/int8_plans.json:
{"schema_version", "machine", "threads", "model", "fp32": {bench: accuracy}, "fp32_op_share": {op: share},
 "plans": [{"plan", "max_drop", "passes_accuracy_gate", "accuracy", "ratio_b1", "ratio_b64"}]}.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder


def op_share(onnx_path: Path, images, threads: int) -> dict[str, float]:
    """Fraction of node time per operator type over a few batch-64 runs (ONNX Runtime's profiler)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.enable_profiling = threads, True
    with tempfile.TemporaryDirectory(prefix="textrec-ortprof-") as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "prof")
        session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for _ in range(5):
            session.run(None, {name: images[:64]})
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node":
            per_op[e["args"].get("op_name", "?")] += e["dur"]
    total = sum(per_op.values()) or 1
    return {op: round(t / total, 3) for op, t in per_op.most_common()}


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "int8_plans")
    ap.add_argument("--model", required=True, type=Path, help="exported dir with model.onnx")
    ap.add_argument("--bench", required=True, type=Path, help="tree of benchmark LMDBs")
    ap.add_argument("--calib", required=True, type=Path, help="LMDB of calibration images (training data)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--params", default=str(REPO / "params.yaml"))
    args = ap.parse_args(argv)

    from textrec.config import load_params
    from textrec.config.pipeline import QuantPlan
    from textrec.data.lmdb_io import find_lmdbs
    from textrec.export.images import sample_lmdb
    from textrec.export.int8_check import compare_results, evaluate_benches, gate_failures
    from textrec.export.quantize import quantize_model
    from textrec.export.speed import time_engines
    from textrec.inference.engines import OnnxEngine

    bench = Bench.start()
    params = load_params(args.params)
    cfg, charset = params.quantize, params.charset.build()
    fp32_path = args.model / "model.onnx"
    benches = {p.name: p for p in find_lmdbs(args.bench)}
    if not fp32_path.is_file() or not benches:
        print(f"need {fp32_path} and benchmark LMDBs under {args.bench}", file=sys.stderr)
        return 2
    calib = sample_lmdb(args.calib, cfg.calibration_images, charset).images
    timing = sample_lmdb(next(iter(benches.values())), 64, charset).images
    variants = (QuantPlan("static_u8_entropy_dynamic_lstm", calibrate_method="entropy"),
                QuantPlan("static_u8_pointwise_dynamic_lstm", exclude_depthwise=True),
                QuantPlan("static_u8_pointwise_percentile_dynamic_lstm", exclude_depthwise=True,
                          calibrate_method="percentile"))
    fp32_results = evaluate_benches(OnnxEngine(fp32_path), benches, charset, params.eval.batch_size)
    rows = []
    with tempfile.TemporaryDirectory(prefix="textrec-int8-plans-") as tmp:
        for plan in (*cfg.plans, *variants):
            path = Path(tmp) / f"{plan.name}.onnx"
            quantize_model(fp32_path, path, calib if plan.static_op_types else None, plan,
                           cfg.calibration_batch_size)
            comparison = compare_results(fp32_results, evaluate_benches(OnnxEngine(path), benches, charset,
                                                                        params.eval.batch_size))
            t = {(x.engine, x.batch_size): x.ms_per_image for x in time_engines(
                {"onnx_fp32": OnnxEngine(fp32_path, args.threads), "onnx_int8": OnnxEngine(path, args.threads)},
                timing, (1, 64), cfg.timing_rounds)}
            accuracy_only = dataclasses.replace(cfg, require_faster=False)
            rows.append({"plan": dataclasses.asdict(plan), "max_drop": max(b.drop for b in comparison),
                         "passes_accuracy_gate": not gate_failures(comparison, [], accuracy_only),
                         "accuracy": {b.name: b.int8_accuracy for b in comparison},
                         "ratio_b1": t[("onnx_int8", 1)] / t[("onnx_fp32", 1)],
                         "ratio_b64": t[("onnx_int8", 64)] / t[("onnx_fp32", 64)]})
            r = rows[-1]
            gate = "pass" if r["passes_accuracy_gate"] else "FAIL"
            print(f"{plan.name:45s} max drop {r['max_drop']:.3f} gate {gate}  int8/fp32 {r['ratio_b1']:.2f} (b1) "
                  f"{r['ratio_b64']:.2f} (b64)", flush=True)
    report = {"threads": args.threads, "model": str(fp32_path), "fp32": {n: r.accuracy for n, r in fp32_results.items()},
              "fp32_op_share": op_share(fp32_path, timing, args.threads), "plans": rows}
    bench.write(args.out, report)
    print(f"fp32 time by operator: {report['fp32_op_share']}\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
