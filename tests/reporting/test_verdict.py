"""The report's verdicts come from the stages' files: a from-scratch run of at most one pass that does not read is
called a pipeline check, whatever its backbone; a model that reads is called a model with its training data;
an all-empty gallery is one closed line; every accuracy is in %."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from tests.artifacts_kit import eval_result, train_summary
from tests.reporting.test_report import BENCHES, _stage_files
from textrec.artifacts import ConvertedLmdb, PrepareSummary, RenderedSplit, SynthSummary, TrainSummary
from textrec.config import PathsConfig
from textrec.reporting.collect import BackboneResults, collect
from textrec.reporting.html import build_report
from textrec.reporting.verdict import training_data, verdict


def _split(name: str, count: int) -> RenderedSplit:
    return RenderedSplit(name, "train", 1, count, 10.0, count / 10, 3000.0)


PREPARE = PrepareSummary("synthetic", {}, SynthSummary(2, "png", "wordfreq en top 80000", {"files": 628}, {
    "train": _split("train", 40000), "val": _split("val", 500)}))


def _converted(written: int) -> ConvertedLmdb:
    return ConvertedLmdb(written + 1, written, {"missing_file": 1}, 1.0, written + 1.0, "rejections.csv")


def _train(steps: int, planned: int, batch: int, init: str = "scratch", complete: bool = True) -> TrainSummary:
    return replace(train_summary(steps, planned, batch, init), recipe_complete=complete, best_accuracy=0.812,
                   stop_reason="max_steps" if complete else "time_budget")


def _results(accuracy: float, train: TrainSummary, empty: int = 0) -> BackboneResults:
    ev = {b: replace(eval_result(b, accuracy, count=200), empty_predictions=empty) for b in BENCHES}
    return BackboneResults("mobilenet_v3", eval=ev, train=train)  # the name says nothing: the facts decide


def test_a_few_steps_from_scratch_that_do_not_read_are_a_pipeline_check() -> None:
    v = verdict(_results(0.0, _train(40, 40, 32), empty=200), PREPARE)
    assert v.kind == "pipeline check, not a model"
    assert "Trained 40 of 40 planned steps from scratch (1,280 images seen, 3.2% of one pass over its 40,000" in v.what
    assert v.trained_on.startswith("40,000 synthetic word images")
    assert v.reads == ("It does not read: mean accuracy 0.00% over 2 benchmarks; 100.0% of its 400 images read "
                       "as empty (∅)")


def test_the_same_backbone_with_a_real_recipe_is_a_model() -> None:
    v = verdict(_results(0.91, _train(50000, 50000, 64)), PREPARE)
    assert v.kind == "model" and "80.0 passes over its 40,000 training images" in v.what
    assert v.reads == "It reads: mean accuracy 91.00% over 2 benchmarks"


def test_other_endings_are_named_from_the_training_summary() -> None:
    assert verdict(_results(0.0, _train(12, 40, 32, complete=False)), PREPARE).kind == "incomplete"
    assert verdict(_results(0.0, _train(90000, 90000, 32)), PREPARE).kind == "failed training"  # 72 passes
    released = verdict(_results(0.78, _train(0, 0, 256, init="paddleocr")), PREPARE)
    assert released.kind == "as released" and "MJSynth + SynthText" in released.what
    tuned = verdict(_results(0.93, _train(1000, 1000, 64, init="bundled")), PREPARE)
    assert tuned.kind == "model" and "from the recognizer textrec ships" in tuned.what


def test_training_data_of_real_and_own_data() -> None:
    real = PrepareSummary("real", {"train/MJ": _converted(1000), "train/ST": _converted(500),
                                   "bench/SVT": _converted(9)})
    assert training_data(real) == ("1,500 real word crops (train/MJ, train/ST)", 1500)
    own = PrepareSummary("folder", {"train": _converted(30), "val": _converted(5)},
                         SynthSummary(2, "png", "words", {}, {"synth_IC15": _split("bench/synth_IC15", 3)}))
    assert training_data(own) == ("30 of your own labelled word crops (train)", 30)


def test_report_has_verdicts_collapses_an_all_empty_gallery_and_uses_percent(tmp_path) -> None:
    reports, bench_root = _stage_files(tmp_path)
    for bench in BENCHES:  # resnet34_vd reads every image as empty
        p = reports / "eval" / "resnet34_vd" / f"{bench}.json"
        d = json.loads(p.read_text())
        d["worst"] = [w | {"prediction": ""} for w in d["worst"]]
        p.write_text(json.dumps(d | {"empty_predictions": d["count"]}))
    for bb, steps in (("mobilenet_v3", 5000), ("resnet34_vd", 40)):
        _train(steps, steps, 32).write(reports / "train" / bb / "train.json")
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)
    build_report(results, BENCHES, bench_root, reports / "report.html", reports / "summary.md", "demo",
                 prepare=PREPARE)
    page, md = (reports / "report.html").read_text(), (reports / "summary.md").read_text()
    assert "<b>resnet34_vd: pipeline check, not a model</b>" in page
    assert "<b>mobilenet_v3: model</b>" in page  # 30% mean: it reads
    assert "- **resnet34_vd: pipeline check, not a model**. Trained 40 of 40 planned steps" in md
    # resnet34_vd's gallery: one closed line holding its cards; mobilenet_v3's stays open
    gallery = page.split("<h2>Failure gallery</h2>", 1)[1]
    assert re.search(r"<details><summary>resnet34_vd: all 2 examples are empty predictions \(∅\)", gallery)
    assert gallery.index("<details>") > gallery.index("mobilenet_v3 · b2")
    assert gallery.split("<details>", 1)[1].count('class="card"') == 2
    # one unit: the best validation accuracy is in % like the benchmarks, not 0.812
    assert "<td>81.20%</td>" in page and "0.812" not in page
    assert re.search(r"\|\s*81\.20%\s*\|", md.split("## How training ended", 1)[1])
