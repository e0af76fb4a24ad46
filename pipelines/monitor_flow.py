"""The `prediction-monitor` flow: `textrec monitor` on the served model's latest predictions, on a schedule.

A crossed drift limit (or no verdict: an empty or small window, no reference, an unreadable log) fails the
flow run, with `textrec monitor`'s one-line reason as its error: the alert is Prefect's failed run
(notify on it with an automation). The check's metrics go to the MLflow run of the served version.

Run once:    python -m pipelines.monitor_flow [--last 2000] [--since 1h]   (from the project root)
Deployment:  prefect.yaml `monitor-hourly` (`prefect deployment run 'prediction-monitor/monitor-hourly'`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prefect import flow, task

from pipelines.dvc_tasks import run_logged

PROJECT = Path(__file__).resolve().parents[1]


@task(task_run_name="textrec monitor")
def monitor_task(project: Path, options: list[str]) -> None:
    """Raises (the run fails) when `textrec monitor` exits non-zero: an alarm (1) or no verdict (2)."""
    run_logged([sys.executable, "-m", "textrec.cli", "monitor", *options], project)


@flow(name="prediction-monitor", log_prints=True)
def prediction_monitor(model: str | None = None, version: str | None = None, last: int | None = None,
                       since: str | None = None, log: str | None = None, project_dir: str | None = None) -> None:
    """Check the newest model in the prediction log (or ``model``/``version``) against its reference."""
    project = Path(project_dir) if project_dir else PROJECT
    options = ["--params", str(project / "params.yaml"), "--root", str(project)]
    for flag, value in (("--model", model), ("--version", version), ("--last", last), ("--since", since),
                        ("--log", log)):
        if value is not None:
            options += [flag, str(value)]
    monitor_task(project, options)


def main() -> None:
    ap = argparse.ArgumentParser(description="run the prediction-monitor flow once, locally")
    ap.add_argument("--model")
    ap.add_argument("--version")
    ap.add_argument("--last", type=int)
    ap.add_argument("--since")
    ap.add_argument("--log")
    ap.add_argument("--project-dir")
    args = ap.parse_args()
    prediction_monitor(args.model, args.version, args.last, args.since, args.log, args.project_dir)


if __name__ == "__main__":
    main()
