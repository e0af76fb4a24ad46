"""A kill at any point of a checkpoint save, then a restart, then a kill during the next save: a consistent
checkpoint always remains, only one process repairs, no temp file outlives a restart or a completed save, and
the resumed run ends on the uninterrupted run's weights (issue 19).

The kill is simulated inside checkpoint_files' view of ``os`` (tests/training/faults.py): at the chosen call that
changes the disk it raises ``Killed``, a BaseException no ``except Exception`` handler catches, so nothing
after that point runs, as with SIGKILL (a write dies half-way: a torn temp file).
tests/training/test_checkpoint_ranks.py SIGKILLs real data-parallel ranks.
"""

from __future__ import annotations

import errno
import os

import numpy as np
import paddle
import pytest

from tests.training.faults import FaultyOs, Killed
from textrec.training import checkpoint_files
from textrec.training.checkpoint_space import CheckpointSpaceError
from textrec.training.checkpointing import (
    MissingCheckpointError,
    TornCheckpointError,
    TrainerState,
    load_checkpoint,
    paths,
    read_state,
    recover,
    save_checkpoint,
)
from textrec.training.resume import should_resume

FINAL_STEP = 4


def _fresh():
    """A new 'process': model and optimizer built again (other global parameter names)."""
    paddle.seed(0)
    model = paddle.nn.Linear(6, 3)
    return model, paddle.optimizer.Adam(learning_rate=0.1, parameters=model.parameters())


def _train(model, opt, start: int, stop: int) -> None:
    """Steps ``start + 1 .. stop``, each on its own fixed batch."""
    for s in range(start, stop):
        x = paddle.to_tensor(np.random.default_rng(s).standard_normal((4, 6)).astype("float32"))
        (model(x) ** 2).mean().backward()
        opt.step()
        opt.clear_grad()


def _weights(model) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _save(out, model, opt, step: int, fs: FaultyOs | None, monkeypatch) -> bool:
    """Save ``latest`` at ``step``; False if ``fs`` killed it."""
    monkeypatch.setattr(checkpoint_files, "os", fs or os)
    try:
        save_checkpoint(out, "latest", model, opt, TrainerState(step=step))
        return True
    except Killed:
        return False
    finally:
        monkeypatch.setattr(checkpoint_files, "os", os)


def _leftovers(out) -> list[str]:
    """Temp files and .prev sets: none may remain after a restart's recover() or a completed save."""
    return sorted(f.name for f in out.iterdir() if ".tmp-" in f.name or ".prev." in f.name)


def _restart(out) -> tuple[object, object, int]:
    """What the trainer does at start: rank 0 repairs, then every rank reads; -> model, optimizer, step."""
    recover(out)
    assert _leftovers(out) == []
    model, opt = _fresh()
    try:
        return model, opt, load_checkpoint(out, "latest", model, opt).step
    except MissingCheckpointError:
        return model, opt, 0


def _save_ops(tmp_path, monkeypatch) -> int:
    """How many disk-changing calls a save over an existing set makes."""
    model, opt = _fresh()
    _save(tmp_path, model, opt, 1, None, monkeypatch)
    fs = FaultyOs()
    assert _save(tmp_path, model, opt, 2, fs, monkeypatch)
    assert {"open", "write", "link", "replace", "unlink"} <= set(fs.calls), fs.calls
    return len(fs.calls)


def test_a_kill_anywhere_in_two_saves_keeps_a_checkpoint_and_the_final_weights(tmp_path, monkeypatch):
    ref, ref_opt = _fresh()
    _train(ref, ref_opt, 0, FINAL_STEP)
    expected = _weights(ref)
    n_ops = _save_ops(tmp_path / "count", monkeypatch)
    points = range(n_ops + 1)  # kill before each call (a write: half-way through it), or not at all
    # After a restart the directory holds latest.* of step 1 or 2 and nothing else (asserted in _restart), so
    # the second kill's outcome depends on the first only through that step: every second point after a
    # restart at step 1 (first kill at the first call) and at step 2 (no first kill), the diagonal otherwise.
    pairs = [(f, s) for f in (0, n_ops) for s in points] + [(p, p) for p in points[1:-1]]
    for first, second in pairs:
            out = tmp_path / f"{first}-{second}"
            model, opt = _fresh()
            _train(model, opt, 0, 1)
            assert _save(out, model, opt, 1, None, monkeypatch)
            _train(model, opt, 1, 2)
            _save(out, model, opt, 2, FaultyOs(first), monkeypatch)
            model, opt, step = _restart(out)
            assert step in (1, 2), (first, second, step)
            _train(model, opt, step, step + 1)
            _save(out, model, opt, step + 1, FaultyOs(second), monkeypatch)
            model, opt, resumed = _restart(out)
            assert resumed in (step, step + 1), (first, second, step, resumed)
            _train(model, opt, resumed, FINAL_STEP)
            assert _save(out, model, opt, FINAL_STEP, None, monkeypatch)
            assert _leftovers(out) == [], (first, second)
            final = _weights(model)
            assert all(np.array_equal(final[k], expected[k]) for k in expected), (first, second)


def test_a_kill_during_the_first_save_leaves_no_checkpoint_or_a_whole_one(tmp_path, monkeypatch):
    n_ops = _save_ops(tmp_path / "count", monkeypatch)
    for at in range(n_ops + 1):
        out = tmp_path / str(at)
        model, opt = _fresh()
        _save(out, model, opt, 1, FaultyOs(at), monkeypatch)
        _, _, step = _restart(out)  # never TornCheckpointError: nothing to lose yet, or step 1 whole
        assert step in (0, 1)


def test_a_stale_temp_name_hard_linked_to_the_live_checkpoint_is_never_written_into(tmp_path, monkeypatch):
    """Two ranks repairing at once once left a temp name as a second link to latest.*; the next save wrote
    through it into the live files, and a kill then left no consistent set."""
    model, opt = _fresh()
    save_checkpoint(tmp_path, "latest", model, opt, TrainerState(step=1))
    live = paths(tmp_path, "latest")
    before = {k: f.read_bytes() for k, f in live.items()}
    for f in live.values():  # the names the earlier code gave its own temp files
        os.link(f, f.with_name(f".{f.name}.tmp-{os.getpid()}"))
    _train(model, opt, 0, 1)
    fs = FaultyOs(kill_at=0, mutating=frozenset({"replace"}))  # killed at the save's first rename
    assert not _save(tmp_path, model, opt, 2, fs, monkeypatch)
    assert {k: f.read_bytes() for k, f in live.items()} == before
    assert read_state(tmp_path, "latest").step == 1
    recover(tmp_path)
    assert _leftovers(tmp_path) == []


def test_reading_a_torn_checkpoint_changes_nothing_and_one_process_repairs_it(tmp_path, monkeypatch, caplog):
    model, opt = _fresh()
    save_checkpoint(tmp_path, "latest", model, opt, TrainerState(step=1))
    _train(model, opt, 0, 1)
    fs = FaultyOs(kill_at=4, mutating=frozenset({"replace"}))  # 3 renames link latest.* to latest.prev.*; the 5th moves the new .pdopt in
    assert not _save(tmp_path, model, opt, 2, fs, monkeypatch)
    snapshot = {f.name: (f.stat().st_ino, f.read_bytes()) for f in tmp_path.iterdir()}
    with pytest.raises(TornCheckpointError, match=r"latest.prev.\* is restored by checkpointing.recover"):
        read_state(tmp_path, "latest")  # what rank 1 does: it must not rename anything
    assert {f.name: (f.stat().st_ino, f.read_bytes()) for f in tmp_path.iterdir()} == snapshot
    with caplog.at_level("WARNING", logger="textrec.training"):
        recover(tmp_path)  # rank 0, before the others read
    assert "restored the previous checkpoint, step 1" in caplog.text
    assert read_state(tmp_path, "latest").step == 1 and _leftovers(tmp_path) == []


def test_a_torn_checkpoint_without_a_previous_set_is_refused_not_trained_over(tmp_path):
    model, opt = _fresh()
    save_checkpoint(tmp_path, "latest", model, opt, TrainerState(step=3, backbone="mobilenet_v3"))
    p = paths(tmp_path, "latest")["pdopt"]
    p.write_bytes(p.read_bytes()[:-4])
    recover(tmp_path)  # nothing to restore from: every file stays
    assert p.exists()
    for mode in ("auto", True):
        with pytest.raises(TornCheckpointError) as err:
            should_resume(mode, tmp_path, "mobilenet_v3", 37, {}, {})
        msg = str(err.value)
        assert "\n" not in msg and f"delete {tmp_path}/latest.* to start this run over" in msg
    assert should_resume(False, tmp_path, "mobilenet_v3", 37, {}, {}) is False  # --fresh: the user's call


@pytest.mark.parametrize("fail_at", ["open", "write", "fsync"])
def test_a_full_disk_during_a_save_is_one_line_and_leaves_the_previous_set(tmp_path, monkeypatch, fail_at):
    model, opt = _fresh()
    save_checkpoint(tmp_path, "latest", model, opt, TrainerState(step=1))
    before = {k: f.read_bytes() for k, f in paths(tmp_path, "latest").items()}
    _train(model, opt, 0, 1)
    count = FaultyOs()
    assert _save(tmp_path / "count", model, opt, 2, count, monkeypatch)
    at = [i for i, c in enumerate(count.calls) if c == fail_at][1]  # on the second file (.pdopt)
    monkeypatch.setattr(checkpoint_files, "os", FaultyOs(at, error=errno.ENOSPC))
    with pytest.raises(CheckpointSpaceError) as err:
        save_checkpoint(tmp_path, "latest", model, opt, TrainerState(step=2))
    monkeypatch.setattr(checkpoint_files, "os", os)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"no space left on device saving {tmp_path}/latest.*")
    assert "MB free there" in msg and "(step 1) is intact" in msg
    assert {k: f.read_bytes() for k, f in paths(tmp_path, "latest").items()} == before
    assert _leftovers(tmp_path) == []  # the temp files it had written are gone
    save_checkpoint(tmp_path, "latest", model, opt, TrainerState(step=2))  # space again: it saves
    assert read_state(tmp_path, "latest").step == 2
