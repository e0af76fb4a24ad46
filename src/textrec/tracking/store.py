"""Where runs and models are stored: the project's SQLite file by default, any server via MLFLOW_TRACKING_URI
(a server that cannot be reached is one error line, after MLflow's bounded retries)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from textrec.config import TrackingConfig

_LOCAL_SCHEMES = ("sqlite", "file", "postgresql", "mysql", "mssql")
# MLflow's HTTP client retries a refused connection 7 times with back-off factor 2: a tracking server that is
# down held `textrec promote` for 4 min 21 s before its traceback. These bound the retries to ~10 s (1 + 2 + 4 s
# of back-off plus jitter) and a request to 60 s; a value set in the environment wins.
HTTP_RETRY_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                       "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}


@dataclass(frozen=True)
class Store:
    tracking_uri: str
    artifact_location: str | None  # for a new experiment; None lets a tracking server decide
    experiment: str


def resolve_store(cfg: TrackingConfig, root: str | Path = ".", env: dict[str, str] | None = None) -> Store:
    """MLFLOW_TRACKING_URI (if set) wins; otherwise ``cfg.tracking_uri`` with a relative SQLite path
    made absolute against ``root``. Artifacts of a database-backed store go to ``root/cfg.artifact_root``."""
    env = os.environ if env is None else env
    root = Path(root).resolve()
    uri = env.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{root / uri.removeprefix('sqlite:///')}"  # absolute path -> four slashes
    scheme = uri.split(":", 1)[0] if "://" in uri else "file"
    local = scheme.split("+", 1)[0] in _LOCAL_SCHEMES
    artifacts = (root / cfg.artifact_root).as_uri() if local else None
    return Store(uri, artifacts, cfg.experiment)


@contextmanager
def mlflow_session(store: Store) -> Iterator[str]:
    """Point MLflow's fluent API at ``store`` for the duration of the block; yields the experiment id.

    The fluent API (needed by ``log_model``) keeps the URI in process state and mirrors it into the
    MLFLOW_TRACKING_URI variable, so both are restored on exit.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils

    require_reachable(store)
    ensure_sqlite(store)
    saved_global, saved_env = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(store.tracking_uri)
    try:
        exp = mlflow.get_experiment_by_name(store.experiment)
        exp_id = exp.experiment_id if exp else mlflow.create_experiment(
            store.experiment, artifact_location=store.artifact_location)
        yield exp_id
    finally:
        mlflow.set_tracking_uri(saved_global)
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def client(store: Store):
    """An ``MlflowClient`` bound to ``store`` (registry included), without touching global state."""
    from mlflow import MlflowClient

    require_reachable(store)
    ensure_sqlite(store)
    return MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def ensure_sqlite(store: Store) -> None:
    """A SQLite store is created whole or not at all: MLflow builds its tables in a temporary file that is
    then linked into place (a process killed while MLflow migrated the file in place left it half-built, and
    every later run failed on it: "table _alembic_tmp_experiments already exists"). A file so left is one
    error line saying what to do."""
    path = _sqlite_path(store.tracking_uri)
    if path is None:
        return
    if path.exists():
        _refuse_half_built(path)
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.creating"):  # of a creator killed before it was done
        if not Path(f"/proc/{stale.name.split('.')[-2]}").exists():
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.creating")
    try:
        SqlAlchemyStore(f"sqlite:///{tmp}", store.artifact_location or (path.parent / "mlartifacts").as_uri())
        with contextlib.suppress(FileExistsError):  # another process that created it first wins
            os.link(tmp, path)  # atomic: the store appears whole
    finally:
        tmp.unlink(missing_ok=True)


def _refuse_half_built(path: Path) -> None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise ValueError(f"{path} is not a readable MLflow store ({e}): move it aside and run again") from None
    if any(t.startswith("_alembic_tmp_") for t in tables):
        raise ValueError(f"{path} was left half-built by a process killed while MLflow created or upgraded its "
                         "tables: move it aside (its runs, if any, are in it) and run again; a new one is made")


def require_reachable(store: Store) -> None:
    """For a tracking server: GET /health through MLflow's own client and retries (bounded by
    ``HTTP_RETRY_DEFAULTS``); a server that is down, refuses or fails raises one ValueError line naming the
    URI. Database and file stores are opened by MLflow itself and pass."""
    if not store.tracking_uri.startswith(("http://", "https://")):
        return
    from mlflow.exceptions import MlflowException
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    for name, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)  # MLflow reads these at each request
    try:
        # 10 s per attempt: a host that takes the connection and never answers fails in under a minute
        status = http_request(MlflowHostCreds(store.tracking_uri), "/health", "GET", timeout=10).status_code
        why = None if status == 200 else f"/health answered HTTP {status}"
    except MlflowException as e:  # "... failed with exception HTTPConnectionPool(...): ... [Errno 111] ..."
        cause = re.search(r"\[Errno -?\d+\] [^'\")]+", e.message) or re.search(r"timed out|timeout", e.message)
        why = cause.group(0) if cause else e.message.splitlines()[0]
    if why is not None:
        retries = os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
        raise ValueError(f"MLflow tracking server {store.tracking_uri} is not reachable ({why}; {retries} retries): "
                         "start it (scripts/services.sh up for the team stack) or point MLFLOW_TRACKING_URI at "
                         "a running one")
