"""The Prefect side of the team stack (scripts/services.sh): the work pool of prefect.yaml's `team`
deployment, and the automation that gives a run whose worker was lost to another worker.

    python -m pipelines.team pool                            # the pool's name, read from prefect.yaml
    python -m pipelines.team setup --lost-run-seconds 180    # pool + automation, idempotent (PREFECT_API_URL)

A flow run sends a heartbeat event every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds. When a worker dies (its
machine, or a kill of its process group) the run stays RUNNING with nobody behind it; the automation sees
its heartbeats stop and schedules it again, with force (the transition RUNNING -> SCHEDULED is no ordinary
one), which also frees its deployment concurrency slot. Any worker of the pool then takes it, in its own
checkout, where DVC re-runs whatever the lost run had not finished.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
TEAM_DEPLOYMENT = "team"
# the tag of the team deployment's runs (prefect.yaml): the automation reschedules only those, whose workers
# (services.sh worker) send heartbeats often enough; a plain worker sends one every 180 s
TEAM_TAG = "textrec-team"
AUTOMATION = "textrec: reschedule runs whose worker was lost"
# a run that reached one of these (or sent a heartbeat) is not lost
ALIVE_OR_DONE = ("prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                 "prefect.flow-run.Crashed", "prefect.flow-run.Cancelled", "prefect.flow-run.Cancelling",
                 "prefect.flow-run.Paused", "prefect.flow-run.Scheduled")


def team_pool(prefect_yaml: Path = PROJECT / "prefect.yaml") -> str:
    """The work pool of the `team` deployment: prefect.yaml is the one place that names it."""
    deployments = yaml.safe_load(prefect_yaml.read_text())["deployments"]
    (team,) = [d for d in deployments if d["name"] == TEAM_DEPLOYMENT]
    if TEAM_TAG not in team.get("tags", ()):
        raise SystemExit(f"prefect.yaml: the {TEAM_DEPLOYMENT!r} deployment needs the tag {TEAM_TAG!r}")
    return team["work_pool"]["name"]


def ensure_pool(pool: str) -> None:
    """A process work pool named ``pool`` (the CLI fills in the process worker's job template)."""
    prefect = [str(Path(sys.executable).parent / "prefect"), "--no-prompt"]
    if subprocess.run([*prefect, "work-pool", "inspect", pool], capture_output=True).returncode != 0:
        subprocess.run([*prefect, "work-pool", "create", pool, "--type", "process"], check=True,
                       capture_output=True)


def lost_run_automation(lost_after: float):
    """Proactive trigger per flow run of the team deployment: Running or a heartbeat, then silence for
    ``lost_after`` seconds -> the run is scheduled again."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    trigger = EventTrigger(
        posture=Posture.Proactive,
        after={"prefect.flow-run.Running", "prefect.flow-run.heartbeat"},
        expect=set(ALIVE_OR_DONE),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.id": f"prefect.tag.{TEAM_TAG}"},  # runs of the team deployment
        for_each={"prefect.resource.id"},
        threshold=1,
        within=timedelta(seconds=lost_after),
    )
    action = ChangeFlowRunState(state=StateType.SCHEDULED, name="AwaitingRetry", force=True,
                                message=f"no heartbeat for {lost_after:.0f} s: its worker was lost; "
                                        "scheduled again for any worker of the pool")
    return Automation(name=AUTOMATION, trigger=trigger, actions=[action],
                      description="made by scripts/services.sh up (pipelines/team.py); TEXTREC_LOST_RUN_SECONDS")


def ensure_automation(lost_after: float) -> None:
    """Create the automation, or update it when ``lost_after`` changed since the last `services.sh up`."""
    from prefect.automations import Automation

    wanted = lost_run_automation(lost_after)
    try:
        current = Automation.read(name=AUTOMATION)
    except ValueError:  # not there yet
        wanted.create()
        return
    wanted.id = current.id
    wanted.update()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Prefect set-up of the team stack (scripts/services.sh)")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("pool", help="print the team deployment's work pool")
    setup = sub.add_parser("setup", help="create the work pool and the lost-run automation")
    setup.add_argument("--lost-run-seconds", type=float, required=True)
    args = ap.parse_args(argv)
    pool = team_pool()
    if args.command == "pool":
        print(pool)
        return 0
    ensure_pool(pool)
    ensure_automation(args.lost_run_seconds)
    print(f"prefect: work pool {pool!r}; runs silent for {args.lost_run_seconds:.0f} s are rescheduled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
