"""`textrec serve`: every 4xx/5xx body is short JSON that quotes nothing of the request; bodies over
promotion.max_request_bytes get 413. (MLflow's bare `mlflow models serve` answered the malformed body below
with a 99 kB 400 holding the secret, the random bytes with a 14 kB 400, and read a 30 MB body whole.)"""

from __future__ import annotations

import json

import pytest

from tests.serving import kinds
from tests.serving.conftest import MAX_REQUEST_BYTES, start_textrec_server

FORMAT_HINT = '{"inputs": {"image": ['


def _error(answer: kinds.Answer) -> dict:
    """The error body, checked: at most 1 kB of JSON with a code and a message, nothing of the secret."""
    assert len(answer.body) <= 1024, answer.body[:300]
    assert kinds.SECRET not in answer.body
    err = json.loads(answer.body)
    assert set(err) == {"error_code", "message"}, err
    return err


@pytest.mark.servers
@pytest.mark.timeout(300)
def test_errors_are_short_never_quote_the_request_and_big_bodies_get_413(tiny_project, tmp_path):
    image = kinds.png_b64()
    noise = kinds.random_bytes(2000)
    over = kinds.padded(image, MAX_REQUEST_BYTES + 100_000)
    with start_textrec_server(tiny_project, tmp_path / "serve.log") as srv:
        # (answer, status, part of the message)
        cases = {
            "malformed JSON with a secret": (kinds.post(srv.url, kinds.malformed_json()), 400, "not valid JSON"),
            "2,000 random bytes": (kinds.post(srv.url, noise), 400, "not valid JSON"),
            "a JSON list": (kinds.post(srv.url, b"[1, 2]"), 400, "not a JSON object"),
            "wrong content type": (kinds.post(srv.url, kinds.good(image), "text/x-" + kinds.SECRET.decode()),
                                   415, "unsupported content type"),
            "a charset other than utf-8": (kinds.post(srv.url, kinds.good(image), "application/json; charset=latin-1"),
                                           415, "unsupported content type"),
            "the model's refusal": (kinds.post(srv.url, json.dumps({"inputs": {"image": ["%%%"]}}).encode()),
                                    400, "bad input: image 0: string of 3 characters is not valid base64"),
            "no such path": (kinds.post(srv.url, kinds.good(image), path="/" + kinds.SECRET.decode()), 404,
                             "no such endpoint"),
            "wrong method": (kinds.post(srv.url, b"", method="GET"), 405, "method not allowed"),
            "over the limit": (kinds.post(srv.url, over), 413, f"limit of {MAX_REQUEST_BYTES} bytes"),
            "over the limit, chunked": (kinds.post(srv.url, over, chunked=True), 413, "promotion.max_request_bytes"),
            "declared 1 GB, waiting for 100 Continue": (kinds.post_expecting_continue(srv.url, 10**9), 413,
                                                       "promotion.max_request_bytes"),
        }
        for case, (answer, status, message) in cases.items():
            assert answer.status == status, (case, answer)
            assert message in _error(answer)["message"], (case, answer.body)
        assert not kinds.quotes(cases["2,000 random bytes"][0].body, noise)
        assert FORMAT_HINT in json.loads(cases["malformed JSON with a secret"][0].body)["message"]

        # a request just within the limit is read and answered
        fits = kinds.post(srv.url, kinds.padded(image, MAX_REQUEST_BYTES))
        assert fits.status == 200, fits.body[:300]
        assert len(json.loads(fits.body)["predictions"]) == 1
        assert kinds.post(srv.url, b"", method="GET", path="/ping").status == 200
    assert srv.alive() == []  # nothing of the server's process group is left
