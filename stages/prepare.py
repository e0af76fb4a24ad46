"""DVC stage `prepare`: build the LMDBs the recognizer reads, from either source, with a manifest each.

- data.source synthetic: render the embedded dataset (train, val, one LMDB per eval.benchmarks entry)
  and write each LMDB's manifest (the synthetic benchmarks are the ones listed in eval.benchmarks).
- data.source real: convert the downloads under paths.raw as data.real.convert lists them.
- data.source folder: convert your own label files / LMDBs under data.folder.root (train, val, a benchmark
  per test set), then render the synthetic benchmarks among eval.benchmarks (what a fine-tuned model forgets).
Outputs: <paths.lmdb>/{train,val,bench/<name>}, <paths.manifests>/**.parquet, <paths.reports>/prepare.json.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from textrec.artifacts import ConvertedLmdb, PrepareSummary, SynthSummary, from_json
from textrec.config import Params
from textrec.data.convert import ConvertResult, convert_spec, inspect_pool, manifest_from_lmdb, output_paths
from textrec.preflight import load_stage_params, require_writable
from textrec.progress import on_terminal


def converted(r: ConvertResult) -> ConvertedLmdb:
    return ConvertedLmdb(samples=r.samples, written=r.written, rejected=r.counts, seconds=round(r.seconds, 3),
                         images_per_second=round(r.images_per_second, 1), rejections=r.rejections.as_posix())


def prepare_synthetic(params: Params, benchmarks: list[str] | None = None, progress: bool = False) -> SynthSummary:
    """Render train, val and eval.benchmarks; with ``benchmarks``, only those (no train/val)."""
    from textrec.data.synth.suite import write_all

    cfg = params.data.synth
    lmdb = Path(params.paths.lmdb)
    summary = write_all(cfg, lmdb, params.eval.benchmarks if benchmarks is None else benchmarks,
                        train_val=benchmarks is None, progress=progress)
    charset = params.charset.build()
    rendered = [lmdb / s["path"] for s in summary["splits"].values()]
    with inspect_pool(cfg.processes) as pool:  # one pool for every LMDB: spawned workers start once
        for path in rendered:
            rel = path.relative_to(lmdb).as_posix()
            manifest, _ = output_paths(params.paths.manifests, rel)
            manifest.parent.mkdir(parents=True, exist_ok=True)
            manifest_from_lmdb(path, charset, cfg.processes, pool=pool, progress=progress).to_parquet(
                manifest, index=False)
    return from_json(SynthSummary, summary)  # the renderer's summary, checked as the file's field


def refuse_linked_folders(root: str) -> None:
    """Your data is a DVC dependency: a linked folder under it would hide its images from DVC's hash."""
    from textrec.data.sources import symlinked_folders

    links = symlinked_folders(root)
    if links:
        link, target = links[0], links[0].resolve()
        more = f" (and {len(links) - 1} more linked folder(s))" if len(links) > 1 else ""
        raise ValueError(f"{link} is a link to the folder {target}{more}: DVC does not look inside linked "
                         f"folders, so changed images there would not re-run prepare; put the files themselves "
                         f"there (rm {link} && cp -rl {target} {link}: hard links, no extra space; cp -r across "
                         f"filesystems), or set data.folder.root to a real folder that holds all your data")


def prepare_folder(params: Params, progress: bool) -> PrepareSummary:
    from textrec.data.sources import convert_folder

    folder, real = params.data.folder, params.data.real
    refuse_linked_folders(folder.root)
    results = convert_folder(folder, params.paths.lmdb, params.paths.manifests, params.charset.build(),
                             processes=real.processes, chunk_size=real.chunk_size, progress=progress)
    for rel, r in results.items():
        print(f"{rel}: wrote {r.written} of {r.samples}; rejected {r.counts or 'none'} "
              f"(listed in {r.rejections})")
        if r.written == 0:
            raise ValueError(f"{rel}: no usable row in {r.samples}; see {r.rejections}")
    synthetic = [b for b in params.eval.benchmarks if b not in params.own_benchmarks()]
    # the same renders as the synthetic profiles' suite (bench_seed): comparable numbers
    return PrepareSummary("folder", {rel: converted(r) for rel, r in results.items()},
                          prepare_synthetic(params, synthetic, progress) if synthetic else None)


def prepare_real(params: Params, progress: bool) -> PrepareSummary:
    paths, real = params.paths, params.data.real
    if not real.convert:
        raise ValueError("data.real.convert is empty: list which downloads become which LMDBs")
    charset = params.charset.build()
    summary: dict[str, ConvertedLmdb] = {}
    with inspect_pool(real.processes) as pool:  # one pool for every spec: spawned workers start once
        for spec in real.convert:
            for r in convert_spec(spec, paths.raw, paths.lmdb, paths.manifests, charset, real, progress,
                                  pool):
                rel = r.dst.relative_to(paths.lmdb).as_posix()
                summary[rel] = converted(r)
                print(f"{rel}: wrote {r.written} of {r.samples} ({r.images_per_second:.0f} img/s); "
                      f"rejected {r.counts or 'none'}")
    return PrepareSummary("real", summary)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = load_stage_params("prepare", args.params)
    for d in (params.paths.lmdb, params.paths.manifests):  # outputs are rebuilt whole, never mixed
        shutil.rmtree(d, ignore_errors=True)
    require_writable("prepare", params.paths.lmdb, params.paths.manifests, params.paths.reports)
    progress = on_terminal(args.no_progress)  # bars on a terminal only, never into a captured log
    try:
        if params.data.source == "synthetic":
            summary = PrepareSummary("synthetic", {}, prepare_synthetic(params, progress=progress))
        elif params.data.source == "folder":
            summary = prepare_folder(params, progress)
        else:
            summary = prepare_real(params, progress)
    except (FileNotFoundError, ValueError) as e:
        print(f"prepare: error: {e}", file=sys.stderr)
        return 1
    summary.write(PrepareSummary.path(params.paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
