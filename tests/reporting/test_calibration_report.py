"""The report's calibrated-confidence section: per benchmark ECE before/after, threshold and coverage from the
evaluate stage's calibration block, and a reliability diagram (valid SVG, one dot per bin, where it belongs)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tests.reporting.test_report import BENCHES, _stage_files
from textrec.calibration import Calibration, calibration_summary
from textrec.config import PathsConfig
from textrec.reporting.calibration import PAD, SIZE, reliability_svg
from textrec.reporting.collect import collect
from textrec.reporting.html import build_report

SVG = "{http://www.w3.org/2000/svg}"


def _block(seed: int) -> dict:
    """What the evaluate stage writes for an overconfident model and its Platt calibration."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.5, 1.0, 400)
    correct = rng.random(400) < raw ** 3
    cal = Calibration("platt", {"a": 1.5, "b": -1.0})
    return {"method": cal.describe(), **calibration_summary(raw, cal.apply(raw), correct, 15, 0.9)}


def test_report_shows_ece_threshold_coverage_and_diagrams(tmp_path):
    reports, bench_root = _stage_files(tmp_path)
    blocks = {}
    for bench in BENCHES:
        f = reports / "eval" / "mobilenet_v3" / f"{bench}.json"
        d = json.loads(f.read_text())
        d["calibration"] = blocks[bench] = _block(len(bench) + ord(bench[-1]))
        f.write_text(json.dumps(d))
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)
    build_report(results, BENCHES, bench_root, reports / "report.html", reports / "summary.md", "tiny")
    page = (reports / "report.html").read_text()
    md = (reports / "summary.md").read_text()
    assert "<h2>Calibrated confidence</h2>" in page and "## Calibrated confidence" in md
    for block in blocks.values():
        for text in (f"{round(block['ece_before'], 4)}", f"{round(block['ece_after'], 4)}"):
            assert text in page and text in md
        if block["threshold"] is not None:
            assert f"{100 * block['coverage']:.2f}%" in md
    section = page.split("<h2>Calibrated confidence</h2>", 1)[1].split("<h2>", 1)[0]
    assert section.count("<svg") == 4  # one diagram per backbone and benchmark (every eval result has its block)


def test_reliability_svg_puts_each_bin_where_it_belongs():
    bins = [{"lo": 0.0, "hi": 0.5, "count": 10, "confidence": 0.25, "accuracy": 0.0},
            {"lo": 0.5, "hi": 1.0, "count": 30, "confidence": 1.0, "accuracy": 1.0}]
    root = ET.fromstring(reliability_svg("t", {"raw": bins, "calibrated": bins[:1]}, dashed=("raw",)))
    dots = root.findall(f"{SVG}circle")
    assert len(dots) == 3
    (x0, y0), (x1, y1) = ((float(d.get("cx")), float(d.get("cy"))) for d in dots[:2])
    assert (x0, y0) == pytest.approx((PAD + 0.25 * SIZE, PAD + SIZE))  # accuracy 0: bottom
    assert (x1, y1) == pytest.approx((PAD + SIZE, PAD))  # confidence 1, accuracy 1: top right
    assert float(dots[1].get("r")) > float(dots[0].get("r"))  # more words, bigger dot
