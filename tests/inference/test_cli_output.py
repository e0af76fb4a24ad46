"""What `textrec predict` and the Python API hand back: `--out FILE` in the format its extension names
(.tsv, .csv, .jsonl), and `Prediction` unpacking like PaddleOCR's `(text, score)` and serialising."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from textrec.cli import main
from textrec.inference.recognizer import Recognizer

IMAGES = ("images/ic15_word_3.png", "images/iiit5k_790_1.png", "images/ic15_word_1.png")


@pytest.fixture(scope="module")
def folder(parity_kit, tmp_path_factory):
    """Three of the kit's images and one that cannot be decoded."""
    out = tmp_path_factory.mktemp("images")
    for i, rel in enumerate(IMAGES):
        shutil.copy(parity_kit / rel, out / f"{i}.png")
    (out / "3.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    return out


@pytest.fixture(scope="module")
def json_rows(folder) -> list[dict]:
    """What `--json` prints for the folder (the bundled ONNX model): what every --out format must hold."""
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        assert main(["predict", str(folder), "--json"]) == 1
    return [json.loads(line) for line in stdout.getvalue().splitlines()]


def _read(out) -> list[dict]:
    """The file back as --json's objects: a row with an error has path and error only."""
    if out.suffix.lower() == ".jsonl":
        return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t" if out.suffix.lower() == ".tsv" else ","))
    assert list(rows[0]) == ["path", "text", "confidence", "error"]
    return [{"path": r["path"], "error": r["error"]} if r["error"] else
            {"path": r["path"], "text": r["text"], "confidence": float(r["confidence"])} for r in rows]


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl", ".CSV"])
def test_out_writes_every_result_in_its_extensions_format(folder, json_rows, tmp_path, capsys, suffix):
    out = tmp_path / f"results{suffix}"
    assert main(["predict", str(folder), "--out", str(out)]) == 1  # one image could not be read
    printed, err = capsys.readouterr()
    assert printed == "" and f"1 of 4 image(s) could not be read (listed in {out})" in err
    assert len(json_rows) == 4 and json_rows[3]["error"].startswith("cannot decode image")
    assert _read(out) == json_rows  # .CSV: the extension in any case


def test_out_with_another_extension_is_one_line_before_the_model_loads(folder, tmp_path, capsys):
    out = tmp_path / "results.txt"
    assert main(["predict", str(folder), "--out", str(out), "--model", str(tmp_path / "absent.onnx")]) == 2
    err = capsys.readouterr().err
    assert err == (f"textrec predict: error: --out {out}: unknown format .txt; "
                   "name the file .tsv, .jsonl or .csv\n")  # not the missing model: checked first
    assert not out.exists()


def test_out_and_json_exclude_each_other(folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["predict", str(folder), "--json", "--out", str(tmp_path / "r.csv")])
    assert e.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_prediction_unpacks_like_paddleocrs_pair_and_serialises(parity_kit):
    rec = Recognizer()  # the bundled ONNX model
    p = rec(parity_kit / IMAGES[0])
    text, conf = p  # PaddleOCR's recognizer gives (text, score)
    assert (text, conf) == (p.text, p.confidence) and text and 0.0 < conf <= 1.0
    assert json.loads(json.dumps(p.to_dict())) == {"text": p.text, "confidence": p.confidence}
    batch = rec([parity_kit / rel for rel in IMAGES])
    assert [tuple(q) for q in batch] == [(q.text, q.confidence) for q in batch] and batch[0] == p
