"""Prefect server and worker on 127.0.0.1 for the end-to-end tests, each in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.servers import ServerProcess, free_port, group_members, start_server

PREFECT_BIN = Path(sys.executable).parent / "prefect"


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120", PREFECT_WORKER_QUERY_SECONDS="2",
               PREFECT_RUNNER_POLL_FREQUENCY="2", PREFECT_LOGGING_LEVEL="INFO")
    env["PATH"] = f"{PREFECT_BIN.parent}{os.pathsep}{env.get('PATH', '')}"
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def start_prefect_server(home: Path, log: Path, timeout: float = 180) -> ServerProcess:
    port = free_port()
    args = [str(PREFECT_BIN), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    srv = start_server(args, "/api/health", log, prefect_env(home), timeout, port)
    srv.url += "/api"
    return srv


def start_worker(env: dict[str, str], cwd: Path, pool: str, log: Path) -> subprocess.Popen:
    with log.open("wb") as f:
        return subprocess.Popen([str(PREFECT_BIN), "worker", "start", "--pool", pool, "--type", "process"],
                                cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def stop_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM the group, then SIGKILL what is left after ``timeout`` s (a worker has been seen to survive one
    SIGTERM; waiting longer for it only made the suite slower)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + timeout
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not group_members(proc.pid):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
