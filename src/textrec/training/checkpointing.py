"""Training checkpoints ``<out>/<name>.{pdparams,pdopt,state.json}`` for name in {latest, best}.

* ``.pdparams``: ``paddle.save(model.state_dict())``, the file PaddleOCR's ``load_model`` reads.
* ``.pdopt``: ``paddle.save(optimizer.state_dict())``. Paddle keys optimizer state by the parameters'
  process-global names (``linear_3.w_0_moment1_0``), which depend on how many layers the process built
  before; the state file records each parameter's structured name so the keys are re-mapped on load.
* ``.state.json``: step, epoch, position in the epoch order, best metric, RNG states (python, numpy, paddle;
  pickled + base64), AMP scaler state, and the sha256 of the two binary files.

All three are written to temp files first, then moved into place with ``os.replace`` (state last); a
resume checks the hashes, so a set torn by a kill between two renames is never half-loaded. While the
renames run, the previous set stays hard-linked as ``<name>.prev.*`` (removed once the new set is in place):
a set torn by a kill in that window is replaced by that previous, consistent one, with a warning.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import pickle
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STATE_VERSION = 1
SUFFIXES = ("pdparams", "pdopt", "state.json")  # the order they are moved into place: state last
log = logging.getLogger("textrec.training")


class ResumeError(RuntimeError):
    """A checkpoint that cannot be resumed from (missing, torn, or made for another model)."""


class TornCheckpointError(ResumeError):
    """The files of a checkpoint do not match its state (a kill between two renames, or an edit)."""


@dataclass
class TrainerState:
    step: int = 0  # batches consumed so far (optimizer steps + skipped non-finite batches)
    epoch: int = 0  # epoch in progress
    epoch_pos: int = 0  # position in that epoch's sample order where the next batch starts
    skipped_batches: int = 0
    best_accuracy: float | None = None
    best_step: int | None = None
    last_val_accuracy: float | None = None
    finished: bool = False  # stopped by epochs/max_steps (not killed, not out of time budget)
    stop_reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # training-data fingerprint (resume.py)
    backbone: str = ""
    num_classes: int = 0
    recipe: dict[str, Any] = field(default_factory=dict)
    init: dict[str, Any] = field(default_factory=dict)  # what the run started from (training/init.py)
    # one entry per invocation that trained this run: from_step, to_step, seconds, cpu, world_size (updated at
    # every save, so a killed invocation counts up to its last checkpoint): wall time and machines of the model
    segments: list[dict[str, Any]] = field(default_factory=list)
    rng: dict[str, str] = field(default_factory=dict)  # name -> base64(pickle(state))
    scaler: str | None = None  # base64(pickle(GradScaler.state_dict())) with AMP
    param_names: dict[str, str] = field(default_factory=dict)  # structured name -> paddle param name
    files: dict[str, str] = field(default_factory=dict)  # file suffix -> sha256
    tracking_run_id: str | None = None  # the live metrics run (MLflow) a resumed training continues
    version: int = STATE_VERSION


def capture_rng() -> dict[str, str]:
    import paddle

    states = {"python": random.getstate(), "numpy": np.random.get_state(), "paddle": paddle.get_rng_state()}
    return {k: base64.b64encode(pickle.dumps(v)).decode("ascii") for k, v in states.items()}


def restore_rng(rng: dict[str, str]) -> None:
    import paddle

    states = {k: pickle.loads(base64.b64decode(v)) for k, v in rng.items()}
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    paddle.set_rng_state(states["paddle"])


def _to_bytes(obj: Any) -> bytes:
    import paddle

    buf = io.BytesIO()
    paddle.save(obj, buf)
    return buf.getvalue()


def _tmp_name(path: Path) -> Path:
    """A hidden sibling of ``path`` that this process owns until it is renamed over ``path``."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _write_tmp(path: Path, data: bytes) -> Path:
    tmp = _tmp_name(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def paths(out_dir: str | Path, name: str) -> dict[str, Path]:
    out = Path(out_dir)
    return {s: out / f"{name}.{s}" for s in SUFFIXES}


def save_checkpoint(out_dir: str | Path, name: str, model, optimizer, state: TrainerState) -> Path:
    """Write ``<out_dir>/<name>.*`` atomically; returns the ``.pdparams`` path."""
    p = paths(out_dir, name)
    p["pdparams"].parent.mkdir(parents=True, exist_ok=True)
    blobs = {"pdparams": _to_bytes(model.state_dict()), "pdopt": _to_bytes(optimizer.state_dict())}
    state.rng = capture_rng()
    state.param_names = {n: prm.name for n, prm in model.named_parameters()}
    state.files = {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()}
    blobs["state.json"] = (json.dumps(asdict(state), indent=1) + "\n").encode()
    tmps = {k: _write_tmp(p[k], v) for k, v in blobs.items()}
    prev = paths(out_dir, f"{name}.prev")
    if all(f.exists() for f in p.values()):  # the set in place, kept while it is being replaced
        _link_set(p, prev)
    for k in SUFFIXES:  # state last: it vouches for the other two
        os.replace(tmps[k], p[k])
    for f in prev.values():
        f.unlink(missing_ok=True)
    return p["pdparams"]


def _link_set(src: dict[str, Path], dst: dict[str, Path]) -> None:
    """Hard-link each file of ``src`` to ``dst`` (atomically per file; no data is copied)."""
    for k in SUFFIXES:
        tmp = _tmp_name(dst[k])
        tmp.unlink(missing_ok=True)
        os.link(src[k], tmp)
        os.replace(tmp, dst[k])


def read_state(out_dir: str | Path, name: str) -> TrainerState:
    """The trainer state of ``<out_dir>/<name>.*``, its files checked against it. A set torn by a kill while
    it was being saved is replaced by the previous one (``<name>.prev.*``) when that one is consistent."""
    try:
        return _read_consistent(out_dir, name)
    except TornCheckpointError as torn:
        prev = paths(out_dir, f"{name}.prev")
        try:
            state = _read_consistent(out_dir, f"{name}.prev")
        except ResumeError:
            raise torn from None
        _link_set(prev, paths(out_dir, name))
        log.warning("%s (killed while saving?): restored the previous checkpoint, step %d, from %s", torn,
                    state.step, prev["state.json"])
        return _read_consistent(out_dir, name)


def _read_consistent(out_dir: str | Path, name: str) -> TrainerState:
    p = paths(out_dir, name)
    if not p["state.json"].exists():
        raise ResumeError(f"no checkpoint to resume from: {p['state.json']} does not exist")
    raw = json.loads(p["state.json"].read_text(encoding="utf-8"))
    if raw.get("version") != STATE_VERSION:
        raise ResumeError(f"{p['state.json']}: unsupported state version {raw.get('version')}")
    state = TrainerState(**raw)
    for suffix, digest in state.files.items():
        if not p[suffix].exists() or hashlib.sha256(p[suffix].read_bytes()).hexdigest() != digest:
            raise TornCheckpointError(f"{p[suffix]} does not match {p['state.json']} (torn or edited checkpoint); "
                              f"resume from another checkpoint or start over")
    return state


def _rename_opt_keys(opt_state: dict[str, Any], old_to_new: dict[str, str]) -> dict[str, Any]:
    """Optimizer keys ``<param name>_<accumulator>`` from the saving process's names to this one's."""
    olds = sorted(old_to_new, key=len, reverse=True)  # longest first: conv2d_1.w_0 before conv2d_1.w_
    out = {}
    for key, value in opt_state.items():
        match = next((o for o in olds if key.startswith(o + "_")), None)
        out[old_to_new[match] + key[len(match):] if match else key] = value
    return out


def load_checkpoint(out_dir: str | Path, name: str, model, optimizer) -> TrainerState:
    """Restore model weights, optimizer state and RNG states; returns the trainer state."""
    import paddle

    from textrec.models.checkpoint import load_weights

    state = read_state(out_dir, name)
    p = paths(out_dir, name)
    load_weights(model, p["pdparams"])
    current = {n: prm.name for n, prm in model.named_parameters()}
    if set(current) != set(state.param_names):
        raise ResumeError(f"{p['state.json']}: parameter set differs from the model being resumed")
    old_to_new = {state.param_names[n]: current[n] for n in current}
    optimizer.set_state_dict(_rename_opt_keys(paddle.load(str(p["pdopt"])), old_to_new))
    restore_rng(state.rng)
    return state
