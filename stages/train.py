"""DVC stage `train@<backbone>`: train the CRNN on <paths.lmdb>/train, validate on <paths.lmdb>/val.

Outputs: <paths.models>/<backbone>/{latest,best}.{pdparams,pdopt,state.json}; under
<paths.reports>/train/<backbone>/: train_log.csv (one row per step, DVC plot), train.json (summary metrics,
the init the weights started from with its sha256, and the machine record the bench JSONs carry),
data_train.json / data_val.json (every rejected record with its key and reason).
Resumes an unfinished run of the same recipe and data by default (the models dir is a persistent output);
--resume insists on resuming, --fresh never resumes. Data parallel: `train.<backbone>.processes: N` makes
this script start itself as N ranks under `python -m paddle.distributed.launch` (on CPU, two processes use
both cores better than two threads in one); for GPUs run it under the launcher yourself
(`--nproc_per_node <gpus>`). Rank 0 writes the files. On a terminal, with several ranks the launching
process draws the progress bar from rank 0's CSV (training/follow.py): every rank's stderr is its log file.
Missing LMDBs (run before `prepare`), too little disk for the run's checkpoints, a disk that fills during a
save, and a torn checkpoint with no consistent previous set: one `train: error:` line each.
"""

from __future__ import annotations

import argparse
import functools
import logging
import subprocess
import sys
from pathlib import Path

from textrec.artifacts import TrainSummary
from textrec.config import BACKBONES
from textrec.data.archive import ArchiveError
from textrec.data.download import DownloadError
from textrec.data.lmdb_io import find_lmdbs, num_samples
from textrec.data.report import TooManyRejectedError
from textrec.machine import machine_info
from textrec.models.pretrained import PretrainedError
from textrec.preflight import load_stage_params, require_writable
from textrec.progress import on_terminal
from textrec.tracking.live import open_training_run
from textrec.training.checkpoint_space import CheckpointSpaceError
from textrec.training.checkpointing import ResumeError
from textrec.training.distributed import launch_command, launched_world_size
from textrec.training.follow import run_following
from textrec.training.init import InitError, resolve_init
from textrec.training.sampler import planned_steps
from textrec.training.trainer import TrainResult, train


def summarize(result: TrainResult, batch_size: int) -> TrainSummary:
    """The run's train.json: the trainer's result, the rejected counts, the images seen and the machine
    record the bench JSONs carry (family/model/stepping name a VM's generic CPU)."""
    machine = machine_info()
    return TrainSummary(
        **result.outcome(), train_rejected=len(result.train_report.rejections),
        val_rejected=len(result.val_report.rejections) if result.val_report else None,
        images_seen=result.steps * batch_size, machine=machine, cpu=machine["cpu"])


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

    params = load_stage_params("train", args.params)
    paths, bb = params.paths, args.backbone
    reports, out_dir = paths.train_reports(bb), paths.model_dir(bb)
    require_writable("train", out_dir, reports)  # not at the first checkpoint, hundreds of steps in
    missing = [str(d) for d in (paths.split_lmdb("train"), paths.split_lmdb("val")) if not find_lmdbs(d)]
    if missing:  # not a FileNotFoundError traceback from the dataset, in every rank
        print(f"train: error: no LMDB in {' or '.join(missing)}: run `dvc repro prepare` first (it writes "
              f"{paths.lmdb}/train and val)", file=sys.stderr)
        return 1
    recipe = params.train.recipe(args.backbone)
    try:  # the init checkpoint (PaddleOCR's release fetched if needed) before any rank starts; a resume ignores it
        init = resolve_init(recipe.init, args.backbone, sha256=recipe.init_sha256,
                            downloads=params.paths.downloads, real=params.data.real)
    except (InitError, PretrainedError, DownloadError, ArchiveError) as e:
        print(f"train: error: init: {e}", file=sys.stderr)
        return 1
    processes = recipe.processes
    progress = on_terminal(args.no_progress)  # a rank's stderr is its log file: no rank draws a bar
    if processes > 1 and launched_world_size() == 1:  # start the ranks; each runs this script again
        cmd = launch_command(__file__, sys.argv[1:] if argv is None else argv, processes, str(reports / "ranks"))
        if not progress:
            return subprocess.call(cmd)
        # this process draws the bar from rank 0's CSV; records the dataset rejects are not known here, so
        # the total counts every record (an upper bound, exact when none is rejected)
        records = sum(num_samples(p) for p in find_lmdbs(paths.split_lmdb("train")))
        total = planned_steps(records, recipe.batch_size, recipe.epochs, recipe.max_steps) if records else None
        return run_following(cmd, paths.train_log(bb), total, desc=bb)
    resume = True if args.resume else (False if args.fresh else "auto")
    try:  # the rejection threshold applies to what the datasets read, before the first step
        result = train(params, bb, paths.split_lmdb("train"), paths.split_lmdb("val"), out_dir,
                       resume=resume, metrics_csv=paths.train_log(bb), init=init,
                       progress=progress,
                       # curves to MLflow as they happen; the store is the project's (params file's directory)
                       tracker=functools.partial(open_training_run, params, bb, Path(args.params).resolve().parent))
    except (TooManyRejectedError, ResumeError, CheckpointSpaceError) as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 1
    if result.rank != 0:
        return 0
    result.train_report.write_json(paths.rejections(bb, "train"))
    if result.val_report is not None:
        result.val_report.write_json(paths.rejections(bb, "val"))
    summarize(result, recipe.batch_size).write(TrainSummary.path(paths, bb))
    if not result.recipe_complete:
        print(f"WARNING {args.backbone}: the time budget stopped training at step {result.steps} of "
              f"{result.planned_steps}: the model is not what the recipe specifies", file=sys.stderr)
    print(f"{args.backbone}: {result.stop_reason} at step {result.steps} (epoch {result.epoch}); best val accuracy "
          f"{result.best_accuracy} at step {result.best_step}; {result.images_per_second:.1f} img/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
