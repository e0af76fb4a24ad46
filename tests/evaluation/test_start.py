"""The evaluate stage's starting point: the init checkpoint the trainer state records, trusted only by sha256."""

from __future__ import annotations

import hashlib
import json

from textrec.evaluation.start import starting_checkpoint
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


def test_a_mapped_head_starts_from_the_weights_training_began_with(tmp_path) -> None:
    """init mapped (and fitted) the head to the run's dictionary: the start measured is the trainer's
    start.pdparams, not the init file (another dictionary); without it, one line says why not."""
    ckpt = tmp_path / "en.pdparams"
    ckpt.write_bytes(b"weights")
    head = {"dictionary": "en.dict.txt", "copied": 37, "folded": 26, "fresh": 0, "dropped": 33}
    _state(tmp_path / "m", {"source": str(ckpt), "path": str(ckpt), "sha256": hashlib.sha256(b"weights").hexdigest(),
                            "head": head})
    start = starting_checkpoint(tmp_path / "m")
    assert start.path is None and "start.pdparams is not there" in start.reason
    (tmp_path / "m" / "start.pdparams").write_bytes(b"mapped weights")
    start = starting_checkpoint(tmp_path / "m")
    assert start.path == tmp_path / "m" / "start.pdparams" and start.reason is None
