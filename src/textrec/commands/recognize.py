"""``textrec predict`` and ``textrec evaluate``."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from pathlib import Path
from typing import IO

# --out FILE: the format is the file's extension; .tsv and .csv have a header row of these columns
OUT_FORMATS = (".tsv", ".jsonl", ".csv")
OUT_COLUMNS = ("path", "text", "confidence", "error")


def _recognizer(args: argparse.Namespace):
    """The model of ``--model`` (default: the bundled ONNX file) as the Python API loads it, with the runtime
    settings of the stages for an eager ``.pdparams`` model (an ONNX model does not import paddle)."""
    from textrec.inference.recognizer import Recognizer

    return Recognizer(args.model, dictionary=args.dict, backbone=args.backbone, threads=args.threads,
                      batch_size=args.batch_size, calibration=getattr(args, "calibration", None),
                      rotate_portrait=not getattr(args, "no_rotate", False))


def _json_row(r) -> dict:
    """One result as ``--json`` and .jsonl write it: {path, text, confidence} or {path, error}."""
    return {"path": str(r.path), "error": r.error} if r.error else {
        "path": str(r.path), "text": r.text, "confidence": r.confidence}


def _open_out(path: str) -> IO[str]:
    """``--out``'s file, opened before the model loads, so that a wrong name fails first."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUT_FORMATS:
        raise ValueError(f"--out {path}: unknown format {suffix or '(no extension)'}; "
                         f"name the file {', '.join(OUT_FORMATS[:-1])} or {OUT_FORMATS[-1]}")
    return open(path, "w", encoding="utf-8", newline="")  # newline="": the csv module writes its own


def _write_out(f: IO[str], results: list) -> None:
    """Every result, errors included, one a line in the file's format (by its extension)."""
    if f.name.lower().endswith(".jsonl"):
        f.writelines(json.dumps(_json_row(r)) + "\n" for r in results)
        return
    w = csv.writer(f, delimiter="\t" if f.name.lower().endswith(".tsv") else ",", lineterminator="\n")
    w.writerow(OUT_COLUMNS)
    w.writerows((str(r.path), "", "", r.error) if r.error else (str(r.path), r.text, r.confidence, "")
                for r in results)


def _print(results: list, as_json: bool) -> None:
    for r in results:
        if as_json:  # one object a line, errors in order with the rest
            print(json.dumps(_json_row(r)))
        elif r.error:
            print(f"{r.path}\tERROR: {r.error}", file=sys.stderr)
        else:
            print(f"{r.path}\t{r.text}\t{r.confidence:.6f}")


def cmd_predict(args: argparse.Namespace) -> int:
    from textrec.inference.predict import list_images
    from textrec.progress import on_terminal

    paths = list_images(args.path)  # a folder without images fails here (exit 2), before the model loads
    with _open_out(args.out) if args.out else contextlib.nullcontext() as out:
        rec = _recognizer(args)
        if args.log:
            rec.enable_log(args.log, source="cli")
        results = rec.predict_files(paths, progress=len(paths) > 1 and on_terminal(args.no_progress))
        if out is None:
            _print(results, args.json)
        else:
            _write_out(out, results)
    if failed := sum(r.error is not None for r in results):
        where = f"in {args.out}" if out is not None else "above"
        print(f"{failed} of {len(results)} image(s) could not be read (listed {where})", file=sys.stderr)
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
        if r.rejected:
            print(f"{r.name}: rejected (not scored) {dict(r.rejected)}", file=sys.stderr)
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
    sp.add_argument("--batch-size", type=int, default=32, help="images per model call (default: %(default)s)")
    sp.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar (there is none off a terminal)")


def register(sub) -> None:
    sp = sub.add_parser("predict", help="recognise the text in an image or a folder of images")
    sp.add_argument("path", help="an image file, or a folder searched recursively for image files")
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true",
                     help='one JSON object per image: {"path", "text", "confidence"} or {"path", "error"}')
    fmt.add_argument("--out", metavar="FILE",
                     help="write every result to FILE instead of printing it, in the format its extension "
                          "names: .tsv or .csv (header path,text,confidence,error) or .jsonl (as --json)")
    sp.add_argument("--log", metavar="DB", help="also log each prediction to this SQLite prediction log "
                    "(textrec monitor and textrec select read it)")
    sp.add_argument("--calibration", metavar="FILE",
                    help="confidence calibration to apply (default: the model's own, beside it; "
                         "`textrec calibrate` fits one)")
    sp.add_argument("--no-rotate", action="store_true",
                    help="read every image as given (default: a crop 1.5 times as high as wide is also read "
                         "turned 90 degrees each way and the most confident reading kept)")
    _model_args(sp)
    sp.set_defaults(func=cmd_predict)

    sp = sub.add_parser("evaluate", help="accuracy per dataset on an LMDB or a tree of LMDBs")
    sp.add_argument("--data", required=True, help="an LMDB dataset, or a folder of LMDB datasets (one result each)")
    sp.add_argument("--out", help="write the JSON summary here (plus .csv and .md tables beside it)")
    _model_args(sp)
    sp.set_defaults(func=cmd_evaluate)
