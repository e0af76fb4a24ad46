"""`textrec serve` of models:/<name>@production answers real word images; bad input gets a 4xx."""

from __future__ import annotations

import base64
import dataclasses

import cv2
import numpy as np
import pytest

from bench.servers import http, post_json
from tests.conftest import read_predictions
from tests.serving.conftest import start_textrec_server
from tests.tracking.conftest import sqlite_store
from tests.tracking.kit_pipeline import clone_run
from textrec.calibration import Calibration
from textrec.config import load_params
from textrec.inference.orientation import is_portrait
from textrec.tracking.log import track_pipeline_run
from textrec.tracking.registry import promote, register_best

MAX_PIXELS, MAX_BYTES = 2_000_000, 1_000_000  # the kit's largest image is 2836x456 = 1.29 Mpx


def _png(img: np.ndarray) -> str:
    import cv2

    return base64.b64encode(cv2.imencode(".png", img)[1].tobytes()).decode()


@pytest.fixture()
def production(kit_run, tmp_path):
    """mobilenet_v3 of the kit run tracked, registered (fp32) and promoted in a SQLite registry."""
    root = clone_run(kit_run, tmp_path / "project").parent
    params = load_params(root / "params.yaml")
    params = dataclasses.replace(params, promotion=dataclasses.replace(
        params.promotion, serve_precision="fp32", max_latency_ms=1e6, max_image_pixels=MAX_PIXELS,
        max_image_bytes=MAX_BYTES))
    store = sqlite_store(tmp_path)
    run = track_pipeline_run(params, root, ("mobilenet_v3",), store=store)
    register_best(params, store, run.pipeline_run_id)
    assert promote(params.promotion, store).promoted
    return store, root


@pytest.mark.servers
@pytest.mark.timeout(900)  # may build kit_run, then starts `textrec serve`
def test_scoring_server(production, parity_kit, parity_rows, tmp_path):
    store, root = production
    want = read_predictions(parity_kit / "predictions_mv3.tsv")
    images = [base64.b64encode(p.read_bytes()).decode() for p, _ in parity_rows]
    rng = np.random.default_rng(0)
    bad = {
        "corrupt image": ({"inputs": {"image": [images[0], base64.b64encode(b"\x89PNG\r\n junk").decode()]}},
                          "image 1: cannot decode"),
        "empty body": (None, "the body is not valid JSON"),
        "empty image": ({"inputs": {"image": [""]}}, "image 0: empty image"),
        "too many pixels": ({"inputs": {"image": [_png(np.full((1100, 2000, 3), 200, np.uint8))]}},
                            f"2000x1100 pixels is larger than the limit {MAX_PIXELS}"),
        "too many bytes": ({"inputs": {"image": [_png(rng.integers(0, 256, (600, 600, 3), dtype=np.uint8))]}},
                           f"bytes is larger than the limit {MAX_BYTES}"),
        "not base64": ({"dataframe_split": {"columns": ["image"], "data": [["%%%"]]}}, "valid base64"),
        # a path is not an image: the server neither reads it nor tells whether it exists
        "a server file": ({"inputs": {"image": ["/etc/passwd"]}},
                          "image 0: string of 11 characters is not valid"),
        "an image file": ({"inputs": {"image": [str(parity_rows[0][0])]}}, "is not valid base64"),
        # a wrong field name: what is missing, without the images sent under the wrong name
        "wrong field": ({"inputs": {"img": images[:3]}}, "no field 'image' in the request"),
        "wrong column": ({"dataframe_split": {"columns": ["images"], "data": [[images[0]]]}},
                         "no field 'image' in the request"),
    }
    with start_textrec_server(root, tmp_path / "serve.log", tracking_uri=store.tracking_uri) as srv:
        status, body = post_json(srv.url + "/invocations", {"inputs": {"image": images}})
        assert status == 200, body
        preds = body["predictions"]
        # calibrated by the run's calibration (the calibrate stage's file, registered with the model)
        calibrated = Calibration.load(root / "exported/mobilenet_v3/calibration.json").confidences(
            np.load(parity_kit / "outputs_mv3.npy"))
        # the kit's texts of each image as given (PaddleOCR's), wide images included; a portrait crop is also
        # read turned (textrec.inference.orientation), so its reading is at least as confident as as-given's
        portrait = [is_portrait(cv2.imread(str(p))) for p, _ in parity_rows]
        assert 0 < sum(portrait) < len(portrait)
        for pred, (_, text, _), cal, turned in zip(preds, want, calibrated, portrait, strict=True):
            if turned:
                assert pred["confidence"] >= cal - 1e-5
            else:
                assert (pred["text"], pred["confidence"]) == (text, pytest.approx(cal, abs=1e-5))

        for case, (payload, message) in bad.items():
            if payload is None:
                status, raw = http("POST", srv.url + "/invocations", b"")
                text = raw.decode()
            else:
                status, text = post_json(srv.url + "/invocations", payload)
                text = str(text)
            assert 400 <= status < 500, (case, status, text[:500])
            assert message in text, (case, text[:500])
            assert len(text) < 1000, (case, text[:500])  # a short message, not the upload echoed back
            assert images[0][100:160] not in text, (case, text[:500])  # no part of any image sent

        # the server keeps answering after the bad requests
        status, body = post_json(srv.url + "/invocations",
                                 {"dataframe_split": {"columns": ["image"], "data": [[images[2]]]}})
        assert status == 200 and body["predictions"][0]["text"] == want[2][1]
    assert srv.alive() == []  # nothing of the server's process group is left
