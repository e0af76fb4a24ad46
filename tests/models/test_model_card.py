from __future__ import annotations

import hashlib
import json
from pathlib import Path

import paddle
import yaml

from textrec.cli import main
from textrec.models.crnn import build_model
from textrec.training.checkpointing import TrainerState, save_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _pipeline_outputs(root: Path) -> Path:
    """A checkpoint, its evaluation JSONs and a real-dev JSON, as the pipeline and bench/real_dev.py write them."""
    params = yaml.safe_load((REPO / "profiles" / "pretrain.yaml").read_text())
    params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    model = build_model("mobilenet_v3", 37)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    state = TrainerState(step=1200, epoch=2, backbone="mobilenet_v3", num_classes=37, best_accuracy=0.41,
                         segments=[{"from_step": 0, "to_step": 700, "seconds": 1800.0, "cpu": "CPU A",
                                    "world_size": 2},
                                   {"from_step": 700, "to_step": 1200, "seconds": 1800.0, "cpu": "CPU B",
                                    "world_size": 2}])
    save_checkpoint(root / "models" / "mobilenet_v3", "best", model, opt, state)
    for i, bench in enumerate(params["eval"]["benchmarks"]):
        out = root / "reports" / "eval" / "mobilenet_v3" / f"{bench}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"count": 500, "accuracy": 0.1 * i}))
    real = {"machine": {"cpu": "CPU B"}, "protocol": "DTRB",
            "real": {"datasets": [{"name": "IIIT5k_train_2000", "count": 2000, "accuracy": 0.5}]}}
    (root / "reports" / "bench").mkdir(parents=True)
    (root / "reports" / "bench" / "real_dev.json").write_text(json.dumps(real))
    return root / "params.yaml"


def test_bundle_copies_the_checkpoint_bit_for_bit_with_a_card_of_its_facts(tmp_path, monkeypatch):
    params = _pipeline_outputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "assets"
    assert main(["bundle", "--params", str(params), "--checkpoint", "models/mobilenet_v3/best.pdparams",
                 "--real-dev", "reports/bench/real_dev.json", "--out", str(out)]) == 0
    src = (tmp_path / "models" / "mobilenet_v3" / "best.pdparams").read_bytes()
    assert (out / "mobilenet_v3.pdparams").read_bytes() == src
    card = json.loads((out / "mobilenet_v3.json").read_text())
    assert card["sha256"] == hashlib.sha256(src).hexdigest()
    assert card["steps"] == 1200 and card["images_seen"] == 1200 * 64 and card["training_hours"] == 1.0
    assert card["data"]["real_images_used"] is False and card["data"]["synth"]["train_size"] == 300_000
    assert [r["accuracy"] for r in card["synthetic_benchmarks"]][:2] == [0.0, 0.1]
    assert card["real_dev"]["datasets"][0]["accuracy"] == 0.5
    md = (out / "mobilenet_v3.md").read_text()
    assert "76,800 images" in md and "CPU A, CPU B" in md and "| IIIT5k_train_2000 (real) | 2000 | 50.0% |" in md


def test_bundle_refuses_a_missing_evaluation(tmp_path, monkeypatch, capsys):
    params = _pipeline_outputs(tmp_path)
    (tmp_path / "reports" / "eval" / "mobilenet_v3" / "synth_SVT.json").unlink()
    monkeypatch.chdir(tmp_path)
    assert main(["bundle", "--params", str(params), "--real-dev", "", "--out", str(tmp_path / "a")]) == 2
    assert "synth_SVT.json: missing" in capsys.readouterr().err


def test_card_says_whether_the_run_it_came_from_finished(tmp_path, monkeypatch):
    params = _pipeline_outputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["bundle", "--params", str(params), "--real-dev", "", "--out", str(tmp_path / "a")]
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
