"""The prediction log: what Recognizer and `textrec predict` log, the bounds, and failures that are counted
but never fail a prediction."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.inference.test_recognizer_api import tiny_onnx
from tests.monitoring.helpers import random_png, word_png
from textrec.config import PredictionLogConfig
from textrec.inference.recognizer import Recognizer
from textrec.monitoring.store import WRITER_NICENESS, LogError, LogItem, PredictionLogger, open_log


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory) -> Path:
    return Path(tiny_onnx(str(tmp_path_factory.mktemp("model") / "tiny.onnx")))


def rows(db: Path, columns: str = "text, confidence, length, height, width, sha256, source") -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT {columns} FROM predictions ORDER BY id").fetchall()
    finally:
        con.close()


def test_recognizer_logs_every_prediction_with_its_image(onnx_model, tmp_path) -> None:
    db = tmp_path / "log" / "predictions.db"
    rec = Recognizer(onnx_model, log=db)
    a, b = word_png("cat", 40, 120), word_png("dog", 24, 64)
    (tmp_path / "c.png").write_bytes(b)
    preds = [rec(a), *rec([b, cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR)], bgr=True)]
    preds += [r for r in rec.predict_files([tmp_path / "c.png", tmp_path / "missing.png"])]
    assert rec.log.flush()
    got = rows(db)
    # the missing file is an error result, not a prediction: not logged
    assert [(t, c) for t, c, *_ in got] == [(p.text, p.confidence) for p in preds[:4]]
    sizes = [(40, 120), (24, 64), (40, 120), (24, 64)]
    assert [(n, h, w) for _, _, n, h, w, _, _ in got] == [(len(p.text), *s) for p, s in zip(preds[:4], sizes,
                                                                                            strict=True)]
    assert got[0][5] == hashlib.sha256(a).hexdigest() and got[3][5] == hashlib.sha256(b).hexdigest()
    assert {r[6] for r in got} == {"api"}
    con = open_log(db)
    model, version = con.execute("SELECT DISTINCT model, version FROM predictions").fetchone()
    assert model == "tiny.onnx" and version == hashlib.sha256(onnx_model.read_bytes()).hexdigest()[:12]
    assert con.execute("SELECT data FROM images ORDER BY prediction_id LIMIT 1").fetchone()[0] == a
    assert rec.log.stats() == {"logged": 4, "failed": {}}
    rec.log.close()


def test_cli_predict_logs_with_source_cli(onnx_model, tmp_path, capsys) -> None:
    from textrec.cli import main

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        (folder / f"w{i}.png").write_bytes(random_png(i))
    assert main(["predict", str(folder), "--model", str(onnx_model), "--log", str(tmp_path / "p.db")]) == 0
    assert [r[-1] for r in rows(tmp_path / "p.db")] == ["cli"] * 3
    assert "could not be logged" not in capsys.readouterr().err


def _size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def test_the_store_stays_bounded_dropping_the_oldest_first(tmp_path) -> None:
    cfg = PredictionLogConfig(max_rows=200, max_images=50, max_image_bytes=30_000, max_image_size=2_000)
    db = tmp_path / "p.db"
    log = PredictionLogger(db, "m", "1", cfg)
    images = [random_png(i) for i in range(40)]  # ~500-900 bytes each
    big = word_png("big", 300, 900, noise=40)  # over max_image_size: logged without its bytes

    def write(start: int, n: int) -> int:
        for i in range(start, start + n):
            log.log([LogItem(images[i % 40] if i % 10 else big, f"w{i}", 0.5)])
        assert log.flush()
        return _size(db)

    sizes = [write(k * 400, 400) for k in range(10)]  # 4,000 predictions, 20 times max_rows
    # the files stop growing once the bounds are reached: the database's pages are reused, the -wal is
    # checkpointed every 1 MB and cut back after
    assert max(sizes[5:]) <= max(sizes[:5]) * 1.1 + 64_000, sizes
    assert db.stat().st_size < 1_000_000
    con = open_log(db)
    ids = [r[0] for r in con.execute("SELECT id FROM predictions ORDER BY id")]
    assert ids == list(range(3801, 4001))  # the newest 200, in order
    kept = con.execute("SELECT COUNT(*), SUM(bytes), MIN(prediction_id) FROM images").fetchone()
    assert kept[0] <= 50 and kept[1] <= 30_000 and kept[2] > 3900
    assert con.execute("SELECT COUNT(*) FROM images WHERE bytes > 2000").fetchone()[0] == 0
    # the totals the bounds are checked against (kept per write, not counted) are the true ones
    assert dict(con.execute("SELECT name, value FROM usage")) == {"images": kept[0], "image_bytes": kept[1]}
    log.close()


def test_a_log_that_cannot_be_written_never_fails_a_prediction_and_is_counted(onnx_model, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log's folder should be")
    rec = Recognizer(onnx_model, log=blocker / "p.db")
    assert len(rec([word_png("a"), word_png("b")])) == 2 and rec(word_png("c")).text is not None
    rec.log.flush()
    assert rec.log.stats()["failed"] == {"write_failed": 3}
    blocker.unlink()  # the folder can be made now: the next write saves the count with it
    rec(word_png("d"))
    rec.log.flush()
    con = open_log(blocker / "p.db")
    assert con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 1
    assert dict(con.execute("SELECT name, value FROM counters")) == {"write_failed": 3}
    rec.log.close()


def test_a_corrupt_log_file_is_counted_not_raised(onnx_model, tmp_path) -> None:
    db = tmp_path / "p.db"
    db.write_bytes(b"this is not an SQLite database" * 100)
    rec = Recognizer(onnx_model, log=db)
    assert rec(word_png("x")).text is not None
    rec.log.flush()
    assert rec.log.stats()["failed"] == {"write_failed": 1}
    with pytest.raises(LogError, match="not a readable prediction log"):
        open_log(db)
    rec.log.close()


def test_a_full_queue_drops_and_counts(tmp_path) -> None:
    db = tmp_path / "p.db"
    PredictionLogger(db, "m", "1").close()  # create the tables
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process's long transaction: the writer waits
    log = PredictionLogger(db, "m", "1", PredictionLogConfig(queue=2))
    t0 = time.monotonic()
    log.log([LogItem(random_png(i), "w", 0.9) for i in range(10)])
    assert time.monotonic() - t0 < 1.0  # enqueueing never waits for the writer
    assert log.stats()["failed"]["queue_full"] >= 7
    holder.execute("ROLLBACK")
    holder.close()
    assert log.flush()
    log.log([LogItem(random_png(99), "w", 0.9)])
    log.close()
    con = open_log(db)
    saved = dict(con.execute("SELECT name, value FROM counters"))
    assert saved["queue_full"] == log.stats()["failed"]["queue_full"]
    assert con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 11 - saved["queue_full"]


def test_open_log_says_what_is_wrong_in_one_line(tmp_path) -> None:
    with pytest.raises(LogError, match="no prediction log at"):
        open_log(tmp_path / "none.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(LogError, match="not a textrec prediction log"):
        open_log(other)


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread niceness is a Linux feature")
def test_the_writer_thread_runs_below_the_predictions_priority(tmp_path) -> None:
    """The writer's fingerprinting and commits yield the cores to the server's inference (+5% served latency
    at batch 1 on 2 cores, 32% when it wrote a transaction per request at the same priority)."""
    log = PredictionLogger(tmp_path / "p.db", "m", "1")
    log.log([LogItem(random_png(0), "a", 0.5)])
    assert log.flush()
    tid = log._thread.native_id
    assert os.getpriority(os.PRIO_PROCESS, tid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + WRITER_NICENESS)
    log.close()
