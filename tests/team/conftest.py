"""The team stack of scripts/services.sh, started once for the tests of this folder and stopped after them;
the parity kit's finished pipeline run (tests/tracking) for the tracking tests."""

from __future__ import annotations

import shutil

import pytest

from tests.team.stack import Stack, new_stack, processes_of, still_running
from tests.tracking.conftest import kit_run  # noqa: F401  (the session fixture, shared with tests/tracking)


@pytest.fixture(scope="package")
def stack() -> Stack:
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
