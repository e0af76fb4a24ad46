"""stages/train.py as one rank of ``paddle.distributed.launch``, rank 0 slow where only it works: opening the
MLflow run and writing each checkpoint take ``SLOW_SECONDS`` longer (a loaded machine, a remote tracking
server, a slow disk). For test_distributed.py; run with the repo root on PYTHONPATH."""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path

from textrec.tracking import live
from textrec.training import checkpointing

STAGE = Path(__file__).resolve().parents[2] / "stages" / "train.py"


def slower(fn, seconds: float):
    def call(*args, **kwargs):
        time.sleep(seconds)
        return fn(*args, **kwargs)

    return call


if __name__ == "__main__":
    if os.environ.get("PADDLE_TRAINER_ID", "0") == "0":
        seconds = float(os.environ["SLOW_SECONDS"])
        live.open_training_run = slower(live.open_training_run, seconds)
        checkpointing.save_checkpoint = slower(checkpointing.save_checkpoint, seconds)
    sys.argv = [str(STAGE), *sys.argv[1:]]
    runpy.run_path(str(STAGE), run_name="__main__")
