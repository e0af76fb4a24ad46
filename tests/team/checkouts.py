"""Worker checkouts, the `team` deployment, its workers and flow runs on the stack's Prefect server, driven
from the tests: each checkout a copy of the project on the `tiny` profile (sharing this venv) whose DVC remote
`team` is a folder of the test; each worker `scripts/services.sh worker` in its checkout."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from bench.servers import http, post_json
from tests.pipeline.project import copy_project, dvc, run
from tests.pipeline.servers import PREFECT_BIN
from tests.team.stack import REPO, Stack, kill_tree

# The flow's dvc_repro task logs "$ <python> -m dvc repro <targets>  (in <checkout>)" before each stage
_IN = "  (in "


def git(args: list[str], cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def _share_venv(checkout: Path, remote: Path) -> None:
    """This venv as the checkout's (services.sh runs .venv/bin/*; a symlink git must not commit, which
    `.venv/` in .gitignore does not match), and the committed default remote `team` pointed at ``remote``
    for this clone only (.dvc/config.local), as a team member would point it at their store."""
    (checkout / ".venv").symlink_to(REPO / ".venv")
    with (checkout / ".git" / "info" / "exclude").open("a") as f:
        f.write("/.venv\n")
    dvc(["remote", "modify", "--local", "team", "url", str(remote)], checkout)


def first_checkout(dst: Path, remote: Path) -> Path:
    """The project on the `tiny` profile for MobileNetV3 alone, with prefect.yaml's `team` deployment as
    shipped but for its cron schedule (the tests make the runs); both committed, as a team's branch would hold
    them. One backbone: what these tests check is the team's stack (tracking server, shared artifacts, DVC
    remote, workers), not the DAG, which tests/pipeline/test_e2e.py runs whole; ResNet34_vd's stages would
    double each run and put ~100 MB of models through the remote."""
    copy_project(dst)
    run([sys.executable, "-m", "textrec.cli", "profile", "tiny", "-o", "model.backbones=[mobilenet_v3]"], dst)
    spec = yaml.safe_load((dst / "prefect.yaml").read_text())
    (team,) = [d for d in spec["deployments"] if d["name"] == "team"]
    team.pop("schedules")
    (dst / "prefect.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    git(["commit", "-qam", "tiny profile, team deployment without its schedule"], dst)
    _share_venv(dst, remote)
    return dst


def second_checkout(first: Path, dst: Path, remote: Path) -> Path:
    """`git clone` of ``first`` (what it committed), its data, models and reports from the remote by `dvc pull`."""
    git(["clone", "-q", str(first), str(dst)], first.parent)
    _share_venv(dst, remote)
    dvc(["pull"], dst)
    return dst


def prefect_env(stack: Stack, home: Path) -> dict[str, str]:
    """A client of the stack's Prefect server, polling every 2 s (a worker's default is 10-15 s)."""
    return stack.env() | {"PREFECT_API_URL": stack.prefect_url, "PREFECT_HOME": str(home),
                          "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "2",
                          "PREFECT_RUNNER_POLL_FREQUENCY": "2"}


def deploy(stack: Stack, checkout: Path, home: Path) -> str:
    """`prefect deploy --name team` from ``checkout``; the deployment's id."""
    proc = subprocess.run([str(PREFECT_BIN), "--no-prompt", "deploy", "--name", "team"], cwd=checkout,
                          env=prefect_env(stack, home), capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    deployed = post_json(f"{stack.prefect_url}/deployments/filter", {"deployments": {"name": {"any_": ["team"]}}})
    (dep,) = deployed[1]
    return dep["id"]


def start_worker(stack: Stack, checkout: Path, log: Path) -> subprocess.Popen:
    """`scripts/services.sh worker` of ``checkout`` in a session of its own (so that it can be killed whole)."""
    with log.open("wb") as f:
        return subprocess.Popen(
            ["bash", str(checkout / "scripts" / "services.sh"), "worker", "--name", f"worker-{checkout.name}"],
            env=prefect_env(stack, log.with_suffix(".home")), stdout=f, stderr=subprocess.STDOUT,
            start_new_session=True, stdin=subprocess.DEVNULL)


def online_workers(stack: Stack) -> set[str]:
    """Names of the workers the server sees polling the team pool."""
    from pipelines.team import team_pool

    status, body = post_json(f"{stack.prefect_url}/work_pools/{team_pool()}/workers/filter", {})
    assert status == 200, body
    return {w["name"] for w in body if w["status"] == "ONLINE"}


def stop_worker(proc: subprocess.Popen) -> None:
    kill_tree(proc.pid)
    proc.wait(10)


def new_run(stack: Stack, deployment_id: str, parameters: dict | None = None) -> str:
    """A flow run of the deployment, scheduled now (what its cron schedule would create); its id."""
    status, body = post_json(f"{stack.prefect_url}/deployments/{deployment_id}/create_flow_run",
                             {"parameters": parameters or {}})
    assert status == 201, body
    return body["id"]


def flow_runs(stack: Stack, ids: list[str]) -> dict[str, dict]:
    status, body = post_json(f"{stack.prefect_url}/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}})
    assert status == 200, body
    return {r["id"]: r for r in body}


def state_names(stack: Stack, run: str) -> list[str]:
    """Every state the run went through, oldest first."""
    status, raw = http("GET", f"{stack.prefect_url}/flow_run_states/?flow_run_id={run}")
    assert status == 200, raw
    return [s["name"] for s in sorted(json.loads(raw), key=lambda s: s["timestamp"])]


def run_logs(stack: Stack, run: str) -> list[str]:
    """The messages the flow run logged, oldest first."""
    messages, offset = [], 0
    while True:
        status, page = post_json(f"{stack.prefect_url}/logs/filter", {
            "logs": {"flow_run_id": {"any_": [run]}}, "sort": "TIMESTAMP_ASC", "offset": offset, "limit": 200})
        assert status == 200, page
        messages += [log["message"] for log in page]
        if len(page) < 200:
            return messages
        offset += 200


def repro_checkouts(messages: list[str]) -> list[Path]:
    """The checkout of each `dvc repro` in a run's log: its dvc_repro task logs
    "$ <python> -m dvc repro <targets>  (in <checkout>)" before each."""
    return [Path(m.rsplit(_IN, 1)[1].removesuffix(")")) for m in messages
            if m.startswith("$ ") and " -m dvc repro " in m]


def wait_for(what: str, done: Callable[[], bool], timeout: float, logs: list[Path]) -> None:
    """Poll ``done`` every 2 s; past ``timeout`` fail with the tails of the workers' logs."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            fail(f"{what}: not within {timeout:.0f} s", logs)
        time.sleep(2)


def fail(what: str, logs: list[Path]) -> None:
    tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-4000:]}" for p in logs if p.exists())
    raise AssertionError(f"{what}\n{tails}")
