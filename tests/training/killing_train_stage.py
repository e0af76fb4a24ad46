"""stages/train.py as one rank of ``paddle.distributed.launch``, rank 0 SIGKILLing itself inside a save:
``KILL_SAVE=<n>`` (the n-th save of this invocation, from 1) and ``KILL_CALL=<k>`` (its k-th disk-changing
call, from 0; a write dies half-way). For test_checkpoint_ranks.py; run with the repo root on PYTHONPATH."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from tests.training.faults import FaultyOs, sigkill
from textrec.training import checkpoint_files, checkpointing

STAGE = Path(__file__).resolve().parents[2] / "stages" / "train.py"


class KillingSave:
    """checkpointing.save_checkpoint, the ``save``-th call of which runs under a FaultyOs that SIGKILLs."""

    def __init__(self, save: int, call: int) -> None:
        self.save, self.call, self.count, self.real = save, call, 0, checkpointing.save_checkpoint

    def __call__(self, *args, **kwargs):
        self.count += 1
        checkpoint_files.os = FaultyOs(self.call, kill=sigkill) if self.count == self.save else os
        return self.real(*args, **kwargs)


if __name__ == "__main__":
    if os.environ.get("PADDLE_TRAINER_ID", "0") == "0" and "KILL_SAVE" in os.environ:
        checkpointing.save_checkpoint = KillingSave(int(os.environ["KILL_SAVE"]), int(os.environ["KILL_CALL"]))
    sys.argv = [str(STAGE), *sys.argv[1:]]
    runpy.run_path(str(STAGE), run_name="__main__")
