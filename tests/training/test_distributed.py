"""Data parallel on CPU: `paddle.distributed.launch --nproc_per_node 2` (gloo) against one process over the
same global batches.

With BatchNorm frozen (running statistics, per-sample forward) the two runs differ only by float rounding
(gradients: mean over 4 samples vs the average of two 2-sample means); Adam then turns a rounding difference
on a near-zero gradient into at most a sign flip of one ~lr-sized update, so a handful of the 2.1M weights
move apart by ~lr and the rest stay within 1e-4. With per-process batch statistics ("batch", PaddleOCR's
default) each rank normalises with the statistics of its own half batch, the gradients differ by ~80 %
(relative L1), and nearly every weight differs: that is the expected price of unsynchronised BN, which only
SyncBatchNorm (GPU) removes.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.training.wordimages import write_project
from textrec.models.checkpoint import read_params

REPO = Path(__file__).resolve().parents[2]
RECIPE = {"epochs": 100, "max_steps": 6, "batch_size": 4, "lr": 1e-3, "checkpoint_every_steps": 0,
          "eval_every_steps": 0, "log_every_steps": 1, "device": "cpu", "seed": 3}
STAGE = [str(REPO / "stages" / "train.py"), "--backbone", "mobilenet_v3", "--params", "params.yaml",
         "--no-progress", "--fresh"]


def _run(cwd: Path, nproc: int) -> dict[str, np.ndarray]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc),
              "--log_dir", str(cwd / "log")] if nproc > 1 else [sys.executable]
    proc = subprocess.run(launch + STAGE, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return read_params(cwd / "models" / "mobilenet_v3" / "latest.pdparams")


def _losses(cwd: Path) -> list[float]:
    with (cwd / "reports" / "train" / "mobilenet_v3" / "train_log.csv").open(newline="") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def _compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[int, int, float]:
    """(weights differing by > 1e-4, total weights, mean abs difference), BN running statistics excluded."""
    keys = [k for k in a if not k.endswith(("._mean", "._variance"))]
    diffs = np.concatenate([np.abs(a[k] - b[k]).ravel() for k in keys])
    return int((diffs > 1e-4).sum()), diffs.size, float(diffs.mean())


@pytest.mark.slow
@pytest.mark.timeout(1800)  # four training runs (two launched with 2 ranks)
def test_two_cpu_ranks_match_one_process(tmp_path):
    results = {}
    for bn in ("frozen", "batch"):
        runs = {}
        for nproc in (1, 2):
            d = tmp_path / f"{bn}-{nproc}"
            write_project(d, 16, 4, {**RECIPE, "batch_norm": bn})
            runs[nproc] = _run(d, nproc)
        results[bn] = _compare(runs[1], runs[2])
        if bn == "frozen":
            one, two = _losses(tmp_path / "frozen-1"), _losses(tmp_path / "frozen-2")
            assert len(one) == len(two) == 6
            np.testing.assert_allclose(two, one, rtol=1e-3)  # rank 0 logs the mean over both ranks
    far, total, mean = results["frozen"]
    print(f"frozen BN: {far}/{total} weights differ by > 1e-4, mean abs diff {mean:.2e}")
    print("batch BN: {}/{} weights differ by > 1e-4, mean abs diff {:.2e}".format(*results["batch"]))
    assert far < 1e-3 * total and mean < 1e-6
    assert results["batch"][0] > 0.5 * total  # unsynchronised batch statistics: a different computation


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_other_rank_waits_for_rank_0s_slow_tracking_and_checkpoints(tmp_path):
    """Rank 0 alone opens the MLflow run and writes checkpoints; each taking 40 s (gloo's collectives give up
    after 30 s: this killed a demo run whose MLflow store took 34 s to create) the run still completes."""
    write_project(tmp_path, 16, 4, {**RECIPE, "max_steps": 2, "checkpoint_every_steps": 1})
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}", "SLOW_SECONDS": "40",
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
              str(tmp_path / "log"), str(REPO / "tests" / "training" / "slow_main_train_stage.py"), *STAGE[1:]]
    proc = subprocess.run(launch, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=800)
    logs = "".join(p.read_text(errors="replace")[-2000:] for p in sorted((tmp_path / "log").glob("workerlog.*")))
    assert proc.returncode == 0, proc.stdout[-2000:] + logs
    assert "TIMEOUT" not in logs
    assert len(_losses(tmp_path)) == 2 and (tmp_path / "models" / "mobilenet_v3" / "latest.pdparams").exists()
