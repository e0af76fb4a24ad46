"""DVC stage `calibrate@<backbone>`: fit the trained model's word-confidence calibration on the validation set.

Every method of ``textrec.calibration`` is measured by cross-validated ECE on the validation words; the one
``calibration.method`` names (auto: the lowest) is refitted on all of them and written beside the exported
model (<exported>/<backbone>/calibration.json: the Recognizer, `textrec predict`, the MLflow model and
`textrec bundle` take it from there). <reports>/calibration/<backbone>.json records the comparison and the
validation words' ECE before and after, with the auto-accept threshold at calibration.target_precision.
"""

from __future__ import annotations

import argparse
import os

from textrec.artifacts import CalibrationMeasure, CalibrationReport
from textrec.config import BACKBONES
from textrec.evaluation.calibrate import fit_on_lmdb
from textrec.hashing import sha256_file
from textrec.inference.engines import load_engine
from textrec.preflight import load_stage_params, require_writable
from textrec.progress import on_terminal
from textrec.runtime import configure_runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backbone", required=True, choices=BACKBONES)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()

    params = load_stage_params("calibrate", args.params)
    out, report = params.paths.calibration(args.backbone), CalibrationReport.path(params.paths, args.backbone)
    require_writable("calibrate", out.parent, report.parent)
    configure_runtime("cpu", threads=os.cpu_count())
    charset, cfg = params.charset.build(), params.calibration
    checkpoint, val = params.paths.checkpoint(args.backbone), params.paths.split_lmdb("val")
    engine = load_engine(checkpoint, charset.num_classes, args.backbone)
    try:
        cal, scored = fit_on_lmdb(engine, val, charset, cfg,
                                  {"data": f"validation set ({params.data.source})", "path": str(val),
                                   "checkpoint_sha256": sha256_file(checkpoint)},
                                  params.eval.batch_size, params.model.image_shape, on_terminal(args.no_progress))
    except ValueError as e:
        raise SystemExit(f"calibrate: error: {e}") from None
    cal.save(out)
    validation = CalibrationMeasure(**scored.calibration(cfg.bins, cfg.target_precision))
    CalibrationReport(backbone=args.backbone, method=cal.method, parameters=cal.parameters, selection=cal.selection,
                      validation=validation).write(report)
    print(f"{args.backbone}: calibration {cal.describe()} on {scored.count} validation words: ECE "
          f"{validation.ece_before:.4f} -> {validation.ece_after:.4f} (cross-validated: "
          + ", ".join(f"{m} {v:.4f}" for m, v in cal.selection["cv_ece"].items()) + ")")


if __name__ == "__main__":
    main()
