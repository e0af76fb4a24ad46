from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.artifacts_kit import train_summary
from tests.tracking.kit_pipeline import BENCHES, clone_as_finetune, clone_run
from textrec.artifacts import ArtifactError, ValidationSummary
from textrec.artifacts.metrics import FORGETTING, METRICS, VALIDATION_SUCCESS, avg_acc_key
from textrec.config import load_params
from textrec.tracking.files import (
    dvc_data_hash,
    eval_metrics,
    git_state,
    quantize_metrics,
    read_train_log,
    train_tags,
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
    train_summary().write(summary)
    assert train_tags(summary) == {"train_steps": "40", "init": "paddleocr", "init_sha256": "a" * 64,
                                   "init_archive_sha256": "b" * 64}
    summary.write_text(json.dumps({"steps": 5}))  # written before the schema: refused, not read as scratch
    with pytest.raises(ArtifactError, match="schema_version None"):
        train_tags(summary)


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
    assert ValidationSummary.read(kit_run / "reports/validation.json").success is True
    assert ValidationSummary.read(clone / "reports/validation.json").metrics() == {VALIDATION_SUCCESS: 0.0}
    data = json.loads((clone / "reports/validation.json").read_text())
    (clone / "reports/validation.json").write_text(json.dumps(data | {"success": "yes"}))
    with pytest.raises(ValueError, match="success: expected bool"):
        ValidationSummary.read(clone / "reports/validation.json")


def readme_metrics() -> list[str]:
    """The first column of README's metrics table (the one headed ``| metric | what |``)."""
    lines = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| metric | what |") + 2  # past the header's |---|---| line
    rows = itertools.takewhile(lambda line: line.startswith("| `"), lines[start:])
    return [r.split("|")[1].strip().strip("`") for r in rows]


def test_the_readme_table_is_the_metrics_catalogue():
    """The README lists the names artifacts.metrics builds, in its order, each once (the names themselves are
    spelled only by the functions there: the catalogue is built with them)."""
    assert readme_metrics() == list(METRICS)


def test_every_logged_metric_is_one_documented_name(kit_run, tmp_path):
    """What a run carries is what METRICS documents, and each documented name is logged (no duplicate
    spelling of a number, such as acc/<bench> beside acc_fp32/<bench>), by a run of some profile (the own
    means and forgetting: a finetune run)."""
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
