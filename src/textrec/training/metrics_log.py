"""Per-step metrics CSV for DVC plots (``step,epoch,loss,lr,images_per_second,val_accuracy``) and the
periodic log line. On resume the rows written after the checkpoint's step are dropped first, so the file
never holds two rows for one step."""

from __future__ import annotations

import csv
import logging
import math
import time
from pathlib import Path

FIELDS = ("step", "epoch", "loss", "lr", "images_per_second", "val_accuracy")
log = logging.getLogger("textrec.training")


class MetricsCsv:
    def __init__(self, path: str | Path, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[dict[str, str]] = []
        if resume_step is not None and self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as f:
                kept = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with self.path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows(kept)
        self._f = self.path.open("a", newline="", encoding="utf-8")
        self._w = csv.DictWriter(self._f, FIELDS)

    def append(self, step: int, epoch: int, loss: float, lr: float, images_per_second: float,
               val_accuracy: float | None = None) -> None:
        self._w.writerow({"step": step, "epoch": epoch, "loss": f"{loss:.6g}", "lr": f"{lr:.6g}",
                          "images_per_second": f"{images_per_second:.1f}",
                          "val_accuracy": "" if val_accuracy is None else f"{val_accuracy:.6f}"})
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class Throughput:
    """Images per second between consecutive calls (pauses for evaluation/checkpoints excluded)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._window_images = 0
        self._window_seconds = 0.0

    def tick(self, images: int) -> float:
        now = time.perf_counter()
        dt, self._last = now - self._last, now
        self._window_images += images
        self._window_seconds += dt
        return images / dt if dt > 0 else math.inf

    def pause_ended(self) -> None:
        self._last = time.perf_counter()

    def window(self) -> float:
        """Mean images/s since the last call to ``window`` (for the periodic log line)."""
        ips = self._window_images / self._window_seconds if self._window_seconds > 0 else 0.0
        self._window_images, self._window_seconds = 0, 0.0
        return ips


def log_line(step: int, total: int, epoch: int, loss: float, lr: float, ips: float, skipped: int,
             batch_size: int) -> None:
    """One progress line, with the time the remaining steps take at the recent speed (ETA)."""
    eta = f" eta {format_duration((total - step) * batch_size / ips)}" if ips > 0 and total > step else ""
    log.info("step %d/%d epoch %d loss %.4f lr %.3g %.1f img/s%s%s", step, total, epoch, loss, lr, ips, eta,
             f" skipped {skipped}" if skipped else "")


def format_duration(seconds: float) -> str:
    """90 -> '1m30s', 4000 -> '1h06m'."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"
