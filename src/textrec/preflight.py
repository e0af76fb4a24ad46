"""What a stage checks before its first expensive step, so a bad setting fails in a second with one
``<stage>: error: ...`` line instead of a traceback minutes (or hours of training) later:

    params = load_stage_params("train", args.params)  # unknown keys, bad types, out-of-range numbers
    require_writable("train", models / backbone, reports_dir)  # not at the first checkpoint save

For entry points (stages/*.py) only: both exit (SystemExit, status 1) instead of raising.
"""

from __future__ import annotations

import os
from pathlib import Path

from textrec.config import ConfigError, Params, load_params


def load_stage_params(stage: str, path: str | Path) -> Params:
    try:
        return load_params(path)
    except ConfigError as e:
        raise SystemExit(f"{stage}: error: {e}") from None


def write_problem(directory: str | Path) -> str | None:
    """Why files cannot be written into ``directory``, or None. Creates it (and its parents) if missing,
    then writes and deletes a probe file: permissions, read-only mounts and a parent that is a regular file
    all show up here, as they would at the stage's first write."""
    d = Path(directory)
    probe = d / f".write-probe-{os.getpid()}"
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        where = f" ({e.filename})" if e.filename and Path(e.filename) != d else ""
        return f"{e.strerror or e}{where}"
    return None


def require_writable(stage: str, *directories: str | Path) -> None:
    """Exit with one error line naming the first output directory that cannot be written."""
    for d in directories:
        problem = write_problem(d)
        if problem is not None:
            raise SystemExit(f"{stage}: error: cannot write output directory {d}: {problem}. Make it "
                             f"writable (or point paths.* in params.yaml elsewhere) and run the stage again.")
