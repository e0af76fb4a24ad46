"""The evaluate stage's starting point: the init checkpoint the trainer state records, trusted only by sha256."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from textrec.charset import Charset
from textrec.evaluation.start import start_engine, starting_checkpoint
from textrec.hashing import sha256_file
from textrec.models.pretrained import bundled_checkpoint


def _state(model_dir, init: dict) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "best.state.json").write_text(json.dumps({"backbone": "mobilenet_v3", "init": init}))


def test_scratch_or_no_state_has_no_starting_point(tmp_path) -> None:
    assert starting_checkpoint(tmp_path / "none") is None
    _state(tmp_path / "m", {"source": "scratch", "path": None, "sha256": None, "head": None})
    assert starting_checkpoint(tmp_path / "m") is None


def test_a_path_init_is_measured_only_while_its_file_is_the_one_trained_from(tmp_path) -> None:
    ckpt = tmp_path / "start.pdparams"
    ckpt.write_bytes(b"weights")
    record = {"source": str(ckpt), "path": str(ckpt), "sha256": hashlib.sha256(b"weights").hexdigest(),
              "head": "loaded"}
    _state(tmp_path / "m", record)
    start = starting_checkpoint(tmp_path / "m")
    assert start is not None and start.path == ckpt and start.reason is None
    assert start.measured(0.5, 10).record().accuracy == 0.5
    ckpt.write_bytes(b"other weights")
    start = starting_checkpoint(tmp_path / "m")
    assert start.path is None and "has changed since training" in start.reason
    ckpt.unlink()
    assert "no longer there" in starting_checkpoint(tmp_path / "m").reason


def test_a_reinitialised_head_is_not_comparable(tmp_path) -> None:
    _state(tmp_path / "m", {"source": "paddleocr", "path": "x.pdparams", "sha256": "0" * 64,
                            "head": "re-initialised (37 -> 97 classes)"})
    start = starting_checkpoint(tmp_path / "m")
    assert start.path is None and start.reason == "not comparable: its head was re-initialised (37 -> 97 classes)"


def test_bundled_is_this_installations_file(tmp_path) -> None:
    shipped = bundled_checkpoint("mobilenet_v3")
    _state(tmp_path / "m", {"source": "bundled", "path": "/elsewhere/mobilenet_v3.pdparams",
                            "sha256": sha256_file(shipped), "head": "loaded"})
    start = starting_checkpoint(tmp_path / "m")
    assert start.path == shipped and start.source == "bundled"


def test_a_start_of_another_dictionary_is_measured_as_training_began(tmp_path) -> None:
    """The bundle (95 classes, case and punctuation) starting a 0-9a-z run: the evaluate stage's start model
    is the trained-on-nothing model init built (head mapped, case folded), so the report's 'start' is what
    the 0-9a-z model read before its first step; a run with a class new to the checkpoint is not compared."""
    import paddle

    from textrec.models.crnn import build_model
    from textrec.training.init import apply_init, resolve_init

    en, cs36 = Charset.from_file("builtin:en"), Charset.from_file()
    paddle.seed(1)
    ckpt = tmp_path / "en.pdparams"
    paddle.save(build_model("mobilenet_v3", en.num_classes).state_dict(), str(ckpt))
    (tmp_path / "en.dict.txt").write_text("".join(c + "\n" for c in en.characters))
    paddle.seed(2)
    began = build_model("mobilenet_v3", cs36.num_classes)
    record = apply_init(began, resolve_init(str(ckpt), "mobilenet_v3"), "mobilenet_v3", cs36)
    _state(tmp_path / "m", record)
    start = starting_checkpoint(tmp_path / "m")
    assert start.path == ckpt and start.head_from == "".join(en.characters) and start.reason is None

    x = np.random.default_rng(0).random((2, 3, 32, 100), dtype=np.float32)
    began.eval()
    with paddle.no_grad():
        expected = began(paddle.to_tensor(x)).numpy()  # [2, 25, 37]
    got = start_engine(start, cs36, "mobilenet_v3")(x)
    assert got.shape == (2, 25, 37) and np.allclose(got, expected, atol=1e-6)

    _state(tmp_path / "m", record | {"head": record["head"] | {"fresh": 1, "fresh_characters": "é"}})
    assert "not comparable" in starting_checkpoint(tmp_path / "m").reason
