"""The `prediction-monitor` Prefect flow against a Prefect server on 127.0.0.1: a crossed drift limit is a
failed flow run carrying the one-line reason; a window within the limits is a completed one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.monitoring.test_monitor_cli import log_rows, predictions, project
from textrec.commands.monitor import local_reference
from textrec.monitoring.reference import Reference

__all__ = ["project"]
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.servers
@pytest.mark.timeout(600)
def test_drift_fails_the_flow_run_and_no_drift_completes_it(project, prefect_server) -> None:
    db = project / "p.db"
    Reference.load(project / "ref.json").save(local_reference(db, "m", "1"))  # found beside the log
    log_rows(db, predictions(300, 1))

    def flow_run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipelines.monitor_flow", "--project-dir", str(project),
                               "--log", str(db), "--last", "300"], cwd=REPO, env=prefect_server.env,
                              capture_output=True, text=True, timeout=300)

    ok = flow_run()
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    assert "Finished in state Completed" in ok.stdout + ok.stderr
    log_rows(db, predictions(300, 2, shifted=True))
    bad = flow_run()
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "Finished in state Failed" in out, out[-3000:]
    assert "textrec monitor: drift: m version 1, 300 predictions: confidence" in out
