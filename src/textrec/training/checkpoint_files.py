"""The disk side of a checkpoint set (checkpointing.py): new files created exclusively, hard links and renames
that are atomic per file, and the clean-up of what a killed save leaves. Every change to the disk a save or
a repair makes goes through this module's ``os`` (tests/training/faults.py injects kills and full disks)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textrec.training.checkpoint_space import CheckpointSpaceError, no_space_message

SUFFIXES = ("pdparams", "pdopt", "state.json")  # the order they are moved into place: state last
TMP_TAG = ".tmp-"  # temp files: .<name>.<suffix>.tmp-<pid>-<random>
T = TypeVar("T")


def _exclusive(target: Path, create: Callable[[Path], T]) -> tuple[T, Path]:
    """``create(tmp)`` on a new hidden sibling ``.<target name>.tmp-<pid>-<random>`` of ``target``; ``create``
    must fail with FileExistsError on an existing path (O_EXCL, link(2)). Never reusing a name matters: a name
    left by a killed process may be a hard link to a live checkpoint file, and writing into it would change
    that checkpoint in place."""
    while True:
        tmp = target.with_name(f".{target.name}{TMP_TAG}{os.getpid()}-{os.urandom(4).hex()}")
        try:
            return create(tmp), tmp
        except FileExistsError:
            continue


def _write_new(target: Path, data: bytes) -> Path:
    """``data`` in a new temp file beside ``target`` (flushed to disk); the file is removed if writing fails."""
    fd, tmp = _exclusive(target, lambda t: os.open(t, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except Exception:  # not BaseException: a kill leaves its temp files to remove_temp_files, as SIGKILL does
        os.unlink(tmp)
        raise
    return tmp


def _link(src: Path, dst: Path) -> None:
    """Make ``dst`` a hard link to ``src``, atomically (no data is copied)."""
    _, tmp = _exclusive(dst, lambda t: os.link(src, t))
    os.replace(tmp, dst)
    # rename(2) does nothing when both names already link the same file: the temp name is left then
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


def link_set(src: dict[str, Path], dst: dict[str, Path]) -> None:
    for k in SUFFIXES:
        _link(src[k], dst[k])


def unlink_set(files: dict[str, Path]) -> None:
    for f in files.values():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f)


def remove_temp_files(out_dir: str | Path) -> None:
    """Delete the temp files of checkpoint saves in ``out_dir`` (left by a killed process: any name
    ``.<name>.<suffix>.tmp-*``). Only for the one process that saves, when no save is running."""
    for f in Path(out_dir).glob(f".*{TMP_TAG}*"):
        if f.name.split(TMP_TAG)[0].endswith(SUFFIXES):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f)


def write_set(p: dict[str, Path], blobs: dict[str, bytes]) -> dict[str, Path]:
    """Each blob in a temp file beside its target. A failed write (a full disk) removes them all, so the
    checkpoint in place and the free space are as before."""
    tmps: dict[str, Path] = {}
    try:
        for k, data in blobs.items():
            tmps[k] = _write_new(p[k], data)
    except OSError as e:
        for t in tmps.values():
            os.unlink(t)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise CheckpointSpaceError(no_space_message(p["state.json"], sum(map(len, blobs.values())))) from None
        raise
    return tmps


def move_set(tmps: dict[str, Path], dst: dict[str, Path]) -> None:
    for k in SUFFIXES:  # state last: it vouches for the other two
        os.replace(tmps[k], dst[k])
