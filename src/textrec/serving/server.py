"""Run the guarded scoring app with uvicorn (``textrec serve``).

uvicorn starts each worker from an import string (``app_from_env``), in a fresh process: the settings
reach the workers through one environment variable, as MLflow's own server passes its model path.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from textrec.serving.guard import ASGIApp, RequestGuard

ENV = "TEXTREC_SERVE"


@dataclass(frozen=True)
class ServeSettings:
    model_dir: str  # the model's files on this machine (tracking/scoring.py downloads them)
    max_request_bytes: int
    log: dict | None = None  # the prediction log: {"path", "model", "version", "cfg"} (None: off)


def guarded_app(settings: ServeSettings) -> ASGIApp:
    from textrec.config import PredictionLogConfig
    from textrec.tracking.scoring import scoring_app

    log = settings.log and settings.log | {"cfg": PredictionLogConfig(**settings.log["cfg"])}
    return RequestGuard(scoring_app(Path(settings.model_dir), log), settings.max_request_bytes)


def app_from_env() -> ASGIApp:
    """uvicorn's app factory in each worker."""
    return guarded_app(ServeSettings(**json.loads(os.environ[ENV])))


def run(settings: ServeSettings, host: str, port: int, workers: int = 1) -> None:
    """Serve until SIGINT/SIGTERM."""
    import uvicorn

    os.environ[ENV] = json.dumps(asdict(settings))  # this process's environment is what workers inherit
    uvicorn.run(f"{__name__}:app_from_env", factory=True, host=host, port=port, workers=workers)
