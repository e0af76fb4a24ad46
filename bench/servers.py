"""Start and stop MLflow's servers on 127.0.0.1 as their own process group: a helper of the benchmarks
(bench/serving.py imports it as ``servers``) and the tests (``from bench.servers import ...``), not library
code.

    with start_scoring_server("models:/crnn-text-recognizer@production", tracking_uri, log) as srv:
        post_json(srv.url + "/invocations", {"inputs": {"image": [b64]}})

Each server runs in a new session (``setsid``), so ``stop`` ends the whole group with ``os.killpg``:
uvicorn workers and helpers included. Job execution is switched off for the tracking server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen
    log_path: Path

    def log_tail(self, n: int = 40) -> str:
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def alive(self) -> list[int]:
        """Live (non-zombie) processes of the server's process group, read from /proc."""
        return group_members(self.proc.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the whole process group; SIGKILL to what is left after ``timeout`` seconds."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)  # reap the leader (our child)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group ``pgid`` (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def http(method: str, url: str, body: bytes | None = None, content_type: str = "application/json",
         timeout: float = 60.0) -> tuple[int, bytes]:
    """One request -> (status, body); HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post_json(url: str, payload: object, timeout: float = 60.0) -> tuple[int, object]:
    status, body = http("POST", url, json.dumps(payload).encode(), timeout=timeout)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", errors="replace")


def start_server(args: list[str], health: str, log_path: Path, env: dict[str, str], timeout: float,
                 port: int) -> ServerProcess:
    """Start ``args`` in a new session, logging to ``log_path``; return once GET ``health`` answers 200."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # mlflow runs `uvicorn` by name: the interpreter's bin directory (the venv) must be on PATH
    env = env | {"PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    srv = ServerProcess(f"http://{HOST}:{port}", proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}:\n{srv.log_tail()}")
        try:
            if http("GET", srv.url + health, timeout=5)[0] == 200:
                return srv
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    srv.stop()
    raise TimeoutError(f"server not healthy after {timeout:.0f} s:\n{srv.log_tail()}")


def start_scoring_server(model_uri: str, tracking_uri: str, log_path: Path, port: int | None = None,
                         workers: int = 1, timeout: float = 120.0) -> ServerProcess:
    """``mlflow models serve --env-manager local`` (the textrec package must be importable)."""
    port = port or free_port()
    env = os.environ | {"MLFLOW_TRACKING_URI": tracking_uri}
    args = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
            "--host", HOST, "--port", str(port), "--workers", str(workers)]
    return start_server(args, "/ping", log_path, env, timeout, port)


def start_tracking_server(backend_uri: str, artifact_root: Path, log_path: Path, port: int | None = None,
                          timeout: float = 180.0) -> ServerProcess:
    """``mlflow server`` with one worker, job execution off, artifacts proxied from ``artifact_root``."""
    port = port or free_port()
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
            "--artifacts-destination", artifact_root.resolve().as_uri(), "--host", HOST, "--port", str(port),
            "--workers", "1"]
    return start_server(args, "/health", log_path, env, timeout, port)
