"""DVC stage `prepare`: build the LMDBs the recognizer reads, from either source, with a manifest each.

- data.source synthetic: render the embedded dataset (train, val, one LMDB per eval.benchmarks entry)
  and write each LMDB's manifest (the synthetic benchmarks are the ones listed in eval.benchmarks).
- data.source real: convert the downloads under paths.raw as data.real.convert lists them.
Outputs: <paths.lmdb>/{train,val,bench/<name>}, <paths.manifests>/**.parquet, <paths.reports>/prepare.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from textrec.config import Params, load_params
from textrec.data.convert import convert_spec, manifest_from_lmdb, output_paths
from textrec.data.lmdb_io import find_lmdbs


def prepare_synthetic(params: Params) -> dict:
    from textrec.data.synth.suite import write_all

    cfg = params.data.synth
    lmdb = Path(params.paths.lmdb)
    summary = write_all(cfg, lmdb, params.eval.benchmarks)
    charset = params.charset.build()
    for path in find_lmdbs(lmdb):
        rel = path.relative_to(lmdb).as_posix()
        manifest, _ = output_paths(params.paths.manifests, rel)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest_from_lmdb(path, charset, processes=cfg.processes).to_parquet(manifest, index=False)
    return summary


def prepare_real(params: Params, progress: bool) -> dict:
    paths, real = params.paths, params.data.real
    if not real.convert:
        raise ValueError("data.real.convert is empty: list which downloads become which LMDBs")
    charset = params.charset.build()
    summary = {}
    for spec in real.convert:
        for r in convert_spec(spec, paths.raw, paths.lmdb, paths.manifests, charset, real, progress=progress):
            rel = r.dst.relative_to(paths.lmdb).as_posix()
            summary[rel] = {"samples": r.samples, "written": r.written, "rejected": r.counts,
                            "seconds": round(r.seconds, 3), "images_per_second": round(r.images_per_second, 1)}
            print(f"{rel}: wrote {r.written} of {r.samples} ({r.images_per_second:.0f} img/s); "
                  f"rejected {r.counts or 'none'}")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = load_params(args.params)
    for d in (params.paths.lmdb, params.paths.manifests):  # outputs are rebuilt whole, never mixed
        shutil.rmtree(d, ignore_errors=True)
    try:
        if params.data.source == "synthetic":
            summary = prepare_synthetic(params)
        else:
            summary = prepare_real(params, progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as e:
        print(f"prepare: error: {e}", file=sys.stderr)
        return 1
    out = Path(params.paths.reports) / "prepare.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"source": params.data.source, **summary}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
