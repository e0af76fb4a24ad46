"""Portrait crops (textrec.inference.orientation): a word turned by 90 degrees either way is read as the word,
through the Python API, `textrec predict` and the served model's decoding; a landscape image is read exactly
as before; `--no-rotate` / rotate_portrait=False read every image as given."""

import json
from collections import namedtuple
from pathlib import Path

import cv2
import numpy as np
import pytest

from textrec.cli import main
from textrec.inference.orientation import is_portrait, most_confident, views
from textrec.inference.recognizer import Recognizer
from textrec.tracking.images import ImageLimits, decode_items

WORD = "images/iiit5k_790_1.png"  # "Introducing": 3.6 times as wide as high


@pytest.fixture(scope="module")
def word(parity_kit) -> np.ndarray:
    return cv2.imread(str(parity_kit / WORD))  # BGR [H, W, 3], landscape


@pytest.fixture(scope="module")
def rec() -> Recognizer:
    return Recognizer()  # the bundled ONNX model


def _turned(img: np.ndarray) -> dict[str, np.ndarray]:
    return {"clockwise": cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE),
            "counter-clockwise": cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)}


def test_a_turned_word_is_read_as_the_word_either_way(rec, word) -> None:
    upright = rec(word, bgr=True)
    assert upright.text.lower() == "introducing"
    as_given = Recognizer(rotate_portrait=False)
    for way, img in _turned(word).items():
        assert is_portrait(img)
        assert as_given(img, bgr=True).text.lower() != "introducing", way  # the model alone cannot read it
        got = rec(img, bgr=True)
        # turned back exactly: the same pixels, so the same reading as the upright word
        assert (got.text, got.confidence) == pytest.approx((upright.text, upright.confidence)), way


def test_a_landscape_image_is_read_once_and_as_before(rec, word) -> None:
    assert len(views(word, rotate=True)) == 1
    as_given = Recognizer(rotate_portrait=False)
    batch = [word, cv2.resize(word, (word.shape[1] // 2, word.shape[0]))]  # both wider than high
    assert rec(batch, bgr=True) == as_given(batch, bgr=True)


def test_a_tall_reading_that_is_most_confident_stays() -> None:
    Reading = namedtuple("Reading", "text confidence")
    readings = [Reading("1", 0.9), Reading("-", 0.9), Reading("i", 0.2),  # image 1: as given wins the tie
                Reading("ab", 0.5),                                        # image 2: landscape, one view
                Reading("x", 0.1), Reading("word", 0.8), Reading("brow", 0.3)]  # image 3: turned clockwise
    assert [r.text for r in most_confident(readings, [3, 1, 3])] == ["1", "ab", "word"]
    with pytest.raises(ValueError, match="7 readings for 6 views"):
        most_confident(readings, [3, 3])


def test_predict_reads_turned_files_and_no_rotate_reads_them_as_given(word, tmp_path, capsys) -> None:
    for way, img in _turned(word).items():
        cv2.imwrite(str(tmp_path / f"{way}.png"), img)
    cv2.imwrite(str(tmp_path / "upright.png"), word)

    def texts(*flags: str) -> dict[str, str]:
        assert main(["predict", str(tmp_path), "--json", *flags]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return {Path(r["path"]).stem: r["text"].lower() for r in rows}

    assert texts() == {"clockwise": "introducing", "counter-clockwise": "introducing", "upright": "introducing"}
    as_given = texts("--no-rotate")
    assert as_given["upright"] == "introducing"
    assert as_given["clockwise"] != "introducing" and as_given["counter-clockwise"] != "introducing"


def test_the_served_models_decoding_keeps_the_portrait_crops_for_the_reader(rec, word) -> None:
    """The served model decodes the request's images (decode_items) and reads them with predict_bgr."""
    png = cv2.imencode(".png", _turned(word)["clockwise"])[1].tobytes()
    (img,) = decode_items([png], ImageLimits())
    assert is_portrait(img)
    assert rec.predict_bgr([img])[0].text.lower() == "introducing"
