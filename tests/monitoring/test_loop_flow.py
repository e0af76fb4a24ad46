"""The `hard-example-loop` flow's first step against a Prefect server on 127.0.0.1: without labels it writes
the labelling batch and ends, waiting for them. (The rest of the round, add-labels -> dvc repro -> track ->
register -> reference -> promote, runs in bench/production_loop.py on real crops: minutes of training.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.monitoring.helpers import random_png
from textrec.monitoring.store import LogItem, PredictionLogger

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.servers
@pytest.mark.timeout(600)
def test_without_labels_the_loop_selects_and_waits(tmp_path, prefect_server) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text("{}\n")
    log = PredictionLogger(project / "monitoring" / "predictions.db", "m", "1")
    log.log([LogItem(random_png(i), f"w{i}", i / 10) for i in range(10)])
    log.close()
    run = subprocess.run([sys.executable, "-m", "pipelines.loop_flow", "--n", "3", "--audit", "2",
                          "--project-dir", str(project)],
                         cwd=REPO, env=prefect_server.env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0 and "Finished in state Completed" in out, out[-3000:]
    batches = list((project / "monitoring" / "batches").iterdir())
    assert len(batches) == 1 and "written: label it, then run this flow with batch=" in out
    rows = [line.split("\t") for line in (batches[0] / "rec_gt_batch.txt").read_text().splitlines()]
    audit = [label for f, label in rows if f.startswith("audit/")]
    rest = sorted(({f"w{i}" for i in range(10)} - set(audit)), key=lambda w: int(w[1:]))
    assert len(audit) == 2 and [label for f, label in rows if f.startswith("images/")] == rest[:3]
