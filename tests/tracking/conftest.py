"""Fixtures: a finished pipeline run built from the parity kit (cached across sessions in pytest's cache)
and one SQLite tracking store holding it, shared by the tracking and registry tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tracking.kit_pipeline import KIT, cached_pipeline_run, clone_run
from textrec.config import Params, TrackingConfig, load_params
from textrec.tracking.log import TrackedPipelineRun
from textrec.tracking.store import Store, resolve_store


@pytest.fixture(scope="session")
def kit_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only pipeline run (both backbones); clone it with ``clone_run`` before changing anything."""
    if not (KIT / "labels.tsv").exists():
        pytest.skip(f"PaddleOCR parity kit not found at {KIT}")
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider: built for this session
    root = cache.mkdir("textrec-kit-run") if cache is not None else tmp_path_factory.mktemp("textrec-kit-run")
    return cached_pipeline_run(Path(root))


def sqlite_store(tmp: Path) -> Store:
    cfg = TrackingConfig(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}", artifact_root=str(tmp / "mlartifacts"))
    return resolve_store(cfg, tmp, env={})


@dataclass(frozen=True)
class Tracked:
    root: Path
    params: Params
    store: Store
    run: TrackedPipelineRun


@pytest.fixture(scope="session")
def tracked(kit_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    """Both backbones of the kit run logged into a fresh SQLite store (done once, read by many tests)."""
    from textrec.tracking.log import track_pipeline_run

    tmp = tmp_path_factory.mktemp("tracked")
    params_file = clone_run(kit_run, tmp / "project")
    params = load_params(params_file)
    store = sqlite_store(tmp)
    return Tracked(tmp / "project", params, store, track_pipeline_run(params, tmp / "project", store=store))
