"""Two data-parallel CPU ranks (gloo), rank 0 SIGKILLed between the renames of a save, restarted, SIGKILLed
again in the middle of writing the next save, restarted: the last run ends on the weights of an
uninterrupted two-rank run, a consistent checkpoint exists after every kill, rank 0 alone repairs, and no
temp file is left (issue 19). Every other kill point: test_checkpoint_kills.py, in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.training.wordimages import write_project
from textrec.models.checkpoint import read_params
from textrec.training.checkpointing import ResumeError, read_state

REPO = Path(__file__).resolve().parents[2]
RECIPE = {"epochs": 100, "max_steps": 6, "batch_size": 4, "lr": 1e-3, "checkpoint_every_steps": 2,
          "eval_every_steps": 0, "log_every_steps": 1, "device": "cpu", "seed": 3}
# disk-changing calls of a save over an existing set (checkpointing.py): open, write, fsync for each of the 3
# files (0-8), link + replace + unlink of each file to latest.prev.* (9-17), the 3 renames (18-20), ...
BETWEEN_RENAMES = 19  # the new .pdparams is in place, the .pdopt and state not yet
MID_WRITE = 1  # half of the new .pdparams written to its temp file


def _launch(cwd: Path, run: str, kill: tuple[int, int] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    env.pop("KILL_SAVE", None)
    if kill is not None:
        env.update(KILL_SAVE=str(kill[0]), KILL_CALL=str(kill[1]))
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
           str(cwd / "log" / run), str(REPO / "tests" / "training" / "killing_train_stage.py"), "--backbone",
           "mobilenet_v3", "--params", "params.yaml", "--no-progress"]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _rank_log(cwd: Path, run: str, rank: int) -> str:
    return (cwd / "log" / run / f"workerlog.{rank}").read_text(errors="replace")


def _consistent_step(models: Path) -> int:
    """The step of the set a restart will use (latest, or the previous one it is restored from)."""
    for name in ("latest", "latest.prev"):
        try:
            return read_state(models, name).step
        except ResumeError:
            continue
    raise AssertionError(f"no consistent checkpoint in {models}: {sorted(p.name for p in models.iterdir())}")


def _leftovers(models: Path) -> list[str]:
    return sorted(f.name for f in models.iterdir() if ".tmp-" in f.name or ".prev." in f.name)


@pytest.mark.timeout(900)
def test_two_ranks_killed_in_two_saves_resume_to_the_uninterrupted_weights(tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    write_project(straight, 16, 4, RECIPE, live_tracking=False)  # MLflow: not what this test is about
    write_project(broken, 16, 4, RECIPE, live_tracking=False)
    models = broken / "models" / "mobilenet_v3"
    ref = _launch(straight, "ref")
    assert ref.returncode == 0, ref.stdout[-2000:] + _rank_log(straight, "ref", 0)[-3000:]

    first = _launch(broken, "kill1", kill=(2, BETWEEN_RENAMES))  # the save at step 4
    assert first.returncode != 0 and "Traceback" not in _rank_log(broken, "kill1", 0)
    assert _consistent_step(models) == 2 and (models / "latest.prev.state.json").exists()

    second = _launch(broken, "kill2", kill=(1, MID_WRITE))  # restored step 2, killed saving step 4
    assert second.returncode != 0
    assert "restored the previous checkpoint, step 2" in _rank_log(broken, "kill2", 0)
    assert "restored the previous checkpoint" not in _rank_log(broken, "kill2", 1)  # rank 1 only reads
    assert read_state(models, "latest").step == 2
    assert any(".tmp-" in f for f in _leftovers(models))  # the killed write's temp file, until a restart

    last = _launch(broken, "resume")
    assert last.returncode == 0, last.stdout[-2000:] + _rank_log(broken, "resume", 0)[-3000:]
    assert "resumed from models/mobilenet_v3/latest at step 2" in _rank_log(broken, "resume", 0)
    assert _leftovers(models) == []
    a = read_params(straight / "models" / "mobilenet_v3" / "latest.pdparams")
    b = read_params(models / "latest.pdparams")
    diff = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    assert diff == 0.0, f"max abs weight difference {diff}"
    summary = json.loads((broken / "reports" / "train" / "mobilenet_v3" / "train.json").read_text())
    assert (summary["steps"], summary["resumed_from_step"], summary["world_size"]) == (6, 2, 2)
