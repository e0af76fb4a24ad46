"""A model's reference: what it predicted on its own validation set, the baseline `textrec monitor` compares
a window of the prediction log with.

    obs = observe(predict, images)            # predict(list of encoded images) -> [(text, confidence)]
    Reference("crnn-text-recognizer", "3", "data/lmdb/val", obs).save("reference.json")
    ref = Reference.load("reference.json")    # ReferenceError (one line) for a file that is not one

The file is JSON: the model, its version, where the images came from, and one list per observation
(confidence, text, image height and width), the same fields the prediction log keeps per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

FORMAT = "textrec.monitoring.reference/1"
FILE_NAME = "reference.json"  # also the MLflow artifact monitoring/reference.json of a registered version
CHUNK = 256  # images predicted at a time: [256, 3, 32, 100] float32 = 10 MB

Predict = Callable[[list[bytes]], list[tuple[str, float]]]


class ReferenceError(ValueError):  # noqa: A001 - the module's own error, not the builtin ReferenceError
    """A reference file that cannot be used: one line."""


@dataclass(frozen=True)
class Observations:
    """Per prediction: confidence [N], text, image height and width [N] (NaN where unknown)."""

    confidence: np.ndarray
    texts: list[str]
    height: np.ndarray
    width: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, float, int | None, int | None]]) -> Observations:
        """(text, confidence, height, width) rows -> columns."""
        rows = list(rows)
        num = [(c, np.nan if h is None else h, np.nan if w is None else w) for _, c, h, w in rows]
        cols = np.array(num, dtype=np.float64).reshape(len(rows), 3)  # [N, 3]
        return cls(cols[:, 0], [t for t, *_ in rows], cols[:, 1], cols[:, 2])

    def to_json(self) -> dict:
        def ints(a: np.ndarray) -> list[int | None]:
            return [None if np.isnan(v) else int(v) for v in a]

        return {"confidence": [round(float(c), 6) for c in self.confidence], "text": self.texts,
                "height": ints(self.height), "width": ints(self.width)}


@dataclass(frozen=True)
class Reference:
    model: str
    version: str
    source: str  # where the validation images came from
    observations: Observations
    created: str = ""

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = {"format": FORMAT, "model": self.model, "version": self.version, "source": self.source,
                "created": self.created or datetime.now(UTC).isoformat(timespec="seconds"),
                "count": len(self.observations), **self.observations.to_json()}
        p.write_text(json.dumps(body, ensure_ascii=False) + "\n", encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        p = Path(path)
        if not p.is_file():
            raise ReferenceError(f"no reference file at {p}")
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(d, dict) or d.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            rows = zip(d["text"], d["confidence"], d["height"], d["width"], strict=True)
            obs = Observations.from_rows(rows)
            return cls(str(d["model"]), str(d["version"]), str(d["source"]), obs, str(d.get("created", "")))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise ReferenceError(f"{p} is not a usable reference ({type(e).__name__}: {e}); write it again with "
                                 "`textrec reference`") from None


def image_sizes(images: list[bytes]) -> list[tuple[int | None, int | None]]:
    from textrec.preprocess import ImageDecodeError, decode_image

    out: list[tuple[int | None, int | None]] = []
    for b in images:
        try:
            h, w = decode_image(b).shape[:2]
            out.append((int(h), int(w)))
        except ImageDecodeError:
            out.append((None, None))
    return out


def observe(predict: Predict, images: Iterable[bytes]) -> Observations:
    """Predict every image (``CHUNK`` at a time) and keep what the log keeps of each."""
    rows: list[tuple[str, float, int | None, int | None]] = []
    for chunk in _chunks(images, CHUNK):
        preds = predict(chunk)
        rows += [(t, c, h, w) for (t, c), (h, w) in zip(preds, image_sizes(chunk), strict=True)]
    return Observations.from_rows(rows)


def _chunks(items: Iterable[bytes], n: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def validation_images(path: str | Path, limit: int | None = None) -> list[bytes]:
    """The encoded images of an LMDB (or a tree of them: the validation LMDB ``data/lmdb/val``) or of an
    image folder, in order, at most ``limit``."""
    from textrec.data.lmdb_io import find_lmdbs, iter_records
    from textrec.inference.predict import list_images

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no validation data at {p} (the validation LMDB is data/lmdb/val after prepare)")
    out: list[bytes] = []
    lmdbs = find_lmdbs(p) if p.is_dir() else []
    for db in lmdbs:
        out += [img for _, img, _ in iter_records(db) if img]
    if not lmdbs:
        out = [f.read_bytes() for f in list_images(p)]
    if not out:
        raise ValueError(f"{p}: no images")
    return out[:limit]
