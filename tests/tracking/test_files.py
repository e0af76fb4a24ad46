from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.tracking.kit_pipeline import BENCHES, clone_as_finetune, clone_run
from textrec.config import load_params
from textrec.tracking.files import (
    FORGETTING,
    METRICS,
    avg_acc_key,
    dvc_data_hash,
    eval_metrics,
    git_state,
    quantize_metrics,
    read_train_log,
    train_tags,
    validation_passed,
)


def test_the_files_are_where_params_paths_put_them(kit_run):
    paths = load_params(kit_run / "params.yaml").paths
    assert paths.train_log("resnet34_vd").as_posix() == "reports/train/resnet34_vd/train_log.csv"
    assert paths.eval_report("mobilenet_v3", "kit_ic15").as_posix() == "reports/eval/mobilenet_v3/kit_ic15.json"
    assert (kit_run / paths.onnx_model("mobilenet_v3", "int8")).is_file()
    assert (kit_run / paths.eval_report("mobilenet_v3", "kit_ic15")).is_file()


def test_train_log(kit_run, tmp_path):
    rows = read_train_log(kit_run / "reports/train/mobilenet_v3/train_log.csv")
    names = {n for n, _, _ in rows}
    assert {"train/loss", "train/lr", "train/epoch", "train/images_per_second", "train/val_accuracy"} == names
    assert sorted({s for _, _, s in rows}) == [1, 2, 3]
    assert [s for n, _, s in rows if n == "train/val_accuracy"] == [3]  # empty cells are not logged
    bad = tmp_path / "log.csv"
    bad.write_text("step,epoch,loss\n1,0,2.5\n2,0,oops\n")
    with pytest.raises(ValueError, match="line 3"):
        read_train_log(bad)
    bad.write_text("epoch,loss\n0,1\n")
    with pytest.raises(ValueError, match="'step' column"):
        read_train_log(bad)
    with pytest.raises(FileNotFoundError):
        read_train_log(tmp_path / "missing.csv")
    bad.write_text("step,epoch,loss\n")  # a 0-step run (init weights evaluated as they are) logs no row
    with pytest.raises(ValueError, match="no training steps logged"):
        read_train_log(bad)
    assert read_train_log(bad, allow_empty=True) == []


def test_train_tags_name_the_init_and_its_sha256(tmp_path):
    summary = tmp_path / "train.json"
    assert train_tags(summary) is None  # optional file
    summary.write_text(json.dumps({"steps": 0, "init": {"source": "paddleocr", "sha256": "a" * 64,
                                                        "archive_sha256": "b" * 64}}))
    assert train_tags(summary) == {"train_steps": "0", "init": "paddleocr", "init_sha256": "a" * 64,
                                   "init_archive_sha256": "b" * 64}
    summary.write_text(json.dumps({"steps": 5}))  # written before init existed: scratch
    assert train_tags(summary) == {"train_steps": "5", "init": "scratch", "init_sha256": "none"}


def test_eval_and_quantize_metrics_agree_with_the_files(kit_run):
    paths = {b: kit_run / "reports/eval/mobilenet_v3" / f"{b}.json" for b in BENCHES}
    m = eval_metrics(paths)
    reps = {b: json.loads(p.read_text()) for b, p in paths.items()}
    assert m["ned/kit_synth"] == reps["kit_synth"]["norm_edit_distance"]
    assert m["empty/kit_synth"] == reps["kit_synth"]["empty_predictions"]
    assert not any(k.startswith("acc") for k in m)  # accuracy is the quantize stage's acc_fp32/<bench>
    q = quantize_metrics(kit_run / "reports/quantize/mobilenet_v3.json", tuple(BENCHES))
    rep = json.loads((kit_run / "reports/quantize/mobilenet_v3.json").read_text())
    row = {r["name"]: r for r in rep["benchmarks"]}
    for b in BENCHES:
        assert q[f"acc_int8/{b}"] == row[b]["int8_accuracy"]
        assert q[f"int8_drop/{b}"] == pytest.approx(row[b]["fp32_accuracy"] - row[b]["int8_accuracy"])
    assert q["latency_ms_int8_b1"] == next(t["ms_per_image"] for t in rep["speed"] if t["engine"] == "onnx_int8") > 0
    assert q["avg_acc_fp32"] == pytest.approx(sum(row[b]["fp32_accuracy"] for b in BENCHES) / 3)
    with pytest.raises(ValueError, match="benchmark 'IIIT5K' missing"):
        quantize_metrics(kit_run / "reports/quantize/mobilenet_v3.json", ("IIIT5K",))


def test_quantize_report_without_latency_is_refused(tmp_path):
    p = tmp_path / "q.json"
    p.write_text(json.dumps({"benchmarks": [{"name": "a", "fp32_accuracy": 0.5, "int8_accuracy": 0.4}],
                             "speed": [{"engine": "onnx_fp32", "batch_size": 1, "ms_per_image": 2.0}]}))
    with pytest.raises(ValueError, match="no batch-1 timing for engine 'onnx_int8'"):
        quantize_metrics(p, ("a",))


def test_dvc_hash_git_state_and_validation(kit_run, tmp_path):
    lock = yaml.safe_load((kit_run / "dvc.lock").read_text())
    assert dvc_data_hash(kit_run / "dvc.lock", "data/lmdb") == lock["stages"]["prepare"]["outs"][0]["md5"]
    # several stages writing below the data directory: one digest over all of them, order-independent
    split = {"stages": {"a": {"outs": [{"path": "data/lmdb/train", "md5": "1.dir"}]},
                        "b": {"outs": [{"path": "data/lmdb/bench", "md5": "2.dir"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(split))
    h = dvc_data_hash(tmp_path / "dvc.lock", "data/lmdb")
    assert h.startswith("sha256:")
    split["stages"]["b"]["outs"][0]["md5"] = "3.dir"
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(split))
    assert dvc_data_hash(tmp_path / "dvc.lock", "data/lmdb") != h
    with pytest.raises(ValueError, match="no stage output"):
        dvc_data_hash(tmp_path / "dvc.lock", "data/other")

    commit, dirty = git_state(kit_run)
    assert len(commit) == 40 and not dirty
    with pytest.raises(ValueError, match="git rev-parse HEAD failed"):
        git_state(tmp_path)

    clone = clone_run(kit_run, tmp_path / "clone", validation_success=False).parent
    assert validation_passed(kit_run / "reports/validation.json") is True
    assert validation_passed(clone / "reports/validation.json") is False
    (clone / "reports/validation.json").write_text('{"success": "yes"}')
    with pytest.raises(ValueError, match="boolean 'success'"):
        validation_passed(clone / "reports/validation.json")


def test_every_logged_metric_is_one_documented_name(kit_run, tmp_path):
    """One set of names: what a run carries matches the table in files.METRICS and the README, and each
    documented name is logged (no duplicate spelling of a number, such as acc/<bench> beside acc_fp32/<bench>),
    by a run of some profile (the own means and forgetting: a finetune run)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert [k for k in METRICS if f"`{k}`" not in readme] == []
    names = set(eval_metrics({b: kit_run / "reports/eval/mobilenet_v3" / f"{b}.json" for b in BENCHES}))
    names |= set(quantize_metrics(kit_run / "reports/quantize/mobilenet_v3.json", tuple(BENCHES)))
    ft = clone_as_finetune(kit_run, tmp_path / "ft", ("kit_synth",), start_gap=0.1).parent
    params = load_params(ft / "params.yaml")
    benches, own = params.eval.benchmarks, params.own_benchmarks()
    names |= set(eval_metrics({b: ft / params.paths.eval_report("mobilenet_v3", b) for b in benches}, own))
    names |= set(quantize_metrics(ft / params.paths.quantize_report("mobilenet_v3"), benches, own))
    names |= {"validation_success"} | {k for k, _, _ in read_train_log(kit_run / "reports/train/mobilenet_v3/train_log.csv")}
    patterns = {k: re.compile(re.sub(r"<\w+>", "[A-Za-z0-9_]+", re.escape(k))) for k in METRICS}
    assert sorted(n for n in names if not any(p.fullmatch(n) for p in patterns.values())) == []
    assert [k for k, p in patterns.items() if not any(p.fullmatch(n) for n in names)] == []


def test_own_test_sets_get_their_own_mean_and_the_synthetic_suite_gives_forgetting(kit_run, tmp_path):
    """What `textrec track` reads for a finetune run (kit_synth your test set, the other two the synthetic suite,
    whose start checkpoint read 25 points more): the own means and forgetting; for other runs, neither."""
    from textrec.tracking.log import collect_backbone

    ft = clone_as_finetune(kit_run, tmp_path / "ft", ("kit_synth",), start_gap=0.25).parent
    params = load_params(ft / "params.yaml")
    assert params.own_benchmarks() == ("kit_synth",)
    assert params.eval.benchmarks == ("synth_iiit5k", "synth_ic15", "kit_synth")
    m = collect_backbone(params, ft, "mobilenet_v3", "p", ("c", False), "h").metrics
    rows = {r["name"]: r for r in json.loads((ft / "reports/quantize/mobilenet_v3.json").read_text())["benchmarks"]}
    for prec in ("fp32", "int8"):
        assert m[avg_acc_key(prec, own=True)] == pytest.approx(rows["kit_synth"][f"{prec}_accuracy"])
        assert m[avg_acc_key(prec)] == pytest.approx(sum(r[f"{prec}_accuracy"] for r in rows.values()) / 3)
    assert m[FORGETTING] == pytest.approx(0.25)

    ev = ft / params.paths.eval_report("mobilenet_v3", "synth_ic15")  # a start the evaluate stage could not measure
    data = json.loads(ev.read_text())
    ev.write_text(json.dumps(data | {"start": data["start"] | {"accuracy": None, "reason": "gone"}}))
    assert FORGETTING not in collect_backbone(params, ft, "mobilenet_v3", "p", ("c", False), "h").metrics

    plain = collect_backbone(load_params(kit_run / "params.yaml"), kit_run, "mobilenet_v3", "p", ("c", False), "h")
    assert not {avg_acc_key("int8", own=True), avg_acc_key("fp32", own=True), FORGETTING} & set(plain.metrics)
