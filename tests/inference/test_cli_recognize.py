"""`textrec predict` / `textrec evaluate` end to end on the parity kit's trained MobileNetV3 checkpoint."""

import json
import shutil

from tests.conftest import read_predictions
from textrec.cli import main
from textrec.data.lmdb_io import LmdbWriter


def _lines(out: str) -> dict[str, tuple[str, float]]:
    rows = [line.split("\t") for line in out.strip().splitlines()]
    return {r[0].rsplit("/", 1)[-1]: (r[1], float(r[2])) for r in rows}


def test_predict_folder_prints_paddleocr_texts(parity_kit, capsys):
    rc = main(["predict", str(parity_kit / "images"), "--model", str(parity_kit / "mv3/best_accuracy.pdparams")])
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
    assert main(["predict", str(tmp_path), "--model", str(tmp_path / "nope.pdparams")]) == 2
    assert "model not found" in capsys.readouterr().err
