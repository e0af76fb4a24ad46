"""The bundle read with the default 0-9a-z dictionary after 0 training steps: how much of the checkpoint's
reading the dictionary-aware init keeps (issue 20: within 0.5 point of the checkpoint itself, DTRB protocol).

Four rows on every synthetic benchmark under --bench (DTRB: case-insensitive, 0-9a-z only):
- checkpoint: the model as trained, with its own dictionary (``<model>.dict.txt``, PaddleOCR's English);
- folded: what ``init`` gives by default (``init_fold: exact``): the checkpoint's columns kept, their
  probabilities summed per 0-9a-z class (models/head.py);
- summed: ``init_fold: linear`` with ``init_head_fit_images: 0``: one column per class, the sum of the
  checkpoint's columns (``training/head_map.py``);
- fitted: ``init_fold: linear``: summed, then fitted to the checkpoint's own head on the first --fit-images
  images of --fit (``training/head_fit.py``, the train stage's default: 512 of the run's validation renders).
Backbone and neck are the checkpoint's in all four; only the head differs. Each mapped model is written to a
temporary .pdparams and read back, as a run's start checkpoint is.

    .venv/bin/python bench/fold.py --bench data/lmdb/bench --fit data/lmdb/val   # the bundled model
    # -> reports/bench/fold.json {"machine", "model", "model_sha256", "fit": {...}, "benchmarks":
    #    {name: {"count", "checkpoint", "folded", "summed", "fitted"}}, "mean": {...},
    #    "gap": folded - checkpoint, "gap_linear": fitted - checkpoint}
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from harness import Bench, parser  # bench/, on sys.path as the script's folder

ROWS = ("checkpoint", "folded", "summed", "fitted")
DONE_WHEN_GAP = 0.005  # issue 20: the 0-9a-z start within 0.5 point of the checkpoint (mean over the suite)


def read_fit_images(lmdb: Path, n: int) -> np.ndarray:
    """The first ``n`` images of ``lmdb`` as model inputs [n, 3, 32, W], as the trainer reads them."""
    from textrec.charset import Charset
    from textrec.data.dataset import LmdbTextDataset
    from textrec.training.head_fit import fit_images

    ds = LmdbTextDataset(lmdb, Charset.from_file(None))
    try:
        return fit_images(ds, n)
    finally:
        ds.close()


def mapped_checkpoint(model: Path, fold: str, fit: Path | None, n: int, dst: Path) -> tuple[Path, dict]:
    """``model`` initialised into a 0-9a-z model by ``apply_init`` (``fold``; linear: fitted on ``fit`` unless
    None), saved at ``dst``; returns (the file, what init recorded of the head)."""
    from textrec.charset import Charset
    from textrec.hashing import sha256_file
    from textrec.models.checkpoint import inspect_checkpoint, save_weights
    from textrec.models.crnn import build_model
    from textrec.training.init import InitCheckpoint, apply_init

    target = Charset.from_file(None)
    backbone = inspect_checkpoint(model).backbone
    net = build_model(backbone, target.num_classes)
    record = apply_init(net, InitCheckpoint(str(model), model, sha256_file(model)), backbone, target,
                        fit_images=None if fit is None else (lambda: read_fit_images(fit, n)), fold=fold)
    return save_weights(net, dst), record["head"]


def main(argv: list[str] | None = None) -> int:
    from textrec.charset import Charset, dictionary_beside
    from textrec.evaluation.evaluate import evaluate_lmdb
    from textrec.hashing import sha256_file
    from textrec.inference.engines import PaddleEngine
    from textrec.models.checkpoint import inspect_checkpoint
    from textrec.models.pretrained import bundled_checkpoint

    ap = parser(__doc__, "fold")
    ap.add_argument("--model", type=Path, help="a .pdparams with its .dict.txt (default: the bundled model)")
    ap.add_argument("--bench", type=Path, required=True, help="folder of synthetic benchmark LMDBs")
    ap.add_argument("--fit", type=Path, required=True, help="LMDB the head is fitted on (the run's validation)")
    ap.add_argument("--fit-images", type=int, default=512)
    args = ap.parse_args(argv)
    bench = Bench.start()
    benches = sorted(d for d in args.bench.iterdir() if (d / "data.mdb").is_file()) if args.bench.is_dir() else []
    if not benches:
        print(f"no LMDB under {args.bench} (render the synthetic suite: dvc repro prepare)", file=sys.stderr)
        return 2
    model = args.model or bundled_checkpoint("mobilenet_v3")
    info = inspect_checkpoint(model)
    own, zero_z = Charset.from_file(dictionary_beside(model)), Charset.from_file(None)
    with tempfile.TemporaryDirectory(prefix="fold-") as tmp:
        folded, head = mapped_checkpoint(model, "exact", None, 0, Path(tmp) / "folded.pdparams")
        summed, _ = mapped_checkpoint(model, "linear", None, 0, Path(tmp) / "summed.pdparams")
        fitted, fit = mapped_checkpoint(model, "linear", args.fit, args.fit_images, Path(tmp) / "fitted.pdparams")
        engines = {"checkpoint": (PaddleEngine(model, info.num_classes, info.backbone), own)} | {
            name: (PaddleEngine(f, zero_z.num_classes, info.backbone), zero_z)
            for name, f in (("folded", folded), ("summed", summed), ("fitted", fitted))}
        table: dict[str, dict] = {}
        for lmdb in benches:
            row: dict = {}
            for name, (engine, charset) in engines.items():
                res = evaluate_lmdb(engine, lmdb, charset, lmdb.name)
                row[name], row["count"] = res.accuracy, res.count
            table[lmdb.name] = row
            print(lmdb.name, {k: round(v, 4) for k, v in row.items()}, flush=True)
    mean = {r: float(np.mean([t[r] for t in table.values()])) for r in ROWS}
    gap = mean["folded"] - mean["checkpoint"]
    bench.write(args.out, {"model": str(model), "model_sha256": sha256_file(model),
                           "protocol": "DTRB: case-insensitive, 0-9a-z only", "head": head,
                           "fit": {"lmdb": str(args.fit), "images": args.fit_images, "head": fit},
                           "benchmarks": table, "mean": mean, "gap": gap,
                           "gap_linear": mean["fitted"] - mean["checkpoint"],
                           "done_when": {"limit": DONE_WHEN_GAP, "met": abs(gap) <= DONE_WHEN_GAP}})
    print(f"mean DTRB: checkpoint {100 * mean['checkpoint']:.1f}%, folded {100 * mean['folded']:.1f}% "
          f"({100 * gap:+.1f} points), summed {100 * mean['summed']:.1f}%, fitted {100 * mean['fitted']:.1f}% "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
