"""Progress bars for the long steps: a tqdm bar on a terminal, nothing anywhere else.

A command decides once (``on_terminal``: stderr is a terminal and ``--no-progress`` was not given) and passes
``progress: bool`` down; every library function that takes ``progress`` defaults to False, so a caller that
says nothing (a test, a Prefect task, a log file) gets no bar.

    for sample in track(samples, progress, total=n, desc="train", unit="img"): ...
    with bar(progress, total=steps, unit="step") as b: b.update(1)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def on_terminal(no_progress: bool = False) -> bool:
    """Whether a command shows bars: stderr is a terminal (not a rank's log file, a pipe or a captured run
    log) and ``no_progress`` (``--no-progress``) is not set."""
    return not no_progress and sys.stderr.isatty()


class _NoBar:
    """What ``bar`` gives when nothing is shown: the tqdm calls used in this project, doing nothing."""

    n = 0

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_description(self, desc: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def bar(progress: bool, total: int | None = None, desc: str | None = None, unit: str = "it",
        initial: int = 0) -> Any:  # tqdm.tqdm | _NoBar
    """A tqdm bar on stderr when ``progress``, else an object with the same methods doing nothing. The core
    install (ONNX inference only) has no tqdm: there, too, nothing is shown."""
    if not progress:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # `pip install textrec` without extras: a bar is not worth a dependency
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True)


def track(items: Iterable[T], progress: bool, total: int | None = None, desc: str | None = None,
          unit: str = "it") -> Iterator[T]:
    """``items`` as they are, counted on a bar while they are consumed (when ``progress``)."""
    if not progress:
        yield from items
        return
    with bar(True, total=total, desc=desc, unit=unit) as b:
        for item in items:
            yield item
            b.update(1)
