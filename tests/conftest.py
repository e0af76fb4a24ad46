"""Shared fixtures. The parity kit and real-dev data live in ../shared beside the repository (CI has it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PARITY = SHARED / "reference" / "paddleocr-parity"

# Time limits (s) of tests using these session fixtures: the first such test of a cold run also builds the
# fixture (kit_run: export, quantize and evaluate two models, ~1-3 min on 2 shared cores). The default limit
# is `timeout` in pyproject.toml; an explicit @pytest.mark.timeout wins.
HEAVY_FIXTURES = {"kit_run": 900, "exported_mv3": 600}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        limits = [HEAVY_FIXTURES[f] for f in getattr(item, "fixturenames", ()) if f in HEAVY_FIXTURES]
        if limits and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(max(limits)))


@pytest.fixture(scope="session")
def parity_kit() -> Path:
    if not (PARITY / "labels.tsv").exists():
        pytest.skip(f"PaddleOCR parity kit not found at {PARITY}")
    return PARITY


@pytest.fixture(scope="session")
def parity_rows(parity_kit: Path) -> list[tuple[Path, str]]:
    """(image path, label) in the kit's batch order."""
    rows = []
    for line in (parity_kit / "labels.tsv").read_text(encoding="utf-8").splitlines():
        rel, label = line.split("\t", 1)
        rows.append((parity_kit / rel, label))
    return rows


def read_predictions(path: Path) -> list[tuple[str, str, float]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, text, score = line.split("\t")
        out.append((name, text, float(score)))
    return out


@pytest.fixture()
def server():
    """A loopback HTTP file server (tests/data/test_download.py FileServer) on 127.0.0.1, stopped afterwards."""
    import threading

    from tests.data.test_download import FileServer

    srv = FileServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@dataclass(frozen=True)
class PrefectServer:
    url: str  # its API, http://127.0.0.1:<port>/api
    env: dict[str, str]  # os.environ with PREFECT_HOME and PREFECT_API_URL for this server (servers.prefect_env)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One Prefect server on 127.0.0.1 for every flow test of the session (one start costs 10-30 s on 2
    shared cores), its process group stopped at the end. Tests find their own runs (by deployment, work pool
    or latest start), never count every run on it."""
    from tests.pipeline.servers import prefect_env, start_prefect_server

    tmp = tmp_path_factory.mktemp("prefect")
    srv = start_prefect_server(tmp / "home", tmp / "prefect.log")
    try:
        yield PrefectServer(srv.url, prefect_env(tmp / "home", srv.url))
    finally:
        srv.stop()
