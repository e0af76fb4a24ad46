"""The prediction log: one SQLite file (WAL mode: many processes write, readers never block them).

    log = PredictionLogger("monitoring/predictions.db", model="crnn-text-recognizer", version="3")
    log.log([LogItem(png_bytes, "hello", 0.97)])   # returns at once: a background thread writes
    log.close()                                     # or log.flush(); log.stats() -> counts

    con = open_log("monitoring/predictions.db")     # read-only; one clear error for a missing/corrupt file
    con.execute("SELECT time, model, version, text, confidence FROM predictions ORDER BY id DESC LIMIT 10")

Tables: ``predictions`` (one row per prediction: time in Unix seconds, model, version, source, text,
confidence, length, image height/width, sha256, dhash), ``images`` (the encoded image of a prediction, when
kept), ``counters`` (predictions that could not be logged, by reason), ``selections`` (predictions handed out
for labelling by ``select``). Bounds (``monitoring.log``): rows, images and image bytes, oldest first.

Logging never fails a prediction: the caller only enqueues. A full queue, an unreadable image or a failed
write is counted by reason (``stats()``; saved in ``counters`` with the next successful write, and shown by
``textrec monitor``); the first error of each kind is logged as a warning.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.config import PredictionLogConfig
from textrec.monitoring.fingerprint import Fingerprint, ImageRef, fingerprint

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,
    source TEXT NOT NULL, text TEXT NOT NULL, confidence REAL NOT NULL, length INTEGER NOT NULL,
    height INTEGER, width INTEGER, sha256 TEXT NOT NULL, dhash INTEGER);
CREATE INDEX IF NOT EXISTS predictions_model ON predictions (model, version, id);
CREATE TABLE IF NOT EXISTS images (prediction_id INTEGER PRIMARY KEY, data BLOB NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS selections (prediction_id INTEGER PRIMARY KEY, batch TEXT NOT NULL, time REAL NOT NULL,
    sha256 TEXT NOT NULL, dhash INTEGER);
"""
TABLES = ("predictions", "images", "counters", "selections")
BUSY_TIMEOUT_S = 10.0  # a writer waits this long for another process's transaction
BATCH = 256  # predictions written per transaction at most
# After the first prediction of a batch the writer waits this long for more: one transaction per burst
# instead of one per request, whose commit and bound checks competed with serving for the two cores
LINGER_S = 0.25
WRITER_NICENESS = 10  # the writer thread yields the cores to the predictions it logs (Linux: per thread)
_log = logging.getLogger("textrec.monitoring")


class LogError(ValueError):
    """A prediction log that cannot be read: missing, not SQLite, or not a textrec log (one line)."""


@dataclass(frozen=True)
class LogItem:
    image: ImageRef
    text: str
    confidence: float
    bgr: bool = False  # a 3-channel array is BGR (the Recognizer's bgr=True)


def connect(path: Path) -> sqlite3.Connection:
    """A writing connection: creates the file and tables if needed. WAL lets readers and other writers'
    processes go on; synchronous=NORMAL in WAL mode syncs at checkpoints, not at every commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    # the -wal file: copied into the database every 256 pages (1 MB), and cut back to 4 MB after that, so
    # that the log's files stay bounded (the database by the bounds below, its -wal by these)
    con.execute("PRAGMA wal_autocheckpoint=256")
    con.execute("PRAGMA journal_size_limit=4194304")
    con.executescript(SCHEMA)
    return con


def open_log(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to an existing log; LogError (one line) when it is missing or not a log."""
    p = Path(path)
    if not p.is_file():
        raise LogError(f"no prediction log at {p} (log predictions first: textrec serve --log, textrec predict "
                       "--log, or Recognizer(log=...))")
    try:
        con = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        found = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise LogError(f"{p} is not a readable prediction log ({e}); move it aside and log again") from None
    if missing := [t for t in TABLES if t not in found]:
        con.close()
        raise LogError(f"{p} is an SQLite file but not a textrec prediction log (no table {missing[0]})")
    return con


def counters(con: sqlite3.Connection) -> dict[str, int]:
    return dict(con.execute("SELECT name, value FROM counters ORDER BY name").fetchall())


def _usage(con: sqlite3.Connection) -> tuple[int, int]:
    """(images kept, their bytes), kept up to date by every write so that a bound check costs two row reads,
    not a scan of the images (a scan per write cost 12 ms at 4,000 images: +30% served latency)."""
    kept = dict(con.execute("SELECT name, value FROM usage").fetchall())
    if "images" not in kept:  # a new log: counted once
        n, size = con.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM images").fetchone()
        return n, size
    return kept["images"], kept["image_bytes"]


def _prune(con: sqlite3.Connection, cfg: PredictionLogConfig, images: int, size: int) -> None:
    """Drop the oldest rows, then the oldest images, beyond the bounds, given the images and bytes kept
    (``_usage`` plus this write's); saves the new totals. Ids only grow (AUTOINCREMENT), so "older" is
    "smaller id" whichever process wrote the row; every step reads only what it deletes (index ranges)."""
    cut = (con.execute("SELECT MAX(id) FROM predictions").fetchone()[0] or 0) - cfg.max_rows
    if cut > 0:
        n, b = con.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM images WHERE prediction_id <= ?",
                           (cut,)).fetchone()
        con.execute("DELETE FROM predictions WHERE id <= ?", (cut,))
        con.execute("DELETE FROM images WHERE prediction_id <= ?", (cut,))
        images, size = images - n, size - b
    if images > cfg.max_images or size > cfg.max_image_bytes:
        last, oldest = None, con.execute("SELECT prediction_id, bytes FROM images ORDER BY prediction_id")
        for pid, b in oldest:  # read only as far as the bounds need
            if images <= cfg.max_images and size <= cfg.max_image_bytes:
                break
            last, images, size = pid, images - 1, size - b
        oldest.close()  # done reading before the delete
        con.execute("DELETE FROM images WHERE prediction_id <= ?", (last,))
    con.executemany("INSERT OR REPLACE INTO usage VALUES (?, ?)", [("images", images), ("image_bytes", size)])


def _lower_priority(increment: int) -> None:
    """Raise the calling thread's niceness: on Linux a thread is scheduled on its own, so the prediction log's
    fingerprinting and writes wait while the server's inference threads want the cores. Elsewhere (or if
    refused) nothing changes."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
    except (AttributeError, OSError):
        pass


def _owned(item: LogItem) -> LogItem:
    """The item with an image the caller cannot change before the writer reads it (a reused array or
    buffer): arrays and buffers are copied, bytes and paths are kept."""
    image = item.image
    if isinstance(image, np.ndarray):
        return LogItem(image.copy(), item.text, item.confidence, item.bgr)
    if isinstance(image, bytearray | memoryview):
        return LogItem(bytes(image), item.text, item.confidence, item.bgr)
    return item


@dataclass(frozen=True)
class _Pending:
    time: float
    item: LogItem


class PredictionLogger:
    """Writes predictions of one model version to the log from a background thread (started on first use).
    ``source`` says which front end logged them (serve, api, cli)."""

    def __init__(self, path: str | Path, model: str, version: str, cfg: PredictionLogConfig | None = None,
                 source: str = "api") -> None:
        self.path, self.model, self.version, self.source = Path(path), model, str(version), source
        self.cfg = cfg or PredictionLogConfig()
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=self.cfg.queue)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failed: Counter[str] = Counter()  # since this logger started
        self._unsaved: Counter[str] = Counter()  # not yet added to the log's counters table
        self._warned: set[str] = set()
        self.logged = 0

    def log(self, items: list[LogItem]) -> None:
        """Enqueue predictions; never raises (a full queue drops them, counted as queue_full)."""
        now = time.time()
        try:
            self._start()
            for i, item in enumerate(items):
                try:
                    self._queue.put_nowait(_Pending(now, _owned(item)))
                except queue.Full:
                    self.count_failure("queue_full", len(items) - i, "the writer cannot keep up")
                    return
        except Exception as e:  # noqa: BLE001 - logging must never fail a prediction
            self.count_failure("error", len(items), repr(e))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything enqueued so far is written (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued and stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
            atexit.unregister(self.close)

    def stats(self) -> dict:
        with self._lock:
            return {"logged": self.logged, "failed": dict(self._failed)}

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="textrec-prediction-log", daemon=True)
                self._thread.start()
                atexit.register(self.close)  # queued predictions are written at interpreter exit

    def count_failure(self, reason: str, n: int, detail: str) -> None:
        with self._lock:
            self._failed[reason] += n
            self._unsaved[reason] += n
            first = reason not in self._warned
            self._warned.add(reason)
        if first:
            _log.warning("prediction log %s: %d prediction(s) not logged (%s: %s); counted, predictions go on",
                         self.path, n, reason, detail)

    def _run(self) -> None:
        _lower_priority(WRITER_NICENESS)
        con = None
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + LINGER_S
            while len(batch) < BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            items = [p for p in batch if p is not None]
            try:
                if items:
                    con = con or connect(self.path)
                    self._write(con, items)
            except Exception as e:  # noqa: BLE001 - a full disk, a locked or corrupt file: counted, not raised
                self.count_failure("write_failed", len(items), repr(e))
                if con is not None:
                    con.close()
                con = None  # reconnect for the next batch
            finally:
                for _ in batch:
                    self._queue.task_done()
            if batch[-1] is None:
                if con is not None:
                    con.close()
                return

    def _fingerprint(self, item: LogItem) -> Fingerprint | None:
        try:
            return fingerprint(item.image, self.cfg.images, self.cfg.max_image_size, item.bgr)
        except Exception as e:  # noqa: BLE001 - e.g. a file deleted since it was read
            self.count_failure("image_unreadable", 1, repr(e))
            return None

    def _write(self, con: sqlite3.Connection, items: list[_Pending]) -> None:
        rows = [(p, f) for p in items if (f := self._fingerprint(p.item)) is not None]
        with self._lock:
            unsaved, self._unsaved = self._unsaved, Counter()
        try:
            con.execute("BEGIN IMMEDIATE")
            images, size = _usage(con)
            for p, f in rows:
                cur = con.execute(
                    "INSERT INTO predictions (time, model, version, source, text, confidence, length, height, "
                    "width, sha256, dhash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (p.time, self.model, self.version, self.source, p.item.text, float(p.item.confidence),
                     len(p.item.text), f.height, f.width, f.sha256, f.dhash))
                if f.data is not None:
                    con.execute("INSERT INTO images VALUES (?, ?, ?)", (cur.lastrowid, f.data, len(f.data)))
                    images, size = images + 1, size + len(f.data)
            for name, n in unsaved.items():
                con.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
                            (name, n, n))
            _prune(con, self.cfg, images, size)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            with self._lock:
                self._unsaved.update(unsaved)  # saved with a later write
            raise
        with self._lock:
            self.logged += len(rows)
