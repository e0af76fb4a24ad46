"""A registered version: `textrec reference --model-uri` keeps its reference with it in MLflow (written by the
served pyfunc itself), and each `textrec monitor` check logs its metrics on the version's run, one step per
check, with the verdict as tags of the version."""

from __future__ import annotations

import pytest

from tests.monitoring.helpers import random_png
from tests.serving.conftest import tiny_project
from textrec.config import load_params
from textrec.monitoring.store import LogItem, PredictionLogger
from textrec.tracking.store import client, resolve_store

__all__ = ["tiny_project"]
MODEL = "crnn-text-recognizer"


@pytest.mark.timeout(300)
def test_reference_and_checks_of_a_registered_version_live_in_mlflow(tiny_project, tmp_path, capsys) -> None:
    from textrec.cli import main
    from textrec.tracking.monitoring import served_predictor

    root = tiny_project
    params = load_params(root / "params.yaml")
    store = resolve_store(params.tracking, root)
    common = ["--params", str(root / "params.yaml"), "--root", str(root)]
    val = tmp_path / "val"
    val.mkdir()
    for i in range(220):
        (val / f"{i:03d}.png").write_bytes(random_png(i, 24 + i % 20, 60 + i % 90))
    # the window: what the served version answered for other images of the same kind
    images = [random_png(1000 + i, 24 + i % 20, 60 + i % 90) for i in range(220)]
    preds = served_predictor(store, MODEL, "1", tmp_path / "model")(images)
    log = PredictionLogger(tmp_path / "p.db", MODEL, "1")
    log.log([LogItem(b, t, c) for b, (t, c) in zip(images, preds, strict=True)])
    log.close()
    monitor = ["monitor", *common, "--log", str(tmp_path / "p.db"), "--out", str(tmp_path / "out")]
    assert main(monitor) == 2  # registered, but no reference yet: one line saying how to write it
    assert f"version 1 has no reference: write it with `textrec reference --data data/lmdb/val` and --model-uri " \
           f"models:/{MODEL}/1" in capsys.readouterr().err

    assert main(["reference", *common, "--model-uri", f"models:/{MODEL}/1", "--data", str(val)]) == 0
    assert "220 predictions" in capsys.readouterr().out
    for _ in range(2):
        code = main(monitor)
        assert code == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "no drift: crnn-text-recognizer version 1, 220 predictions" in out and "MLflow: check 1 logged" in out

    c = client(store)
    mv = c.get_model_version(MODEL, "1")
    history = c.get_metric_history(mv.run_id, "monitoring/alarm")
    assert sorted(m.step for m in history) == [0, 1] and {m.value for m in history} == {0.0}
    assert {m.step for m in c.get_metric_history(mv.run_id, "monitoring/confidence/effect")} == {0, 1}
    assert mv.tags["monitoring.alarm"] == "false" and mv.tags["monitoring.reason"].startswith("no drift")
    assert mv.tags["monitoring.reference"] == f"220 predictions on {val}"
    names = {a.path for a in c.list_artifacts(mv.run_id, "monitoring")}
    assert {"monitoring/reference.json", "monitoring/check-0.html", "monitoring/check-1.html"} <= names
