from __future__ import annotations

import json
import random

import numpy as np
import paddle
import pytest

from textrec.models.checkpoint import read_params
from textrec.models.crnn import build_model
from textrec.training.checkpointing import (
    ResumeError,
    TornCheckpointError,
    TrainerState,
    load_checkpoint,
    paths,
    read_state,
    recover,
    save_checkpoint,
)
from textrec.training.loss import ctc_loss


def _setup():
    model = build_model("mobilenet_v3", 37)
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    return model, opt


def _step(model, opt, seed):
    rng = np.random.default_rng(seed)
    x = paddle.to_tensor(rng.standard_normal((2, 3, 32, 100)).astype("float32"))
    labels = paddle.to_tensor(rng.integers(1, 37, (2, 25)))
    loss = ctc_loss(model(x), labels, paddle.to_tensor([4, 6]))
    loss.backward()
    opt.step()
    opt.clear_grad()


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_roundtrip_restores_weights_optimizer_and_rng_in_a_fresh_model(tmp_path):
    paddle.seed(1)
    a, opt_a = _setup()
    _step(a, opt_a, 0)
    state = TrainerState(step=1, epoch=0, epoch_pos=2, backbone="mobilenet_v3", num_classes=37)
    random.seed(5)
    np.random.seed(5)
    save_checkpoint(tmp_path, "latest", a, opt_a, state)
    expected_rng = (random.random(), np.random.rand(), paddle.rand([1]).item())
    b, opt_b = _setup()  # built second: paddle gives its parameters other global names
    assert {p.name for p in a.parameters()}.isdisjoint({p.name for p in b.parameters()})
    got = load_checkpoint(tmp_path, "latest", b, opt_b)
    assert (got.step, got.epoch_pos) == (1, 2)
    assert (random.random(), np.random.rand(), paddle.rand([1]).item()) == expected_rng
    wa, wb = _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    _step(a, opt_a, 1)  # same next step on both: equal only if Adam's moments were restored
    _step(b, opt_b, 1)
    wa, wb = _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    # The .pdparams is the PaddleOCR file: a plain dict of the model's 301 structured names.
    assert set(read_params(paths(tmp_path, "latest")["pdparams"])) == set(a.state_dict())


def test_torn_or_missing_checkpoint_is_refused(tmp_path):
    with pytest.raises(ResumeError, match="does not exist"):
        read_state(tmp_path, "latest")
    paddle.seed(2)
    m, opt = _setup()
    save_checkpoint(tmp_path, "latest", m, opt, TrainerState(step=3))
    assert json.loads(paths(tmp_path, "latest")["state.json"].read_text())["step"] == 3
    p = paths(tmp_path, "latest")["pdparams"]
    p.write_bytes(p.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ResumeError, match="does not match"):
        read_state(tmp_path, "latest")
    assert not list(tmp_path.glob(".*tmp*"))  # temp files were all renamed into place


def test_a_save_killed_between_renames_resumes_from_the_previous_set(tmp_path, monkeypatch, caplog):
    """A kill after the new .pdparams is in place but before its state: the torn set is replaced by the
    previous one (kept hard-linked while the renames run), whose step the state on disk still names."""
    import os

    from textrec.training import checkpoint_files

    paddle.seed(4)
    m, opt = _setup()
    save_checkpoint(tmp_path, "latest", m, opt, TrainerState(step=4))
    first = {k: f.read_bytes() for k, f in paths(tmp_path, "latest").items()}
    assert not list(tmp_path.glob("latest.prev.*"))  # only while a save runs
    _step(m, opt, 1)
    real_replace = os.replace

    def killed_after_pdparams(src, dst):
        if str(dst).endswith("latest.pdopt"):
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_files.os, "replace", killed_after_pdparams)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, "latest", m, opt, TrainerState(step=8))
    monkeypatch.setattr(checkpoint_files.os, "replace", real_replace)
    assert paths(tmp_path, "latest")["pdparams"].read_bytes() != first["pdparams"]  # torn on disk
    with pytest.raises(TornCheckpointError, match=r"latest.prev.\* is restored by checkpointing.recover"):
        read_state(tmp_path, "latest")  # reads only: every rank calls it
    with caplog.at_level("WARNING", logger="textrec.training"):
        recover(tmp_path)  # one process (rank 0) repairs
        state = read_state(tmp_path, "latest")
    assert state.step == 4 and "restored the previous checkpoint, step 4" in caplog.text
    assert not list(tmp_path.glob("latest.prev.*")) and not list(tmp_path.glob(".*tmp*"))
    assert {k: f.read_bytes() for k, f in paths(tmp_path, "latest").items()} == first
    m2, opt2 = _setup()
    assert load_checkpoint(tmp_path, "latest", m2, opt2).step == 4
