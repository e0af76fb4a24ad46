"""DVC stage `export@<backbone>`: best checkpoint -> Paddle inference model + ONNX, checked on real images.

Inputs: <paths.models>/<bb>/best.pdparams, benchmark LMDBs <paths.lmdb>/bench/<name> (eval.benchmarks).
Outputs: <paths.exported>/<bb>/{inference.json, inference.pdiparams, model.onnx} and the metrics
<paths.reports>/export/<bb>.json (max abs diff of Paddle Inference and ONNX vs the eager checkpoint).
Fails (exit 1) when a difference exceeds export.parity_atol; the JSON is written either way.
"""

from __future__ import annotations

import argparse
import os
import sys

from textrec.artifacts import ExportParity
from textrec.config import BACKBONES
from textrec.export.bundle import export_bundle, verify_bundle
from textrec.export.images import sample_lmdbs
from textrec.preflight import load_stage_params, require_writable
from textrec.runtime import configure_runtime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", required=True, choices=BACKBONES)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args(argv)

    params = load_stage_params("export", args.params)
    out_dir, out = params.paths.export_dir(args.backbone), ExportParity.path(params.paths, args.backbone)
    require_writable("export", out_dir, out.parent)
    configure_runtime("cpu", threads=os.cpu_count())  # the stage has the machine to itself (dvc runs one)
    cfg, charset = params.export, params.charset.build()
    benches = [params.paths.bench_lmdb(b) for b in params.eval.benchmarks]
    sample = sample_lmdbs(benches, cfg.parity_images, charset, params.model.image_shape)
    if not sample.keys:
        raise SystemExit(f"export: no usable image in {benches} for the parity check ({sample.summary()})")

    bundle = export_bundle(params.paths.checkpoint(args.backbone), out_dir, charset,
                           args.backbone, cfg.opset, params.model.image_shape)
    reports = verify_bundle(bundle, sample.images, cfg.parity_atol, raise_on_failure=False)
    passed = all(r.passed for r in reports)
    ExportParity(backbone=args.backbone, atol=cfg.parity_atol, passed=passed,
                 max_abs_diff=max(r.max_abs_diff for r in reports),
                 onnx_max_abs_diff=next(r.max_abs_diff for r in reports if r.candidate == "onnx"),
                 images=sample.summary() | {"rejected_keys": sample.rejected},
                 files={p.name: p.stat().st_size for p in sorted(out_dir.iterdir()) if p.is_file()},
                 parity=[r.as_dict() for r in reports]).write(out)
    for r in reports:
        print(("ok    " if r.passed else "FAIL  ") + r.message())
    if not passed:
        print(f"export@{args.backbone}: parity gate failed (export.parity_atol = {cfg.parity_atol}); see {out}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
