"""Whether to resume: explicitly (``resume=True``, strict) or automatically (``resume="auto"``, used by the
DVC stage whose ``models/<backbone>`` output is persistent so a killed run continues on the next repro).

"auto" resumes only an *unfinished* run (killed, or stopped by its time budget) of the same backbone, the
same recipe (ignoring settings that do not change the weights) and the same training data; anything else
starts from scratch, and the log says why. A torn ``latest`` (no consistent set to go back to) is refused in
both modes: hours of progress are not overwritten without the user saying so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from textrec.data.dataset import LmdbTextDataset
from textrec.training import checkpointing as ckpt

log = logging.getLogger("textrec.training")

ResumeMode = bool | Literal["auto"]
# recipe keys that change neither the weights nor the data order
NEUTRAL_KEYS = frozenset({"time_budget_minutes", "num_workers", "log_every_steps", "device", "cpu_threads",
                          "check_images"})


def data_fingerprint(ds: LmdbTextDataset) -> dict[str, Any]:
    """LMDB (relative to the dataset root) -> content digest, plus the record counts: independent of where
    the data lies and of file times, so a run resumes on another machine with the same data."""
    out: dict[str, Any] = dict(ds.content_digests())
    out["records"] = [ds.report.total, len(ds)]
    return out


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old.get("augment") is False:  # written before augment was a list of transforms: false meant none
        old = {**old, "augment": []}
    # a setting added since the checkpoint was written had its default then (keep: best, say)
    old = {**{k: v for k, v in _recipe_defaults().items() if k in new}, **old}
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _recipe_defaults() -> dict[str, Any]:
    from textrec.config import to_dict
    from textrec.config.train import RecipeConfig

    return to_dict(RecipeConfig())


def should_resume(mode: ResumeMode, out: Path, backbone: str, num_classes: int, recipe: dict[str, Any],
                  fingerprint: dict[str, list[int]]) -> bool:
    """True to resume from ``out/latest``; raises ResumeError for ``mode=True`` without a usable checkpoint."""
    if mode is False:
        return False
    if mode is True:
        ckpt.read_state(out, "latest")  # raises a clear ResumeError if missing or torn
        return True
    try:
        state = ckpt.read_state(out, "latest")
    except ckpt.TornCheckpointError:
        raise  # a run's progress, damaged: starting over is the user's decision (the message says how)
    except ckpt.ResumeError as e:
        log.info("starting from scratch: %s", e)
        return False
    reasons = []
    if state.finished:
        reasons.append(f"the run in {out} finished ({state.stop_reason})")
    if (state.backbone, state.num_classes) != (backbone, num_classes):
        reasons.append(f"it is a {state.backbone} with {state.num_classes} classes")
    changed = [k for k in changed_keys(state.recipe, recipe) if k not in NEUTRAL_KEYS]
    if changed:
        reasons.append(f"recipe changed: {', '.join(changed)}")
    if state.data != fingerprint:
        reasons.append("training data changed")
    if reasons:
        log.info("starting from scratch, not resuming %s/latest: %s", out, "; ".join(reasons))
        return False
    return True
