"""``textrec predict`` and ``textrec evaluate``."""

from __future__ import annotations

import argparse
import json
import sys


def _recognizer(args: argparse.Namespace):
    """The model of ``--model`` (default: the bundled ONNX file) as the Python API loads it, with the runtime
    settings of the stages for an eager ``.pdparams`` model (an ONNX model does not import paddle)."""
    from textrec.inference.recognizer import Recognizer

    return Recognizer(args.model, dictionary=args.dict, backbone=args.backbone, threads=args.threads,
                      batch_size=args.batch_size, calibration=getattr(args, "calibration", None))


def cmd_predict(args: argparse.Namespace) -> int:
    from textrec.inference.predict import list_images
    from textrec.progress import on_terminal

    paths = list_images(args.path)  # a folder without images fails here (exit 2), before the model loads
    rec = _recognizer(args)
    if args.log:
        rec.enable_log(args.log, source="cli")
    results = rec.predict_files(paths, progress=len(paths) > 1 and on_terminal(args.no_progress))
    failed = 0
    for r in results:
        failed += r.error is not None
        if args.json:  # one object a line, errors in order with the rest
            row = {"path": str(r.path), "error": r.error} if r.error else {
                "path": str(r.path), "text": r.text, "confidence": r.confidence}
            print(json.dumps(row))
        elif r.error:
            print(f"{r.path}\tERROR: {r.error}", file=sys.stderr)
        else:
            print(f"{r.path}\t{r.text}\t{r.confidence:.6f}")
    if failed:
        print(f"{failed} of {len(results)} image(s) could not be read (listed above)", file=sys.stderr)
    if rec.log is not None:
        _close_log(rec.log)
    return 1 if failed else 0


def _close_log(log) -> None:
    """Write what is queued; predictions that could not be logged are reported, not an error."""
    log.close()
    if lost := sum(log.stats()["failed"].values()):
        print(f"prediction log {log.path}: {lost} prediction(s) could not be logged "
              f"({log.stats()['failed']})", file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from textrec.evaluation.evaluate import evaluate_tree, results_table, write_results
    from textrec.progress import on_terminal

    rec = _recognizer(args)
    results = evaluate_tree(rec.engine, args.data, rec.charset, args.batch_size,
                            progress=on_terminal(args.no_progress))
    print(results_table(results).to_markdown(index=False, floatfmt=".4f"))
    for r in results:
        if r.skipped:
            print(f"{r.name}: skipped {dict(r.skipped)}", file=sys.stderr)
    if args.out:
        write_results(results, args.out)
    return 0


def _model_args(sp: argparse.ArgumentParser) -> None:
    from textrec.config import BACKBONES

    sp.add_argument("--model", default=None,
                    help=".pdparams checkpoint (ours or PaddleOCR's), exported inference dir, .onnx, or the "
                         "model shipped in the package: bundled (ONNX fp32, the default), bundled:int8, "
                         "bundled:pdparams (needs paddle)")
    sp.add_argument("--backbone", choices=BACKBONES,
                    help="for .pdparams; detected from the checkpoint when omitted")
    sp.add_argument("--dict", help="dictionary file (default: a bundled model's own, else built-in 0-9a-z)")
    sp.add_argument("--batch-size", type=int, default=32)
    sp.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar (there is none off a terminal)")


def register(sub) -> None:
    sp = sub.add_parser("predict", help="recognise the text in an image or a folder of images")
    sp.add_argument("path")
    sp.add_argument("--json", action="store_true",
                    help='one JSON object per image: {"path", "text", "confidence"} or {"path", "error"}')
    sp.add_argument("--log", metavar="DB", help="also log each prediction to this SQLite prediction log "
                    "(textrec monitor and textrec select read it)")
    sp.add_argument("--calibration", metavar="FILE",
                    help="confidence calibration to apply (default: the model's own, beside it; "
                         "`textrec calibrate` fits one)")
    _model_args(sp)
    sp.set_defaults(func=cmd_predict)

    sp = sub.add_parser("evaluate", help="accuracy per dataset on an LMDB or a tree of LMDBs")
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", help="write the JSON summary here (plus .csv and .md tables beside it)")
    _model_args(sp)
    sp.set_defaults(func=cmd_evaluate)
