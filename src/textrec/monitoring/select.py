"""`textrec select`: logged images for a human to label, the model's least confident readings first.

    pool = candidates(con, None, None, since, None)    # the window: logged with an image, never selected
    chosen = choose(con, pool, 500)                    # least calibrated confidence first, duplicates out
    batch = write_batch(chosen, Path("batch-1"))       # images/, rec_gt_batch.txt, label_studio.json, ...
    mark_selected(path_of_log, chosen, batch.name)     # never handed out again

Duplicates: an image whose sha256 was seen, or whose dHash is within ``max_distance`` bits of one already
chosen (in this batch or an earlier one), is skipped: a camera that sends the same sign all day gives one
image to label, not a hundred. ``order="random"`` picks at random instead (seeded): the baseline a hard-
example selection has to beat.

``audit``: a random sample of the same window (seeded, duplicates out), labelled by the human with the
batch and kept apart (``audit/``): ``add-labels`` makes it the validation set, so that the fine-tuned model's
calibration, validation accuracy and monitoring reference come from the traffic as it is, not from its
hardest images (fitted on the 54 least confident crops of a 500-crop batch, the fine-tuned model's calibration
was 0.09 off on held-back crops, ECE, where its raw confidence was 0.23 off; README "After production").

``confident(con, threshold)`` are the logged images read with a calibrated confidence of at least
``threshold`` (the version's auto-accept threshold: right at the target precision on its validation set):
the batch carries them with the model's readings as labels (``auto/``, ``rec_gt_auto.txt``), not for a human
to check, so that a fine-tune on the hard images still sees the easy ones it must keep reading (Wang et al.,
"Cost-Effective Active Learning", 2016: uncertain samples to humans, confident ones pseudo-labelled).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from textrec.monitoring.store import connect

Order = Literal["confidence", "random"]
BATCH_LABELS = "rec_gt_batch.txt"  # PaddleOCR's layout: images/<id>.<ext><TAB>reading, to correct in place
AUTO_DIR = "auto"  # the batch's folder of images accepted as read
AUTO_LABELS = "rec_gt_auto.txt"  # auto/<id>.<ext><TAB>reading: accepted as read (confidence over the threshold)
AUDIT_DIR = "audit"  # the batch's random sample, labelled with the rest (rec_gt_batch.txt), validation only
LS_TASKS = "label_studio.json"
LS_CONFIG = "label_studio.xml"
MANIFEST = "batch.json"
LS_FROM, LS_TO = "transcription", "image"  # the names in LS_CONFIG the tasks' pre-filled results refer to
LABEL_CONFIG = f"""<View>
  <Image name="{LS_TO}" value="$image"/>
  <Header value="Type the word exactly as written (### if unreadable)"/>
  <TextArea name="{LS_FROM}" toName="{LS_TO}" editable="true" maxSubmissions="1" required="true"/>
</View>
"""


@dataclass(frozen=True)
class Candidate:
    id: int
    model: str
    version: str
    text: str
    confidence: float
    sha256: str
    dhash: int | None


@dataclass(frozen=True)
class Batch:
    name: str
    folder: Path
    files: list[str]  # relative to folder, in the order of the candidates


def candidates(con: sqlite3.Connection, model: str | None, version: str | None, since: float | None,
               until: float | None) -> list[Candidate]:
    """Logged predictions with their image kept and never selected, oldest first."""
    where, args = ["s.prediction_id IS NULL"], []
    for clause, value in (("p.model = ?", model), ("p.version = ?", version), ("p.time >= ?", since),
                          ("p.time < ?", until)):
        if value is not None:
            where.append(clause)
            args.append(value)
    rows = con.execute("SELECT p.id, p.model, p.version, p.text, p.confidence, p.sha256, p.dhash FROM predictions p "
                       "JOIN images i ON i.prediction_id = p.id LEFT JOIN selections s ON s.prediction_id = p.id "
                       f"WHERE {' AND '.join(where)} ORDER BY p.id", args).fetchall()
    return [Candidate(*r) for r in rows]


def choose(con: sqlite3.Connection, pool: Sequence[Candidate], n: int, *, order: Order = "confidence",
           seed: int = 0, max_distance: int = 4, exclude: Sequence[Candidate] = ()) -> list[Candidate]:
    """Up to ``n`` of ``pool`` (``candidates``) in ``order``, skipping duplicates of each other, of earlier
    selections and of ``exclude`` (this batch's audit sample)."""
    if order == "confidence":
        pool = sorted(pool, key=lambda c: (c.confidence, c.id))
    else:
        pool = [pool[i] for i in np.random.default_rng(seed).permutation(len(pool))]
    earlier = con.execute("SELECT sha256, dhash FROM selections").fetchall() + [(c.sha256, c.dhash) for c in exclude]
    seen = {s for s, _ in earlier}
    # dHashes as unsigned 64-bit: one vectorised XOR + popcount against all kept so far
    kept = np.zeros(len(earlier) + n, dtype=np.uint64)
    count = 0
    for _, d in earlier:
        if d is not None:
            kept[count] = np.uint64(d & (2**64 - 1))
            count += 1
    chosen: list[Candidate] = []
    for c in pool:
        if len(chosen) == n:
            break
        if c.sha256 in seen:
            continue
        if c.dhash is not None:
            h = np.uint64(c.dhash & (2**64 - 1))
            if count and int(np.bitwise_count(kept[:count] ^ h).min()) <= max_distance:
                continue
            kept[count] = h
            count += 1
        seen.add(c.sha256)
        chosen.append(c)
    return chosen


def confident(con: sqlite3.Connection, pool: Sequence[Candidate], threshold: float, exclude: Sequence[Candidate]
              ) -> list[Candidate]:
    """Those of ``pool`` (``candidates``) read with confidence >= ``threshold`` and a non-empty text, one per
    sha256, none of ``exclude`` (the human batch) or of earlier selections."""
    seen = {c.sha256 for c in exclude} | {s for (s,) in con.execute("SELECT sha256 FROM selections")}
    out = []
    for c in pool:
        if c.confidence >= threshold and c.text and c.sha256 not in seen:
            seen.add(c.sha256)
            out.append(c)
    return out


def _copy_images(con: sqlite3.Connection, chosen: list[Candidate], folder: Path, sub: str) -> list[str]:
    (folder / sub).mkdir(parents=True)
    files = []
    for c in chosen:
        data = con.execute("SELECT data FROM images WHERE prediction_id = ?", (c.id,)).fetchone()[0]
        files.append(f"{sub}/{c.id}{_suffix(data)}")
        (folder / files[-1]).write_bytes(data)
    return files


def _suffix(data: bytes) -> str:
    for magic, suffix in ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"BM", ".bmp"), (b"GIF8", ".gif"),
                          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif")):
        if data.startswith(magic):
            return suffix
    return ".webp" if data[8:12] == b"WEBP" else ".img"


def _task(c: Candidate, file: str, url_prefix: str) -> dict:
    """One Label Studio task: the image and the model's reading as a pre-annotation to correct."""
    return {"data": {LS_TO: f"{url_prefix}{file}", "prediction_id": c.id, "file": file},
            "predictions": [{"model_version": f"{c.model} {c.version}", "score": round(c.confidence, 6),
                             "result": [{"from_name": LS_FROM, "to_name": LS_TO, "type": "textarea",
                                         "value": {"text": [c.text]}}]}]}


def write_batch(con: sqlite3.Connection, chosen: list[Candidate], folder: Path,
                auto: Sequence[Candidate] = (), audit: Sequence[Candidate] = ()) -> Batch:
    """The labelling batch in ``folder`` (which must not exist): the images, the readings in PaddleOCR's
    label-file layout, Label Studio's import file and labelling config, a manifest; the ``audit`` sample's
    images (``audit/``) are labelled with them; the ``auto`` accepted images with their readings (``auto/``,
    ``rec_gt_auto.txt``)."""
    if folder.exists():
        raise ValueError(f"{folder} already exists: choose a new --out folder")
    files = _copy_images(con, chosen, folder, "images")
    if audit:
        files += _copy_images(con, list(audit), folder, AUDIT_DIR)
        chosen = [*chosen, *audit]
    lines = [f"{f}\t{c.text}\n" for f, c in zip(files, chosen, strict=True)]
    (folder / BATCH_LABELS).write_text("".join(lines), encoding="utf-8")
    if auto:
        auto_files = _copy_images(con, list(auto), folder, AUTO_DIR)
        (folder / AUTO_LABELS).write_text("".join(f"{f}\t{c.text}\n" for f, c in zip(auto_files, auto, strict=True)),
                                          encoding="utf-8")
    # Label Studio serves local files below LOCAL_FILES_DOCUMENT_ROOT: set it to the batch's parent folder
    prefix = f"/data/local-files/?d={folder.name}/"
    tasks = [_task(c, f, prefix) for f, c in zip(files, chosen, strict=True)]
    (folder / LS_TASKS).write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / LS_CONFIG).write_text(LABEL_CONFIG, encoding="utf-8")
    manifest = {"name": folder.name, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "rows": [{"file": f, "prediction_id": c.id, "model": c.model, "version": c.version,
                          "reading": c.text, "confidence": c.confidence, "sha256": c.sha256}
                         for f, c in zip(files, chosen, strict=True)], "auto_accepted": len(auto),
                "audit": len(audit)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Batch(folder.name, folder, files)


def mark_selected(log: Path, chosen: list[Candidate], batch: str) -> None:
    """Record the batch in the log, so that these images (and near-duplicates) are not chosen again."""
    con = connect(log)
    try:
        now = time.time()
        with con:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT OR IGNORE INTO selections VALUES (?, ?, ?, ?, ?)",
                            [(c.id, batch, now, c.sha256, c.dhash) for c in chosen])
    finally:
        con.close()
