"""``textrec convert SRC --out LMDB``: labelled crops (PaddleOCR label file, folder + labels.tsv, ICDAR gt,
an LMDB tree) into one checked DTRB LMDB, with a manifest and a rejection report beside it.

    textrec convert train_data/rec/rec_gt_train.txt --out data/own/train      # PaddleOCR's layout
    textrec convert crops/ --out data/own/test                                # crops/labels.tsv + images
    textrec convert gt.txt --format icdar --out ic15_test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

FORMATS = ("paddleocr", "tsv", "space", "icdar", "folder", "lmdb")  # config.data.SourceFormat
EXAMPLES = 3  # rejected rows quoted per reason; the report lists them all


def cmd_convert(args: argparse.Namespace) -> int:
    from textrec.charset import Charset
    from textrec.data.sources import convert_sources, detect_format

    fmt = args.format or detect_format(args.src)
    charset = Charset.from_file(args.dict, drop_unknown=args.drop_unknown,
                                max_text_length=args.max_text_length)
    out = Path(args.out)
    r = convert_sources([(args.src, fmt, args.images_root)], out, charset, processes=args.processes,
                        progress=not args.no_progress and sys.stderr.isatty())
    report = json.loads(r.rejections.read_text(encoding="utf-8"))
    print(f"{out}: {r.written} of {r.samples} rows accepted, {r.samples - r.written} rejected (format {fmt})")
    for reason, n in report["counts"].items():
        shown = ", ".join(report["items"][reason][:EXAMPLES])
        print(f"  {reason}: {n}  e.g. {shown}")
    blank = report["blank_lines"]
    if blank["count"]:  # not rows: a line-numbered list, so a record lost to an emptied line can be found
        print(f"  blank lines (no record, not counted as rows): {blank['count']}  at "
              f"{', '.join(blank['lines'][:EXAMPLES])}{', ...' if blank['count'] > EXAMPLES else ''}")
    print(f"rejection report (every rejected row, by reason): {r.rejections}")
    print(f"manifest (every row: source, label, status, size): {r.manifest}")
    if r.written == 0:
        hint = ""
        counts = report["counts"]
        with_path = r.samples - counts.get("unparseable_line", 0)
        if with_path and counts.get("missing_file") == with_path and fmt not in ("lmdb", "folder"):
            hint = (" None of the images exists: are the paths relative to another folder (PaddleOCR's "
                    "data_dir)? Pass it as --images-root.")
        print(f"textrec convert: error: no usable row in {args.src}.{hint}", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    sp = sub.add_parser("convert", help="labelled crops (PaddleOCR, folder, ICDAR, LMDB) -> a checked LMDB",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("src", help="a label file, a folder with labels.tsv, or an LMDB (tree)")
    sp.add_argument("--out", required=True, help="the LMDB to write (replaced atomically)")
    sp.add_argument("--format", choices=FORMATS, default=None,
                    help="default: lmdb or folder for a directory, paddleocr ('path<TAB>label') for a file")
    sp.add_argument("--images-root", default=None,
                    help="label files: the folder their image paths are relative to (PaddleOCR's data_dir); "
                         "default: the label file's folder")
    sp.add_argument("--processes", type=int, default=2, help="decode workers (0: in this process)")
    sp.add_argument("--dict", default=None, help="dictionary, one character per line (default: 0-9a-z)")
    sp.add_argument("--max-text-length", type=int, default=25,
                    help="longer labels are rejected as too_long (default: %(default)s)")
    sp.add_argument("--drop-unknown", action="store_true",
                    help="drop characters outside the dictionary from labels (the DTRB rule, "
                         "charset.drop_unknown) instead of rejecting the row as unknown_chars")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar (there is none off a terminal)")
    sp.set_defaults(func=cmd_convert)
