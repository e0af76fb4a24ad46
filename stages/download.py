"""DVC stage `download`: fetch every dataset in data.real.datasets into paths.raw (resumable, checksummed).

With data.source: synthetic nothing is fetched. Either way <paths.raw>/downloads.json records what is there.
A dataset without a sha256 is refused unless --allow-missing-checksum is given; the computed hash is then
printed so it can be checked and added to params.yaml.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from textrec.config import load_params
from textrec.data.download import DownloadError, fetch_source


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--allow-missing-checksum", action="store_true",
                    help="download datasets that have no sha256 in params.yaml and print their hash")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="fetch only these datasets")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params)
    real, raw = params.data.real, Path(params.paths.raw)
    raw.mkdir(parents=True, exist_ok=True)
    sources = real.datasets if params.data.source == "real" else ()
    if args.only:
        unknown = set(args.only) - {s.name for s in real.datasets}
        if unknown:
            print(f"error: unknown dataset(s) {sorted(unknown)}", file=sys.stderr)
            return 2
        sources = tuple(s for s in real.datasets if s.name in args.only)
    record = []
    for source in sources:
        try:
            r = fetch_source(source, raw, real, allow_missing_checksum=args.allow_missing_checksum,
                             progress=not args.no_progress)
        except DownloadError as e:
            print(f"error: {source.name}: {e}", file=sys.stderr)
            return 1
        print(f"{r.name}: {'already present' if r.skipped else 'downloaded'} -> {r.path} (sha256 {r.sha256})")
        if r.checksum_was_missing:
            print(f"  NO CHECKSUM CONFIGURED for {r.name}: check the file, then add to params.yaml under "
                  f"data.real.datasets (name: {r.name}):\n    sha256: {r.sha256}")
        record.append({"name": r.name, "path": str(r.path), "sha256": r.sha256,
                       "checksum_configured": not r.checksum_was_missing})
    if not sources:
        print(f"data.source is {params.data.source!r} and nothing to download; recorded in {raw}/downloads.json")
    (raw / "downloads.json").write_text(json.dumps({"source": params.data.source, "datasets": record},
                                                   indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
