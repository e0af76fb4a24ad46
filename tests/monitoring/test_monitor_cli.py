"""`textrec monitor` on a real log: no alarm on a window like the reference, exit 1 with one line on a drifted
one, and one clear line (exit 2, no traceback) for a missing or corrupt log, an empty or small window and a
model without a reference."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.monitoring.helpers import random_png
from textrec.monitoring.reference import Observations, Reference
from textrec.monitoring.store import LogItem, PredictionLogger, connect

WORDS = ["the", "cat", "sat", "on", "mat", "hello", "world", "exit", "open", "sale"]


def predictions(n: int, seed: int, shifted: bool = False) -> list[tuple[str, float, int, int]]:
    """(text, confidence, height, width): a drifted window has low confidences and small wide images."""
    rng = np.random.default_rng(seed)
    conf = rng.beta(2, 2, n) if shifted else rng.beta(8, 1, n)
    heights = rng.integers(12, 20, n) if shifted else rng.integers(30, 50, n)
    texts = [WORDS[i] for i in rng.integers(0, len(WORDS), n)]
    return [(t, float(c), int(h), int(h) * len(t)) for t, c, h in zip(texts, conf, heights, strict=True)]


def log_rows(db: Path, rows, model: str = "m", version: str = "1") -> None:
    log = PredictionLogger(db, model, version)
    log.log([LogItem(random_png(i, h, w), t, c) for i, (t, c, h, w) in enumerate(rows)])
    log.close()


@pytest.fixture()
def project(tmp_path) -> Path:
    """params.yaml with a small min_window and a store of its own (nothing registered)."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({
        "monitoring": {"min_window": 50, "window": 300},
        "tracking": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_root": "mlartifacts"}}))
    obs = Observations.from_rows(predictions(300, 0))
    Reference("m", "1", "val", obs).save(tmp_path / "ref.json")
    return tmp_path


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def textrec(project, capsys):
    """``textrec monitor ...`` in this process (the CLI's main, as the console script calls it)."""
    from textrec.cli import main

    def run(*args: str) -> Run:
        code = main(["monitor", "--params", str(project / "params.yaml"), "--root", str(project), "--out",
                     str(project / "out"), "--no-mlflow", *args])
        out = capsys.readouterr()
        return Run(code, out.out, out.err)

    return run


def one_line_error(proc: Run, text: str) -> None:
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("textrec monitor: error: ") and text in lines[0], lines[0]


def test_a_window_like_the_reference_passes_and_a_drifted_one_fails_in_one_line(project, textrec) -> None:
    db = project / "p.db"
    log_rows(db, predictions(300, 1))
    ok = textrec("--log", str(db), "--reference", str(project / "ref.json"))
    assert ok.returncode == 0, ok.stderr
    assert "no drift: m version 1, 300 predictions" in ok.stdout
    log_rows(db, predictions(300, 2, shifted=True))
    bad = textrec("--log", str(db), "--reference", str(project / "ref.json"))
    assert bad.returncode == 1
    line, = bad.stderr.strip().splitlines()
    assert line.startswith("textrec monitor: drift: m version 1, 300 predictions: confidence: ks effect")
    for name in ("low_confidence_rate", "image_height", "image_width"):
        assert f"{name}:" in line
    summary = json.loads((project / "out" / "monitor.json").read_text())
    assert summary["alarm"] and summary["window"]["first_id"] == 301
    assert "ALARM" in (project / "out" / "monitor.html").read_text()


def test_bad_input_is_one_clear_line_never_a_silent_no_drift(project, textrec) -> None:
    ref = ["--reference", str(project / "ref.json")]
    one_line_error(textrec("--log", str(project / "none.db"), *ref), "no prediction log at")
    (project / "corrupt.db").write_bytes(b"\x00garbage" * 500)
    one_line_error(textrec("--log", str(project / "corrupt.db"), *ref), "not a readable prediction log")
    empty = project / "empty.db"
    connect(empty).close()  # a log whose tables exist, without a row
    one_line_error(textrec("--log", str(empty), *ref), "the prediction log is empty")
    db = project / "p.db"
    log_rows(db, predictions(20, 3))
    one_line_error(textrec("--log", str(db), *ref), "fewer than monitoring.min_window (50): no verdict")
    one_line_error(textrec("--log", str(db), "--model", "other", "--version", "1", *ref),
                   "no predictions of other version 1 in the window")
    one_line_error(textrec("--log", str(db), "--since", "yesterday", *ref), "expected a duration")
    log_rows(db, predictions(100, 4), version="2")
    one_line_error(textrec("--log", str(db)), "m version 2 has no reference (not a registered version")
    one_line_error(textrec("--log", str(db), *ref), "the reference is of m version 1, the window of m "
                   "version 2")
    (project / "bad-ref.json").write_text("{not json")
    one_line_error(textrec("--log", str(db), "--reference", str(project / "bad-ref.json")),
                   "is not a usable reference")
