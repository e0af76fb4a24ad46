"""DVC stage `evaluate@<backbone>-<bench>`: accuracy of the trained model on one benchmark LMDB.

Writes <reports>/eval/<backbone>/<bench>.json: count, accuracy, normalised edit distance, mean confidence,
empty predictions (images read as "": only blanks emitted), skipped records, and the worst examples (keys
into the benchmark LMDB) for the report's gallery. A model trained from an init checkpoint (bundled, a path,
PaddleOCR's release) is compared with where it started: ``start`` holds that checkpoint's accuracy on the
same images, read from the file and sha256 the trainer state records (so the report shows both).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from textrec.config import BACKBONES
from textrec.evaluation.evaluate import DatasetResult, evaluate_lmdb
from textrec.evaluation.start import starting_checkpoint
from textrec.inference.engines import load_engine
from textrec.preflight import load_stage_params, require_writable
from textrec.progress import on_terminal
from textrec.runtime import configure_runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backbone", required=True, choices=BACKBONES)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()

    params = load_stage_params("evaluate", args.params)
    out = params.paths.eval_report(args.backbone, args.bench)
    require_writable("evaluate", out.parent)
    configure_runtime("cpu", threads=os.cpu_count())  # the stage has the machine to itself (dvc runs one)
    charset = params.charset.build()

    def evaluate(checkpoint: Path, progress: bool) -> DatasetResult:  # on this stage's benchmark
        engine = load_engine(checkpoint, charset.num_classes, args.backbone)
        return evaluate_lmdb(engine, params.paths.bench_lmdb(args.bench), charset, args.bench,
                             params.eval.batch_size, params.model.image_shape, progress=progress)

    result = evaluate(params.paths.checkpoint(args.backbone), on_terminal(args.no_progress))
    summary = result.summary() | {
        "backbone": args.backbone,
        "skipped_keys": result.skipped_keys,
        "worst": [{"key": s.key, "label": s.label, "prediction": s.prediction,
                   "confidence": s.confidence, "correct": s.correct}
                  for s in result.worst(params.eval.gallery_size)],
    }
    start = starting_checkpoint(params.paths.model_dir(args.backbone))
    if start is not None:
        if start.path is not None:
            start_result = evaluate(start.path, progress=False)
            start = start.measured(start_result.accuracy, start_result.count)
        summary["start"] = start.record()
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{args.backbone} on {args.bench}: accuracy {result.accuracy:.4f} over {result.count} images "
          f"(skipped {dict(result.skipped)})" + (f"; it started from {start.source}: {start.accuracy:.4f}"
                                                  if start is not None and start.accuracy is not None else ""))


if __name__ == "__main__":
    main()
