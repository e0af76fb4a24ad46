"""Transfer to real photos: accuracy of a synthetic-trained model on real word crops, beside PaddleOCR's
PP-OCRv3 English recognizer as a reference row.

Converts each `<dir>/labels.tsv` folder under --data (default ../shared/data/real-dev: IIIT5K train,
IC15 train) with the project's own converter into a temporary LMDB (its 0-9a-z dictionary rejects labels
with nothing left to read under the DTRB protocol); the converter's manifest keeps each label as annotated.
--model (default: the bundled model) and the peer (bench/ppocr_peer.py) read the same accepted images, and
each is scored on two protocols:
- DTRB: prediction and label lower-cased, everything outside 0-9a-z dropped, then compared;
- exact: the label as annotated, case and punctuation counted; only whitespace at both ends is stripped.
The synthetic benchmark suite under --synthetic (if given) is scored on the DTRB protocol. The real images
never enter the repository or the pipeline; this script only reads them.

    .venv/bin/python bench/real_dev.py --synthetic data/lmdb/bench     # the bundled model, and the peer
    # -> reports/bench/real_dev.json {"schema_version", "machine", "model", "real": {"datasets": [...]}, "reference": [...], ...}
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder

from textrec.config import BACKBONES

DEFAULT_DATA = REPO.parent / "shared" / "data" / "real-dev"
PROTOCOLS = {"dtrb": "DTRB: case-insensitive, 0-9a-z only",
             "exact": "exact: case and punctuation counted, whitespace at both ends stripped"}
CHUNK = 256  # images preprocessed at a time: bounds memory ([256, 3, 32, 100] float32 = 10 MB)


@dataclass
class RealSet:
    """One converted folder: the accepted images (encoded bytes) in LMDB order, with their keys and labels
    as annotated."""

    name: str
    keys: list[str]
    images: list[bytes]
    labels: list[str]
    conversion: dict


def exact_match(prediction: str, label: str) -> bool:
    return prediction.strip() == label.strip()


def _read_back(lmdb: Path, manifest: Path) -> tuple[list[str], list[bytes], list[str]]:
    """(keys, image bytes, labels as annotated) of a converted LMDB, from its records and manifest."""
    import pyarrow.parquet as pq

    from textrec.data.lmdb_io import image_key, iter_records

    table = pq.read_table(manifest, columns=["key", "label"]).to_pydict()
    raw = {k: lab for k, lab in zip(table["key"], table["label"], strict=True) if k is not None}
    keys, images, labels = [], [], []
    for i, img, _ in iter_records(lmdb):
        key = image_key(i).decode()
        keys.append(key)
        images.append(img)
        labels.append(raw[key])
    return keys, images, labels


def load_real_sets(data: Path, work: Path, processes: int) -> list[RealSet]:
    """Convert every ``<folder>/labels.tsv`` under ``data`` into ``work`` and read the accepted images back."""
    from textrec.charset import Charset
    from textrec.data.convert import convert_samples, inspect_pool, samples_from_label_file

    folders = sorted(p.parent for p in data.glob("*/labels.tsv"))
    if not folders:
        raise SystemExit(f"{data}: no <folder>/labels.tsv found")
    charset = Charset.from_file()  # the DTRB filter: a label must keep a character of 0-9a-z
    sets = []
    with inspect_pool(processes) as pool:
        for folder in folders:
            res = convert_samples(samples_from_label_file(folder / "labels.tsv", "tsv"), work / folder.name,
                                  work / f"{folder.name}.parquet", work / f"{folder.name}.rejections.json",
                                  charset, pool=pool, description=folder.name)
            keys, images, labels = _read_back(res.dst, res.manifest)
            sets.append(RealSet(folder.name, keys, images, labels,
                                {"samples": res.samples, "accepted": res.written, "rejected": res.counts}))
    return sets


def predict_ours(rec, images: list[bytes]) -> list[tuple[str, float]]:
    """(text, confidence) of each image by a ``textrec.Recognizer``."""
    out = []
    for start in range(0, len(images), CHUNK):
        out += [(p.text, p.confidence) for p in rec(images[start:start + CHUNK])]
    return out


def predict_peer(peer, images: list[bytes], rotate: bool) -> list[tuple[str, float]]:
    """The peer under the same rule as ours (``rotate``: portrait crops also read turned, the most confident
    reading kept: textrec.inference.orientation), all at once: the peer batches by aspect ratio."""
    from textrec.inference.orientation import most_confident, turns
    from textrec.preprocess import decode_image

    each = [turns(decode_image(b), rotate) for b in images]
    return most_confident(peer([t for ts in each for t in ts]), [len(ts) for ts in each], confidence=lambda r: r[1])


def score(rs: RealSet, predictions: list[tuple[str, float]]) -> dict:
    """DatasetResult's summary (DTRB protocol) plus ``exact_accuracy``."""
    from textrec.evaluation.evaluate import DatasetResult
    from textrec.evaluation.metrics import score_sample

    res = DatasetResult(rs.name)
    for key, label, (text, conf) in zip(rs.keys, rs.labels, predictions, strict=True):
        res.samples.append(score_sample(key, label, text, conf))
    exact = sum(exact_match(text, label) for label, (text, _) in zip(rs.labels, predictions, strict=True))
    return {**res.summary(), "exact_accuracy": exact / res.count if res.count else 0.0}


def summarize(rows: list[dict]) -> dict:
    total = sum(r["count"] for r in rows)
    weighted = (lambda k: sum(r[k] * r["count"] for r in rows) / total) if total else (lambda k: 0.0)
    return {"datasets": rows, "weighted_accuracy": weighted("accuracy"),
            "mean_accuracy": sum(r["accuracy"] for r in rows) / len(rows),
            "weighted_exact_accuracy": weighted("exact_accuracy")}


def run_model(sets: list[RealSet], predict: Callable[[list[bytes]], list[tuple[str, float]]]) -> dict:
    t0 = time.perf_counter()
    rows = [score(rs, predict(rs.images)) for rs in sets]
    return {**summarize(rows), "seconds": round(time.perf_counter() - t0, 1)}


def shown_path(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def load_ours(args: argparse.Namespace):
    """The Recognizer of --model (None: the bundled model)."""
    from textrec.inference.recognizer import Recognizer

    return Recognizer(args.model, dictionary=args.dict, backbone=args.backbone, rotate_portrait=not args.no_rotate)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "real_dev")
    ap.add_argument("--model", default=None, help=".pdparams, inference directory or .onnx (default: the bundle)")
    ap.add_argument("--dict", default=None, help="the model's dictionary file (default: the model's own)")
    ap.add_argument("--backbone", default=None, choices=BACKBONES)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--synthetic", type=Path, default=None, help="the synthetic benchmark tree (data/lmdb/bench)")
    ap.add_argument("--no-peer", action="store_true", help="leave out the PP-OCRv3 reference row")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--no-rotate", action="store_true",
                    help="read every image as given, ours and the peer's (default: portrait crops are also read "
                         "turned, the most confident reading kept, as textrec predict does)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: real development data not found", file=sys.stderr)
        return 2
    from ppocr_peer import PeerMissing, PPOCRv3English  # bench/, on sys.path as the script's folder

    from textrec.evaluation.evaluate import evaluate_tree
    from textrec.evaluation.evaluate import summarize as summarize_synthetic

    try:
        peer = None if args.no_peer else PPOCRv3English()
    except PeerMissing as e:
        print(e, file=sys.stderr)
        return 2
    rec = load_ours(args)
    bench, t0 = Bench.start(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="textrec-real-dev-") as tmp:
        sets = load_real_sets(args.data, Path(tmp), args.processes)
    real = run_model(sets, lambda images: predict_ours(rec, images))
    reference = [{**peer.describe(), **run_model(sets, lambda images: predict_peer(peer, images, not args.no_rotate))}] if peer else []
    synthetic = summarize_synthetic(evaluate_tree(rec.engine, args.synthetic, rec.charset)) if args.synthetic \
        else None
    result = {"model": shown_path(rec.model), "model_sha256": file_sha256(rec.model),
              "protocol": PROTOCOLS["dtrb"], "protocols": PROTOCOLS, "rotate_portrait": not args.no_rotate,
              "conversion": {rs.name: rs.conversion for rs in sets}, "real": real, "reference": reference,
              "synthetic": synthetic, "seconds": round(time.perf_counter() - t0, 1)}
    bench.write(args.out, result)
    for name, part in (("ours", real), *((r["name"], r) for r in reference)):
        rows = ", ".join(f"{d['name']} {d['accuracy']:.3f} / exact {d['exact_accuracy']:.3f} (n={d['count']})"
                         for d in part["datasets"])
        print(f"{name}: {rows}")
    if synthetic:
        print(f"synthetic: mean {synthetic['mean_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
