"""The evaluate DVC stage on a tiny project: the trained model and the checkpoint it started from, measured on
the same benchmark images (parity kit's 24 real photos)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import yaml

from tests.scripts_kit import stage_main
from textrec.charset import Charset
from textrec.data.lmdb_io import LmdbWriter
from textrec.evaluation.evaluate import evaluate_lmdb
from textrec.inference.engines import load_engine
from textrec.models.pretrained import bundled_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _evaluate_stage():
    return stage_main("evaluate")


def _zero_to_z_start(dst: Path) -> Path:
    """The bundled model (PaddleOCR's en dictionary) with its head mapped to 0-9a-z: a 37-class model that
    reads, saved as a checkpoint of its own."""
    from textrec.hashing import sha256_file
    from textrec.models.checkpoint import save_weights
    from textrec.models.crnn import build_model
    from textrec.training.init import InitCheckpoint, apply_init

    bundled, charset = bundled_checkpoint("mobilenet_v3"), Charset.from_file()
    model = build_model("mobilenet_v3", charset.num_classes)
    apply_init(model, InitCheckpoint("bundled", bundled, sha256_file(bundled)), "mobilenet_v3", charset)
    return save_weights(model, dst)


def test_stage_reports_the_model_and_its_starting_checkpoint(tmp_path, parity_kit, parity_rows, monkeypatch):
    with LmdbWriter(tmp_path / "lmdb" / "bench" / "KIT") as w:
        for path, label in parity_rows:
            w.add(path.read_bytes(), label)
    model_dir = tmp_path / "models" / "mobilenet_v3"
    model_dir.mkdir(parents=True)
    shutil.copy(parity_kit / "mv3" / "best_accuracy.pdparams", model_dir / "best.pdparams")
    start = _zero_to_z_start(tmp_path / "start.pdparams")  # fine-tuned "from a path": the file and its sha256
    init = {"source": str(start), "path": str(start), "sha256": hashlib.sha256(start.read_bytes()).hexdigest(),
            "head": "loaded"}
    (model_dir / "best.state.json").write_text(json.dumps({"backbone": "mobilenet_v3", "init": init}))
    params = {"paths": {k: str(tmp_path / k) for k in ("lmdb", "models", "exported", "reports")},
              "eval": {"benchmarks": ["KIT"], "batch_size": 8}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    monkeypatch.setattr(sys, "argv", ["evaluate.py", "--backbone", "mobilenet_v3", "--bench", "KIT",
                                      "--params", str(tmp_path / "params.yaml"), "--no-progress"])
    _evaluate_stage()()

    report = json.loads((tmp_path / "reports" / "eval" / "mobilenet_v3" / "KIT.json").read_text())
    charset = Charset.from_file()

    def accuracy(checkpoint: Path) -> float:
        engine = load_engine(checkpoint, charset.num_classes, "mobilenet_v3")
        return evaluate_lmdb(engine, tmp_path / "lmdb" / "bench" / "KIT", charset, "KIT", 8).accuracy

    assert report["count"] == 24 and report["accuracy"] == accuracy(model_dir / "best.pdparams")
    assert report["start"]["count"] == 24 and report["start"]["reason"] is None
    assert report["start"]["accuracy"] == accuracy(start)
    # the two are different models: the kit's PaddleOCR-trained one and the bundled one mapped to 0-9a-z
    assert report["accuracy"] != report["start"]["accuracy"]
