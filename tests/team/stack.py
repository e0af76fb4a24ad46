"""scripts/services.sh driven from tests: a stack of its own (state folder, free ports on 127.0.0.1) through
the environment variables that override services.env, and the processes it leaves behind, read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.servers import free_port

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services.sh"


@dataclass(frozen=True)
class Stack:
    state: Path
    settings: dict[str, str]  # TEXTREC_* variables that override services.env

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['TEXTREC_MLFLOW_PORT']}"

    @property
    def prefect_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['TEXTREC_PREFECT_PORT']}/api"

    def env(self) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
        return e | self.settings

    def sh(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(["bash", str(SERVICES), *args], env=self.env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        assert not check or proc.returncode == 0, \
            f"services.sh {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc


def new_stack(lost_run_seconds: int = 40) -> Stack:
    # not under pytest's tmp folder (mode 700): run by root, PostgreSQL runs as another account that must
    # reach its data folder
    state = Path(tempfile.mkdtemp(prefix="textrec-team-"))
    state.chmod(0o755)
    ports = {f"TEXTREC_{name}_PORT": str(free_port()) for name in ("PG", "MLFLOW", "PREFECT")}
    return Stack(state, {"TEXTREC_SERVICES_DIR": str(state / "services"), "TEXTREC_SERVICES_HOST": "127.0.0.1",
                         "TEXTREC_ARTIFACTS": str(state / "services" / "mlartifacts"), **ports,
                         "TEXTREC_HEARTBEAT_SECONDS": "30", "TEXTREC_LOST_RUN_SECONDS": str(lost_run_seconds)})


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after "pid (comm)": [state, ppid, pgrp, ...]; None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def processes_of(marker: str) -> set[tuple[int, str]]:
    """(pid, start time) of every live process whose environment holds ``marker`` (KEY=value), and of their
    descendants (PostgreSQL's backends overwrite their environment with their title)."""
    stats = {pid: s for pid in _pids() if (s := _stat(pid)) and s[0] != "Z"}
    roots = set()
    for pid in stats:
        with contextlib.suppress(OSError):
            if marker.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                roots.add(pid)
    found, grew = set(roots), True
    while grew:
        children = {pid for pid, s in stats.items() if int(s[1]) in found} - found
        found |= children
        grew = bool(children)
    return {(pid, stats[pid][19]) for pid in found}  # field 22 of stat: start time


def still_running(procs: set[tuple[int, str]]) -> set[int]:
    """Those of ``procs`` (pid, start time) that still run (a zombie does not)."""
    return {pid for pid, start in procs if (s := _stat(pid)) and s[0] != "Z" and s[19] == start}


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``, its process group and every descendant: a machine that is gone, not a shutdown."""
    stats = {p: s for p in _pids() if (s := _stat(p))}
    doomed, grew = {pid} | {p for p, s in stats.items() if int(s[2]) == pid}, True
    while grew:
        children = {p for p, s in stats.items() if int(s[1]) in doomed} - doomed
        doomed |= children
        grew = bool(children)
    for p in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
