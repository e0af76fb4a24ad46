"""Manifests: one row per input sample (kept or rejected), streamed to Parquet; and rejection reports.

Columns: ``key`` (``image-%09d`` in the output LMDB, null when rejected), ``source`` (file path or
``<lmdb>#<index>``), ``label`` (raw), ``label_norm`` (after the charset's normalisation; null when
rejected), ``width``/``height`` (null when the image is missing or undecodable), ``bytes``, ``sha1`` (of the
image bytes, for duplicate detection), ``status`` ("ok" or the rejection reason).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrec.charset import Charset
from textrec.data.lmdb_io import image_key
from textrec.data.reasons import REASONS, Reason
from textrec.data.records import check_record, label_text

STATUS_OK = "ok"
COLUMNS = ("key", "source", "label", "label_norm", "width", "height", "bytes", "sha1", "status")


@dataclass(frozen=True)
class Inspection:
    """What one sample turned out to be; ``status`` is "ok" or one of ``REASONS``."""

    status: str
    label_norm: str | None = None
    width: int | None = None
    height: int | None = None
    nbytes: int = 0
    sha1: str | None = None


def inspect_sample(data: bytes | None, label: str | bytes | None, charset: Charset,
                   missing: Reason = "missing_file") -> Inspection:
    """The record check (``records.check_record``: the image decoded as training decodes it, the label
    encoded) as a manifest row's fields; never raises on bad data."""
    if data is None:
        return Inspection(missing)
    check = check_record(data, label, charset, missing=missing)
    h, w = check.image.shape[:2] if check.image is not None else (None, None)  # [H, W, 3]
    return Inspection(check.reason or STATUS_OK, check.encoded.text if check.ok else None,
                      None if w is None else int(w), None if h is None else int(h), len(data),
                      hashlib.sha1(data).hexdigest())


def _schema():  # -> pyarrow.Schema
    import pyarrow as pa

    return pa.schema([("key", pa.string()), ("source", pa.string()), ("label", pa.string()),
                      ("label_norm", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
                      ("bytes", pa.int64()), ("sha1", pa.string()), ("status", pa.string())])


class ManifestWriter:
    """Append rows and write them to Parquet in row groups (flat memory); atomic on ``close()``."""

    def __init__(self, dst: str | Path, row_group: int = 16_384) -> None:
        import pyarrow.parquet as pq

        self.dst = Path(dst)
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.dst.with_name(f"{self.dst.name}.partial-{os.getpid()}")
        self._schema = _schema()
        self._writer = pq.ParquetWriter(self.tmp, self._schema)
        self._rows: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        self._row_group = row_group
        self.count = 0

    def add(self, key: str | None, source: str, label: str | bytes | None, insp: Inspection) -> None:
        """One row; ``label`` as stored (``records.label_text`` shows bytes that are not UTF-8)."""
        for col, value in zip(COLUMNS, (key, source, label_text(label), insp.label_norm, insp.width, insp.height,
                                        insp.nbytes, insp.sha1, insp.status), strict=True):
            self._rows[col].append(value)
        self.count += 1
        if len(self._rows["key"]) >= self._row_group:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows["key"]:
            self._writer.write_table(pa.table(self._rows, schema=self._schema))
            self._rows = {c: [] for c in COLUMNS}

    def close(self) -> Path:
        self._flush()
        self._writer.close()
        os.replace(self.tmp, self.dst)
        return self.dst

    def abort(self) -> None:
        self._writer.close()
        self.tmp.unlink(missing_ok=True)


def read_manifest(path: str | Path):  # -> pandas.DataFrame
    import pandas as pd

    return pd.read_parquet(path)


# What a record's row says about its bytes; a record that differs here changed after its manifest was written.
RECORD_FIELDS = ("sha1", "status", "label_norm")


def reconcile(manifest, records):  # (DataFrame | None, DataFrame) -> (DataFrame, DataFrame)
    """Hold a manifest against one LMDB's records as they are now (``records``: ``convert.manifest_from_lmdb``).

    Returns ``(rows, changed)``. ``rows`` (``COLUMNS``) is what to validate: one row per record, inspected
    from its current bytes and named by the manifest's ``source`` where the key matches, plus the inputs the
    manifest rejected before writing the LMDB (no key). ``changed`` has one row per key whose record differs
    from the manifest (sha1, status or label), is missing, or is not in it: ``key``, ``source`` and
    ``manifest_<field>``/``lmdb_<field>`` for ``RECORD_FIELDS``. Without a manifest, ``rows`` is ``records``.
    """
    import pandas as pd

    # every record has a key here, also one whose image is missing (its key is null in ``records``)
    records = records.assign(key=[image_key(int(s.rpartition("#")[2])).decode() for s in records["source"]])
    if manifest is None:
        return records[list(COLUMNS)], pd.DataFrame(columns=["key", "source"])
    keyed = manifest[manifest["key"].notna()]
    m = records.merge(keyed[["key", "source", *RECORD_FIELDS]], on="key", how="outer", suffixes=("", "_m"),
                      indicator=True)
    same = m["_merge"] == "both"
    for f in RECORD_FIELDS:
        a, b = m[f], m[f"{f}_m"]
        same &= (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())
    in_lmdb = m["_merge"] != "right_only"
    m["source"] = m["source_m"].where(m["source_m"].notna(), m["source"])
    rows = pd.concat([m.loc[in_lmdb, list(COLUMNS)], manifest.loc[manifest["key"].isna(), list(COLUMNS)]],
                     ignore_index=True)
    bad = m[~same]
    changed = pd.DataFrame({"key": bad["key"], "source": bad["source"],
                            **{f"manifest_{f}": bad[f"{f}_m"] for f in RECORD_FIELDS},
                            **{f"lmdb_{f}": bad[f] for f in RECORD_FIELDS}})  # null: no such record
    return rows, changed.sort_values("key", ignore_index=True)


class Rejections:
    """Counts per reason plus the offending keys/paths (up to ``max_items`` per reason)."""

    def __init__(self, max_items: int = 10_000) -> None:
        self.counts: Counter[str] = Counter()
        self.items: dict[str, list[str]] = {}
        self.max_items = max_items

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] += 1
        lst = self.items.setdefault(reason, [])
        if len(lst) < self.max_items:
            lst.append(where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self, samples: int) -> dict[str, Any]:
        return {"samples": samples, "written": samples - self.total, "rejected": self.total,
                "rejected_fraction": self.total / samples if samples else 0.0,
                "counts": {r: self.counts[r] for r in REASONS if self.counts[r]},
                "items": {r: self.items[r] for r in REASONS if r in self.items},
                "items_truncated": {r: self.counts[r] - len(self.items[r]) for r in self.items
                                    if self.counts[r] > len(self.items[r])}}

    def write(self, dst: str | Path, samples: int, **extra: Any) -> dict[str, Any]:
        report = {**extra, **self.to_dict(samples)}
        dst = Path(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".partial")
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, dst)
        return report
