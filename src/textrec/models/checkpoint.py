"""PaddleOCR-compatible checkpoint I/O (``.pdparams``: a pickled dict name -> float32 ndarray).

* ``load_weights(model, path)`` checks every name, shape and dtype before touching the model and raises
  ``CheckpointError`` listing missing / unexpected / mismatched keys. It accepts files with and without
  paddle's 16 flattened ``nn.LSTM`` alias keys (``neck.encoder.lstm.weight_ih_l0`` is the same tensor as
  ``neck.encoder.lstm.0.cell_fw.weight_ih``): one name of each alias group is enough.
* ``save_weights(model, path)`` writes ``paddle.save(model.state_dict())`` atomically (temp file + rename);
  PaddleOCR's ``load_model`` reads it unchanged.
* ``inspect_checkpoint(path)`` tells the backbone, class count and LSTM width from the keys alone.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textrec.config.model import BackboneName

if TYPE_CHECKING:
    from paddle import nn

FOLD_KEY = "head.fold"  # a folded head's class grouping [columns, classes] (models/head.py)
PADDLE_NAME_TABLE = "StructuredToParameterName@@"  # paddle.save's bookkeeping entry, not a tensor
_MAX_LISTED = 20

# a key only one backbone has -> that backbone
_MARKERS: dict[BackboneName, str] = {
    "mobilenet_v3": "backbone.blocks.0.expand_conv.conv.weight",
    "resnet34_vd": "backbone.conv1_1._conv.weight",
}


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model (names, shapes, dtypes) or cannot be read."""


@dataclass(frozen=True)
class CheckpointInfo:
    backbone: BackboneName
    num_classes: int  # including the CTC blank (a folded head: the classes it groups into)
    hidden_size: int  # LSTM hidden size of the neck
    num_entries: int
    has_lstm_aliases: bool  # the flattened ``neck.encoder.lstm.*_l{k}`` names are present


def read_params(path: str | Path) -> dict[str, np.ndarray]:
    """``.pdparams`` -> {name: ndarray} in file order, without paddle's name table."""
    import paddle

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = paddle.load(str(path), return_numpy=True)
    except (ValueError, EOFError, pickle.UnpicklingError) as e:  # paddle's "can not parse", truncated pickles
        raise CheckpointError(f"{path}: not a readable .pdparams file ({e})") from e
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict of name -> array, got {type(data).__name__}")
    return {k: np.asarray(v) for k, v in data.items() if k != PADDLE_NAME_TABLE}


def inspect_checkpoint(source: str | Path | Mapping[str, np.ndarray]) -> CheckpointInfo:
    """Backbone, class count and LSTM hidden size of a checkpoint (a path or an already read dict)."""
    params = source if isinstance(source, Mapping) else read_params(source)
    found = [name for name, key in _MARKERS.items() if key in params]
    if len(found) != 1:
        raise CheckpointError(f"cannot tell the backbone: expected exactly one of {sorted(_MARKERS.values())} "
                              f"among the keys, found {found or 'none'}")
    try:
        fold = params.get(FOLD_KEY)  # a folded head: the classes it groups into, not its columns
        num_classes = int(params["head.fc.bias"].shape[0] if fold is None else fold.shape[1])
        w_hh = params.get("neck.encoder.lstm.0.cell_fw.weight_hh", params.get("neck.encoder.lstm.weight_hh_l0"))
        if w_hh is None:
            raise KeyError("neck.encoder.lstm.0.cell_fw.weight_hh")
    except KeyError as e:
        raise CheckpointError(f"not a CRNN checkpoint: missing key {e}") from None
    return CheckpointInfo(backbone=found[0], num_classes=num_classes, hidden_size=int(w_hh.shape[1]),
                          num_entries=len(params), has_lstm_aliases="neck.encoder.lstm.weight_ih_l0" in params)


def detect_backbone(source: str | Path | Mapping[str, np.ndarray]) -> BackboneName:
    """Which backbone a checkpoint was made for (so ``--backbone`` can be optional)."""
    return inspect_checkpoint(source).backbone


def _alias_groups(state: Mapping[str, object]) -> list[list[str]]:
    """Names of the model's state_dict grouped by tensor identity, in state_dict order."""
    groups: dict[int, list[str]] = {}
    for name, tensor in state.items():
        groups.setdefault(id(tensor), []).append(name)
    return list(groups.values())


def _np_dtype(tensor: object) -> np.dtype:
    """paddle dtype (printed ``paddle.float32``) -> numpy dtype."""
    return np.dtype(str(tensor.dtype).removeprefix("paddle."))


def _listed(title: str, items: list[str]) -> str:
    more = f"\n    ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"  {title} ({len(items)}):\n" + "\n".join(f"    {i}" for i in items[:_MAX_LISTED]) + more


def assign_weights(model: nn.Layer, params: Mapping[str, np.ndarray], source: str = "checkpoint") -> None:
    """Copy ``params`` into ``model`` after checking all names, shapes and dtypes; nothing is changed on error."""
    state = model.state_dict()
    groups = _alias_groups(state)
    unexpected = [k for k in params if k not in state]
    missing, mismatched, conflicting = [], [], []
    chosen: list[tuple[str, np.ndarray]] = []  # (model name, value) per alias group
    for group in groups:
        present = [n for n in group if n in params]
        if not present:
            missing.append(" = ".join(group))
            continue
        tensor = state[group[0]]
        want_shape, want_dtype = list(tensor.shape), _np_dtype(tensor)
        ok = True
        for n in present:
            v = params[n]
            if list(v.shape) != want_shape or v.dtype != want_dtype:
                mismatched.append(f"{n}: checkpoint {list(v.shape)} {v.dtype}, model {want_shape} {want_dtype}")
                ok = False
        if ok and any(not np.array_equal(params[present[0]], params[n]) for n in present[1:]):
            conflicting.append(" vs ".join(present))
            ok = False
        if ok:
            chosen.append((group[0], params[present[0]]))
    if missing or unexpected or mismatched or conflicting:
        parts = [f"{source} does not fit the {type(model).__name__} model:"]
        for title, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("shape/dtype mismatches", mismatched),
                             ("aliases of one tensor with different values", conflicting)):
            if items:
                parts.append(_listed(title, items))
        raise CheckpointError("\n".join(parts))
    for name, value in chosen:
        state[name].set_value(value)


def load_weights(model: nn.Layer, path: str | Path) -> None:
    """Load a PaddleOCR ``.pdparams`` (with or without the LSTM alias keys) into ``model``, strictly."""
    assign_weights(model, read_params(path), source=str(path))


def save_weights(model: nn.Layer, path: str | Path) -> Path:
    """Write ``model.state_dict()`` as ``.pdparams`` (all 301/229 PaddleOCR names) atomically; returns the path."""
    import paddle

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        paddle.save(model.state_dict(), tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
