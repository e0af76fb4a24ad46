"""Where a model fails on real photos, by style: accuracy per bin of measurable attributes of each crop and
its label, the bins holding more than their share of the errors, and the character edits behind the errors.

Reads the real-dev folders as bench/real_dev.py does (same conversion, same accepted images), runs --model
(default: the bundled model) and, as a yardstick, PaddleOCR's PP-OCRv3 English recognizer (bench/
ppocr_peer.py): a bin where the peer reads well and we do not is a style our synthetic data misses; a bin
where both fail is hard in itself. Attributes (textrec.evaluation.styles): height, sharpness (variance of
the Laplacian at model height), contrast, width per character (tight / loose crops, rotated or vertical
text), portrait crops, skew of the ink, and of the label: case style, punctuation, spaces, letters/digits,
length. Correctness is the DTRB protocol (as the benchmark counts it); edit operations are counted on the
DTRB-normalised strings. Also writes the label statistics of real-dev (case styles, digits, punctuation and
which characters): the proportions of real scene text for a synthetic word mix.

    .venv/bin/python bench/failures.py          # -> reports/bench/failures.json (+ failures.png)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder
from real_dev import (  # bench/, on sys.path as the script's folder
    DEFAULT_DATA,
    PROTOCOLS,
    RealSet,
    exact_match,
    file_sha256,
    load_ours,
    load_real_sets,
    predict_ours,
    predict_peer,
    shown_path,
)

from textrec.config import BACKBONES


def records_of(rs: RealSet, ours: list[tuple[str, float]], peer: list[tuple[str, float]] | None) -> list[dict]:
    """One record per image: its attribute bins, and whether we (and the peer) read it (DTRB, exact)."""
    from textrec.evaluation.metrics import dtrb_normalize
    from textrec.evaluation.styles import measure_image, style_bins
    from textrec.preprocess import decode_image

    out = []
    for i, (data, label, (text, _)) in enumerate(zip(rs.images, rs.labels, ours, strict=True)):
        gt = dtrb_normalize(label)
        rec = {"bins": style_bins(measure_image(decode_image(data)), label), "label": gt,
               "prediction": dtrb_normalize(text), "correct": dtrb_normalize(text) == gt,
               "exact": exact_match(text, label)}
        if peer is not None:
            rec["peer_correct"] = dtrb_normalize(peer[i][0]) == gt
        out.append(rec)
    return out


def set_report(rs: RealSet, records: list[dict], top: int) -> dict:
    from textrec.evaluation.breakdown import bin_table, error_types, failure_ranking
    from textrec.evaluation.styles import attribute_orders, label_statistics

    tables = {a: bin_table(records, a, order) for a, order in attribute_orders().items()}
    n = len(records)
    wrong = [(r["label"], r["prediction"]) for r in records if not r["correct"]]
    peer = [r["peer_correct"] for r in records if "peer_correct" in r]
    return {"name": rs.name, "count": n, "accuracy": round(sum(r["correct"] for r in records) / n, 4),
            "exact_accuracy": round(sum(r["exact"] for r in records) / n, 4),
            "peer_accuracy": round(sum(peer) / n, 4) if peer else None,
            "ranking": failure_ranking(tables, n, top=top),
            "error_types": error_types(wrong, top=20), "attributes": tables,
            "label_statistics": label_statistics(rs.labels)}


def headline(row: dict) -> str:
    """One line of the ranking: the bin, its share of images and of errors, our and the peer's accuracy."""
    peer = f", peer {row['peer_accuracy']:.0%}" if "peer_accuracy" in row else ""
    return (f"{row['attribute']} {row['bin']}: {row['share']:.0%} of images, {row['error_share']:.0%} of errors "
            f"(x{row['error_lift']:.2f}, {row['excess_errors']:+d} errors), accuracy {row['accuracy']:.0%}{peer}")


def chart(sets: list[dict], out: Path) -> None:
    """Accuracy per bin of each attribute, ours against the peer, one panel per attribute and set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attrs = list(sets[0]["attributes"])
    fig, axes = plt.subplots(len(attrs), len(sets), figsize=(5.2 * len(sets), 1.55 * len(attrs)), squeeze=False)
    for col, s in enumerate(sets):
        for row, attr in enumerate(attrs):
            ax, table = axes[row][col], s["attributes"][attr]
            y = np.arange(len(table))
            ax.barh(y + 0.2, [t["accuracy"] for t in table], 0.4, label="ours", color="#c44e52")
            if all("peer_accuracy" in t for t in table):
                ax.barh(y - 0.2, [t["peer_accuracy"] for t in table], 0.4, label="PP-OCRv3", color="#8c8c8c")
            ax.set_yticks(y, [f"{t['bin']} ({t['share']:.0%})" for t in table], fontsize=7)
            ax.set_xlim(0, 1)
            ax.tick_params(axis="x", labelsize=7)
            ax.invert_yaxis()
            ax.set_title(f"{s['name']}: {attr}", fontsize=8)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=60)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "failures")
    ap.add_argument("--model", default=None, help=".pdparams, inference directory or .onnx (default: the bundle)")
    ap.add_argument("--dict", default=None, help="the model's dictionary file (default: the model's own)")
    ap.add_argument("--backbone", default=None, choices=BACKBONES)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--no-peer", action="store_true", help="leave out the PP-OCRv3 yardstick")
    ap.add_argument("--top", type=int, default=10, help="bins in each set's ranking")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--chart", type=Path, default=REPO / "reports" / "bench" / "failures.png",
                    help="accuracy per bin as a PNG ('' for none); no real image goes into it")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: real development data not found", file=sys.stderr)
        return 2
    from ppocr_peer import PeerMissing, PPOCRv3English

    from textrec.evaluation.styles import label_statistics

    try:
        peer = None if args.no_peer else PPOCRv3English()
    except PeerMissing as e:
        print(e, file=sys.stderr)
        return 2
    rec = load_ours(args)
    bench, t0 = Bench.start(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="textrec-failures-") as tmp:
        real_sets = load_real_sets(args.data, Path(tmp), args.processes)
    sets = []
    for rs in real_sets:
        ours = predict_ours(rec, rs.images)
        theirs = predict_peer(peer, rs.images) if peer else None
        sets.append(set_report(rs, records_of(rs, ours, theirs), args.top))
    result = {
        "what_the_bundle_fails_on": {s["name"]: [headline(r) for r in s["ranking"]] for s in sets},
        "model": shown_path(rec.model), "model_sha256": file_sha256(rec.model),
        "peer": peer.describe() if peer else None, "protocol": PROTOCOLS["dtrb"],
        "ranking_rule": "bins with >= 2% of the set and >= 20 images, by error_lift = share of errors / share of "
                        "images; excess_errors = errors beyond the bin's share of the set's errors",
        "label_statistics_note": "labels as annotated, the accepted images' (as scored). IIIT5K-Words labels "
                                 "hold letters and digits only (its annotation leaves punctuation out): "
                                 "punctuation proportions of real scene text are IC15's",
        "label_statistics": {"all": label_statistics(lab for rs in real_sets for lab in rs.labels),
                             **{s["name"]: s.pop("label_statistics") for s in sets}},
        "sets": sets, "seconds": round(time.perf_counter() - t0, 1)}
    bench.write(args.out, result)
    if str(args.chart) not in ("", "."):
        chart(sets, args.chart)
    for name, lines in result["what_the_bundle_fails_on"].items():
        print(f"{name}:\n  " + "\n  ".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
