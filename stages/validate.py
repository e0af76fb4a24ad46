"""DVC stage `validate`: the great-expectations gate over every dataset the pipeline produced.

Validates each manifest under paths.manifests and each LMDB under paths.lmdb that has none (the synthetic
ones), building its manifest on the fly. Writes <reports>/validation.json and HTML data docs under
<reports>/data_docs; exits non-zero, naming the failed expectations and examples, if any manifest fails.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from textrec.config import load_params
from textrec.data.convert import manifest_from_lmdb
from textrec.data.lmdb_io import find_lmdbs
from textrec.data.manifest import read_manifest
from textrec.data.validate import DataValidationError, check, validate_manifests, write_summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args(argv)

    params = load_params(args.params)
    paths, charset = params.paths, params.charset.build()
    manifests_dir, lmdb_dir = Path(paths.manifests), Path(paths.lmdb)
    frames = {}
    if manifests_dir.is_dir():
        for p in sorted(manifests_dir.rglob("*.parquet")):
            frames[p.relative_to(manifests_dir).with_suffix("").as_posix()] = read_manifest(p)
    if lmdb_dir.is_dir():
        for p in find_lmdbs(lmdb_dir):
            name = p.relative_to(lmdb_dir).as_posix()
            if name not in frames:
                frames[name] = manifest_from_lmdb(p, charset, processes=params.data.real.processes)
    if not frames:
        print(f"error: nothing to validate: no manifest under {manifests_dir} and no LMDB under {lmdb_dir}",
              file=sys.stderr)
        return 1
    docs = Path(paths.reports) / "data_docs"
    shutil.rmtree(docs, ignore_errors=True)  # only this run's results, not every past run's pages
    reports = validate_manifests(frames, params.data.validation, charset, docs)
    write_summary(reports, Path(paths.reports) / "validation.json")
    for r in reports:
        print(f"{'PASS' if r.success else 'FAIL'} {r.name}: {r.ok_rows}/{r.rows} rows kept, "
              f"rejected {r.rejected_fraction:.2%}, duplicates {r.duplicate_fraction:.2%}")
    try:
        check(reports)
    except DataValidationError as e:
        print(f"error: {e}\nData docs: {docs / 'index.html'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
