"""MLflow's side of monitoring: a registered version's reference (an artifact of its run), its monitoring
metrics (logged on its run, one step per check, so the version's run charts them over time) and the served
model itself as a predictor (for writing the reference with exactly what the server computes).

    fetch_reference(store, "crnn-text-recognizer", "3", tmp)   # -> Path | None
    attach_reference(store, "crnn-text-recognizer", "3", Path("reference.json"))
    log_check(store, "crnn-text-recognizer", "3", result.metrics(), report, result.reason)
"""

from __future__ import annotations

import time
from pathlib import Path

from textrec.monitoring.reference import FILE_NAME, Predict
from textrec.tracking.store import Store, client

FOLDER = "monitoring"  # artifact folder of the version's run: reference.json, check-<step>.html
ALARM = "monitoring/alarm"  # its metric history counts the checks


def model_version(store: Store, model: str, version: str):
    """The registered version, or ValueError (one line) when it is not there. A local SQLite store that does
    not exist yet has no versions: it is not created by asking."""
    from mlflow.exceptions import MlflowException

    if store.tracking_uri.startswith("sqlite:///") and not Path(store.tracking_uri.removeprefix("sqlite:///")).exists():
        raise ValueError(f"{model} version {version} is not in the registry (no store at {store.tracking_uri})")
    try:
        return client(store).get_model_version(model, version)
    except MlflowException as e:
        raise ValueError(f"{model} version {version} is not in the registry at {store.tracking_uri} "
                         f"({e.message.splitlines()[0]})") from None


def fetch_reference(store: Store, model: str, version: str, dst: Path) -> Path | None:
    """The version's reference file, downloaded into ``dst``; None when its run has none."""
    mv = model_version(store, model, version)
    names = {a.path for a in client(store).list_artifacts(mv.run_id, FOLDER)}
    if f"{FOLDER}/{FILE_NAME}" not in names:
        return None
    return Path(client(store).download_artifacts(mv.run_id, f"{FOLDER}/{FILE_NAME}", str(dst)))


def attach_reference(store: Store, model: str, version: str, file: Path, count: int, source: str) -> None:
    """Keep ``file`` as the version's reference (replacing an earlier one) and say so on the version."""
    mv = model_version(store, model, version)
    c = client(store)
    c.log_artifact(mv.run_id, str(file), FOLDER)
    c.set_model_version_tag(model, version, "monitoring.reference", f"{count} predictions on {source}")


def log_check(store: Store, model: str, version: str, metrics: dict[str, float], report: Path,
              reason: str) -> int:
    """One check's metrics on the version's run (step = the number of earlier checks) and its report as an
    artifact; the verdict as tags of the version. Returns the step."""
    from mlflow.entities import Metric

    mv = model_version(store, model, version)
    c = client(store)
    step = len(c.get_metric_history(mv.run_id, ALARM))
    now = int(time.time() * 1000)
    c.log_batch(mv.run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])
    renamed = report.with_name(f"check-{step}.html")
    renamed.write_bytes(report.read_bytes())
    c.log_artifact(mv.run_id, str(renamed), FOLDER)
    for key, value in {"monitoring.last_check": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "monitoring.alarm": str(bool(metrics.get(ALARM))).lower(),
                       "monitoring.reason": reason[:5000]}.items():
        c.set_model_version_tag(model, version, key, value)
    return step


def served_predictor(store: Store, model: str, version: str, dst: Path) -> Predict:
    """The registered pyfunc of (model, version), fetched into ``dst``, as ``predict(images) -> [(text,
    confidence)]``: the served model's own preprocessing, engine and confidence."""
    import base64

    import mlflow
    import pandas as pd

    from textrec.tracking.scoring import fetch_model

    model_version(store, model, version)
    pyfunc = mlflow.pyfunc.load_model(str(fetch_model(f"models:/{model}/{version}", store.tracking_uri, dst).path))

    def predict(images: list[bytes]) -> list[tuple[str, float]]:
        df = pyfunc.predict(pd.DataFrame({"image": [base64.b64encode(b).decode() for b in images]}))
        return list(zip(df["text"].tolist(), df["confidence"].astype(float).tolist(), strict=True))

    return predict
