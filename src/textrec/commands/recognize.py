"""``textrec predict`` and ``textrec evaluate``."""

from __future__ import annotations

import argparse
import sys


def _runtime(model: str, threads: int | None) -> None:
    """Paddle's CPU settings for this process before its first computation (as the DVC stages do): an eager
    ``.pdparams`` model otherwise runs on one thread and, on AMD CPUs, on MKL's slow SSE path. The other
    engines take ``threads`` themselves, and an ONNX model must not pay for importing paddle."""
    import os
    from pathlib import Path

    from textrec.runtime import configure_runtime

    if Path(model).suffix == ".pdparams":
        configure_runtime("cpu", threads=threads or os.cpu_count())


def _charset(dict_path: str | None):
    from textrec.charset import Charset

    return Charset.from_file(dict_path)


def cmd_predict(args: argparse.Namespace) -> int:
    from textrec.inference.engines import load_engine
    from textrec.inference.predict import list_images, predict_paths

    _runtime(args.model, args.threads)
    charset = _charset(args.dict)
    engine = load_engine(args.model, charset.num_classes, args.backbone, args.threads)
    results = predict_paths(engine, list_images(args.path), charset, args.batch_size)
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            print(f"{r.path}\tERROR: {r.error}", file=sys.stderr)
        else:
            print(f"{r.path}\t{r.text}\t{r.confidence:.6f}")
    if failed:
        print(f"{failed} of {len(results)} image(s) could not be read (listed above)", file=sys.stderr)
    return 1 if failed else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from textrec.evaluation.evaluate import evaluate_tree, results_table, write_results
    from textrec.inference.engines import load_engine

    _runtime(args.model, args.threads)
    charset = _charset(args.dict)
    engine = load_engine(args.model, charset.num_classes, args.backbone, args.threads)
    results = evaluate_tree(engine, args.data, charset, args.batch_size)
    print(results_table(results).to_markdown(index=False, floatfmt=".4f"))
    for r in results:
        if r.skipped:
            print(f"{r.name}: skipped {dict(r.skipped)}", file=sys.stderr)
    if args.out:
        write_results(results, args.out)
    return 0


def _model_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--model", required=True,
                    help=".pdparams checkpoint (ours or PaddleOCR's), exported inference dir, or .onnx")
    sp.add_argument("--backbone", choices=["mobilenet_v3", "resnet34_vd"],
                    help="for .pdparams; detected from the checkpoint when omitted")
    sp.add_argument("--dict", help="dictionary file (default: built-in 0-9a-z)")
    sp.add_argument("--batch-size", type=int, default=32)
    sp.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")


def register(sub) -> None:
    sp = sub.add_parser("predict", help="recognise the text in an image or a folder of images")
    sp.add_argument("path")
    _model_args(sp)
    sp.set_defaults(func=cmd_predict)

    sp = sub.add_parser("evaluate", help="accuracy per dataset on an LMDB or a tree of LMDBs")
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", help="write the JSON summary here (plus .csv and .md tables beside it)")
    _model_args(sp)
    sp.set_defaults(func=cmd_evaluate)
