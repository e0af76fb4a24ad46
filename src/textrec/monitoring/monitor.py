"""`textrec monitor`'s core: a window of the prediction log against the model's reference -> a verdict.

    window = read_window(con, model=None, version=None, last=2000)   # None: the model of the newest row
    result = check(window, reference, cfg)                           # result.alarm, result.reason

An empty window, a window below ``monitoring.min_window`` and a reference of another model are errors
(``MonitorError``, one line): never a silent "no drift".
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from textrec.config import MonitoringConfig
from textrec.monitoring.drift import Check, compare
from textrec.monitoring.reference import Observations, Reference
from textrec.monitoring.store import counters


class MonitorError(ValueError):
    """No verdict is possible (empty or small window, no reference): one line."""


@dataclass(frozen=True)
class Window:
    model: str
    version: str
    observations: Observations
    first_id: int
    last_id: int
    first_time: float
    last_time: float
    failures: dict[str, int] = field(default_factory=dict)  # the log's counters: predictions not logged


@dataclass(frozen=True)
class Result:
    window: Window
    reference: Reference
    checks: list[Check]

    @property
    def alarm(self) -> bool:
        return any(c.alarm for c in self.checks)

    @property
    def reason(self) -> str:
        """One line: what drifted, or that nothing did."""
        w = self.window
        head = f"{w.model} version {w.version}, {len(w.observations)} predictions"
        if not self.alarm:
            return f"no drift: {head} within every limit"
        return f"drift: {head}: " + "; ".join(c.describe() for c in self.checks if c.alarm)

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow: per check its effect, p-value and alarm, plus the window's size."""
        m: dict[str, float] = {"monitoring/alarm": float(self.alarm),
                               "monitoring/window": float(len(self.window.observations))}
        for c in self.checks:
            if c.test != "none":
                m |= {f"monitoring/{c.name}/effect": c.effect, f"monitoring/{c.name}/p_value": c.p_value,
                      f"monitoring/{c.name}/window": c.window, f"monitoring/{c.name}/alarm": float(c.alarm)}
        return m


def parse_since(value: str, now: float | None = None) -> float:
    """``2h``, ``30m``, ``7d`` (ago) or an ISO time -> Unix seconds; ValueError (one line) otherwise."""
    now = time.time() if now is None else now
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", value.strip()):
        return now - float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {value!r}: expected a duration (30m, 2h, 7d) or an ISO time") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def latest_model(con: sqlite3.Connection) -> tuple[str, str]:
    row = con.execute("SELECT model, version FROM predictions ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        raise MonitorError("the prediction log is empty: nothing to monitor yet")
    return row[0], row[1]


def read_window(con: sqlite3.Connection, model: str | None = None, version: str | None = None,
                last: int = 2000, since: float | None = None, until: float | None = None) -> Window:
    """The last ``last`` predictions of (model, version) (default: those of the newest row), only those
    logged at or after ``since`` and before ``until`` when given."""
    if model is None or version is None:
        newest = latest_model(con)
        model, version = model or newest[0], version or newest[1]
    where, args = "model = ? AND version = ?", [model, version]
    if since is not None:
        where, args = where + " AND time >= ?", [*args, since]
    if until is not None:
        where, args = where + " AND time < ?", [*args, until]
    rows = con.execute(f"SELECT id, time, text, confidence, height, width FROM predictions WHERE {where} "
                       "ORDER BY id DESC LIMIT ?", (*args, last)).fetchall()[::-1]
    if not rows:
        span = f" since {datetime.fromtimestamp(since, UTC).isoformat(timespec='seconds')}" if since else ""
        raise MonitorError(f"no predictions of {model} version {version} in the window{span}: nothing to compare "
                           "(is logging on, and is this the served model?)")
    obs = Observations.from_rows((t, c, h, w) for _, _, t, c, h, w in rows)
    return Window(model, version, obs, rows[0][0], rows[-1][0], rows[0][1], rows[-1][1], counters(con))


def require_window(window: Window, cfg: MonitoringConfig) -> None:
    n = len(window.observations)
    if n < cfg.min_window:
        raise MonitorError(f"only {n} predictions of {window.model} version {window.version} in the window, "
                           f"fewer than monitoring.min_window ({cfg.min_window}): no verdict yet")


def check(window: Window, reference: Reference, cfg: MonitoringConfig) -> Result:
    require_window(window, cfg)
    if (reference.model, reference.version) != (window.model, window.version):
        raise MonitorError(f"the reference is of {reference.model} version {reference.version}, the window of "
                           f"{window.model} version {window.version}: compare a model with its own reference")
    if len(reference.observations) < cfg.min_window:
        raise MonitorError(f"the reference of {reference.model} version {reference.version} has only "
                           f"{len(reference.observations)} predictions (monitoring.min_window is {cfg.min_window}): "
                           "write it again on more validation images (textrec reference)")
    return Result(window, reference, compare(reference.observations, window.observations, cfg))
