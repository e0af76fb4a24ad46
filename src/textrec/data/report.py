"""Rejected records: every LMDB record that a dataset refuses, with its key and the reason.

Nothing is skipped silently: a dataset's index pass produces a ``DatasetReport`` that the train stage
writes as JSON next to the model (and that a validation gate can read). ``check_rejected_fraction`` stops
training on a dataset that rejects more than the validation gate allows, naming the keys.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textrec.data.lmdb_io import image_key
from textrec.data.reasons import RECORD_REASONS, Reason


@dataclass(frozen=True)
class Rejection:
    lmdb: str  # path of the LMDB that holds the record
    index: int  # 1-based DTRB index: the keys are image-%09d / label-%09d
    reason: Reason  # one of RECORD_REASONS
    detail: str = ""  # the raw label, the decoder's message, ...

    @property
    def key(self) -> str:
        """``<lmdb path>::image-000000042``: enough to find the record again."""
        return f"{self.lmdb}::{image_key(self.index).decode()}"


@dataclass
class DatasetReport:
    root: str
    lmdbs: list[str] = field(default_factory=list)
    total: int = 0  # records declared by num-samples, over all LMDBs
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.total - len(self.rejections)

    def counts(self) -> dict[str, int]:
        """Rejections per reason (reasons with no rejection are listed with 0)."""
        c = Counter(r.reason for r in self.rejections)
        return {reason: c.get(reason, 0) for reason in RECORD_REASONS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "lmdbs": self.lmdbs,
            "total": self.total,
            "accepted": self.accepted,
            "rejected": len(self.rejections),
            "counts": self.counts(),
            "rejections": [{"key": r.key, "lmdb": r.lmdb, "index": r.index, "reason": r.reason,
                            "detail": r.detail} for r in self.rejections],
        }

    def write_json(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    def summary(self) -> str:
        bad = ", ".join(f"{k}={v}" for k, v in self.counts().items() if v)
        return f"{self.root}: {self.accepted}/{self.total} records accepted" + (f" (rejected: {bad})" if bad else "")


class TooManyRejectedError(ValueError):
    """A dataset rejects a larger share of its records than the validation gate allows."""


def check_rejected_fraction(report: DatasetReport, max_fraction: float, *, show: int = 20) -> None:
    """Raise ``TooManyRejectedError`` naming the rejected keys if more than ``max_fraction`` of the records
    is rejected: the gate's ``data.validation.max_rejected_fraction``, applied to what a dataset reads."""
    n = len(report.rejections)
    fraction = n / report.total if report.total else 0.0
    if fraction <= max_fraction:
        return
    keys = ", ".join(f"{r.key} ({r.reason})" for r in report.rejections[:show])
    more = f" and {n - show} more" if n > show else ""
    raise TooManyRejectedError(
        f"{report.root}: {n} of {report.total} records rejected ({fraction:.2%}), above "
        f"data.validation.max_rejected_fraction {max_fraction:.2%}: {keys}{more}. Rebuild the data "
        "(dvc repro prepare), or raise the threshold if these rejections are expected.")
