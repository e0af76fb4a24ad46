"""Disk space for checkpoints: a run that cannot store its checkpoints stops before step 1, in one line,
instead of at a save hours in; a disk that fills up during a save is one line too (checkpointing.py).

    check_free_space(out, estimate_set_bytes(model), sets=3)   # latest, best and one being written

Peak use: each save writes its new set beside the one it replaces, so with validation (``best`` saved too)
three sets exist at once (latest, best, the new one), two without.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

NAMES = ("latest", "best")  # the sets a run keeps
# state.json: RNG states (~10 kB base64), a name per parameter, the recipe; measured 30-60 kB, padded
STATE_JSON_BYTES = 256 * 1024
# Adam's per-parameter extras besides its two moments: beta1/beta2 powers, keys, pickling (~280 B measured)
OPT_BYTES_PER_PARAM = 1024


class CheckpointSpaceError(RuntimeError):
    """Not enough free disk space for a run's checkpoints (before training, or during a save)."""


def free_bytes(path: str | Path) -> int:
    """Bytes an unprivileged process may still write on the filesystem of ``path`` (or of its nearest
    existing parent, for a directory not created yet)."""
    p = Path(path).absolute()
    while not p.exists():
        p = p.parent
    st = os.statvfs(p)
    return st.f_bavail * st.f_frsize


def mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def estimate_set_bytes(params_bytes: int, model) -> int:
    """Size of one checkpoint set of ``model`` trained with Adam (training/setup.py): ``params_bytes`` (the
    serialised state dict, the ``.pdparams``), two moments per trainable parameter (the ``.pdopt``; Adam
    creates them at its first step, so an optimizer's state cannot be measured before), and the state file."""
    trainable = [p for p in model.parameters() if not p.stop_gradient]
    moments = sum(2 * p.numel().item() * p.element_size() for p in trainable)
    return params_bytes + moments + OPT_BYTES_PER_PARAM * len(trainable) + STATE_JSON_BYTES


def _existing_bytes(out: Path) -> int:
    """Bytes of the checkpoint sets already in ``out``: part of the peak, replaced in place by the run."""
    from textrec.training.checkpointing import paths  # that module imports this one

    files = [f for n in NAMES for f in paths(out, n).values()]
    return sum(f.stat().st_size for f in files if f.is_file())


def check_free_space(out: str | Path, set_bytes: int, sets: int) -> None:
    """Raise CheckpointSpaceError unless ``sets`` checkpoint sets of ``set_bytes`` fit in ``out`` (the sets
    already there count towards them)."""
    out = Path(out)
    need = sets * set_bytes - _existing_bytes(out)
    free = free_bytes(out)
    if free < need:
        which = "latest, best and the one being written" if sets > 2 else "latest and the one being written"
        raise CheckpointSpaceError(
            f"{out}: {mb(free)} free, the run's checkpoints need {mb(need)} more ({sets} sets of ~{mb(set_bytes)} "
            f"at once while saving: {which}); free space there (or point paths.models at a larger disk) and run "
            f"again")


def no_space_message(state_file: Path, need: int) -> str:
    """One line for a save that filled the disk (its temp files already removed): what it needed, what is
    free, and the checkpoint left in place (``state_file``'s step), from which a re-run resumes."""
    d = state_file.parent
    try:
        kept = f"the checkpoint in place (step {json.loads(state_file.read_text())['step']}) is intact"
    except (OSError, ValueError, KeyError):
        kept = "there is no earlier checkpoint of this name"
    name = state_file.name.removesuffix(".state.json")
    return (f"no space left on device saving {d}/{name}.*: the checkpoint needs {mb(need)} free there, "
            f"{mb(free_bytes(d))} are; {kept}. Free space (or point paths.models at a larger disk) and run again: "
            f"training resumes from the last checkpoint")
