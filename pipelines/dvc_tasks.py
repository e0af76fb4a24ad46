"""Prefect tasks that run DVC stages as subprocesses and stream their output into the run log.

DVC decides whether a stage must run; Prefect decides when, retries the network-bound download and
records what happened. The stage's own error lines end up in the Prefect log and in the raised error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from pathlib import Path

from prefect import get_run_logger, task


def venv_env() -> dict[str, str]:
    """Environment for DVC: the stages' `python` must be this interpreter (the project's venv)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_logged(cmd: list[str], cwd: Path) -> None:
    log = get_run_logger()
    log.info("$ %s  (in %s)", " ".join(cmd), cwd)
    tail: deque[str] = deque(maxlen=30)
    proc = subprocess.Popen(cmd, cwd=cwd, env=venv_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            tail.append(line)
            log.info(line)
    if proc.wait() != 0:
        detail = "\n".join(tail)
        log.error("command failed with exit code %s: %s\n%s", proc.returncode, " ".join(cmd), detail)
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}); last lines:\n{detail}")


@task(task_run_name="dvc repro {targets}")
def dvc_repro(project: Path, targets: list[str]) -> list[str]:
    """`dvc repro <targets>`: runs them (and anything upstream that changed); a no-op when up to date."""
    run_logged([sys.executable, "-m", "dvc", "repro", *targets], project)
    return targets


# The download stage talks to the network: retry it with back-off. No other stage is retried, since a
# deterministic failure (bad data, a failed gate) would only fail again.
dvc_repro_download = dvc_repro.with_options(name="dvc repro download", retries=3, retry_delay_seconds=[10, 60, 300])


@task
def apply_profile(project: Path, profile: str) -> str:
    run_logged([sys.executable, "-m", "textrec.cli", "profile", profile], project)
    return profile
