"""The stage outputs' dataclasses: a file round-trips, and an old, renamed or mistyped file is refused in one
line naming it (so a renamed field fails here and at the first read, not in six readers)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from tests.artifacts_kit import calibration_report, eval_result, quantize_result, train_summary
from textrec.artifacts import (
    ArtifactError,
    ConvertedLmdb,
    EvalResult,
    PrepareSummary,
    QuantizeSummary,
    RenderedSplit,
    SynthSummary,
    TrainSummary,
    forgetting,
)
from textrec.artifacts.metrics import METRICS
from textrec.config import PathsConfig


@pytest.mark.parametrize("artifact", [train_summary(), eval_result(), eval_result(start=0.7), quantize_result(),
                                      calibration_report()],
                         ids=["train", "eval", "eval_start", "quantize", "calibration"])
def test_round_trip(artifact, tmp_path):
    path = artifact.write(tmp_path / "x" / "a.json")
    assert type(artifact).read(path) == artifact
    assert json.loads(path.read_text())["schema_version"] == type(artifact).SCHEMA_VERSION
    assert not list(path.parent.glob("*.partial"))  # written atomically through a temporary file


def test_a_model_trained_from_scratch_has_no_start_key(tmp_path):
    """The report tells an init-trained model by the key's presence: None is left out, not written null."""
    assert "start" not in json.loads(eval_result().write(tmp_path / "e.json").read_text())
    assert "start" in json.loads(eval_result(start=0.7).write(tmp_path / "s.json").read_text())


def _rewrite(path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: {k: v for k, v in d.items() if k != "schema_version"}, "schema_version None where TrainSummary reads 1"),
    (lambda d: d | {"schema_version": 2}, "schema_version 2 where TrainSummary reads 1"),
    (lambda d: {("step_count" if k == "steps" else k): v for k, v in d.items()}, r"unknown key\(s\) \['step_count'\]"),
    (lambda d: {k: v for k, v in d.items() if k != "images_seen"}, "missing key 'images_seen'"),
    (lambda d: d | {"steps": "40"}, "steps: expected int, got '40'"),
    (lambda d: d | {"recipe_complete": 1}, "recipe_complete: expected bool, got 1"),
])
def test_an_old_renamed_or_mistyped_file_is_refused_in_one_line_naming_it(tmp_path, change, message):
    path = train_summary().write(tmp_path / "train.json")
    _rewrite(path, change)
    with pytest.raises(ArtifactError, match=message) as e:
        TrainSummary.read(path)
    assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)
    assert "dvc repro train" in str(e.value)  # what to do about it


def test_nested_fields_are_checked_with_their_place(tmp_path):
    path = eval_result().write(tmp_path / "e.json")
    _rewrite(path, lambda d: d | {"worst": [d["worst"][0] | {"correct": "no"}]})
    with pytest.raises(ArtifactError, match=r"worst\[0\]\.correct: expected bool"):
        EvalResult.read(path)
    with pytest.raises(ArtifactError, match="not found.*dvc repro evaluate"):
        EvalResult.read(tmp_path / "missing.json")


def test_paths_are_the_paths_config_ones():
    p = PathsConfig(reports="R")
    assert TrainSummary.path(p, "bb") == p.train_summary("bb")
    assert EvalResult.path(p, "bb", "IC15") == p.eval_report("bb", "IC15")
    assert QuantizeSummary.path(p, "bb") == p.quantize_report("bb")


def test_train_tags():
    assert train_summary().tags() == {"train_steps": "40", "init": "paddleocr", "init_sha256": "a" * 64,
                                      "init_archive_sha256": "b" * 64}
    scratch = dataclasses.replace(train_summary(), init={}, tracking_run_id="r1")
    assert scratch.tags() == {"train_steps": "40", "init": "scratch", "init_sha256": "none", "train_run_id": "r1"}


def test_quantize_metrics_derived_from_the_rows():
    m = quantize_result().metrics(("a", "b"), own=("b",))
    assert m["acc_int8/a"] == 0.7 and m["int8_drop/a"] == pytest.approx(0.1)
    assert m["avg_acc_fp32"] == pytest.approx(0.7) and m["avg_acc_own_int8"] == pytest.approx(0.6)
    assert m["int8_drop_max"] == pytest.approx(0.1)
    assert m["latency_ms_int8_b1"] == 2.0 and m["latency_ms_fp32_b64"] == 1.0
    with pytest.raises(ValueError, match="benchmark 'c' missing"):
        quantize_result().metrics(("c",))
    slow = dataclasses.replace(quantize_result(), speed=quantize_result().speed[:1])
    with pytest.raises(ValueError, match="no batch-1 timing for engine 'onnx_int8'"):
        slow.metrics(("a",))


def test_eval_metrics_and_forgetting():
    m = eval_result().metrics()
    assert m == {"ned/IC15": 0.1, "confidence/IC15": 0.8, "count/IC15": 3.0, "empty/IC15": 1.0,
                 "ece_before/IC15": 0.2, "ece_after/IC15": 0.05, "coverage_at_precision/IC15": 0.0}
    results = {"own": eval_result("own", 0.9), "s1": eval_result("s1", 0.5, start=0.7),
               "s2": eval_result("s2", 0.4, start=0.4)}
    assert forgetting(results, ("own",)) == {"forgetting": pytest.approx(0.1)}
    assert forgetting(results, ()) == {}  # no own test sets: nothing to forget for
    results["s2"] = eval_result("s2", 0.4)  # a start not measured on one of them
    assert forgetting(results, ("own",)) == {}


def test_every_derived_metric_name_is_documented():
    """What the dataclasses derive is what METRICS (the README's table) names."""
    names = set(quantize_result().metrics(("a", "b"), own=("b",))) | set(eval_result().metrics())
    names |= set(forgetting({"o": eval_result("o"), "s": eval_result("s", 0.4, start=0.5)}, ("o",)))
    patterns = [re.compile(re.sub(r"<\w+>", "[A-Za-z0-9_]+", re.escape(k))) for k in METRICS]
    assert sorted(n for n in names if not any(p.fullmatch(n) for p in patterns)) == []


def test_prepare_summary_round_trip_and_training_images(tmp_path):
    split = RenderedSplit("bench/synth_IC15", "IC15", 2, 3, 0.5, 6.0, 900.0)
    own = PrepareSummary("folder", {"train": ConvertedLmdb(41, 40, {"missing_file": 1}, 2.0, 20.5, "t.csv"),
                                    "val": ConvertedLmdb(8, 8, {}, 0.5, 16.0, "v.csv")},
                         SynthSummary(2, "png", "wordfreq", {"files": 3}, {"synth_IC15": split}))
    real = PrepareSummary("real", {"train/MJ": ConvertedLmdb(5, 5, {}, 1.0, 5.0, "mj.csv")})
    for summary in (own, real):
        assert PrepareSummary.read(summary.write(tmp_path / f"{summary.source}.json")) == summary
    assert "synthetic" not in json.loads((tmp_path / "real.json").read_text())
    assert own.training_images() == (["train"], 40) and real.training_images() == (["train/MJ"], 5)
