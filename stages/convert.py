"""DVC stage `convert`: turn downloaded real data (paths.raw) into validated LMDBs under paths.lmdb.

Each data.real.convert entry gives a source (LMDB or label file) and a destination; every output LMDB gets
a Parquet manifest and a rejection report under paths.manifests. A summary goes to <reports>/convert.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from textrec.config import load_params
from textrec.data.convert import convert_spec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params)
    paths, real = params.paths, params.data.real
    if not real.convert:
        print("error: data.real.convert is empty: nothing to convert", file=sys.stderr)
        return 1
    charset = params.charset.build()
    summary = {}
    for spec in real.convert:
        try:
            results = convert_spec(spec, paths.raw, paths.lmdb, paths.manifests, charset, real,
                                   progress=not args.no_progress)
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        for r in results:
            rel = r.dst.relative_to(paths.lmdb).as_posix()
            summary[rel] = {"samples": r.samples, "written": r.written, "rejected": r.counts,
                            "seconds": round(r.seconds, 3), "images_per_second": round(r.images_per_second, 1)}
            print(f"{rel}: wrote {r.written} of {r.samples} samples ({r.images_per_second:.0f} img/s); "
                  f"rejected {r.counts or 'none'}; manifest {r.manifest}")
    out = Path(paths.reports) / "convert.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
