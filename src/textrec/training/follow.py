"""A progress bar for training under ``paddle.distributed.launch``, shown by the process that launched it.

Under the launcher every rank's stderr is a log file, so no rank can draw a bar. The launching process (the
train stage, waiting for the ranks) can: it follows the per-step CSV that rank 0 appends to
(``metrics_log.MetricsCsv``, the file DVC plots), and prints the launcher's output (rank 0's log, echoed)
above the bar instead of through it.

    rc = run_following(launch_command(...), "reports/train/mobilenet_v3/train_log.csv", total=2100)
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from textrec.training.metrics_log import FIELDS


@dataclass(frozen=True)
class Tail:
    step: int  # the last row's step
    loss: str  # as written, "" when none
    val_accuracy: str  # the newest non-empty val_accuracy among the rows read, "" when none


def read_tail(path: Path, max_bytes: int = 16384) -> Tail | None:
    """The last complete row of the metrics CSV (only its last ``max_bytes`` are read: the file grows by a row
    a step); None while it has no row."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - max_bytes))
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    lines = [ln.rstrip("\r") for ln in text.split("\n")[:-1]]  # after the last newline: a row being written
    if size > max_bytes:
        lines = lines[1:]  # the first piece may start mid-row
    rows = [dict(zip(FIELDS, ln.split(","), strict=False)) for ln in lines if ln and not ln.startswith("step")]
    rows = [r for r in rows if r.get("step", "").isdigit()]
    if not rows:
        return None
    val = next((r.get("val_accuracy", "") for r in reversed(rows) if r.get("val_accuracy")), "")
    return Tail(int(rows[-1]["step"]), rows[-1].get("loss", ""), val)


def _echo(stream) -> None:
    """Print the launcher's lines above the bar (tqdm.write clears and redraws it)."""
    from tqdm import tqdm

    for line in stream:
        tqdm.write(line.rstrip("\n"), file=sys.stdout)


def run_following(cmd: list[str], metrics_csv: str | Path, total: int | None, desc: str = "train",
                  poll_seconds: float = 1.0) -> int:
    """Run ``cmd`` (the launcher) to its end with a bar at rank 0's step; returns its exit code.

    The bar appears once the CSV is newer than the launch (rank 0 rewrites it when it starts, keeping the
    rows up to a resumed checkpoint), so a previous run's rows never show. ``total``: the steps planned, or
    None when unknown. Interrupted, the launcher is killed after a moment, as ``subprocess.call`` does.
    """
    from textrec.progress import bar

    path = Path(metrics_csv)
    started = time.time()
    # unbuffered: the launcher's echo of rank 0's log arrives line by line, not in 8 KiB blocks
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    echo = threading.Thread(target=_echo, args=(proc.stdout,), daemon=True)
    echo.start()
    shown = None
    try:
        while True:
            done = proc.poll() is not None
            fresh = path.exists() and path.stat().st_mtime >= started
            tail = read_tail(path) if fresh else None
            if tail is not None:
                if shown is None:
                    shown = bar(True, total=total, desc=desc, unit="step", initial=tail.step)
                shown.update(tail.step - shown.n)  # a step back (never expected) moves it back too
                shown.set_postfix(loss=tail.loss, val_acc=tail.val_accuracy or "-", refresh=False)
            if done:
                break
            time.sleep(poll_seconds)
        echo.join(timeout=5)
    except BaseException:  # Ctrl-C reached the launcher too: a moment to stop its ranks, then kill it
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    finally:
        if shown is not None:
            shown.close()
    return proc.wait()
