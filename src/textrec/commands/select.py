"""``textrec select`` (logged images to label, least confident first) and ``textrec add-labels`` (a labelled
batch into your own training data)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def cmd_select(args: argparse.Namespace) -> int:
    from textrec.config import load_params
    from textrec.monitoring.monitor import parse_since
    from textrec.monitoring.select import AUDIT_DIR, candidates, choose, confident, mark_selected, write_batch
    from textrec.monitoring.store import open_log

    params = load_params(args.params)
    log = Path(args.log) if args.log else Path(args.root) / params.monitoring.log.path
    out = Path(args.out) if args.out else log.parent / "batches" / time.strftime("batch-%Y%m%d-%H%M%S")
    con = open_log(log)
    window = {"model": args.model, "version": args.version, "since": parse_since(args.since) if args.since else None,
              "until": parse_since(args.until) if args.until else None}
    dedup = {"max_distance": params.monitoring.dhash_distance}
    try:  # the audit first, at random from the whole window: then the hard images from the rest
        pool = candidates(con, **window)
        # a window too small for both: the hard images keep their n, the audit gets what is left
        n_audit = min(args.audit, max(0, len(pool) - args.n))
        audit = choose(con, pool, n_audit, order="random", seed=args.seed + 1, **dedup) if n_audit else []
        chosen = choose(con, pool, args.n, order=args.order, seed=args.seed, exclude=audit, **dedup)
        if not chosen:
            raise ValueError(f"no logged image to select in {log} (none kept, all selected before, or none in the "
                             "window): log with images (monitoring.log.images: true)")
        auto = confident(con, pool, args.auto_accept, chosen + audit) if args.auto_accept is not None else []
        batch = write_batch(con, chosen, out, auto, audit)
    finally:
        con.close()
    mark_selected(log, chosen + audit + auto, batch.name)
    worst, best = chosen[0].confidence, chosen[-1].confidence
    print(f"{len(chosen)} image(s) -> {out} (confidence {min(worst, best):.3f}-{max(worst, best):.3f}"
          f"{'' if len(chosen) == args.n else f'; fewer than {args.n}: no more distinct images'})")
    if args.audit:
        short = f" (of {args.audit} asked: the window is small)" if n_audit < args.audit else ""
        print(f"{len(audit)} more at random{short} ({out / AUDIT_DIR}, in rec_gt_batch.txt too): the audit, to "
              "label with the rest; add-labels makes it the validation set")
    if args.auto_accept is not None:
        print(f"{len(auto)} more read with confidence >= {args.auto_accept:g}: accepted as read ({out / 'auto'}, "
              "rec_gt_auto.txt; add-labels adds them, --no-auto leaves them out)")
    print(f"label them: correct {out / 'rec_gt_batch.txt'} (### = unreadable), or import "
          f"{out / 'label_studio.json'} into Label Studio; then textrec add-labels {out}")
    return 0


def cmd_add_labels(args: argparse.Namespace) -> int:
    from textrec.config import load_params
    from textrec.monitoring.labels import add_to_own, read_labels

    params = load_params(args.params)
    own = Path(args.own) if args.own else Path(args.root) / params.data.folder.root
    batch = Path(args.batch)
    labels = read_labels(batch, Path(args.labels) if args.labels else None, auto=not args.no_auto)
    counts = add_to_own(batch, labels, own, args.val_fraction)
    print(f"{batch.name}: {counts['train']} row(s) -> {own / 'rec_gt_train.txt'}, {counts['val']} -> "
          f"{own / 'rec_gt_val.txt'}, {counts['unreadable']} unreadable left out; images in {own / 'loop' / batch.name}")
    print("next: the finetune profile (textrec profile finetune && dvc repro), textrec track && textrec register, "
          "textrec promote")
    return 0


def register(sub) -> None:
    sp = sub.add_parser("select", help="logged images to label: least confident first, near-duplicates "
                        "removed, the model's reading pre-filled (PaddleOCR label file + Label Studio tasks)")
    sp.add_argument("--n", type=int, required=True, help="how many images")
    sp.add_argument("--params", default="params.yaml", help="its monitoring section: the log, the batch settings")
    sp.add_argument("--root", default=".", help="project root (relative paths)")
    sp.add_argument("--log", metavar="DB", help="the prediction log (default: monitoring.log.path)")
    sp.add_argument("--model", help="only predictions of this model")
    sp.add_argument("--version", help="only predictions of this version")
    sp.add_argument("--since", help="only predictions since then (30m, 2h, 7d or an ISO time)")
    sp.add_argument("--until", help="only predictions before then (a duration ago or an ISO time)")
    sp.add_argument("--order", choices=("confidence", "random"), default="confidence",
                    help="confidence: least confident first (default); random: a seeded random pick (a baseline)")
    sp.add_argument("--seed", type=int, default=0, help="of --order random")
    sp.add_argument("--auto-accept", type=float, metavar="CONFIDENCE", help="also take every logged image read "
                    "with at least this calibrated confidence, its reading as label (the model's auto-accept "
                    "threshold: reports/calibration/<backbone>.json validation.threshold)")
    sp.add_argument("--audit", type=int, default=0, metavar="K",
                    help="also K images at random from the window, labelled with the rest and kept for validation "
                         "(the fine-tuned model's calibration and reference: traffic as it is); default 0")
    sp.add_argument("--out", help="the batch folder (default: batches/batch-<time> beside the log)")
    sp.set_defaults(func=cmd_select)

    sp = sub.add_parser("add-labels", help="add a labelled batch to your own training data (data.folder.root)")
    sp.add_argument("batch", help="the folder textrec select wrote")
    sp.add_argument("--labels", help="the labels: a PaddleOCR label file or Label Studio's JSON export (default: "
                    "the batch's rec_gt_batch.txt as corrected)")
    sp.add_argument("--params", default="params.yaml", help="its data.folder section: where your own data is")
    sp.add_argument("--root", default=".", help="project root (relative paths)")
    sp.add_argument("--own", help="default: data.folder.root")
    sp.add_argument("--val-fraction", type=float, default=0.1, help="share of the human-labelled rows that go to "
                    "validation when the batch has no audit sample (select --audit: it validates, the rest "
                    "trains); accepted readings only train")
    sp.add_argument("--no-auto", action="store_true", help="leave out the batch's auto-accepted readings")
    sp.set_defaults(func=cmd_add_labels)
