"""A folded head (the bundle's 95 characters summed into 0-9a-z, models/head.py) through the real export: the
0-9a-z model reads the bundle's own probabilities grouped, and its Paddle inference and ONNX exports match it."""

from __future__ import annotations

import json

import numpy as np

from textrec.charset import Charset, dictionary_beside
from textrec.export.images import sample_lmdb
from textrec.inference.engines import OnnxEngine, PaddleEngine
from textrec.models.checkpoint import inspect_checkpoint, save_weights
from textrec.models.pretrained import bundled_checkpoint
from textrec.training.head_fit import class_groups
from textrec.training.init import apply_init, resolve_init


def test_the_bundle_folded_to_0_9a_z_exports_and_reads_as_the_bundle(kit_lmdb, tmp_path):
    from textrec.cli import main
    from textrec.models.crnn import build_model

    en, dtrb = Charset.from_file("builtin:en"), Charset.from_file()
    model = build_model("mobilenet_v3", dtrb.num_classes)
    record = apply_init(model, resolve_init("bundled", "mobilenet_v3"), "mobilenet_v3", dtrb)
    assert record["head"]["fold"] == {"columns": 96, "classes": 37} and "fit" not in record["head"]
    folded = save_weights(model, tmp_path / "folded.pdparams")
    dictionary_beside(folded).write_text(dtrb.dictionary_text(), encoding="utf-8")
    assert inspect_checkpoint(folded).num_classes == 37

    images = sample_lmdb(kit_lmdb, 24, dtrb).images  # [24, 3, 32, 100]
    bundle = PaddleEngine(bundled_checkpoint("mobilenet_v3"), en.num_classes, "mobilenet_v3")(images)  # [24, 25, 96]
    grouped = np.stack([bundle[:, :, g].sum(axis=2) for g in class_groups(en.characters, dtrb)], axis=2)
    eager = PaddleEngine(folded, 37, "mobilenet_v3")(images)
    np.testing.assert_allclose(eager, grouped, atol=1e-5)

    out = tmp_path / "exported"
    assert main(["export", "--model", str(folded), "--out", str(out), "--check", str(kit_lmdb), "--threads", "2"]) == 0
    report = json.loads((out / "parity.json").read_text())
    assert all(r["passed"] and r["max_abs_diff"] <= 1e-4 for r in report["reports"])
    onnx = OnnxEngine(out / "model.onnx", threads=1)(images)
    assert onnx.shape == (24, 25, 37) and np.abs(onnx - grouped).max() <= 1e-4
