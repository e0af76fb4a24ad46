"""The report reads the stages' files and shows what they say: the accuracy table with both averages, the
latency rows with their thread count, the training curves and the failure gallery with the real images."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from textrec.data.lmdb_io import LmdbWriter
from textrec.reporting.collect import accuracy_table, collect
from textrec.reporting.html import build_report

BENCHES = ("b1", "b2")


def _png(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (100, 32), color).save(buf, format="PNG")
    return buf.getvalue()


def _stage_files(tmp: Path) -> tuple[Path, Path]:
    reports, bench_root = tmp / "reports", tmp / "bench"
    for bench, n in (("b1", 10), ("b2", 30)):
        with LmdbWriter(bench_root / bench) as w:
            w.add(_png("red"), "super")
            w.add(_png("blue"), "text")
        for bb, acc in (("mobilenet_v3", 0.5 if bench == "b1" else 0.1), ("resnet34_vd", 0.0)):
            d = reports / "eval" / bb
            d.mkdir(parents=True, exist_ok=True)
            worst = [{"key": "image-000000002", "label": "text", "prediction": "tcxt", "confidence": 0.91,
                      "correct": False}]
            (d / f"{bench}.json").write_text(json.dumps({"count": n, "accuracy": acc, "worst": worst}))
    (reports / "quantize").mkdir(parents=True)
    (reports / "quantize" / "mobilenet_v3.json").write_text(json.dumps({
        "config": {"timing_threads": 1},
        "benchmarks": [{"name": "b1", "int8_accuracy": 0.4}, {"name": "b2", "int8_accuracy": 0.1}],
        "speed": [{"engine": "onnx_fp32", "batch_size": 1, "ms_per_image": 2.04},
                  {"engine": "onnx_int8", "batch_size": 1, "ms_per_image": 1.81}]}))
    log = reports / "train" / "mobilenet_v3" / "train_log.csv"
    log.parent.mkdir(parents=True)
    log.write_text("step,epoch,loss,lr,images_per_second,val_accuracy\n1,0,20.0,0.001,100,\n2,0,15.0,0.001,100,0.1\n")
    return reports, bench_root


def test_accuracy_table_has_both_averages(tmp_path) -> None:
    reports, _ = _stage_files(tmp_path)
    table = accuracy_table(collect(reports, ("mobilenet_v3", "resnet34_vd"), BENCHES), BENCHES)
    rows = table.set_index("benchmark")
    assert rows.loc["average (mean)", "mobilenet_v3 fp32"] == pytest.approx(0.3)
    assert rows.loc["average (weighted)", "mobilenet_v3 fp32"] == pytest.approx((10 * 0.5 + 30 * 0.1) / 40)
    assert rows.loc["average (mean)", "mobilenet_v3 int8"] == pytest.approx(0.25)
    assert rows["resnet34_vd int8"].isna().all()  # no quantize result: shown as missing, not as 0
    assert rows.loc["average (weighted)", "count"] == 40


def test_a_missing_evaluation_says_which_stage_to_run(tmp_path) -> None:
    reports, _ = _stage_files(tmp_path)
    (reports / "eval" / "resnet34_vd" / "b2.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"dvc repro evaluate@resnet34_vd-b2"):
        collect(reports, ("mobilenet_v3", "resnet34_vd"), BENCHES)


def test_report_shows_table_curves_latency_and_gallery(tmp_path) -> None:
    reports, bench_root = _stage_files(tmp_path)
    results = collect(reports, ("mobilenet_v3", "resnet34_vd"), BENCHES)
    build_report(results, BENCHES, bench_root, reports / "report.html", reports / "summary.md", "demo")
    page = (reports / "report.html").read_text()
    for heading in ("Accuracy per benchmark", "Training curves", "Latency (CPU)", "Failure gallery"):
        assert f"<h2>{heading}</h2>" in page
    assert "<td>50.00%</td>" in page and "<td>40.00%</td>" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    # accuracy bars + training curves + one gallery card per backbone x benchmark
    assert len(images) == 2 + 4
    card = Image.open(io.BytesIO(base64.b64decode(images[-1])))
    assert card.size == (100, 32) and card.getpixel((0, 0)) == (0, 0, 255)  # record 2 of the LMDB: blue
    assert "truth: <b>text</b>" in page and 'class="bad">tcxt' in page
    summary = (reports / "summary.md").read_text()
    assert "# textrec summary (demo)" in summary and "quantize.timing_threads" in summary
    latency = summary.split("## Latency", 1)[1]
    assert re.search(r"mobilenet_v3\s*\|\s*onnx_int8\s*\|\s*1\s*\|\s*1\s*\|\s*1\.81", latency), latency
