from __future__ import annotations

import csv

from textrec.training.metrics_log import FIELDS, MetricsCsv


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_resume_drops_rows_written_after_the_checkpoint(tmp_path):
    path = tmp_path / "log.csv"
    m = MetricsCsv(path)
    for s in range(1, 8):
        m.append(s, 0, 1.0 / s, 1e-3, 100.0, 0.5 if s == 5 else None)
    m.close()
    assert [int(r["step"]) for r in _rows(path)] == list(range(1, 8))
    m = MetricsCsv(path, resume_step=5)  # killed after step 7, checkpoint at step 5
    m.append(6, 0, 0.2, 1e-3, 90.0)
    m.close()
    rows = _rows(path)
    assert tuple(rows[0]) == FIELDS
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[4]["val_accuracy"] == "0.500000" and rows[5]["val_accuracy"] == ""
    MetricsCsv(path).close()  # a fresh run starts a fresh file
    assert _rows(path) == []
