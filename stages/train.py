"""DVC stage `train@<backbone>`: train the CRNN on <paths.lmdb>/train, validate on <paths.lmdb>/val.

Outputs: <paths.models>/<backbone>/{latest,best}.{pdparams,pdopt,state.json}; under
<paths.reports>/train/<backbone>/: train_log.csv (one row per step, DVC plot), train.json (summary metrics),
data_train.json / data_val.json (every rejected record with its key and reason).
Resumes an unfinished run of the same recipe and data by default (the models dir is a persistent output);
--resume insists on resuming, --fresh never resumes. Data parallel: `train.<backbone>.processes: N` makes
this script start itself as N ranks under `python -m paddle.distributed.launch` (on CPU, two processes use
both cores better than two threads in one); for GPUs run it under the launcher yourself
(`--nproc_per_node <gpus>`). Rank 0 writes the files.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from textrec.config import BACKBONES, load_params
from textrec.training.distributed import launch_command, launched_world_size
from textrec.training.trainer import train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", required=True, choices=BACKBONES)
    ap.add_argument("--params", default="params.yaml")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="resume from latest.* (error if there is none)")
    group.add_argument("--fresh", action="store_true", help="start from scratch even if a run can be resumed")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    params = load_params(args.params)
    processes = params.train.recipe(args.backbone).processes
    if processes > 1 and launched_world_size() == 1:  # start the ranks; each runs this script again
        log_dir = Path(params.paths.reports) / "train" / args.backbone / "ranks"
        return subprocess.call(launch_command(__file__, sys.argv[1:] if argv is None else argv, processes,
                                              str(log_dir)))
    lmdb, reports = Path(params.paths.lmdb), Path(params.paths.reports) / "train" / args.backbone
    resume = True if args.resume else (False if args.fresh else "auto")
    result = train(params, args.backbone, lmdb / "train", lmdb / "val", Path(params.paths.models) / args.backbone,
                   resume=resume, metrics_csv=reports / "train_log.csv",
                   progress=not args.no_progress and sys.stderr.isatty())  # no bar into a rank's log file
    if result.rank != 0:
        return 0
    result.train_report.write_json(reports / "data_train.json")
    if result.val_report is not None:
        result.val_report.write_json(reports / "data_val.json")
    summary = {f.name: getattr(result, f.name) for f in fields(result)
               if f.name not in ("train_report", "val_report", "out_dir")}
    summary.update(train_rejected=len(result.train_report.rejections),
                   val_rejected=len(result.val_report.rejections) if result.val_report else None)
    (reports / "train.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"{args.backbone}: {result.stop_reason} at step {result.steps} (epoch {result.epoch}); best val accuracy "
          f"{result.best_accuracy} at step {result.best_step}; {result.images_per_second:.1f} img/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
