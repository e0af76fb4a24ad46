"""Two Prefect workers (`scripts/services.sh worker`, two processes in two checkouts) on the team work pool of
the stack's Prefect server (on PostgreSQL).

The flow is a tiny stand-in for crnn-pipeline, deployed with prefect.yaml's `team` deployment as it is (work
pool, pull step into the worker's checkout, concurrency limit, ENQUEUE) but another entrypoint: it runs one
DVC stage of a few seconds through pipelines.dvc_tasks.dvc_repro, as the real flow runs its stages. The full
pipeline would take minutes per run; what is tested here is where and when runs go.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.servers import http, post_json
from tests.pipeline.project import copy_project
from tests.pipeline.project import env as project_env
from tests.pipeline.servers import PREFECT_BIN
from tests.team.stack import REPO, Stack, kill_tree

pytestmark = [pytest.mark.servers, pytest.mark.timeout(900)]

FLOW = '''"""Tiny flow of tests/team/test_workers.py: notes where and when it runs, around one DVC stage."""
import json
import os
import time
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from pipelines.dvc_tasks import dvc_repro


def note(event: str) -> None:
    with open(os.environ["TEAM_PROBE_LOG"], "a") as f:
        f.write(json.dumps({"event": event, "run": flow_run.id, "checkout": os.getcwd(), "t": time.time()}) + "\\n")


@flow(name="team-probe")
def team_probe(profile: str | None = None, promote: bool = False) -> None:
    note("start")
    dvc_repro(Path.cwd(), ["team_probe/dvc.yaml"])
    note("end")
'''
STAGE = '''import json, os, time
with open(os.environ["TEAM_PROBE_LOG"], "a") as f:
    f.write(json.dumps({"event": "stage", "run": os.environ["PREFECT__FLOW_RUN_ID"],
                        "checkout": os.path.dirname(os.getcwd()), "t": time.time()}) + "\\n")
time.sleep(float(os.environ["TEAM_PROBE_SECONDS"]))
open("out.txt", "w").write("done\\n")
'''
DVC_YAML = "stages:\n  probe:\n    cmd: python stage.py\n    outs: [out.txt]\n    always_changed: true\n"


def _checkout(dst: Path) -> Path:
    """A clone of the project (sharing this venv) whose `team` deployment runs the tiny flow."""
    copy_project(dst)
    (dst / ".venv").symlink_to(REPO / ".venv")
    probe = dst / "team_probe"
    probe.mkdir()
    (probe / "flow.py").write_text(FLOW)
    (probe / "stage.py").write_text(STAGE)
    (probe / "dvc.yaml").write_text(DVC_YAML)
    spec = yaml.safe_load((dst / "prefect.yaml").read_text())
    (team,) = [d for d in spec["deployments"] if d["name"] == "team"]
    team["entrypoint"] = "team_probe/flow.py:team_probe"
    team.pop("schedules")  # runs are made by the test only
    (dst / "prefect.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return dst


def _env(stack: Stack, home: Path, **extra: str) -> dict[str, str]:
    return stack.env() | {"PREFECT_API_URL": stack.prefect_url, "PREFECT_HOME": str(home),
                          "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                          "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_RUNNER_POLL_FREQUENCY": "2", **extra}


def _runs_in_state(stack: Stack, ids: list[str]) -> dict[str, str]:
    status, body = post_json(f"{stack.prefect_url}/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}})
    assert status == 200, body
    return {r["id"]: r["state_type"] for r in body}


def _wait(what: str, done, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{tails}")
        time.sleep(1)


def _notes(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_two_workers_share_the_pool_one_run_per_checkout_and_a_lost_run_is_retried(stack, tmp_path):
    a, b = _checkout(tmp_path / "a"), _checkout(tmp_path / "b")
    probe_log = tmp_path / "probe.jsonl"
    deployed = subprocess.run([str(PREFECT_BIN), "--no-prompt", "deploy", "--name", "team"], cwd=a,
                              env=_env(stack, tmp_path / "deployer"), capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    status, raw = http("GET", f"{stack.prefect_url}/deployments/name/team-probe/team")
    assert status == 200, raw
    dep = json.loads(raw)
    # resolved by each worker's run, not at deploy time
    assert dep["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == \
        "{{ $TEXTREC_CHECKOUT }}"

    workers, logs = {}, []
    try:
        for checkout in (a, b):
            log = tmp_path / f"worker-{checkout.name}.log"
            logs.append(log)
            env = _env(stack, tmp_path / f"home-{checkout.name}", TEAM_PROBE_LOG=str(probe_log),
                       TEAM_PROBE_SECONDS="5")
            with log.open("wb") as f:
                workers[checkout] = subprocess.Popen(
                    ["bash", str(checkout / "scripts" / "services.sh"), "worker", "--name", f"worker-{checkout.name}"],
                    env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)

        def new_run() -> str:
            status, body = post_json(f"{stack.prefect_url}/deployments/{dep['id']}/create_flow_run", {})
            assert status == 201, body
            return body["id"]

        # four runs at once: both workers take them, each one at a time in its checkout
        ids = [new_run() for _ in range(4)]
        _wait("4 runs completed", lambda: set(_runs_in_state(stack, ids).values()) == {"COMPLETED"}, 300, logs)
        notes = [n for n in _notes(probe_log) if n["run"] in ids]
        spans: dict[str, list[tuple[float, float]]] = {}
        for run in ids:
            (start,) = [n for n in notes if n["run"] == run and n["event"] == "start"]
            (end,) = [n for n in notes if n["run"] == run and n["event"] == "end"]
            assert start["checkout"] == end["checkout"]
            spans.setdefault(start["checkout"], []).append((start["t"], end["t"]))
        assert set(spans) == {str(a), str(b)}  # distributed over both
        for checkout, ss in spans.items():
            ss.sort()
            assert all(s1[1] <= s2[0] for s1, s2 in zip(ss, ss[1:], strict=False)), f"overlap in {checkout}: {ss}"

        # a worker lost mid-run (its whole process tree killed while DVC runs the stage): the run completes
        # on the other worker, in the other checkout
        run = new_run()
        _wait("the stage started", lambda: any(n["run"] == run and n["event"] == "stage"
                                               for n in _notes(probe_log)), 180, logs)
        (lost,) = [Path(n["checkout"]) for n in _notes(probe_log) if n["run"] == run and n["event"] == "stage"]
        kill_tree(workers[lost].pid)
        workers[lost].wait(10)
        t_kill = time.monotonic()
        _wait("the lost run completed", lambda: _runs_in_state(stack, [run])[run] == "COMPLETED", 300, logs)
        print(f"\nlost run rescheduled and completed {time.monotonic() - t_kill:.0f} s after the kill")
        ends = [n for n in _notes(probe_log) if n["run"] == run and n["event"] == "end"]
        assert [Path(n["checkout"]) for n in ends] == [({a, b} - {lost}).pop()]
        status, raw = http("GET", f"{stack.prefect_url}/flow_run_states/?flow_run_id={run}")
        names = [s["name"] for s in json.loads(raw)]
        assert "AwaitingRetry" in names, names  # the lost-run automation scheduled it again

        # the killed checkout's DVC state is sound: the interrupted stage runs there again
        again = subprocess.run([sys.executable, "-m", "dvc", "repro", "team_probe/dvc.yaml"], cwd=lost,
                               env=project_env() | {"TEAM_PROBE_LOG": str(probe_log), "TEAM_PROBE_SECONDS": "0",
                                                    "PREFECT__FLOW_RUN_ID": "by-hand"},
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert (lost / "team_probe" / "out.txt").read_text() == "done\n"
    finally:
        for proc in workers.values():
            kill_tree(proc.pid)
            proc.wait(10)
