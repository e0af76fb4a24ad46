"""The report reads the stages' files and shows what they say: the accuracy table with both averages, the
latency rows with their thread count, the training curves and the failure gallery with the real images."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from tests.artifacts_kit import eval_result, quantize_result, train_summary
from textrec.artifacts import WorstExample
from textrec.config import PathsConfig
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
            worst = [WorstExample("image-000000002", "text", "tcxt", 0.91, None, False)]
            replace(eval_result(bench, acc, count=n, backbone=bb), worst=worst, empty_predictions=0).write(
                d / f"{bench}.json")
    q = quantize_result((("b1", 0.5, 0.4), ("b2", 0.1, 0.1)))
    speed = [replace(t, ms_per_image=ms) for t, ms in zip(q.speed[:2], (2.04, 1.81), strict=True)]
    replace(q, speed=speed).write(reports / "quantize" / "mobilenet_v3.json")
    log = reports / "train" / "mobilenet_v3" / "train_log.csv"
    log.parent.mkdir(parents=True)
    log.write_text("step,epoch,loss,lr,images_per_second,val_accuracy\n1,0,20.0,0.001,100,\n2,0,15.0,0.001,100,0.1\n")
    return reports, bench_root


def test_accuracy_table_has_both_averages(tmp_path) -> None:
    reports, _ = _stage_files(tmp_path)
    table = accuracy_table(collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES), BENCHES)
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
        collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)


def test_report_shows_table_curves_latency_and_gallery(tmp_path) -> None:
    reports, bench_root = _stage_files(tmp_path)
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)
    build_report(results, BENCHES, bench_root, reports / "report.html", reports / "summary.md", "demo")
    page = (reports / "report.html").read_text()
    for heading in ("Accuracy per benchmark", "Training curves", "Latency (CPU)", "Failure gallery"):
        assert f"<h2>{heading}</h2>" in page
    assert "<td>50.00%</td>" in page and "<td>40.00%</td>" in page
    assert page.count('<div class="chart"><svg') == 2  # accuracy bars + training curves, inline SVG
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4  # one gallery card per backbone x benchmark
    card = Image.open(io.BytesIO(base64.b64decode(images[-1])))
    assert card.size == (100, 32) and card.getpixel((0, 0)) == (0, 0, 255)  # record 2 of the LMDB: blue
    assert "truth: <b>text</b>" in page and 'class="bad">tcxt' in page
    summary = (reports / "summary.md").read_text()
    assert "# textrec summary (demo)" in summary and "quantize.timing_threads" in summary
    latency = summary.split("## Latency", 1)[1]
    assert re.search(r"mobilenet_v3\s*\|\s*onnx_int8\s*\|\s*1\s*\|\s*1\s*\|\s*1\.81", latency), latency
    assert "published" not in page  # synthetic benchmarks: PaddleOCR's means are not comparable


def test_paddleocrs_published_means_stand_beside_ours_on_the_seven_benchmarks(tmp_path) -> None:
    from textrec.models.pretrained import PUBLISHED_BENCHMARKS

    reports = tmp_path / "reports"
    for bb, acc in (("mobilenet_v3", 0.78), ("resnet34_vd", 0.80)):
        for i, bench in enumerate(PUBLISHED_BENCHMARKS):
            d = reports / "eval" / bb
            d.mkdir(parents=True, exist_ok=True)
            replace(eval_result(bench, acc, count=100 + i, backbone=bb), worst=[]).write(d / f"{bench}.json")
        train_summary(steps=0).write(reports / "train" / bb / "train.json")
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), PUBLISHED_BENCHMARKS)
    build_report(results, PUBLISHED_BENCHMARKS, tmp_path / "bench", reports / "report.html",
                 reports / "summary.md", "reproduce")
    page = (reports / "report.html").read_text()
    assert "<h2>Against PaddleOCR's published accuracy</h2>" in page
    assert ("<tr><td>mobilenet_v3</td><td>paddleocr</td><td>0</td><td>78.00%</td><td>–</td><td>77.95%</td>"
            "<td>0.05%</td></tr>") in page
    summary = (reports / "summary.md").read_text().split("## Against PaddleOCR's published accuracy", 1)[1]
    assert re.search(r"resnet34_vd\s*\|\s*paddleocr\s*\|\s*0\s*\|\s*80\.00%\s*\|\s*–\s*\|\s*81\.04%\s*\|\s*-1\.04%",
                     summary), summary


def test_report_says_how_each_training_ended_and_flags_a_time_budget_stop(tmp_path) -> None:
    reports, bench_root = _stage_files(tmp_path)
    for bb, steps, reason in (("mobilenet_v3", 2100, "max_steps"), ("resnet34_vd", 12, "time_budget")):
        replace(train_summary(steps, 2100 if bb == "mobilenet_v3" else 40), stop_reason=reason,
                recipe_complete=reason != "time_budget", best_accuracy=0.5, images_per_second=81.23,
                cpu="Test CPU").write(reports / "train" / bb / "train.json")
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)
    build_report(results, BENCHES, bench_root, reports / "report.html", reports / "summary.md", "demo")
    assert "<h2>How training ended</h2>" in (reports / "report.html").read_text()
    ended = (reports / "summary.md").read_text().split("## How training ended", 1)[1]
    assert re.search(r"mobilenet_v3\s*\|\s*2,100 of 2,100\s*\|\s*67,200\s*\|\s*max_steps\s*\|\s*yes", ended), ended
    assert re.search(r"resnet34_vd\s*\|\s*12 of 40\s*\|\s*384\s*\|\s*time_budget\s*\|\s*NO: stopped early", ended)
    assert "Test CPU" in ended


def test_report_counts_empty_predictions_and_says_what_they_mean(tmp_path) -> None:
    reports, bench_root = _stage_files(tmp_path)
    for bench, n in (("b1", 10), ("b2", 30)):  # the untrained ResNet34 reads nothing at all
        p = reports / "eval" / "resnet34_vd" / f"{bench}.json"
        p.write_text(json.dumps(json.loads(p.read_text()) | {"empty_predictions": n}))
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)
    build_report(results, BENCHES, bench_root, reports / "report.html", reports / "summary.md", "demo")
    page = (reports / "report.html").read_text()
    assert "<h2>Empty predictions</h2>" in page and "emits the CTC blank at every frame" in page
    assert "<td>30 of 30 (100.0%)</td>" in page
    assert "<td>0 of 10 (0.0%)</td>" in page  # mobilenet_v3 reads every b1 image
    assert "## Empty predictions" in (reports / "summary.md").read_text()


def test_accuracy_chart_reads_small_accuracies() -> None:
    import pandas as pd

    from textrec.reporting import charts

    table = pd.DataFrame([{"benchmark": "b1", "count": 10, "mv3 fp32": 0.012, "mv3 int8": None},
                          {"benchmark": "b2", "count": 10, "mv3 fp32": 0.0025, "mv3 int8": 0.02},
                          {"benchmark": "average (mean)", "count": 20, "mv3 fp32": 0.007, "mv3 int8": 0.02}])
    (ax,) = charts.accuracy_figure(table).axes
    assert ax.get_xlim()[1] == pytest.approx(2.0 * 1.15)  # the axis follows the data, not 0-100%
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["1.2", "0.25", "–", "2.0"]  # fp32 bars, then int8; a missing value is not 0


def test_accuracy_csv_is_one_row_per_benchmark_and_model(tmp_path) -> None:
    from textrec.reporting.collect import accuracy_long

    reports, _ = _stage_files(tmp_path)
    table = accuracy_table(collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES), BENCHES)
    long = accuracy_long(table)
    assert list(long.columns) == ["benchmark", "model", "accuracy", "count"]
    assert set(long["model"]) == {"mobilenet_v3 fp32", "mobilenet_v3 int8", "resnet34_vd fp32"}  # no int8 for r34
    row = long[(long["benchmark"] == "b1") & (long["model"] == "mobilenet_v3 int8")]
    assert row["accuracy"].item() == pytest.approx(0.4) and row["count"].item() == 10


def test_a_model_trained_from_a_checkpoint_is_shown_beside_where_it_started(tmp_path) -> None:
    reports, bench_root = _stage_files(tmp_path)
    for bench, before in (("b1", 0.4), ("b2", 0.2)):
        f = reports / "eval" / "mobilenet_v3" / f"{bench}.json"
        d = json.loads(f.read_text()) | {"start": {"source": "bundled", "sha256": "ab" * 32, "accuracy": before,
                                                   "count": 10, "path": "x.pdparams", "reason": None}}
        f.write_text(json.dumps(d))
    paths = PathsConfig(reports=str(reports))
    table = build_report(collect(paths, ("mobilenet_v3", "resnet34_vd"), BENCHES), BENCHES, bench_root,
                         reports / "report.html", reports / "summary.md", "demo")
    rows = table.set_index("benchmark")
    assert rows.loc["b1", "mobilenet_v3 start"] == pytest.approx(0.4)
    assert rows.loc["average (mean)", "mobilenet_v3 start"] == pytest.approx(0.3)
    assert "resnet34_vd start" not in table.columns  # trained from scratch: nothing to compare with
    md = (reports / "summary.md").read_text()
    assert "mobilenet_v3 was trained from bundled (sha256 abababababab)" in md
    assert "mean 30.00% before, 30.00% after training (+0.0 points)" in md
    assert "mobilenet_v3 was trained from bundled" in (reports / "report.html").read_text()


def test_with_own_test_sets_the_headline_is_their_change_and_the_synthetic_suites_is_forgetting(tmp_path) -> None:
    """finetune: b1 stands for your test set, b2 for the synthetic suite; the headline (first, above the table)
    gives your test set's change, then what the synthetic suite lost."""
    reports, bench_root = _stage_files(tmp_path)  # mobilenet_v3 fp32: b1 0.5, b2 0.1
    for bench, before in (("b1", 0.4), ("b2", 0.2)):
        f = reports / "eval" / "mobilenet_v3" / f"{bench}.json"
        f.write_text(json.dumps(json.loads(f.read_text()) | {"start": {
            "source": "bundled", "sha256": "ab" * 32, "accuracy": before, "count": 10, "path": "x.pdparams",
            "reason": None}}))
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)
    build_report(results, BENCHES, bench_root, reports / "report.html", reports / "summary.md", "finetune",
                 own=("b1",))
    md = (reports / "summary.md").read_text().splitlines()
    assert md[0] == "# textrec summary (finetune)" and md[2].startswith("mobilenet_v3 was trained from bundled")
    assert "On your own test sets (b1): mean 40.00% before, 50.00% after training (+10.0 points)." in md[2]
    assert "Forgetting, on the synthetic suite (1 benchmark): mean 20.00% before, 10.00% after (-10.0 points)" in md[2]
    assert "+0.0 points" not in md[2]  # not the mean over both, which did not move
    page = (reports / "report.html").read_text()
    assert page.index("On your own test sets (b1)") < page.index("<table>")
