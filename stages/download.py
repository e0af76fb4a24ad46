"""DVC stage `download`: fetch every dataset in data.real.datasets into paths.raw (resumable, checksummed).

With data.source: synthetic nothing is fetched. Either way <paths.raw>/downloads.json records what is there.
Archives download into paths.downloads, outside this stage's DVC output, so an interrupted download resumes
on the next run (`dvc repro` deletes <paths.raw> first). Any failure ends in one `error:` line.
A dataset without a sha256 is refused unless --allow-missing-checksum is given; the computed hash is then
printed so it can be checked and added to params.yaml.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from textrec.data.archive import ArchiveError
from textrec.data.download import DownloadError, fetch_source
from textrec.preflight import load_stage_params, require_writable
from textrec.training.init import fetch_init_releases, init_releases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--allow-missing-checksum", action="store_true",
                    help="download datasets that have no sha256 in params.yaml and print their hash")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="fetch only these datasets")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_stage_params("download", args.params)
    real, raw = params.data.real, Path(params.paths.raw)
    sources = real.datasets if params.data.source == "real" else ()
    if args.only:
        unknown = set(args.only) - {s.name for s in real.datasets} - set(init_releases(params))
        if unknown:
            print(f"error: unknown dataset(s) {sorted(unknown)}", file=sys.stderr)
            return 2
        sources = tuple(s for s in real.datasets if s.name in args.only)
    require_writable("download", raw, *([params.paths.downloads] if sources or init_releases(params) else []))
    record = []
    for source in sources:
        try:
            r = fetch_source(source, raw, real, archive_dir=params.paths.downloads,
                             allow_missing_checksum=args.allow_missing_checksum, progress=not args.no_progress)
        except (DownloadError, ArchiveError) as e:
            print(f"error: {source.name}: {e}", file=sys.stderr)
            return 1
        print(f"{r.name}: {'already present' if r.skipped else 'downloaded'} -> {r.path} (sha256 {r.sha256})")
        if r.checksum_was_missing:
            print(f"  NO CHECKSUM CONFIGURED for {r.name}: check the file, then add to params.yaml under "
                  f"data.real.datasets (name: {r.name}):\n    sha256: {r.sha256}")
        record.append({"name": r.name, "path": str(r.path), "sha256": r.sha256,
                       "checksum_configured": not r.checksum_was_missing})
    try:  # PaddleOCR's release archive for each recipe with init: paddleocr (training/init.py)
        inits = fetch_init_releases(params, allow_missing_checksum=args.allow_missing_checksum,
                                    progress=not args.no_progress, only=set(args.only) if args.only else None)
    except (DownloadError, ArchiveError, FileNotFoundError) as e:
        print(f"error: init: {e}", file=sys.stderr)
        return 1
    for bb, r in inits:
        print(f"{r.name}: {'already present' if r.skipped else 'downloaded'} -> {r.path} (sha256 {r.sha256})")
        if r.checksum_was_missing:
            print(f"  NO CHECKSUM CONFIGURED for {r.name}: check the file, then add to params.yaml under "
                  f"train.{bb}:\n    init_sha256: {r.sha256}")
    if not sources and not inits:
        print(f"data.source is {params.data.source!r} and nothing to download; recorded in {raw}/downloads.json")
    releases = [{"name": r.name, "backbone": bb, "path": str(r.path), "sha256": r.sha256,
                 "checksum_configured": not r.checksum_was_missing} for bb, r in inits]
    (raw / "downloads.json").write_text(json.dumps({"source": params.data.source, "datasets": record,
                                                    "init_releases": releases}, indent=2) + "\n",
                                        encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
