"""Fault injection for checkpoint tests: an ``os`` for ``textrec.training.checkpoint_files`` that dies, or fails
with an errno, at a chosen call that changes the disk.

    monkeypatch.setattr(checkpoint_files, "os", FaultyOs(kill_at=3))   # the 4th such call dies
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


class Killed(BaseException):
    """A simulated SIGKILL: no ``except Exception`` handler catches it, so nothing after the point runs."""


def raise_killed(where: str) -> None:
    raise Killed(where)


def sigkill(_where: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class FaultyOs:
    """Records the calls in ``mutating`` (``calls``); call number ``kill_at`` (0-based) runs ``kill`` instead
    (a write first writes half of its bytes: a torn file), or raises OSError(``error``) once if given."""

    MUTATING = frozenset({"open", "write", "fsync", "link", "replace", "unlink"})

    def __init__(self, kill_at: int | None = None, error: int | None = None,
                 kill: Callable[[str], None] = raise_killed, mutating: frozenset[str] = MUTATING) -> None:
        self.kill_at, self.error, self.kill, self.mutating = kill_at, error, kill, mutating
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        real = getattr(os, name)
        if name not in self.mutating:
            return real

        def call(*args, **kwargs):
            if len(self.calls) == self.kill_at:
                if name == "write":
                    real(args[0], bytes(args[1][: len(args[1]) // 2]))
                if self.error is not None:
                    self.kill_at = None  # one failure; the clean-up after it runs for real
                    raise OSError(self.error, os.strerror(self.error))
                self.kill(f"{name}{args[:2]}")
            self.calls.append(name)
            return real(*args, **kwargs)

        return call
