"""`textrec serve --log`: the served model logs each prediction (model name and registry version), and a log
that cannot be written never fails a request: it is counted and said in the server log."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.monitoring.helpers import random_png
from tests.serving import kinds
from tests.serving.conftest import start_textrec_server, tiny_project
from textrec.monitoring.store import LogError, open_log

__all__ = ["tiny_project"]


def _post(url: str, images: list[bytes]) -> kinds.Answer:
    body = json.dumps({"inputs": {"image": [base64.b64encode(b).decode() for b in images]}}).encode()
    return kinds.post(url, body)


def _wait_rows(db, n: int, timeout: float = 30.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            con = open_log(db)
            got = con.execute("SELECT model, version, source, text, confidence, sha256 FROM predictions "
                              "ORDER BY id").fetchall()
            con.close()
            if len(got) >= n or time.monotonic() > deadline:
                return got
        except LogError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@pytest.mark.servers
@pytest.mark.timeout(300)
def test_served_predictions_are_logged_and_a_broken_log_fails_nothing(tiny_project, tmp_path) -> None:
    import hashlib

    db = tmp_path / "served.db"
    images = [random_png(i) for i in range(3)]
    with start_textrec_server(tiny_project, tmp_path / "serve.log", "--log", str(db)) as srv:
        first, second = _post(srv.url, images[:2]), _post(srv.url, images[2:])
        refused = kinds.post(srv.url, json.dumps({"inputs": {"image": ["%%%"]}}).encode())
        assert (first.status, second.status, refused.status) == (200, 200, 400)
        got = _wait_rows(db, 3)
    answers = json.loads(first.body)["predictions"] + json.loads(second.body)["predictions"]
    assert [(m, v, s) for m, v, s, *_ in got] == [("crnn-text-recognizer", "1", "serve")] * 3
    assert [(t, c) for *_, t, c, _ in got] == [(a["text"], a["confidence"]) for a in answers]
    assert [h for *_, h in got] == [hashlib.sha256(b).hexdigest() for b in images]

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with start_textrec_server(tiny_project, tmp_path / "serve2.log", "--log", str(blocker / "p.db")) as srv:
        answers = [_post(srv.url, images[:1]) for _ in range(3)]
        assert [a.status for a in answers] == [200] * 3
        deadline = time.monotonic() + 30
        while "not logged" not in srv.log_tail(200) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "prediction(s) not logged (write_failed" in srv.log_tail(200)
