"""The default DVC remote (.dvc/config): a first clone runs a stage of the `tiny` profile and `dvc push`es; a
second clone (`git clone` of the first) `dvc pull`s its outputs and has nothing to re-run. A remote that cannot
be reached: DVC's own error, quickly.

Only the `prepare` stage runs (data, manifests and a report, ~40 s): pushing and pulling work the same for
every stage's outputs, and the whole tiny pipeline would take ~4 min.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest

from bench.servers import free_port
from tests.pipeline.project import copy_project, dvc

pytestmark = pytest.mark.timeout(600)
OUTS = ("data/raw", "data/lmdb", "data/manifests", "reports/prepare.json")


def _git(args: list[str], cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def _digest(root: Path) -> dict[str, str]:
    """sha256 of every file under the stage's outputs, by path relative to ``root``."""
    files = [p for out in OUTS for p in sorted([root / out] if (root / out).is_file() else (root / out).rglob("*"))
             if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_a_second_clone_pulls_the_outputs_and_reruns_nothing(tmp_path):
    remote = tmp_path / "remote"
    first = copy_project(tmp_path / "first", "tiny")
    # the committed default remote `team`, pointed at a folder of this test for this clone only
    assert dvc(["remote", "default"], first).stdout.strip() == "team"
    dvc(["remote", "modify", "--local", "team", "url", str(remote)], first)
    dvc(["repro", "prepare"], first, timeout=600)
    pushed = dvc(["push"], first)  # no -r: the default remote
    assert "pushed" in pushed.stdout and any(remote.rglob("*")), pushed.stdout
    _git(["add", "-A"], first)
    _git(["commit", "-qm", "prepare"], first)

    second = tmp_path / "second"
    _git(["clone", "-q", str(first), str(second)], tmp_path)
    assert not (second / "data" / "lmdb").exists()

    # unreachable: DVC's own error naming the remote's address, within seconds, no traceback
    port = free_port()
    dvc(["remote", "add", "dead", f"http://127.0.0.1:{port}/store"], first)
    t0 = time.monotonic()
    proc = dvc(["push", "-r", "dead"], first, check=False, timeout=300)
    assert proc.returncode != 0 and time.monotonic() - t0 < 120
    assert "ERROR: failed to transfer" in proc.stderr and f"Cannot connect to host 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr

    dvc(["remote", "modify", "--local", "team", "url", str(remote)], second)
    dvc(["pull", "--with-deps", "prepare"], second)  # prepare and the download stage before it
    assert _digest(second) == _digest(first) and _digest(first)
    assert json.loads(dvc(["status", "--with-deps", "prepare", "--json"], second).stdout) == {}
    repro = dvc(["repro", "prepare"], second)
    assert "Running stage" not in repro.stdout and "didn't change, skipping" in repro.stdout, repro.stdout
