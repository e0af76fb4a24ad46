"""Prefect tasks that run DVC stages as subprocesses and stream their output into the run log.

DVC decides whether a stage must run; Prefect decides when, retries the network-bound download and
records what happened. The stage's own error lines end up in the Prefect log and in the raised error.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
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


# The checkout's params.yaml as it was before a run that composed a profile into it; beside it the lock that
# keeps a second run out of the checkout meanwhile. Under .cache/ (git- and dvc-ignored, outside every output).
PARAMS_BEFORE_RUN = Path(".cache") / "params.before-run.yaml"
RUN_LOCK = Path(".cache") / "crnn-pipeline.lock"


@contextmanager
def profile_for_this_run(project: Path, profile: str | None, log: logging.Logger | logging.LoggerAdapter
                         ) -> Iterator[None]:
    """params.yaml composed from ``profile`` (None: as it is) for this run only: the checkout's own
    params.yaml is put back when the run ends, failed or not, so the next scheduled run reads it and not
    this run's profile. A run killed before it could put it back (SIGKILL skips ``finally``) left the copy
    behind: the next run puts it back first. One run per checkout holds the lock (the deployments' concurrency
    limits already keep their runs apart; this also covers a run started by hand)."""
    import fcntl

    from textrec.profiles import write_profile

    params, before = project / "params.yaml", project / PARAMS_BEFORE_RUN
    before.parent.mkdir(parents=True, exist_ok=True)
    with (project / RUN_LOCK).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another crnn-pipeline run is using {project} (it holds {RUN_LOCK}): one run "
                               "per checkout, start this one when it has finished") from None
        if before.exists():
            os.replace(before, params)
            log.warning("params.yaml: put back as it was before an earlier run that ended without doing so")
        if profile is None:
            yield
            return
        shutil.copy2(params, before)
        try:
            write_profile(profile, params)
            log.info("params.yaml: profile %s for this run only (put back when it ends)", profile)
            yield
        finally:
            os.replace(before, params)
