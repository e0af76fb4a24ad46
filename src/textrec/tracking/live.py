"""Live training curves: the MLflow run of one training, created before its first step and continued when
the training resumes; ``textrec track`` later adds evaluation, export and registry data to the same run.

    sink = open_training_run(params, "mobilenet_v3", root=".")        # None: tracking off or unreachable
    sink.log(step, {"train/loss": 2.3, "train/lr": 1e-3})            # returns at once
    sink.close("FINISHED")

Metrics are sent by a background thread every ``interval`` seconds, so a slow or unreachable store never
stalls a training step. Tracking is optional: when it is switched off (``tracking.live: false``), the store
cannot be reached or a write fails, training goes on without it and the log says so once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.request
from pathlib import Path

from textrec.config import Params
from textrec.tracking.store import Store, client, resolve_store

log = logging.getLogger("textrec.tracking")
TAG_LIVE = "live_training"  # "true" on a run created by the train stage


def training_params(params: Params, backbone: str) -> dict[str, str]:
    """The params a training run is made of (those its DVC stage lists): they cannot differ between the
    training and the later ``textrec track`` of the same outputs without DVC training again."""
    from textrec.tracking.files import param_strings

    keep = (f"train.{backbone}.", "charset.", "model.image_shape", "data.validation.max_rejected_fraction",
            "profile")
    return {k: v for k, v in param_strings(params).items() if k.startswith(keep)}


def _reachable(uri: str, timeout: float = 5.0) -> str | None:
    """None if a tracking server answers /health; otherwise why not (database stores are always local)."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as r:
            return None if r.status == 200 else f"{uri}/health answered {r.status}"
    except OSError as e:
        return f"{uri} is not reachable ({e})"


def _experiment_id(c, store: Store) -> str:
    from mlflow.exceptions import MlflowException

    exp = c.get_experiment_by_name(store.experiment)
    if exp is not None:
        return exp.experiment_id
    try:
        return c.create_experiment(store.experiment, artifact_location=store.artifact_location)
    except MlflowException:  # created meanwhile by another process
        return c.get_experiment_by_name(store.experiment).experiment_id


class LiveRun:
    """A metrics sink for the training loop (``textrec.training.loop.MetricsSink``) writing to one run."""

    def __init__(self, mlflow_client, run_id: str, last_logged_step: int = -1, interval: float = 5.0) -> None:
        self.run_id = run_id
        self._client, self._skip_to, self._interval = mlflow_client, last_logged_step, interval
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self.failed: str | None = None
        # (DataLoader workers the trainer forks later never touch MLflow; this thread does not exist in them)
        self._thread = threading.Thread(target=self._work, name="mlflow-live", daemon=True)
        self._thread.start()

    def log(self, step: int, metrics: dict[str, float]) -> None:
        # a resumed training recomputes (identically) the steps after its checkpoint: the run has them already
        if self.failed is None and step > self._skip_to:
            self._queue.put((step, int(time.time() * 1000), metrics))

    def _work(self) -> None:
        stopping = False
        while not stopping:
            stopping = self._stop.wait(self._interval)
            rows = []
            while not self._queue.empty():
                rows.append(self._queue.get())
            if rows and self.failed is None:
                self._send(rows)

    def _send(self, rows: list[tuple[int, int, dict[str, float]]]) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(k, float(v), ts, step) for step, ts, m in rows for k, v in m.items()]
        try:
            self._client.log_batch(self.run_id, metrics=metrics)
        except Exception as e:  # any failure of the store stops the tracking, never the training
            self.failed = f"{type(e).__name__}: {e}"
            log.warning("MLflow: writing to run %s failed (%s); training goes on without live tracking "
                        "(`textrec track` logs the whole curve from the CSV later)", self.run_id, self.failed)

    def close(self, status: str = "FINISHED", timeout: float = 60.0) -> None:
        """Send what is queued, then mark the run ``status`` (FINISHED | FAILED | KILLED)."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("MLflow: run %s did not take the last metrics within %.0f s; giving up on them",
                        self.run_id, timeout)
            return
        if self.failed is None:
            try:
                self._client.set_terminated(self.run_id, status)
            except Exception as e:  # as in _send: the training's result stands
                log.warning("MLflow: could not mark run %s %s (%s)", self.run_id, status, e)


def open_training_run(params: Params, backbone: str, root: str | Path = ".", run_id: str | None = None,
                      interval: float = 5.0, env: dict[str, str] | None = None) -> LiveRun | None:
    """Continue run ``run_id`` (a resumed training) or create one; None, said once in the log, when
    tracking is off or the store cannot be used. ``root``: the project root, as for ``textrec track``."""
    if not params.tracking.live:
        log.info("MLflow: live tracking off (tracking.live: false); `textrec track` logs the curve afterwards")
        return None
    store = resolve_store(params.tracking, root, env)
    why = _reachable(store.tracking_uri)
    if why is not None:
        log.warning("MLflow: %s; training goes on without live tracking", why)
        return None
    try:
        c = client(store)
        exp_id = _experiment_id(c, store)
        if run_id is not None:
            last = _continue(c, run_id, exp_id)
            if last is not None:
                log.info("MLflow: continuing run %s (%s) after step %d", run_id, store.tracking_uri, last)
                return LiveRun(c, run_id, last, interval)
        run = c.create_run(exp_id, run_name=f"{backbone}-{time.strftime('%Y%m%d-%H%M%S')}",
                           tags={"backbone": backbone, "profile": params.profile, TAG_LIVE: "true"})
        from mlflow.entities import Param

        c.log_batch(run.info.run_id, params=[Param(k, v) for k, v in training_params(params, backbone).items()])
    except Exception as e:  # whatever the store says, training does not depend on it
        log.warning("MLflow: cannot open a run in %s (%s: %s); training goes on without live tracking",
                    store.tracking_uri, type(e).__name__, e)
        return None
    log.info("MLflow: training run %s in %s, experiment %r", run.info.run_id, store.tracking_uri, store.experiment)
    return LiveRun(c, run.info.run_id, interval=interval)


def _continue(c, run_id: str, experiment_id: str) -> int | None:
    """The last step run ``run_id`` holds, with the run set RUNNING again; None if it cannot be continued."""
    from mlflow.exceptions import MlflowException

    try:
        run = c.get_run(run_id)
    except MlflowException:
        log.warning("MLflow: run %s of the checkpoint is not in this store; starting a new run", run_id)
        return None
    if run.info.experiment_id != experiment_id or run.info.lifecycle_stage != "active":
        log.warning("MLflow: run %s of the checkpoint is deleted or in another experiment; starting a new run",
                    run_id)
        return None
    c.update_run(run_id, status="RUNNING")
    return max((m.step for m in c.get_metric_history(run_id, "train/loss")), default=-1)
