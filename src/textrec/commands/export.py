"""``textrec export``: checkpoint -> Paddle inference model + ONNX (+ INT8 ONNX), checked on real images."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_export(args: argparse.Namespace) -> int:
    from textrec.charset import Charset
    from textrec.config import load_params
    from textrec.config.model import ModelConfig
    from textrec.config.pipeline import ExportConfig, QuantizeConfig
    from textrec.export.bundle import INT8_NAME, export_bundle, verify_bundle
    from textrec.export.images import sample_lmdb

    charset = Charset.from_file(args.dict)
    params = load_params(args.params) if args.params else None
    ecfg = params.export if params else ExportConfig()
    qcfg = params.quantize if params else QuantizeConfig()
    shape = (params.model if params else ModelConfig()).image_shape  # the network's input, as the export stage
    if args.int8 and not args.calib:
        raise ValueError("--int8 needs --calib LMDB (training images for calibration)")

    bundle = export_bundle(args.model, args.out, charset, args.backbone, ecfg.opset, shape)
    print(f"{bundle.inference_dir}: inference.json + inference.pdiparams ({bundle.backbone})")
    print(f"{bundle.onnx}: ONNX opset {ecfg.opset}, dynamic batch and width")

    check_lmdb = args.check or args.calib
    failed = False
    if check_lmdb:
        sample = sample_lmdb(check_lmdb, ecfg.parity_images, charset, image_shape=shape)
        if not sample.keys:
            raise ValueError(f"{check_lmdb}: no usable image for the parity check ({sample.summary()})")
        reports = verify_bundle(bundle, sample.images, ecfg.parity_atol, args.threads, raise_on_failure=False)
        for r in reports:
            print(("ok    " if r.passed else "FAIL  ") + r.message())
        (Path(args.out) / "parity.json").write_text(json.dumps(
            {"images": sample.summary(), "reports": [r.as_dict() for r in reports]}, indent=2) + "\n")
        failed = not all(r.passed for r in reports)
    else:
        print("parity NOT checked: pass --check LMDB (real images) to compare ONNX and Paddle with the "
              "checkpoint", file=sys.stderr)

    if args.int8 and not failed:
        from textrec.export.quantize import quantize_model

        plans = {p.name: p for p in qcfg.plans}
        if args.plan and args.plan not in plans:
            raise ValueError(f"--plan {args.plan!r}: not one of the configured plans {sorted(plans)}")
        plan = plans[args.plan] if args.plan else qcfg.plans[0]
        calib = sample_lmdb(args.calib, qcfg.calibration_images, charset, image_shape=shape)
        res = quantize_model(bundle.onnx, Path(args.out) / INT8_NAME, calib.images, plan,
                             qcfg.calibration_batch_size)
        print(f"{res.path}: INT8 plan '{plan.name}' ({res.int8_bytes / 1e6:.2f} MB, fp32 "
              f"{res.fp32_bytes / 1e6:.2f} MB), calibrated on {len(calib.keys)} images of {args.calib} "
              "(no accuracy/speed gate here: the quantize stage runs those)")
    return 1 if failed else 0


def register(sub) -> None:
    from textrec.config import BACKBONES

    sp = sub.add_parser("export", help="export a checkpoint to a Paddle inference model and ONNX (+ INT8)")
    sp.add_argument("--model", required=True, help=".pdparams checkpoint (ours or PaddleOCR's)")
    sp.add_argument("--out", required=True, help="output directory")
    sp.add_argument("--backbone", choices=BACKBONES,
                    help="detected from the checkpoint when omitted")
    sp.add_argument("--dict", help="dictionary file (default: built-in 0-9a-z)")
    sp.add_argument("--check", help="LMDB of real images for the ONNX/Paddle parity check (default: --calib)")
    sp.add_argument("--int8", action="store_true", help="also write model_int8.onnx (needs --calib)")
    sp.add_argument("--calib", help="LMDB of training images for INT8 calibration")
    sp.add_argument("--plan", help="quantization plan name from quantize.plans (default: the first)")
    sp.add_argument("--params", help="params.yaml whose export/quantize sections to use (default: built-in)")
    sp.add_argument("--threads", type=int, default=None, help="CPU threads for the checks (default: all cores)")
    sp.set_defaults(func=cmd_export)
