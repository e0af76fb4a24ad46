"""Training checkpoints ``<out>/<name>.{pdparams,pdopt,state.json}`` for name in {latest, best}.

* ``.pdparams``: ``paddle.save(model.state_dict())``, the file PaddleOCR's ``load_model`` reads.
* ``.pdopt``: ``paddle.save(optimizer.state_dict())``. Paddle keys optimizer state by the parameters'
  process-global names (``linear_3.w_0_moment1_0``), which depend on how many layers the process built
  before; the state file records each parameter's structured name so the keys are re-mapped on load.
* ``.state.json``: step, epoch, position in the epoch order, best metric, RNG states (python, numpy, paddle;
  pickled + base64), AMP scaler state, and the sha256 of the two binary files.

One process saves (rank 0). All three files are written to new temp files first (created exclusively: never
an existing name, which could be a hard link to a live file), then moved into place with ``os.replace``
(state last); a resume checks the hashes, so a set torn by a kill between two renames is never half-loaded.
While the renames run, the previous set stays hard-linked as ``<name>.prev.*`` (removed once the new set is
in place). At start, one process runs ``recover``: it replaces a set torn by a kill with that previous,
consistent one, and removes temp files and stale ``.prev`` sets. A full disk during a save removes the temp
files and raises CheckpointSpaceError (one line); the set in place is untouched.
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

from textrec.training import checkpoint_files as files
from textrec.training.checkpoint_files import SUFFIXES

STATE_VERSION = 1
# the weights as training began, saved beside the checkpoints when init mapped the head (they are then neither
# the init file nor any checkpoint): what the evaluate stage measures as the run's start (evaluation/start.py)
START = "start"
log = logging.getLogger("textrec.training")


class ResumeError(RuntimeError):
    """A checkpoint that cannot be resumed from (missing, torn, or made for another model)."""


class MissingCheckpointError(ResumeError):
    """No checkpoint of that name (its state file does not exist)."""


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


def serialise(obj: Any) -> bytes:
    import paddle

    buf = io.BytesIO()
    paddle.save(obj, buf)
    return buf.getvalue()


def paths(out_dir: str | Path, name: str) -> dict[str, Path]:
    out = Path(out_dir)
    return {s: out / f"{name}.{s}" for s in SUFFIXES}


def save_checkpoint(out_dir: str | Path, name: str, model, optimizer, state: TrainerState) -> Path:
    """Write ``<out_dir>/<name>.*`` atomically; returns the ``.pdparams`` path. One process saves (rank 0)."""
    p = paths(out_dir, name)
    p["pdparams"].parent.mkdir(parents=True, exist_ok=True)
    blobs = {"pdparams": serialise(model.state_dict()), "pdopt": serialise(optimizer.state_dict())}
    state.rng = capture_rng()
    state.param_names = {n: prm.name for n, prm in model.named_parameters()}
    state.files = {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()}
    blobs["state.json"] = (json.dumps(asdict(state), indent=1) + "\n").encode()
    tmps = files.write_set(p, blobs)
    prev = paths(out_dir, f"{name}.prev")
    # the set in place (consistent: recover() ran at start, and every save completed or raised before its
    # renames), kept while it is being replaced
    if all(f.exists() for f in p.values()):
        files.link_set(p, prev)
    files.move_set(tmps, p)
    files.unlink_set(prev)
    files.remove_temp_files(out_dir)
    return p["pdparams"]


def save_weights(out_dir: str | Path, name: str, model) -> Path:
    """``<out_dir>/<name>.pdparams``, the weights alone, written atomically (rank 0): a model that is not a
    checkpoint of the run, e.g. its start when init mapped the head (``START``)."""
    target = Path(out_dir) / f"{name}.pdparams"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = files.write_set({"pdparams": target}, {"pdparams": serialise(model.state_dict())})["pdparams"]
    os.replace(tmp, target)
    return target


def recover(out_dir: str | Path, names: tuple[str, ...] = ("latest", "best")) -> None:
    """Undo what a kill during a save left in ``out_dir``: temp files go, a torn set is replaced by its
    previous one (``<name>.prev.*``) when that is consistent (with a warning), a stale ``.prev`` set goes.
    One process only (rank 0), before any process reads a checkpoint: two processes repairing at once
    undo each other's renames. A torn set without a consistent previous one stays: read_state refuses it."""
    out = Path(out_dir)
    if not out.is_dir():
        return
    files.remove_temp_files(out)
    for name in names:
        prev = paths(out, f"{name}.prev")
        if not any(f.exists() for f in prev.values()):
            continue
        try:
            _read_consistent(out, name)
        except (TornCheckpointError, MissingCheckpointError) as torn:
            try:
                state = _read_consistent(out, f"{name}.prev")
            except ResumeError:
                continue  # nothing consistent to go back to; keep every file for the user to look at
            files.link_set(prev, paths(out, name))
            log.warning("%s: restored the previous checkpoint, step %d, from %s", torn, state.step,
                        prev["state.json"])
        except ResumeError:
            continue
        files.unlink_set(prev)


def read_state(out_dir: str | Path, name: str) -> TrainerState:
    """The trainer state of ``<out_dir>/<name>.*``, its files checked against it. Reads only: a set torn by a
    kill is repaired by recover(), which the trainer runs first (one rank)."""
    try:
        return _read_consistent(out_dir, name)
    except TornCheckpointError as torn:
        try:
            _read_consistent(out_dir, f"{name}.prev")
            advice = f"the consistent previous set {name}.prev.* is restored by checkpointing.recover()"
        except ResumeError:
            advice = (f"there is no consistent previous set ({name}.prev.*) to go back to: delete "
                      f"{Path(out_dir) / name}.* to start this run over (or resume from another checkpoint)")
        raise TornCheckpointError(f"{torn}; {advice}") from None


def _read_consistent(out_dir: str | Path, name: str) -> TrainerState:
    p = paths(out_dir, name)
    if not p["state.json"].exists():
        raise MissingCheckpointError(f"no checkpoint to resume from: {p['state.json']} does not exist")
    try:
        raw = json.loads(p["state.json"].read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:  # renamed into place whole, so an edit or a damaged disk
        raise TornCheckpointError(f"{p['state.json']} cannot be read ({e})") from None
    if raw.get("version") != STATE_VERSION:
        raise ResumeError(f"{p['state.json']}: unsupported state version {raw.get('version')}")
    state = TrainerState(**raw)
    for suffix, digest in state.files.items():
        if not p[suffix].exists() or hashlib.sha256(p[suffix].read_bytes()).hexdigest() != digest:
            raise TornCheckpointError(f"{p[suffix]} does not match {p['state.json']} (a save killed between "
                                      f"its renames, or an edited file)")
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
