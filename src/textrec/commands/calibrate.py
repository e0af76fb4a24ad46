"""``textrec calibrate --data LABELLED``: fit a model's confidence calibration on your own labelled crops.

    textrec calibrate --model exported/mobilenet_v3/model.onnx --data data/own/val     # an LMDB
    textrec calibrate --data crops/labels.tsv --out my.calibration.json                 # the bundled model
    textrec predict photo.png --calibration my.calibration.json

The crops are read as ``textrec convert`` reads them (an LMDB, a PaddleOCR label file, a folder with
labels.tsv, ICDAR gt) and scored on the DTRB protocol; every method of ``textrec.calibration`` is measured
by cross-validated ECE and the lowest (or --method) is refitted on all of them. The file goes beside the
model (``<stem>.calibration.json``, where Recognizer and ``textrec predict`` find it) unless --out is given;
the bundled model's folder is the installed package's, so a bundled model needs --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from textrec.commands.convert import FORMATS


def _as_lmdb(data: str, fmt: str | None, work: Path, processes: int) -> Path:
    """``data`` itself when it is an LMDB, else its crops converted into ``work`` (the DTRB filter: a label
    must keep a character of 0-9a-z, as the evaluation reads it)."""
    from textrec.charset import Charset
    from textrec.data.sources import convert_sources, detect_format

    fmt = fmt or detect_format(data)
    if fmt == "lmdb" and (Path(data) / "data.mdb").is_file():
        return Path(data)
    res = convert_sources([(data, fmt, None)], work / "lmdb", Charset.from_file(), processes=processes)
    if res.written == 0:
        raise ValueError(f"no usable labelled crop in {data} (see `textrec convert {data} --out DIR`)")
    return work / "lmdb"


def default_out(model_arg: str | None, model: Path) -> Path:
    """Where the Recognizer looks for ``model``'s calibration (``textrec.calibration.calibration_beside``)."""
    from textrec.calibration import FILE_NAME, SIDECAR
    from textrec.inference.bundled import bundled_variant

    if bundled_variant(model_arg) is not None:
        raise ValueError("the bundled model's folder is the installed package: pass --out FILE, then use it "
                         "with `textrec predict --calibration FILE` or Recognizer(calibration=FILE)")
    if model.is_dir():
        return model / FILE_NAME
    return model.with_name(model.name.removesuffix(model.suffix) + SIDECAR)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from textrec.config import build
    from textrec.config.calibration import CalibrationConfig
    from textrec.evaluation.calibrate import fit_on_lmdb
    from textrec.inference.recognizer import Recognizer
    from textrec.progress import on_terminal

    cfg = build(CalibrationConfig, {"method": args.method, "target_precision": args.target_precision,
                                    "bins": args.bins, "folds": args.folds}, "calibrate")  # ranges checked
    rec = Recognizer(args.model, dictionary=args.dict, backbone=args.backbone, threads=args.threads,
                     batch_size=args.batch_size, calibration=False)
    out = Path(args.out) if args.out else default_out(args.model, rec.model)
    with tempfile.TemporaryDirectory(prefix="textrec-calibrate-") as tmp:
        lmdb = _as_lmdb(args.data, args.format, Path(tmp), args.processes)
        cal, scored = fit_on_lmdb(rec.engine, lmdb, rec.charset, cfg, {"data": str(args.data),
                                                                        "model": str(rec.model)},
                                  args.batch_size, progress=on_terminal(args.no_progress))
    cal.save(out)
    v = scored.calibration(cfg.bins, cfg.target_precision)
    tried = ", ".join(f"{m} {e:.4f}" for m, e in cal.selection["cv_ece"].items())
    accept = (f"confidence >= {v['threshold']:.4f} covers {v['coverage']:.1%} of the words"
              if v["threshold"] is not None else "no threshold reaches it on these words")
    print(f"{out}: {cal.describe()}, fitted on {scored.count} words ({scored.accuracy:.1%} read right)")
    print(f"  ECE {v['ece_before']:.4f} uncalibrated; cross-validated after: {tried}")
    print(f"  auto-accept at {cfg.target_precision:.0%} precision: {accept}")
    if scored.rejected:
        print(f"  not scored: {dict(scored.rejected)}", file=sys.stderr)
    return 0


def register(sub) -> None:
    from typing import get_args

    from textrec.commands.recognize import _model_args
    from textrec.config.calibration import CalibrationMethod

    sp = sub.add_parser("calibrate", help="fit a model's confidence calibration on your own labelled crops",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("--data", required=True, help="labelled crops: an LMDB, a label file, a folder with labels.tsv")
    sp.add_argument("--format", choices=FORMATS, default=None, help="as `textrec convert` (default: detected)")
    sp.add_argument("--out", default=None, help="the calibration file (default: beside the model)")
    sp.add_argument("--method", default="auto", choices=get_args(CalibrationMethod),
                    help="default auto: the lowest cross-validated ECE")
    sp.add_argument("--target-precision", type=float, default=0.99, help="of the auto-accept threshold shown")
    sp.add_argument("--bins", type=int, default=15,
                    help="equal-width bins of the ECE, the reliability diagram and histogram binning (default: %(default)s)")
    sp.add_argument("--folds", type=int, default=5,
                    help="cross-validation folds of the method choice (default: %(default)s)")
    sp.add_argument("--processes", type=int, default=2, help="for converting a label file")
    _model_args(sp)
    sp.set_defaults(func=cmd_calibrate)
