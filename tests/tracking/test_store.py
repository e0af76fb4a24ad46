from __future__ import annotations

import os
from pathlib import Path

from textrec.config import TrackingConfig
from textrec.tracking.store import mlflow_session, resolve_store

REPO = Path(__file__).resolve().parents[2]


def test_default_store_is_inside_the_project(tmp_path):
    s = resolve_store(TrackingConfig(), tmp_path, env={})
    assert s.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert s.artifact_location == (tmp_path.resolve() / "mlartifacts").as_uri()
    assert s.experiment == "textrec"


def test_env_var_wins_and_a_server_keeps_its_artifact_root(tmp_path):
    s = resolve_store(TrackingConfig(), tmp_path, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5055"})
    assert s.tracking_uri == "http://127.0.0.1:5055" and s.artifact_location is None
    s = resolve_store(TrackingConfig(), tmp_path, env={"MLFLOW_TRACKING_URI": "sqlite:////abs/x.db"})
    assert s.tracking_uri == "sqlite:////abs/x.db" and s.artifact_location is not None


def test_session_creates_the_experiment_and_restores_global_state(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")  # must survive the session untouched
    store = resolve_store(TrackingConfig(tracking_uri="sqlite:///t.db", experiment="e1"), tmp_path, env={})
    with mlflow_session(store) as exp_id:
        assert mlflow.get_tracking_uri() == store.tracking_uri
        exp = mlflow.get_experiment(exp_id)
        assert exp.name == "e1" and exp.artifact_location == store.artifact_location
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:1"
    with mlflow_session(store) as again:  # existing experiment is reused
        assert again == exp_id
    assert (tmp_path / "t.db").is_file()


def test_a_tracking_server_that_is_down_fails_in_one_line_naming_it(tmp_path):
    """MLflow's own retries (bounded by store.HTTP_RETRY_DEFAULTS), then one line: no 4-minute wait, no traceback."""
    import shutil
    import subprocess
    import sys
    import time

    from bench.servers import free_port
    from textrec.tracking.store import HTTP_RETRY_DEFAULTS

    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the connection is refused
    env = {k: v for k, v in os.environ.items() if k not in HTTP_RETRY_DEFAULTS} | {"MLFLOW_TRACKING_URI": uri}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "textrec.cli", "promote"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # was 4 min 21 s
    seconds = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and uri in proc.stderr and "not reachable" in proc.stderr, proc.stderr
    assert "Connection refused" in proc.stderr
    assert seconds < 60, f"promote took {seconds:.0f} s"


def _tables(path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_sqlite_store_appears_whole_even_when_its_creator_is_killed(tmp_path):
    """MLflow builds a new SQLite store's tables in a temporary file linked into place when done: a process
    killed at any moment of that leaves no store or a whole one, never the half-built file that failed every
    later run ("table _alembic_tmp_experiments already exists")."""
    import signal
    import subprocess
    import sys
    import time

    from textrec.tracking.store import client

    code = ("import sys; from textrec.config import TrackingConfig; from textrec.tracking.store import "
            "resolve_store, ensure_sqlite; ensure_sqlite(resolve_store(TrackingConfig(), sys.argv[1], env={}))")
    root = tmp_path / "killed"
    root.mkdir()
    for delay in (0.0, 0.3, 1.0):  # after MLflow started writing the new store's tables
        proc = subprocess.Popen([sys.executable, "-c", code, str(root)])
        deadline = time.monotonic() + 240
        while not list(root.glob(".mlflow.db.*.creating")) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        db = root / "mlflow.db"
        assert not db.exists() or ("alembic_version" in _tables(db) and not any(
            t.startswith("_alembic_tmp_") for t in _tables(db))), delay
    client(resolve_store(TrackingConfig(), root, env={}))  # builds it whole; the killed creators' files go
    assert [p.name for p in root.iterdir()] == ["mlflow.db"] and "alembic_version" in _tables(root / "mlflow.db")


def test_a_half_built_sqlite_store_is_one_line_saying_what_to_do(tmp_path):
    import shutil
    import sqlite3

    import pytest

    from textrec.tracking.live import open_training_run
    from textrec.tracking.store import client, ensure_sqlite

    store = resolve_store(TrackingConfig(), tmp_path, env={})
    (tmp_path / "ok").mkdir()
    ensure_sqlite(resolve_store(TrackingConfig(), tmp_path / "ok", env={}))
    shutil.copyfile(tmp_path / "ok" / "mlflow.db", tmp_path / "mlflow.db")
    with sqlite3.connect(tmp_path / "mlflow.db") as conn:  # what alembic's batch migration leaves when killed
        conn.execute("CREATE TABLE _alembic_tmp_experiments (experiment_id INTEGER)")
    with pytest.raises(ValueError, match=r"mlflow.db was left half-built .*: move it aside") as e:
        client(store)
    assert "\n" not in str(e.value)
    from textrec.config import load_params

    params = load_params(REPO / "params.yaml")
    assert open_training_run(params, "mobilenet_v3", tmp_path, env={}) is None  # training goes on without it
