"""SIGKILL in the middle of training, resume, and land on the very same weights as an uninterrupted run,
with augmentation on: its images are a function of (seed, epoch, index), in DataLoader workers too."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training.wordimages import write_project
from textrec.models.checkpoint import read_params

REPO = Path(__file__).resolve().parents[2]
RECIPE = {"epochs": 100, "max_steps": 10, "batch_size": 4, "lr": 2e-3, "checkpoint_every_steps": 3,
          "eval_every_steps": 5, "log_every_steps": 1, "device": "cpu", "seed": 7,
          "augment": [{"name": "perspective", "p": 0.5}, {"name": "crop", "p": 0.5}, {"name": "noise", "p": 0.5}]}


def _stage(cwd: Path, log_name: str) -> subprocess.Popen:
    """The real train stage in its own session (so the test can find every process it started)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    log = (cwd / log_name).open("w")
    return subprocess.Popen([sys.executable, str(REPO / "stages" / "train.py"), "--backbone", "mobilenet_v3",
                             "--params", "params.yaml", "--no-progress"], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _losses(path: Path) -> dict[int, str]:
    with path.open(newline="") as f:
        return {int(r["step"]): r["loss"] for r in csv.DictReader(f)}


@pytest.mark.timeout(900)  # three training runs on the shared cores; waits of up to 240 + 2 x 300 s
def test_sigkill_then_resume_gives_the_same_weights(tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    write_project(straight, 16, 4, RECIPE, live_tracking=False)  # MLflow: tests/tracking/test_live.py
    # The interrupted run reads with 2 DataLoader workers: same batches, so the same weights.
    write_project(broken, 16, 4, {**RECIPE, "num_workers": 2}, live_tracking=False)
    ref = _stage(straight, "run.log")  # both runs share the two cores
    victim = _stage(broken, "run1.log")
    state_file = broken / "models" / "mobilenet_v3" / "latest.state.json"
    killed_at = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and victim.poll() is None:
        if state_file.exists():
            killed_at = json.loads(state_file.read_text())["step"]
            victim.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL, (broken / "run1.log").read_text()[-3000:]
    assert killed_at is not None and 3 <= killed_at < 10
    deadline = time.monotonic() + 20  # its DataLoader workers die with it (PR_SET_PDEATHSIG)
    while _group_alive(victim.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphans = _group_alive(victim.pid)
    if orphans:
        os.killpg(victim.pid, signal.SIGKILL)
    assert not orphans, "DataLoader workers outlived the killed trainer"
    log_rows = _losses(broken / "reports" / "train" / "mobilenet_v3" / "train_log.csv")
    assert max(log_rows) >= killed_at  # rows after the checkpoint exist and will be replaced

    resumed = _stage(broken, "run2.log")  # default: resume an unfinished run of the same recipe
    assert resumed.wait(timeout=300) == 0, (broken / "run2.log").read_text()[-3000:]
    assert f"resumed from models/mobilenet_v3/latest at step {killed_at}" in (broken / "run2.log").read_text()
    assert ref.wait(timeout=300) == 0, (straight / "run.log").read_text()[-3000:]

    for name in ("latest", "best"):
        a = read_params(straight / "models" / "mobilenet_v3" / f"{name}.pdparams")
        b = read_params(broken / "models" / "mobilenet_v3" / f"{name}.pdparams")
        assert a.keys() == b.keys()
        diff = max(float(np.abs(a[k] - b[k]).max()) for k in a)
        assert diff == 0.0, f"{name}: max abs weight difference {diff}"
    la = _losses(straight / "reports" / "train" / "mobilenet_v3" / "train_log.csv")
    lb = _losses(broken / "reports" / "train" / "mobilenet_v3" / "train_log.csv")
    assert list(la) == list(range(1, 11)) and la == lb
    summary = json.loads((broken / "reports" / "train" / "mobilenet_v3" / "train.json").read_text())
    assert summary["steps"] == 10 and summary["resumed_from_step"] == killed_at
    assert summary["stop_reason"] == "max_steps"
