"""DVC stage `validate`: the great-expectations gate over every dataset the pipeline produced.

Validates each LMDB under paths.lmdb from its records (every image decoded again), held against the
manifest prepare wrote under paths.manifests: a record changed since then fails the gate by its key, and the
inputs prepare rejected still count. Writes <reports>/validation.json and HTML data docs under
<reports>/data_docs; exits non-zero, naming the failed expectations and examples, if any manifest fails.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from textrec.data.validate import (
    DataValidationError,
    check,
    lmdb_manifests,
    validate_manifests,
    write_summary,
)
from textrec.preflight import load_stage_params, require_writable


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args(argv)

    params = load_stage_params("validate", args.params)
    paths, charset = params.paths, params.charset.build()
    docs = paths.data_docs()
    require_writable("validate", paths.reports, docs)
    manifests_dir, lmdb_dir = Path(paths.manifests), Path(paths.lmdb)
    frames, mismatches = lmdb_manifests(lmdb_dir, manifests_dir, charset, params.data.real.processes,
                                        params.data.validation.max_examples)
    if not frames:
        print(f"error: nothing to validate: no manifest under {manifests_dir} and no LMDB under {lmdb_dir}",
              file=sys.stderr)
        return 1
    shutil.rmtree(docs, ignore_errors=True)  # only this run's results, not every past run's pages
    reports = validate_manifests(frames, params.data.validation, charset, docs, mismatches)
    write_summary(reports, paths.validation_report())
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
