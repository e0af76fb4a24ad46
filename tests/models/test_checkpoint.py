import pickle
from pathlib import Path

import numpy as np
import paddle
import pytest

from textrec.models.checkpoint import (
    PADDLE_NAME_TABLE,
    CheckpointError,
    detect_backbone,
    inspect_checkpoint,
    load_weights,
    save_weights,
)
from textrec.models.crnn import CRNN, build_model

ALIAS = "neck.encoder.lstm.weight_ih_l0"  # paddle's flattened name of ...
CELL = "neck.encoder.lstm.0.cell_fw.weight_ih"  # ... this cell parameter


def _random_state(model: CRNN, seed: int) -> dict[str, np.ndarray]:
    """Distinct random values for every tensor (BN running stats included), aliases kept consistent."""
    rng = np.random.default_rng(seed)
    out, by_id = {}, {}
    for name, t in model.state_dict().items():
        if id(t) not in by_id:
            v = rng.standard_normal(t.shape).astype(np.float32) * 0.1
            by_id[id(t)] = np.abs(v) + 0.5 if name.endswith("_variance") else v
        out[name] = by_id[id(t)]
    return out


def _write(path: Path, params: dict[str, np.ndarray]) -> Path:
    with open(path, "wb") as f:  # the .pdparams format: a protocol-4 pickle of name -> ndarray
        pickle.dump(params, f, protocol=4)
    return path


@pytest.fixture(scope="module")
def mv3() -> CRNN:
    paddle.seed(12)
    m = build_model("mobilenet_v3", 37)
    m.eval()
    return m


@pytest.fixture(scope="module")
def params(mv3, tmp_path_factory) -> dict[str, np.ndarray]:
    return _random_state(mv3, 0)


@pytest.fixture()
def x() -> paddle.Tensor:
    return paddle.to_tensor(np.random.default_rng(1).uniform(-1, 1, (2, 3, 32, 100)).astype(np.float32))


def test_save_load_round_trip_gives_identical_outputs(mv3, params, x, tmp_path):
    load_weights(mv3, _write(tmp_path / "random.pdparams", params))
    want = mv3(x).numpy()
    path = save_weights(mv3, tmp_path / "out" / "model.pdparams")
    assert path.is_file() and sorted(p.name for p in path.parent.iterdir()) == ["model.pdparams"]  # no temp left
    with open(path, "rb") as f:  # PaddleOCR's format: plain pickle, all 301 names (aliases included)
        raw = pickle.load(f)
    assert PADDLE_NAME_TABLE in raw
    assert [k for k in raw if k != PADDLE_NAME_TABLE] == list(mv3.state_dict())
    np.testing.assert_array_equal(raw["backbone.conv2.bn._variance"], params["backbone.conv2.bn._variance"])
    paddle.seed(99)
    fresh = build_model("mobilenet_v3", 37)
    fresh.eval()
    assert not np.array_equal(fresh(x).numpy(), want)
    load_weights(fresh, path)
    np.testing.assert_array_equal(fresh(x).numpy(), want)


def test_save_overwrites_atomically(mv3, tmp_path):
    path = tmp_path / "m.pdparams"
    path.write_bytes(b"old")
    save_weights(mv3, path)
    assert inspect_checkpoint(path).num_entries == 301
    assert [p.name for p in tmp_path.iterdir()] == ["m.pdparams"]


def test_loads_without_lstm_alias_keys(mv3, params, x, tmp_path):
    load_weights(mv3, _write(tmp_path / "full.pdparams", params))
    want = mv3(x).numpy()
    slim = {k: v for k, v in params.items() if not k.startswith("neck.encoder.lstm.") or ".cell_" in k}
    assert len(slim) == 301 - 16
    paddle.seed(13)
    fresh = build_model("mobilenet_v3", 37)
    fresh.eval()
    load_weights(fresh, _write(tmp_path / "slim.pdparams", slim))
    np.testing.assert_array_equal(fresh(x).numpy(), want)
    # only the flattened names (no cell names) are accepted as well
    flat_only = {k: v for k, v in params.items() if ".cell_" not in k}
    load_weights(fresh, _write(tmp_path / "flat.pdparams", flat_only))
    np.testing.assert_array_equal(fresh(x).numpy(), want)


def _error(model: CRNN, params: dict[str, np.ndarray], tmp_path: Path) -> str:
    first = next(iter(model.state_dict()))
    before = model.state_dict()[first].numpy().copy()
    with pytest.raises(CheckpointError) as info:
        load_weights(model, _write(tmp_path / "bad.pdparams", params))
    np.testing.assert_array_equal(model.state_dict()[first].numpy(), before)  # model left untouched
    return str(info.value)


def test_wrong_shape_is_named(mv3, params, tmp_path):
    bad = dict(params, **{"head.fc.weight": np.zeros((192, 38), np.float32)})
    msg = _error(mv3, bad, tmp_path)
    assert "shape/dtype mismatches (1)" in msg and "head.fc.weight: checkpoint [192, 38]" in msg


def test_wrong_dtype_is_named(mv3, params, tmp_path):
    bad = dict(params, **{"head.fc.bias": params["head.fc.bias"].astype(np.float64)})
    assert "head.fc.bias: checkpoint [37] float64, model [37] float32" in _error(mv3, bad, tmp_path)


def test_missing_and_unexpected_keys_are_named(mv3, params, tmp_path):
    bad = {k: v for k, v in params.items() if k not in ("backbone.conv2.bn._mean", ALIAS, CELL)}
    bad["backbone.extra.weight"] = np.zeros(3, np.float32)
    msg = _error(mv3, bad, tmp_path)
    assert "missing keys (2)" in msg and "backbone.conv2.bn._mean" in msg
    assert f"{ALIAS} = {CELL}" in msg  # an LSTM tensor is missing only when both of its names are
    assert "unexpected keys (1)" in msg and "backbone.extra.weight" in msg


def test_conflicting_alias_values_are_rejected(mv3, params, tmp_path):
    bad = dict(params, **{ALIAS: params[CELL] + 1})
    assert f"{ALIAS} vs {CELL}" in _error(mv3, bad, tmp_path)


def test_other_backbone_checkpoint_is_rejected(params, tmp_path):
    r34 = build_model("resnet34_vd", 37)
    msg = _error(r34, params, tmp_path)
    assert "backbone.conv1_1._conv.weight" in msg and "backbone.blocks.0.expand_conv.conv.weight" in msg


def test_unreadable_or_absent_file(mv3, tmp_path):
    (tmp_path / "junk.pdparams").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_weights(mv3, tmp_path / "junk.pdparams")
    with pytest.raises(CheckpointError, match="not found"):
        load_weights(mv3, tmp_path / "absent.pdparams")


def test_inspect_detects_backbone_classes_and_hidden(mv3, params, tmp_path):
    info = inspect_checkpoint(_write(tmp_path / "a.pdparams", params))
    assert (info.backbone, info.num_classes, info.hidden_size, info.has_lstm_aliases) == (
        "mobilenet_v3", 37, 96, True)
    r34 = build_model("resnet34_vd", 20)
    path = save_weights(r34, tmp_path / "r34.pdparams")
    assert detect_backbone(path) == "resnet34_vd"
    assert inspect_checkpoint(path).num_classes == 20 and inspect_checkpoint(path).hidden_size == 256
    with pytest.raises(CheckpointError, match="cannot tell the backbone"):
        detect_backbone({"head.fc.bias": np.zeros(37, np.float32)})
