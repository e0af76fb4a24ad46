"""PaddleOCR's own tools/infer/predict_rec.py (TextRecognizer of the paddleocr 2.10.0 wheel, by both its Paddle
Inference and its ONNX path) on models exported by textrec: the same texts as textrec's Recognizer
(scripts/paddleocr_interop.py). PaddleOCR is installed by hash into pytest's cache folder, outside the venv
(PyPI on the first run, ~16 MB); the whole module takes ~1.5-2 min on 2 shared cores."""

from __future__ import annotations

import platform
import string
import sys
from pathlib import Path
from types import ModuleType

import cv2
import pytest

from tests.scripts_kit import load_script

pytestmark = pytest.mark.timeout(900)  # first run: download + install, three exports, twelve predict_rec runs
TAGS = ("0-9a-z", "en", "en-relabelled")  # the script's MODELS
JOBS = {("paddle_inference", False), ("paddle_inference", True), ("onnx", False), ("onnx", True)}


def _script() -> ModuleType:
    """scripts/paddleocr_interop.py as a module (scripts/ is a folder of scripts, not a package)."""
    return load_script("scripts/paddleocr_interop.py")


@pytest.fixture(scope="module")
def interop() -> ModuleType:
    return _script()


@pytest.fixture(scope="module")
def paddleocr_cache(request, interop, tmp_path_factory) -> Path:
    """The wheels and the installed PaddleOCR, kept in pytest's cache between runs (a tmp dir without it)."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip("the pinned PaddleOCR / scikit-image wheel hashes are for Linux x86_64")
    name = interop.PADDLEOCR.replace("==", "-")
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    return cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)


@pytest.fixture(scope="module")
def reports(interop, parity_kit, paddleocr_cache, tmp_path_factory) -> dict[str, list[dict]]:
    """Model tag -> its four predict_rec jobs compared with Recognizer, on the parity kit's 24 images."""
    images = sorted((parity_kit / "images").glob("*.png"))
    out: dict[str, list[dict]] = {}
    for r in interop.run(images, None, paddleocr_cache, tmp_path_factory.mktemp("interop")):
        out.setdefault(r["model"].removeprefix("bundle as "), []).append(r)
    return out


def _texts(job: dict) -> list[str]:
    return [row["predict_rec"] for row in job["rows"]]


@pytest.mark.parametrize("tag", TAGS)
def test_predict_rec_reads_what_recognizer_reads(reports, tag):
    jobs = reports[tag]
    assert {(j["engine"], j["use_space_char"]) for j in jobs} == JOBS
    for j in jobs:
        wrong = [(r["image"], r["predict_rec"], r["textrec_same_input"], r["textrec"]) for r in j["rows"]
                 if r["predict_rec"] != r["textrec_same_input"]
                 or (r["predict_rec_input_width"] == 100 and r["predict_rec"] != r["textrec"])]
        where = f"{tag}, predict_rec {j['engine']}, use_space_char={j['use_space_char']}"
        assert j["passed"], f"{where}: {j['checks']}; (image, predict_rec, textrec same input, textrec) {wrong}"
        assert j["narrow_images"] == 15 and j["images"] == 24
        assert sum(bool(t) for t in _texts(j)) >= 20  # it reads something: not a test of empty strings


def test_relabelled_model_reads_case_punctuation_and_space(reports, interop):
    """The relabelled en head has the en head's trained columns on swapped classes (upper case, punctuation,
    space): predict_rec's texts use them and are the en model's texts relabelled (the same columns; fresh ones
    never win), so PaddleOCR reads en_dict.txt's classes exactly as textrec does, not only 0-9 and a-z."""
    by_job = {(j["engine"], j["use_space_char"]): j for j in reports["en"]}
    for j in reports["en-relabelled"]:
        texts = _texts(j)
        used = set("".join(texts))
        assert used & set(string.ascii_uppercase) and used & set(string.punctuation) and " " in used, used
        base = _texts(by_job[(j["engine"], j["use_space_char"])])
        assert texts == [t.translate(interop.RELABELLED) for t in base]


def test_only_wide_images_are_widened_by_predict_rec(reports, parity_rows):
    """What differs: predict_rec widens an image wider than 100/32 to int(32 w/h) px (rec_batch_num=1);
    textrec squeezes it into 100 px. Narrower images get the same tensor (checked in the report)."""
    job = reports["en"][0]
    for (path, _), row in zip(sorted(parity_rows), job["rows"], strict=True):
        assert row["image"] == path.name
        h, w = cv2.imread(str(path)).shape[:2]
        assert row["predict_rec_input_width"] == int(32 * max(100 / 32, w / h))  # as predict_rec computes it
