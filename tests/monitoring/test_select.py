"""`textrec select` and `textrec add-labels`: least confident first, exact and near duplicates out (within a
batch and across batches), the batch's files, and labelled rows into data/own in PaddleOCR's layout."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.monitoring.helpers import random_png
from textrec.cli import main
from textrec.data.convert import samples_from_label_file
from textrec.monitoring.store import LogItem, PredictionLogger, open_log


def near_copy(png: bytes) -> bytes:
    """The same picture resized by 1.5 and re-encoded as JPEG: another sha256, (almost) the same dHash."""
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    img = cv2.resize(img, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


@pytest.fixture()
def logged(tmp_path):
    """20 distinct images, confidence 0.05, 0.10, ..., 1.00 (reading w<i>), then an exact copy of image 0 and
    a near copy of image 1, both with the lowest confidences of all."""
    images = [random_png(i) for i in range(20)]
    log = PredictionLogger(tmp_path / "p.db", "m", "1")
    log.log([LogItem(b, f"w{i}", (i + 1) / 20) for i, b in enumerate(images)])
    log.log([LogItem(images[0], "copy", 0.01), LogItem(near_copy(images[1]), "near", 0.02)])
    log.close()
    return tmp_path / "p.db", images


def select(tmp_path, *args: str) -> int:
    return main(["select", "--params", str(tmp_path / "none.yaml"), "--log", str(tmp_path / "p.db"), *args])


@pytest.fixture()
def tmp_params(tmp_path):
    (tmp_path / "none.yaml").write_text("{}\n")  # every section at its defaults


def test_least_confident_first_without_duplicates(logged, tmp_path, tmp_params, capsys) -> None:
    db, images = logged
    assert select(tmp_path, "--n", "5", "--out", str(tmp_path / "b1")) == 0
    rows = [line.split("\t") for line in (tmp_path / "b1" / "rec_gt_batch.txt").read_text().splitlines()]
    # the exact copy (0.01) comes first and stands for image 0; the near copy (0.02) is image 1 again
    assert [label for _, label in rows] == ["copy", "near", "w2", "w3", "w4"]
    near_dhash = {r[0] for r in open_log(db).execute("SELECT dhash FROM predictions WHERE text = 'near'")}
    one = {r[0] for r in open_log(db).execute("SELECT dhash FROM predictions WHERE text = 'w1'")}
    assert bin((near_dhash.pop() ^ one.pop()) & (2**64 - 1)).count("1") <= 4  # the fixture's premise
    # ... so w0 (exact) and w1 (near) were skipped as the duplicates they are
    assert (tmp_path / "b1" / rows[0][0]).read_bytes() == images[0]
    tasks = json.loads((tmp_path / "b1" / "label_studio.json").read_text())
    assert [t["predictions"][0]["result"][0]["value"]["text"] for t in tasks] == [[r[1]] for r in rows]
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=b1/" + rows[0][0]
    assert "<TextArea name=\"transcription\"" in (tmp_path / "b1" / "label_studio.xml").read_text()

    # selected images, and their near copies, are not handed out again
    assert select(tmp_path, "--n", "3", "--out", str(tmp_path / "b2")) == 0
    again = [line.split("\t")[1] for line in (tmp_path / "b2" / "rec_gt_batch.txt").read_text().splitlines()]
    assert again == ["w5", "w6", "w7"]
    capsys.readouterr()


def test_random_order_is_seeded(logged, tmp_path, tmp_params) -> None:
    picks = []
    for k in range(2):
        (tmp_path / f"log{k}.db").write_bytes(logged[0].read_bytes())  # a fresh copy: nothing selected yet
        assert main(["select", "--params", str(tmp_path / "none.yaml"), "--log", str(tmp_path / f"log{k}.db"),
                     "--n", "6", "--order", "random", "--seed", "3", "--out", str(tmp_path / f"r{k}")]) == 0
        picks.append((tmp_path / f"r{k}" / "rec_gt_batch.txt").read_text().splitlines())
    assert picks[0] == picks[1] and [p.split("\t")[1] for p in picks[0]] != ["copy", "near", "w2", "w3", "w4", "w5"]


def test_labelled_rows_go_to_data_own_in_paddleocr_layout(logged, tmp_path, tmp_params, capsys) -> None:
    assert select(tmp_path, "--n", "12", "--out", str(tmp_path / "batch")) == 0
    gt = tmp_path / "batch" / "rec_gt_batch.txt"
    lines = gt.read_text().splitlines()
    corrected = [f"{line.split(chr(9))[0]}\t{'###' if i == 0 else f'Word{i}'}" for i, line in enumerate(lines)]
    gt.write_text("\n".join(corrected) + "\n")
    own = tmp_path / "own"
    own.mkdir()
    (own / "rec_gt_train.txt").write_text("train/a.png\tearlier")  # no final newline: rows must not glue on
    args = ["add-labels", str(tmp_path / "batch"), "--params", str(tmp_path / "none.yaml"), "--own", str(own),
            "--val-fraction", "0.3"]
    assert main(args) == 0
    train = list(samples_from_label_file(own / "rec_gt_train.txt", "tsv"))
    val = list(samples_from_label_file(own / "rec_gt_val.txt", "tsv"))
    added = {s.label for s in [*train, *val]} - {"earlier"}
    assert added == {f"Word{i}" for i in range(1, 12)}  # the ### row is left out
    assert len(train) - 1 + len(val) == 11 and len(val) >= 1 and len(train) > len(val)
    for s in [*train, *val]:
        if s.label != "earlier":
            assert s.data is not None and s.source.startswith("loop/batch/")
    assert main(args) == 2  # the same batch twice: refused in one line
    assert "already in" in capsys.readouterr().err


def test_label_studio_export_is_read(logged, tmp_path, tmp_params) -> None:
    from textrec.monitoring.labels import read_labels

    assert select(tmp_path, "--n", "3", "--out", str(tmp_path / "batch")) == 0
    tasks = json.loads((tmp_path / "batch" / "label_studio.json").read_text())
    export = [{**t, "annotations": [{"result": [{"from_name": "transcription", "to_name": "image", "type": "textarea",
                                                 "value": {"text": [f"fixed{i}"]}}]}]} for i, t in enumerate(tasks[:2])]
    (tmp_path / "export.json").write_text(json.dumps(export))
    labels = read_labels(tmp_path / "batch", tmp_path / "export.json")
    assert labels == {tasks[0]["data"]["file"]: "fixed0", tasks[1]["data"]["file"]: "fixed1"}  # 3rd: not labelled


def test_nothing_to_select_is_one_line(tmp_path, tmp_params, capsys) -> None:
    log = PredictionLogger(tmp_path / "p.db", "m", "1")
    log.log([LogItem(random_png(0), "w", 0.5)])
    log.close()
    assert select(tmp_path, "--n", "3", "--since", "2099-01-01", "--out", str(tmp_path / "b")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no logged image to select" in err[0]


def test_auto_accept_takes_the_confident_readings_as_labels(logged, tmp_path, tmp_params, capsys) -> None:
    # confidences: w<i> = (i+1)/20, so >= 0.85 is w16..w19; the human batch is the 4 least confident
    assert select(tmp_path, "--n", "4", "--auto-accept", "0.85", "--out", str(tmp_path / "batch")) == 0
    auto = (tmp_path / "batch" / "rec_gt_auto.txt").read_text().splitlines()
    assert [line.split("\t")[1] for line in auto] == ["w16", "w17", "w18", "w19"]
    assert all((tmp_path / "batch" / line.split("\t")[0]).is_file() for line in auto)
    tasks = json.loads((tmp_path / "batch" / "label_studio.json").read_text())
    assert len(tasks) == 4  # the accepted ones are not for a human
    own = tmp_path / "own"
    own.mkdir()
    common = ["--params", str(tmp_path / "none.yaml"), "--own", str(own)]
    # every human row to validation: the accepted readings (production's own) still only train
    assert main(["add-labels", str(tmp_path / "batch"), *common, "--val-fraction", "1"]) == 0
    split = {f: {r.label for r in samples_from_label_file(own / f, "tsv")} for f in ("rec_gt_train.txt",
                                                                                 "rec_gt_val.txt")}
    assert split == {"rec_gt_train.txt": {"w16", "w17", "w18", "w19"},
                     "rec_gt_val.txt": {"copy", "near", "w2", "w3"}}
    # accepted images are selected too: a later batch neither labels nor accepts them again
    assert select(tmp_path, "--n", "2", "--auto-accept", "0.85", "--out", str(tmp_path / "next")) == 0
    assert not (tmp_path / "next" / "rec_gt_auto.txt").exists()
    assert [line.split("\t")[1] for line in (tmp_path / "next" / "rec_gt_batch.txt").read_text().splitlines()] == \
        ["w4", "w5"]
    capsys.readouterr()


def test_the_audit_is_random_labelled_with_the_batch_and_validates(logged, tmp_path, tmp_params, capsys) -> None:
    # 4 least confident + an audit of 5 at random from the rest of the window; w16..w19 accepted as read
    (tmp_path / "again.db").write_bytes((tmp_path / "p.db").read_bytes())  # nothing selected yet, for later
    assert select(tmp_path, "--n", "4", "--audit", "5", "--seed", "7", "--auto-accept", "0.85",
                  "--out", str(tmp_path / "batch")) == 0
    rows = [line.split("\t") for line in (tmp_path / "batch" / "rec_gt_batch.txt").read_text().splitlines()]
    hard = [label for f, label in rows if f.startswith("images/")]
    audit = [label for f, label in rows if f.startswith("audit/")]
    auto = {line.split("\t")[1] for line in (tmp_path / "batch" / "rec_gt_auto.txt").read_text().splitlines()}
    assert len(rows) == 9 and len(audit) == 5 and len(hard) == 4
    assert not set(audit) & set(hard) and not set(audit) & auto  # each image in one role
    assert audit != ["w4", "w5", "w6", "w7", "w8"]  # random, not the next least confident
    conf = [r["confidence"] for r in json.loads((tmp_path / "batch" / "batch.json").read_text())["rows"]]
    assert conf[:4] == sorted(conf[:4]) and max(conf[:4]) <= 0.25  # the hard ones: least confident first
    assert json.loads((tmp_path / "batch" / "batch.json").read_text())["audit"] == 5
    assert len(json.loads((tmp_path / "batch" / "label_studio.json").read_text())) == 9  # the human labels both
    own = tmp_path / "own"
    own.mkdir()
    # with an audit, it validates and every other human row trains, whatever --val-fraction says
    assert main(["add-labels", str(tmp_path / "batch"), "--params", str(tmp_path / "none.yaml"), "--own", str(own),
                 "--val-fraction", "1"]) == 0
    split = {f: sorted(r.label for r in samples_from_label_file(own / f, "tsv")) for f in ("rec_gt_train.txt",
                                                                                      "rec_gt_val.txt")}
    assert split == {"rec_gt_train.txt": sorted([*hard, *auto]), "rec_gt_val.txt": sorted(audit)}
    # the same seed, a fresh copy of the log: the same audit
    assert main(["select", "--params", str(tmp_path / "none.yaml"), "--log", str(tmp_path / "again.db"), "--n", "4",
                 "--audit", "5", "--seed", "7", "--out", str(tmp_path / "again")]) == 0
    again = [line.split("\t")[1] for line in (tmp_path / "again" / "rec_gt_batch.txt").read_text().splitlines()
             if line.startswith("audit/")]
    assert again == audit
    capsys.readouterr()


def test_a_window_too_small_for_both_keeps_the_hard_images_and_shrinks_the_audit(logged, tmp_path, tmp_params,
                                                                                 capsys) -> None:
    # 22 logged images (20 distinct): 18 hard ones asked, so the audit gets 22 - 18 = 4 of the 10 asked
    assert select(tmp_path, "--n", "18", "--audit", "10", "--out", str(tmp_path / "batch")) == 0
    files = [line.split("\t")[0] for line in (tmp_path / "batch" / "rec_gt_batch.txt").read_text().splitlines()]
    assert sum(f.startswith("audit/") for f in files) <= 4 and "of 10 asked: the window is small" in capsys.readouterr().out
