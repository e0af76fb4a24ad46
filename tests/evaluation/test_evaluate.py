"""Per-dataset evaluation. The probability function below reads a one-character text from each image's
grey level (level 5*k -> class k), so the test decides exactly what is recognised, right or wrong."""

import json

import cv2
import numpy as np
import pytest

from textrec.charset import Charset
from textrec.data.lmdb_io import LmdbWriter
from textrec.data.reasons import REASONS
from textrec.evaluation.evaluate import evaluate_tree, results_table, summarize, write_results

CS = Charset.from_file()


def _img(code: int) -> bytes:
    img = np.full((32, 100, 3), code, np.uint8)
    return cv2.imencode(".png", img)[1].tobytes()


# class id encoded in the grey level: level 5*k reads as the one-character text characters[k-1]
def _prob_fn(x: np.ndarray) -> np.ndarray:
    levels = np.rint((x[:, 0, 0, 0] * 0.5 + 0.5) * 255).astype(int)  # [N]
    probs = np.full((len(x), 25, CS.num_classes), 1e-3, np.float32)
    probs[:, :, 0] = 0.5
    for n, lv in enumerate(levels):
        probs[n, 3, lv // 5] = 0.9
    return probs


def _write(path, records):
    with LmdbWriter(path) as w:
        for img, label in records:
            w.add(img, label)


def test_tree_evaluation_counts_accuracy_and_skips(tmp_path):
    # dataset A: 3 right ("a", "B" -> b, "7"), 1 wrong
    a_id, b_id, seven_id = (CS.encode(c).ids[0] for c in "ab7")
    _write(tmp_path / "A", [(_img(5 * a_id), "a"), (_img(5 * b_id), "B"), (_img(5 * seven_id), "7"),
                            (_img(5 * a_id), "z")])
    # dataset B (nested): 1 right, 1 undecodable image, 1 unreadable label
    _write(tmp_path / "sub" / "B", [(_img(5 * a_id), "A!"), (b"garbage", "x"), (_img(5), "?!")])
    results = evaluate_tree(_prob_fn, tmp_path, CS, batch_size=2)
    by = {r.name: r for r in results}
    assert set(by) == {"A", "sub/B"}
    assert by["A"].count == 4 and by["A"].accuracy == 0.75
    assert by["sub/B"].count == 1 and by["sub/B"].accuracy == 1.0
    assert dict(by["sub/B"].rejected) == {"undecodable": 1, "empty": 1}
    assert set(by["sub/B"].rejected) <= set(REASONS)  # one vocabulary with the manifests and training
    assert by["sub/B"].rejected_keys["undecodable"] == ["image-000000002"]
    s = summarize(results)
    assert s["weighted_accuracy"] == pytest.approx(4 / 5)
    assert s["mean_accuracy"] == pytest.approx((0.75 + 1.0) / 2)
    worst = by["A"].worst(1)[0]
    assert worst.label == "z" and not worst.correct

    out = tmp_path / "out" / "eval.json"
    write_results(results, out)
    data = json.loads(out.read_text())
    assert [d["name"] for d in data["datasets"]] == ["A", "sub/B"]
    assert {"name", "count", "accuracy", "norm_edit_distance"} <= set(data["datasets"][0])
    table = results_table(results)
    assert list(table["name"])[-2:] == ["average (weighted)", "average (mean)"]
    assert (out.with_suffix(".md")).read_text().count("|") > 10


def test_missing_lmdb_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no LMDB"):
        evaluate_tree(_prob_fn, tmp_path, CS)


def test_only_blanks_read_as_an_empty_prediction_and_are_counted(tmp_path, capsys):
    a_id = CS.encode("a").ids[0]
    # grey level 0 -> class 0, the blank, at every frame: the model "reads" nothing
    _write(tmp_path / "C", [(_img(0), "a"), (_img(0), "b"), (_img(5 * a_id), "a")])
    (res,) = evaluate_tree(_prob_fn, tmp_path, CS, batch_size=2)
    assert [s.prediction for s in res.samples] == ["", "", "a"]
    assert res.empty_predictions == 2 and res.summary()["empty_predictions"] == 2
    assert capsys.readouterr().err == ""  # no bar unless asked
    evaluate_tree(_prob_fn, tmp_path, CS, batch_size=2, progress=True)
    assert "C" in capsys.readouterr().err  # a bar named after the dataset
