"""The team stack of scripts/services.sh, started once for the tests of this folder and stopped after them, and
the one tiny pipeline run these tests share: prefect.yaml's `team` deployment run by a worker of checkout `a`
(the `tiny` profile on MobileNetV3, every stage), tracked, registered and promoted on the stack's MLflow
server. The tests of test_team.py then push it, clone it, run it again on two workers and restart the stack."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pipeline.project import dvc
from tests.team.checkouts import (
    deploy,
    fail,
    first_checkout,
    flow_runs,
    git,
    new_run,
    online_workers,
    second_checkout,
    start_worker,
    stop_worker,
    wait_for,
)
from tests.team.stack import Stack, new_stack, processes_of, still_running

# a flow run in one of these did not complete and never will by itself
_FAILED = {"FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Team:
    stack: Stack
    tmp: Path
    remote: Path  # the DVC remote `team` of every checkout (dvc remote modify --local)
    a: Path  # the first checkout
    deployment: str  # id of the `team` deployment
    workers: dict[Path, subprocess.Popen] = field(default_factory=dict)  # by checkout
    logs: list[Path] = field(default_factory=list)  # the workers' output
    first_run: str = ""  # the flow run that ran the tiny pipeline

    def start_worker(self, checkout: Path) -> None:
        """`services.sh worker` in ``checkout``, unless one runs there already."""
        if checkout in self.workers:
            return
        log = self.tmp / f"worker-{checkout.name}.log"
        self.logs.append(log)
        self.workers[checkout] = start_worker(self.stack, checkout, log)
        # polling before runs are made for it, so that both workers can take the runs that follow
        wait_for(f"worker-{checkout.name} online", lambda: f"worker-{checkout.name}" in online_workers(self.stack),
                 300, self.logs)

    def stop_workers(self) -> None:
        while self.workers:
            stop_worker(self.workers.popitem()[1])

    def wait_completed(self, ids: list[str], timeout: float) -> dict[str, dict]:
        """The flow runs ``ids`` once all are COMPLETED; one that failed ends the wait with its state."""
        def done() -> bool:
            runs = flow_runs(self.stack, ids)
            failed = {i: f"{r['state_type']}: {r['state']['message']}" for i, r in runs.items()
                      if r["state_type"] in _FAILED}
            if failed:
                fail(f"flow runs did not complete: {failed}", self.logs)
            return {r["state_type"] for r in runs.values()} == {"COMPLETED"}

        wait_for(f"flow runs {ids} completed", done, timeout, self.logs)
        return flow_runs(self.stack, ids)


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    s = new_stack()
    try:
        s.sh("up")
        yield s
    finally:
        procs = processes_of(f"TEXTREC_SERVICES_DIR={s.settings['TEXTREC_SERVICES_DIR']}")
        s.sh("down")
        left = still_running(procs)
        shutil.rmtree(s.state, ignore_errors=True)
    assert not left, f"services.sh down left processes {sorted(left)}"


@pytest.fixture(scope="package")
def team(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """The `team` deployment (from checkout `a`), worker `a`, and its completed run of the tiny pipeline:
    every stage, live training curves and the tracked runs on the server, one version registered and
    promoted. Its workers are killed at the end."""
    tmp = tmp_path_factory.mktemp("team")
    remote = tmp / "dvc-remote"
    a = first_checkout(tmp / "a", remote)
    t = Team(stack, tmp, remote, a, deploy(stack, a, tmp / "deployer"))
    try:
        t.start_worker(a)
        t.first_run = new_run(stack, t.deployment)  # the deployment's parameters: profile null, promote true
        t.wait_completed([t.first_run], 2400)
        yield t
    finally:
        t.stop_workers()


@pytest.fixture(scope="package")
def second_clone(team: Team) -> Path:
    """`dvc push` of checkout `a` after its run, then checkout `b`: a `git clone` of `a` and `dvc pull`."""
    dvc(["push"], team.a)  # no -r: the default remote
    git(["add", "-A"], team.a)  # dvc.lock and the outputs DVC leaves to git (cache: false)
    git(["commit", "-qm", "the tiny pipeline run"], team.a)
    return second_checkout(team.a, team.tmp / "b", team.remote)

