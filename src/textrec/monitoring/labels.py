"""A labelled batch -> your own training data (``data.folder.root``, PaddleOCR's layout), for the finetune
profile.

    labels = read_labels(batch)                       # the batch's rec_gt_batch.txt, corrected by a human
    labels = read_labels(batch, Path("export.json"))  # or Label Studio's JSON export of the batch
    counts = add_to_own(batch, labels, Path("data/own"))

The images are copied to ``<own>/loop/<batch>/`` and their rows appended to ``rec_gt_train.txt`` or
``rec_gt_val.txt``. A batch with an audit sample (``select --audit``, ``audit/``: at random from the traffic)
validates with it and trains on every other human-labelled row; without one, about ``val_fraction`` of the
human-labelled rows validate (chosen by the image's hash, so the same image always lands on the same side),
which for a batch of the least confident images is its hardest part. Auto-accepted readings
(``rec_gt_auto.txt``: the production model's own output) only ever train: in validation they would score
agreement with production, which favours the checkpoints that moved least (measured: two thirds of a
146-word validation set were such rows, and its accuracy told eight checkpoints apart by one word). A label
left empty or ``###`` (PaddleOCR's "unreadable") is not added, and counted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from textrec.monitoring.select import AUDIT_DIR, AUTO_DIR, AUTO_LABELS, BATCH_LABELS, LS_FROM

UNREADABLE = {"", "###"}
SPLIT_FILES = {"train": "rec_gt_train.txt", "val": "rec_gt_val.txt"}  # the finetune profile's label files


def _from_label_file(path: Path) -> dict[str, str]:
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        file, sep, label = line.partition("\t")
        if not sep:
            raise ValueError(f"{path} line {n}: expected 'path<TAB>label' (PaddleOCR's label-file layout)")
        out[file] = label.strip()
    return out


def _from_label_studio(path: Path) -> dict[str, str]:
    """Label Studio's JSON export: per task, the last annotation's text (a task without one is not labelled)."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
        out = {}
        for t in tasks:
            done = [a for a in t.get("annotations") or [] if not a.get("was_cancelled")]
            texts = [r["value"]["text"] for r in (done[-1]["result"] if done else []) if r.get("from_name") == LS_FROM]
            if texts:
                out[t["data"]["file"]] = " ".join(texts[0]).strip()
        return out
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path} is not a Label Studio JSON export of a textrec batch ({type(e).__name__}: {e})"
                         ) from None


def read_labels(batch: Path, labels: Path | None = None, auto: bool = True) -> dict[str, str]:
    """{image file relative to the batch: label}: from ``labels`` (a PaddleOCR label file or Label Studio's
    JSON export), else the batch's own label file as the human left it; plus the batch's auto-accepted
    readings (``rec_gt_auto.txt``), unless ``auto`` is False."""
    src = labels or batch / BATCH_LABELS
    if not src.is_file():
        raise FileNotFoundError(f"no labels at {src}")
    found = _from_label_studio(src) if src.suffix == ".json" else _from_label_file(src)
    if auto and (batch / AUTO_LABELS).is_file():
        found = _from_label_file(batch / AUTO_LABELS) | found  # a human's label wins
    if unknown := sorted(f for f in found if not (batch / f).is_file()):
        raise ValueError(f"{src}: {len(unknown)} row(s) name no image of batch {batch} (first: {unknown[0]})")
    return found


def _split(data: bytes, val_fraction: float) -> str:
    return "val" if int(hashlib.sha256(data).hexdigest()[:8], 16) / 2**32 < val_fraction else "train"


def add_to_own(batch: Path, labels: dict[str, str], own: Path, val_fraction: float = 0.1) -> dict[str, int]:
    """Copy the labelled images into ``own`` and append their rows; returns counts (train, val, unreadable).
    Images under the batch's ``auto/`` (accepted as read) go to train whatever their hash, under ``audit/`` to
    val (and then ``val_fraction`` is not used)."""
    dst = own / "loop" / batch.name
    if dst.exists():
        raise ValueError(f"batch {batch.name} is already in {own} ({dst}); remove its rows and folder first "
                              "to add it again")
    rows: dict[str, list[str]] = {"train": [], "val": []}
    unreadable = 0
    audited = any(Path(f).parts[0] == AUDIT_DIR for f in labels)
    dst.mkdir(parents=True)
    for file, label in sorted(labels.items()):
        if label in UNREADABLE:
            unreadable += 1
            continue
        data = (batch / file).read_bytes()
        target = dst / Path(file).name
        shutil.copyfile(batch / file, target)
        folder = Path(file).parts[0]
        split = ("val" if folder == AUDIT_DIR else "train" if folder == AUTO_DIR or audited
                 else _split(data, val_fraction))
        rows[split].append(f"{target.relative_to(own).as_posix()}\t{label}\n")
    for split, lines in rows.items():
        path = own / SPLIT_FILES[split]
        ends_open = path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
        with path.open("a", encoding="utf-8") as f:
            f.writelines(["\n"] * bool(ends_open) + lines)
    return {"train": len(rows["train"]), "val": len(rows["val"]), "unreadable": unreadable}
