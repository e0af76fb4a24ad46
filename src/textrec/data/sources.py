"""Labelled crops in the formats users have, into checked DTRB LMDBs: what ``textrec convert`` does, and the
``prepare`` stage for ``data.source: folder``.

    samples, total = open_source("data/own/train/rec_gt_train.txt", "paddleocr")
    result = convert_sources([("rec_gt_train.txt", "paddleocr", None)], "out/train", charset)

Formats (``config.data.SourceFormat``): ``paddleocr`` / ``tsv`` (``path<TAB>label``; PaddleOCR joins its
``data_dir`` and the path: ``images_root``, by default the label file's folder), ``space`` (DTRB gt files),
``icdar`` (``word_1.png, "label"``), ``folder`` (a directory with ``labels.tsv`` and the images) and ``lmdb``
(an LMDB or a tree of them, every record re-checked). Each row is inspected as training will read it
(``manifest.inspect_sample``); bad rows are rejected by reason (``data.reasons``) and listed in the
rejection report and manifest, never dropped silently or replaced.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from multiprocessing.pool import Pool
from pathlib import Path

from textrec.charset import Charset
from textrec.config.data import FolderDataConfig, OwnSet, SourceFormat
from textrec.data.convert import (
    ConvertResult,
    Sample,
    convert_samples,
    inspect_pool,
    output_paths,
    samples_from_label_file,
    samples_from_lmdb,
)
from textrec.data.lmdb_io import find_lmdbs, num_samples

FOLDER_LABELS = "labels.tsv"  # format folder: the label file inside the folder
_LABEL_FORMAT = {"paddleocr": "tsv", "tsv": "tsv", "space": "space", "icdar": "icdar"}


def detect_format(src: str | Path) -> SourceFormat:
    """A directory holding LMDBs is ``lmdb``, one holding labels.tsv is ``folder``, a file ``paddleocr``."""
    src = Path(src)
    if src.is_dir():
        if find_lmdbs(src):
            return "lmdb"
        if (src / FOLDER_LABELS).is_file():
            return "folder"
        raise FileNotFoundError(f"{src}: neither an LMDB (data.mdb) nor a folder with {FOLDER_LABELS}")
    return "paddleocr"


def open_source(src: str | Path, fmt: SourceFormat, images_root: str | Path | None = None
                ) -> tuple[Iterator[Sample], int | None]:
    """The samples of one source and their count if known without reading them (LMDBs)."""
    src = Path(src)
    if fmt == "lmdb":
        found = find_lmdbs(src) if src.is_dir() else []
        if not found:
            raise FileNotFoundError(f"{src}: no LMDB (data.mdb) found")
        samples = itertools.chain.from_iterable(samples_from_lmdb(p) for p in found)
        return samples, sum(map(num_samples, found))
    if fmt == "folder":
        if not (src / FOLDER_LABELS).is_file():
            raise FileNotFoundError(f"{src}: no {FOLDER_LABELS} in it (format folder: the images and a "
                                    f"'path<TAB>label' file {FOLDER_LABELS} relative to the folder)")
        return samples_from_label_file(src / FOLDER_LABELS, "tsv", images_root or src), None
    if not src.is_file():
        raise FileNotFoundError(f"{src}: label file not found")
    if images_root is not None and not Path(images_root).is_dir():
        raise FileNotFoundError(f"{images_root}: images root is not a directory")
    return samples_from_label_file(src, _LABEL_FORMAT[fmt], images_root), None


def convert_sources(sources: Sequence[tuple[str | Path, SourceFormat, str | Path | None]], dst: str | Path,
                    charset: Charset, *, manifest: str | Path | None = None,
                    rejections: str | Path | None = None, processes: int = 2, chunk_size: int = 256,
                    progress: bool = False, pool: Pool | None = None) -> ConvertResult:
    """One LMDB at ``dst`` from every (src, format, images_root) in turn, with its manifest and rejection
    report (default: ``<dst>.parquet`` and ``<dst>.rejections.json`` beside it). Missing sources fail before
    anything is written."""
    dst = Path(dst)
    opened = [open_source(src, fmt, root) for src, fmt, root in sources]
    counts = [n for _, n in opened]
    total = sum(counts) if None not in counts else None  # type: ignore[arg-type]
    default_man, default_rej = output_paths(dst.parent, dst.name)
    return convert_samples(itertools.chain.from_iterable(s for s, _ in opened), dst, manifest or default_man,
                           rejections or default_rej, charset, processes=processes, chunk_size=chunk_size,
                           total=total, description=", ".join(str(src) for src, _, _ in sources),
                           progress=progress, pool=pool)


def symlinked_folders(root: str | Path) -> list[Path]:
    """Folders below ``root`` that are symbolic links, sorted. DVC 3 hashes a directory dependency by walking it
    without following links (``os.walk``), so a linked folder's images are not part of the hash and changing
    them does not re-run ``prepare``; a linked *file* is hashed by its content, and ``root`` itself may be a
    link or lie outside the project (both measured with DVC 3.67)."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):  # followlinks=False: a linked folder is listed, not entered
        found += [Path(dirpath) / d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
    return sorted(found)


def _resolve(root: Path, s: OwnSet) -> tuple[Path, SourceFormat, Path | None]:
    return root / s.src, s.format, None if s.images_root is None else root / s.images_root


def convert_folder(cfg: FolderDataConfig, lmdb_dir: str | Path, manifests_dir: str | Path,
                   charset: Charset, *, processes: int = 2, chunk_size: int = 256, progress: bool = False,
                   pool: Pool | None = None) -> dict[str, ConvertResult]:
    """data.source folder: ``train`` and ``val`` (one LMDB each, from all their sets) and ``bench/<name>``
    per test set, under ``lmdb_dir``, manifests under ``manifests_dir`` as for every other source; in ``pool``
    if given, else in one pool of ``processes`` workers for all of them."""
    if pool is None and processes > 0:
        with inspect_pool(processes) as own:
            return convert_folder(cfg, lmdb_dir, manifests_dir, charset, processes=processes,
                                  chunk_size=chunk_size, progress=progress, pool=own)
    root = Path(cfg.root)
    jobs = [("train", cfg.train), ("val", cfg.val), *((f"bench/{t.name}", (t,)) for t in cfg.test)]
    for _, sets in jobs:  # every source exists before the first conversion starts
        for s in sets:
            open_source(*_resolve(root, s))
    out = {}
    for rel, sets in jobs:
        man, rej = output_paths(manifests_dir, rel)
        out[rel] = convert_sources([_resolve(root, s) for s in sets], Path(lmdb_dir) / rel, charset,
                                   manifest=man, rejections=rej, processes=processes, chunk_size=chunk_size,
                                   progress=progress, pool=pool)
    return out
