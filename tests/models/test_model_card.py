from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import onnxruntime as ort
import paddle
import pytest
import yaml

from tests.artifacts_kit import eval_result
from textrec.artifacts import BenchResult, LoadAverage, MachineRecord
from textrec.calibration import Calibration
from textrec.cli import main
from textrec.data.lmdb_io import LmdbWriter
from textrec.models import pretrained
from textrec.models.crnn import build_model
from textrec.profiles import compose
from textrec.training.checkpointing import TrainerState, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
DTRB = "0123456789abcdefghijklmnopqrstuvwxyz"


def _lmdbs(params: dict, root: Path, rows: list[tuple[Path, str]]) -> None:
    """The prepare stage's LMDBs the bundle's ONNX checks read: train (INT8 calibration) and each benchmark."""
    lmdb = root / params["paths"]["lmdb"]
    with LmdbWriter(lmdb / "train") as w:
        for path, label in rows:
            w.add(path.read_bytes(), label)
    for bench in params["eval"]["benchmarks"]:
        shutil.copytree(lmdb / "train", lmdb / "bench" / bench)


def _pipeline_outputs(root: Path, rows: list[tuple[Path, str]]) -> Path:
    """A checkpoint, its evaluation JSONs, a real-dev JSON and the run's LMDBs (the parity kit's images), as
    the pipeline and bench/real_dev.py write them."""
    params = compose("pretrain", REPO)  # profiles/base.yaml + profiles/pretrain.yaml
    params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
    params["quantize"] |= {"calibration_images": 8, "timing_rounds": 1}
    params["charset"]["dict_path"] = None  # the 0-9a-z head built below, whatever dictionary the profile has now
    params["data"]["synth"]["train_size"] = 300_000  # the figures the assertions below name
    params["train"]["mobilenet_v3"]["max_steps"] = 16_000
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    _lmdbs(params, root, rows)
    model = build_model("mobilenet_v3", 37)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    state = TrainerState(step=1200, epoch=2, backbone="mobilenet_v3", num_classes=37, best_accuracy=0.41,
                         segments=[{"from_step": 0, "to_step": 700, "seconds": 1800.0, "cpu": "CPU A",
                                    "world_size": 2},
                                   {"from_step": 700, "to_step": 1200, "seconds": 1800.0, "cpu": "CPU B",
                                    "world_size": 2}])
    save_checkpoint(root / "models" / "mobilenet_v3", "best", model, opt, state)
    sha = hashlib.sha256((root / "models" / "mobilenet_v3" / "best.pdparams").read_bytes()).hexdigest()
    for i, bench in enumerate(params["eval"]["benchmarks"]):  # the evaluate stage's files
        dataclasses.replace(eval_result(bench), checkpoint_sha256=sha, count=500, accuracy=0.1 * i).write(
            root / "reports" / "eval" / "mobilenet_v3" / f"{bench}.json")
    machine = MachineRecord("CPU B", "v", "6/1/1", 2, ["avx2"], "3.11.7", "Linux", 0, LoadAverage([1, 1, 1], [1, 1, 1]))
    real = {"protocol": "DTRB", "model": "models/mobilenet_v3/best.pdparams", "model_sha256": sha, "real": {"datasets": [{"name": "IIIT5k_train_2000", "count": 2000, "accuracy": 0.5, "exact_accuracy": 0.25}]}}
    BenchResult(machine, real).write(root / "reports" / "bench" / "real_dev.json")
    return root / "params.yaml"


def _files_match(card: dict, out: Path) -> None:
    """Every file of the bundle's directory but the card is on the card, with its true size and sha256."""
    on_card = {f["name"]: f for f in card["files"]}
    card_files = {f"{card['backbone']}.json", f"{card['backbone']}.md"}
    assert set(on_card) == {p.name for p in out.iterdir() if p.name not in card_files and p.is_file()}
    for name, f in on_card.items():
        data = (out / name).read_bytes()
        assert (f["bytes"], f["sha256"]) == (len(data), hashlib.sha256(data).hexdigest()), name


def _onnx_characters(path: Path) -> str:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta(
    ).custom_metadata_map["textrec.characters"]


def test_bundle_copies_the_checkpoint_bit_for_bit_with_a_card_of_its_facts(tmp_path, parity_rows, monkeypatch):
    params = _pipeline_outputs(tmp_path, parity_rows)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "assets"
    assert main(["bundle", "--params", str(params), "--checkpoint", "models/mobilenet_v3/best.pdparams",
                 "--real-dev", "reports/bench/real_dev.json", "--out", str(out), "--no-int8"]) == 0
    src = (tmp_path / "models" / "mobilenet_v3" / "best.pdparams").read_bytes()
    assert (out / "mobilenet_v3.pdparams").read_bytes() == src
    card = json.loads((out / "mobilenet_v3.json").read_text())
    assert card["sha256"] == hashlib.sha256(src).hexdigest()
    assert card["steps"] == 1200 and card["images_seen"] == 1200 * 64 and card["training_hours"] == 1.0
    assert card["data"]["real_images_used"] is False and card["data"]["synth"]["train_size"] == 300_000
    assert [r["accuracy"] for r in card["synthetic_benchmarks"]][:2] == [0.0, 0.1]
    assert card["real_dev"]["datasets"][0]["accuracy"] == 0.5
    md = (out / "mobilenet_v3.md").read_text()
    assert "76,800 images" in md and "CPU A, CPU B" in md and "| IIIT5k_train_2000 (real) | 2000 | 50.0% | 25.0% |" in md


def test_bundle_ships_the_onnx_and_its_dictionary_on_the_card(tmp_path, parity_rows, monkeypatch):
    """The fp32 ONNX beside the checkpoint computes what the checkpoint computes and names its dictionary, as
    does the dictionary file; the card lists every file (size, sha256), the dictionary and the parity check."""
    from textrec.inference.engines import OnnxEngine, PaddleEngine
    from textrec.preprocess import preprocess_batch

    params = _pipeline_outputs(tmp_path, parity_rows)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "assets"
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(out), "--no-int8"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["mobilenet_v3.dict.txt", "mobilenet_v3.json", "mobilenet_v3.md",
                                                     "mobilenet_v3.onnx", "mobilenet_v3.pdparams"]
    x = preprocess_batch([path.read_bytes() for path, _ in parity_rows[:6]])  # [6, 3, 32, 100]
    eager = PaddleEngine(out / "mobilenet_v3.pdparams", 37)(x)
    assert abs(OnnxEngine(out / "mobilenet_v3.onnx")(x) - eager).max() < 1e-4
    assert (out / "mobilenet_v3.dict.txt").read_text().split("\n") == [*DTRB, ""]
    assert _onnx_characters(out / "mobilenet_v3.onnx") == DTRB
    card = json.loads((out / "mobilenet_v3.json").read_text())
    _files_match(card, out)
    assert card["dictionary"] == {"file": "mobilenet_v3.dict.txt", "characters": DTRB, "size": 36,
                                  "num_classes": 37, "summary": "0-9a-z"}
    assert card["onnx"]["parity"]["images"] == 7 * 16 and card["onnx"]["parity"]["max_abs_diff"] <= 1e-4
    assert card["onnx"]["int8"] is None
    md = (out / "mobilenet_v3.md").read_text()
    assert "37 classes (blank + 0-9a-z, dictionary `mobilenet_v3.dict.txt`)" in md
    sha = hashlib.sha256((out / "mobilenet_v3.onnx").read_bytes()).hexdigest()
    assert "| `mobilenet_v3.onnx` | ONNX fp32: the default of `Recognizer()` and `textrec predict` | " in md
    assert f"`{sha}` |" in md and "INT8: not attempted" in md


def test_int8_failing_the_gates_is_not_shipped_and_an_older_one_goes(tmp_path, parity_rows, monkeypatch):
    """A negative allowed drop no plan can meet (params.yaml refuses one, so it is set on the loaded params):
    both plans are tried, no INT8 file ships, and the one an earlier bundle left is removed."""
    import textrec.config

    params = _pipeline_outputs(tmp_path, parity_rows)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "assets"
    out.mkdir()
    (out / "mobilenet_v3_int8.onnx").write_bytes(b"an earlier bundle's INT8 model")
    load = textrec.config.load_params

    def negative_drop(path):
        p = load(path)
        return dataclasses.replace(p, quantize=dataclasses.replace(p.quantize, max_accuracy_drop=-0.01))

    monkeypatch.setattr(textrec.config, "load_params", negative_drop)
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(out), "--no-progress"]) == 0
    assert not (out / "mobilenet_v3_int8.onnx").exists()
    card = json.loads((out / "mobilenet_v3.json").read_text())
    _files_match(card, out)
    int8 = card["onnx"]["int8"]
    assert not int8["shipped"] and int8["failed_gates"] and int8["allowed_drop"] == -0.01
    assert [t["plan"] for t in int8["tried"]] == ["static_u8_dynamic_lstm", "dynamic_lstm"]
    assert all(any(g.startswith("accuracy[") for g in t["failed_gates"]) for t in int8["tried"])
    assert "- INT8: not shipped, failed gate(s): accuracy[" in (out / "mobilenet_v3.md").read_text()


def test_reexport_keeps_the_cards_facts_and_refuses_another_dictionary(tmp_path, parity_rows, monkeypatch, capsys):
    params = _pipeline_outputs(tmp_path, parity_rows)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "assets"
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(out), "--no-int8"]) == 0
    card = json.loads((out / "mobilenet_v3.json").read_text())
    card["steps"] = 999  # a fact only the card knows: re-exporting must not rebuild it from the run's files
    (out / "mobilenet_v3.json").write_text(json.dumps(card))
    (out / "mobilenet_v3.onnx").unlink()
    shutil.rmtree(tmp_path / "models")  # the run is gone; the bundle's own .pdparams is exported
    assert main(["bundle", "--params", str(params), "--out", str(out), "--reexport", "--no-int8"]) == 0
    again = json.loads((out / "mobilenet_v3.json").read_text())
    assert again["steps"] == 999 and (out / "mobilenet_v3.onnx").is_file()
    _files_match(again, out)

    (tmp_path / "reversed.txt").write_text("".join(c + "\n" for c in reversed(DTRB)))
    other = yaml.safe_load(params.read_text())
    other["charset"]["dict_path"] = str(tmp_path / "reversed.txt")
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    capsys.readouterr()
    assert main(["bundle", "--params", str(tmp_path / "other.yaml"), "--out", str(out), "--reexport"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the bundle's dictionary is '0123" in err and "zyx" in err


def test_bundle_refuses_a_missing_evaluation(tmp_path, parity_rows, monkeypatch, capsys):
    params = _pipeline_outputs(tmp_path, parity_rows)
    (tmp_path / "reports" / "eval" / "mobilenet_v3" / "synth_SVT.json").unlink()
    monkeypatch.chdir(tmp_path)
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "synth_SVT.json: not found; run `dvc repro evaluate@mobilenet_v3-synth_SVT`" in err


def test_bundle_refuses_measurements_of_other_weights(tmp_path, parity_rows, monkeypatch, capsys):
    """An evaluation, a real-dev result or a calibration of another checkpoint (an earlier best, say) is never
    quoted for this one: one line naming the file and what to run, before any export."""
    params = _pipeline_outputs(tmp_path, parity_rows)
    monkeypatch.chdir(tmp_path)
    svt = tmp_path / "reports" / "eval" / "mobilenet_v3" / "synth_SVT.json"
    fresh = svt.read_text()
    svt.write_text(fresh.replace(json.loads(fresh)["checkpoint_sha256"], "d" * 64))
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "synth_SVT.json: measured on other weights (sha256 dddddddddddd" in err
    assert "run `dvc repro evaluate@mobilenet_v3-synth_SVT` first" in err
    svt.write_text(fresh)

    real = tmp_path / "reports" / "bench" / "real_dev.json"
    data = json.loads(real.read_text())
    data["model_sha256"] = "d" * 64
    real.write_text(json.dumps(data))
    assert main(["bundle", "--params", str(params), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "real_dev.json: measured 'models/mobilenet_v3/best.pdparams', not these" in err

    cal = tmp_path / "exported" / "mobilenet_v3" / "calibration.json"
    cal.parent.mkdir(parents=True)
    Calibration("temperature", {"temperature": 1.5}, {"checkpoint_sha256": "d" * 64}).save(cal)
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "calibration.json: fitted on other weights" in err
    assert "run `dvc repro calibrate@mobilenet_v3` first" in err and not (tmp_path / "a").exists()


def test_bundle_needs_the_benchmark_lmdbs_for_its_onnx_checks(tmp_path, parity_rows, monkeypatch, capsys):
    params = _pipeline_outputs(tmp_path, parity_rows)
    shutil.rmtree(tmp_path / "data" / "lmdb" / "bench" / "synth_IIIT5K")
    monkeypatch.chdir(tmp_path)
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "synth_IIIT5K: no benchmark LMDB for the ONNX checks" in err


def test_card_says_whether_the_run_it_came_from_finished(tmp_path, parity_rows, monkeypatch):
    params = _pipeline_outputs(tmp_path, parity_rows)
    monkeypatch.chdir(tmp_path)
    args = ["bundle", "--params", str(params), "--real-dev", "", "--out", str(tmp_path / "a"), "--no-int8"]
    assert main(args) == 0
    assert "an intermediate checkpoint: step 1,200 of the recipe's 16,000" in (tmp_path / "a/mobilenet_v3.md").read_text()

    model = build_model("mobilenet_v3", 37)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    last = TrainerState(step=1500, epoch=2, backbone="mobilenet_v3", num_classes=37, best_accuracy=0.41,
                        last_val_accuracy=0.39, finished=True, stop_reason="max_steps")
    save_checkpoint(tmp_path / "models" / "mobilenet_v3", "latest", model, opt, last)
    assert main(args) == 0
    card = json.loads((tmp_path / "a/mobilenet_v3.json").read_text())
    assert card["steps"] == 1200 and card["run"] == {"steps": 1500, "finished": True, "stop_reason": "max_steps",
                                                     "last_val_accuracy": 0.39}
    md = (tmp_path / "a/mobilenet_v3.md").read_text()
    assert "intermediate" not in md
    assert "best validation checkpoint (accuracy 0.41): step 1,200 of the 1,500 it trained (max_steps" in md


def test_the_committed_bundle_is_on_its_card():
    """The package's bundle: every file on the card with its size and sha256, one dictionary (file, card, ONNX
    metadata), INT8 present exactly when the card says it passed its gates, model files <= 25 MB together."""
    out = pretrained.BUNDLED_DIR
    if not (out / "mobilenet_v3.onnx").is_file():
        pytest.skip("no bundled ONNX model in this checkout")
    card = json.loads((out / "mobilenet_v3.json").read_text())
    _files_match(card, out)
    chars = (out / card["dictionary"]["file"]).read_text(encoding="utf-8").removesuffix("\n").split("\n")
    assert "".join(chars) == card["dictionary"]["characters"] and len(chars) + 1 == card["num_classes"]
    int8 = card["onnx"]["int8"]
    assert (out / "mobilenet_v3_int8.onnx").is_file() == bool(int8 and int8["shipped"])
    for f in out.glob("*.onnx"):
        assert _onnx_characters(f) == card["dictionary"]["characters"], f.name
    assert sum(f["bytes"] for f in card["files"] if not f["name"].endswith(".txt")) <= 25 * 1024 * 1024
    assert card["sha256"] == next(f["sha256"] for f in card["files"] if f["name"] == "mobilenet_v3.pdparams")
