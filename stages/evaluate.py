"""DVC stage `evaluate@<backbone>-<bench>`: accuracy of the trained model on one benchmark LMDB.

Writes <reports>/eval/<backbone>/<bench>.json: count, accuracy, normalised edit distance, mean confidence,
skipped records, and the worst examples (keys into the benchmark LMDB) for the report's gallery.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from textrec.config import load_params
from textrec.evaluation.evaluate import evaluate_lmdb
from textrec.inference.engines import load_engine
from textrec.runtime import configure_runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backbone", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()

    configure_runtime("cpu", threads=os.cpu_count())  # the stage has the machine to itself (dvc runs one)
    params = load_params(args.params)
    charset = params.charset.build()
    model = Path(params.paths.models) / args.backbone / "best.pdparams"
    engine = load_engine(model, charset.num_classes, args.backbone)
    result = evaluate_lmdb(engine, Path(params.paths.lmdb) / "bench" / args.bench, charset, args.bench,
                           params.eval.batch_size)
    out = Path(params.paths.reports) / "eval" / args.backbone / f"{args.bench}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = result.summary() | {
        "backbone": args.backbone,
        "skipped_keys": result.skipped_keys,
        "worst": [{"key": s.key, "label": s.label, "prediction": s.prediction,
                   "confidence": s.confidence, "correct": s.correct}
                  for s in result.worst(params.eval.gallery_size)],
    }
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{args.backbone} on {args.bench}: accuracy {result.accuracy:.4f} over {result.count} images "
          f"(skipped {dict(result.skipped)})")


if __name__ == "__main__":
    main()
