"""`textrec predict` / `textrec evaluate` end to end on the parity kit's trained MobileNetV3 checkpoint."""

import json
import shutil

import pytest

from tests.conftest import read_predictions
from textrec.cli import main
from textrec.data.lmdb_io import LmdbWriter


def _lines(out: str) -> dict[str, tuple[str, float]]:
    rows = [line.split("\t") for line in out.strip().splitlines()]
    return {r[0].rsplit("/", 1)[-1]: (r[1], float(r[2])) for r in rows}


def test_predict_folder_prints_paddleocr_texts(parity_kit, capsys):
    # --no-rotate: each image as given, as PaddleOCR's predict_rec read them (one of the 24 is a portrait crop)
    rc = main(["predict", str(parity_kit / "images"), "--model", str(parity_kit / "mv3/best_accuracy.pdparams"),
               "--no-rotate"])
    assert rc == 0
    got = _lines(capsys.readouterr().out)
    expected = read_predictions(parity_kit / "predictions_mv3.tsv")
    assert len(got) == 24
    for name, text, score in expected:
        assert got[name.rsplit("/", 1)[-1]][0] == text
        assert abs(got[name.rsplit("/", 1)[-1]][1] - score) < 1e-5


def test_predict_reports_corrupt_image_and_keeps_the_rest(parity_kit, tmp_path, capsys):
    shutil.copy(parity_kit / "images/iiit5k_790_1.png", tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    rc = main(["predict", str(tmp_path), "--model", str(parity_kit / "mv3/best_accuracy.pdparams"),
               "--backbone", "mobilenet_v3"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert set(_lines(out)) == {"a.png"}
    assert "b.png\tERROR: cannot decode image" in err and "1 of 2 image(s)" in err


def test_predict_reports_dangling_links_and_loops_by_name(parity_kit, tmp_path, capsys):
    """Entries that look like images but cannot be read are reported, never skipped silently."""
    shutil.copy(parity_kit / "images/iiit5k_790_1.png", tmp_path / "a.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "gone.png")  # dangling
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.jpg").symlink_to("d.jpg")
    (tmp_path / "sub" / "d.jpg").symlink_to("c.jpg")  # a loop
    rc = main(["predict", str(tmp_path), "--model", str(parity_kit / "mv3/best_accuracy.pdparams"),
               "--backbone", "mobilenet_v3"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert set(_lines(out)) == {"a.png"}
    assert f"b.png\tERROR: dangling symbolic link to {tmp_path / 'gone.png'}" in err
    assert "c.jpg\tERROR: symbolic link loop" in err and "d.jpg\tERROR: symbolic link loop" in err
    assert "3 of 4 image(s) could not be read" in err


@pytest.mark.parametrize("content", [{}, {"notes.txt": b"x", "sub/README": b"y"}])
def test_predict_on_a_folder_without_images_fails(parity_kit, tmp_path, capsys, content):
    for rel, data in content.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    rc = main(["predict", str(tmp_path), "--model", str(parity_kit / "mv3/best_accuracy.pdparams")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert f"textrec predict: error: no image files in {tmp_path}" in err


def test_evaluate_writes_the_json_contract(parity_kit, parity_rows, tmp_path, capsys):
    with LmdbWriter(tmp_path / "data" / "kit") as w:
        for path, label in parity_rows:
            w.add(path.read_bytes(), label)
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--model", str(parity_kit / "mv3/best_accuracy.pdparams"),
               "--data", str(tmp_path / "data"), "--out", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    (ds,) = data["datasets"]
    assert ds["name"] == "kit" and ds["count"] == 24
    # the kit's README: this weak checkpoint reads exactly 1 of the 24 images correctly
    assert ds["accuracy"] == 1 / 24 == data["weighted_accuracy"] == data["mean_accuracy"]
    assert 0.0 < ds["norm_edit_distance"] < 1.0
    assert "average (weighted)" in capsys.readouterr().out


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"not read: the model is checked first")
    assert main(["predict", str(tmp_path), "--model", str(tmp_path / "nope.pdparams")]) == 2
    assert "model not found" in capsys.readouterr().err


ONNX_ONLY = """
import sys
from textrec.cli import main
rc = main(["predict", sys.argv[1], "--model", sys.argv[2]])
assert rc == 0, rc
assert "paddle" not in sys.modules, "an ONNX prediction imported paddle"
"""


def test_onnx_prediction_does_not_import_paddle(parity_kit, tmp_path) -> None:
    """Serving-style use of an .onnx model must not pay paddle's ~3 s import (the runtime settings are for
    eager .pdparams models only). The model: softmax over 37 classes of [N, 3, 32, W] -> [N, W, 37]."""
    import subprocess
    import sys

    from tests.inference.test_recognizer_api import tiny_onnx

    tiny_onnx(tmp_path / "tiny.onnx")
    image = parity_kit / "images/iiit5k_790_1.png"
    proc = subprocess.run([sys.executable, "-c", ONNX_ONLY, str(image), str(tmp_path / "tiny.onnx")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(str(image) + "\t")
