"""CPU inference speed: Paddle Inference (oneDNN) vs ONNX Runtime fp32 vs ONNX Runtime INT8, both backbones.

    python bench/inference.py              # exports the parity kit's checkpoints into a tmp dir
    python bench/inference.py --model mobilenet_v3=exported/mobilenet_v3 --model resnet34_vd=exported/resnet34_vd

Every engine gets the same preprocessed images (``textrec.preprocess``): by default the parity kit's 24
images cycled to fill the batches, or the images of ``--data LMDB``. Reported: ms/image at batch 1 and 64,
median over interleaved rounds (warm-up excluded), with min/max to show the noise of a shared machine.
Writes reports/bench/inference.json:
{"schema_version", "machine": {...}, "threads", "results": [{engine, backbone, batch_size, ms_per_image, ...}],
 "goals": [...]}.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder

KIT = REPO.parent / "shared" / "reference" / "paddleocr-parity"
KIT_CHECKPOINTS = {"mobilenet_v3": KIT / "mv3" / "best_accuracy.pdparams",
                   "resnet34_vd": KIT / "r34" / "r34_init.pdparams"}
# PaddleOCR's own numbers on this kind of machine (predict_rec, 2 threads, oneDNN; ONNX Runtime), ms/image
REFERENCE = {("paddle", "mobilenet_v3", 1): 10.6, ("paddle", "mobilenet_v3", 64): 2.4,
             ("paddle", "resnet34_vd", 1): 57.0, ("paddle", "resnet34_vd", 64): 37.0,
             ("onnx_fp32", "mobilenet_v3", 1): 1.9, ("onnx_fp32", "mobilenet_v3", 64): 1.5,
             ("onnx_fp32", "resnet34_vd", 1): 36.0, ("onnx_fp32", "resnet34_vd", 64): 35.0}


def load_images(data: str | None, limit: int) -> tuple[np.ndarray, str]:
    from textrec.charset import Charset
    from textrec.export.images import sample_lmdb
    from textrec.preprocess import preprocess_batch

    if data:
        s = sample_lmdb(data, limit, Charset.from_file())  # the records training would use
        return s.images, f"{data} ({len(s.keys)} images)"
    if not (KIT / "labels.tsv").exists():
        raise SystemExit(f"no --data given and the parity kit is missing at {KIT}")
    rels = [line.split("\t", 1)[0] for line in (KIT / "labels.tsv").read_text().splitlines()]
    return preprocess_batch([(KIT / r).read_bytes() for r in rels]), f"parity kit ({len(rels)} images)"


def export_kit(backbone: str, out: Path, calib: np.ndarray) -> Path:
    """Export a kit checkpoint (+ INT8 calibrated on ``calib``) into ``out``."""
    from textrec.charset import Charset
    from textrec.config.pipeline import QuantizeConfig
    from textrec.export.bundle import INT8_NAME, export_bundle
    from textrec.export.quantize import quantize_model

    b = export_bundle(KIT_CHECKPOINTS[backbone], out, Charset.from_file(), backbone)  # type: ignore[arg-type]
    quantize_model(b.onnx, out / INT8_NAME, calib, QuantizeConfig().plans[0])
    return out


GOALS = {("onnx_fp32", "paddle"): 0.7, ("onnx_int8", "onnx_fp32"): 0.5}


def goal_ratios(results: list[dict]) -> list[dict]:
    """ms/image ratios the project aims for: ONNX fp32 / Paddle Inference and INT8 / ONNX fp32."""
    ms = {(r["engine"], r["backbone"], r["batch_size"]): r["ms_per_image"] for r in results}
    out = []
    for (num, den), goal in GOALS.items():
        for (eng, bb, bs), v in ms.items():
            if eng == num and (den, bb, bs) in ms:
                ratio = v / ms[(den, bb, bs)]
                out.append({"backbone": bb, "batch_size": bs, "ratio": f"{num}/{den}", "value": ratio,
                            "goal": goal, "met": ratio <= goal})
    return out


def main() -> None:
    ap = parser(__doc__, "inference")
    ap.add_argument("--model", action="append", default=[], metavar="BACKBONE=DIR",
                    help="exported dir with inference.json, model.onnx, model_int8.onnx (repeatable)")
    ap.add_argument("--data", help="LMDB of images to time (default: the parity kit's 24 images)")
    ap.add_argument("--calib", help="LMDB of calibration images when exporting the kit (default: timed images)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--engines", nargs="+", default=["paddle", "onnx_fp32", "onnx_int8"],
                    choices=["paddle", "onnx_fp32", "onnx_int8"])
    args = ap.parse_args()

    from textrec.export.bundle import INT8_NAME, ONNX_NAME
    from textrec.export.speed import time_engines
    from textrec.inference.engines import OnnxEngine, PaddleInferenceEngine

    bench = Bench.start()
    images, source = load_images(args.data, 256)
    models = dict(m.split("=", 1) for m in args.model)
    tmp = tempfile.TemporaryDirectory(prefix="textrec-bench-")
    if not models:
        calib = load_images(args.calib, 256)[0] if args.calib else images
        models = {bb: str(export_kit(bb, Path(tmp.name) / bb, calib)) for bb in KIT_CHECKPOINTS}
    results = []
    for backbone, d in models.items():
        d = Path(d)
        make = {"paddle": lambda d=d: PaddleInferenceEngine(d, args.threads),
                "onnx_fp32": lambda d=d: OnnxEngine(d / ONNX_NAME, args.threads),
                "onnx_int8": lambda d=d: OnnxEngine(d / INT8_NAME, args.threads)}
        engines = {name: make[name]() for name in args.engines}
        for t in time_engines(engines, images, tuple(args.batch_sizes), args.rounds, images_per_round=64):
            ref = REFERENCE.get((t.engine, backbone, t.batch_size))
            results.append({"backbone": backbone, **t.as_dict(), "paddleocr_reference_ms": ref})
            print(f"{backbone:13s} {t.engine:10s} batch {t.batch_size:3d}: {t.ms_per_image:8.3f} ms/image "
                  f"[{t.min_ms:.3f}, {t.max_ms:.3f}] cpu {t.cpu_ms_per_image:.3f}"
                  + (f"  (PaddleOCR reference {ref})" if ref else ""), flush=True)
        del engines
    tmp.cleanup()
    ratios = goal_ratios(results)
    for r in ratios:
        print(f"{r['backbone']:13s} batch {r['batch_size']:3d}: {r['ratio']:24s} {r['value']:.2f} "
              f"(goal <= {r['goal']}) {'met' if r['met'] else 'NOT met'}")
    report = {"threads": args.threads, "images": source, "rounds": args.rounds, "results": results, "goals": ratios}
    bench.write(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
