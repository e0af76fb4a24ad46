"""Conversion of downloaded data into validated, normalised LMDBs with a manifest and a rejection report.

Inputs: an image folder with a label file (tsv / space / auto / icdar, see ``labels.py``) or an existing
LMDB (re-validated, labels normalised). The main process reads bytes and writes; a pool of workers decodes
every image and encodes every label (``manifest.inspect_sample``: the record check training uses). Work is sent in chunks with a bounded
number in flight, and results come back in input order, so memory stays flat for millions of images.
Images that decode are stored with their original bytes (never re-encoded); labels are stored normalised.

The workers are spawned, never forked: the caller may already run threads (paddle, OpenCV, ONNX Runtime, a
Prefect worker, a ThreadPoolExecutor), and a forked child inherits their locks without the threads that would
release them; it can then block forever (issue 10). Spawning costs ~0.6 s per pool, so callers converting
several LMDBs share one ``inspect_pool``. (Scripts need the usual ``if __name__ == "__main__"`` guard.)
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path

from textrec.charset import Charset
from textrec.config.data import ConvertSpec, RealDataConfig
from textrec.data.labels import LabelFormat, iter_label_file
from textrec.data.lmdb_io import LmdbWriter, find_lmdbs, image_key, iter_records, num_samples
from textrec.data.manifest import COLUMNS, STATUS_OK, Inspection, ManifestWriter, Rejections, inspect_sample
from textrec.data.records import label_text
from textrec.progress import track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One input record as read by the main process."""

    source: str  # file path as written in the label file, or "<lmdb name>#<index>"
    label: str | bytes | None  # bytes as an LMDB stores them (the record check decodes them)
    data: bytes | None  # None: the image is missing (reason ``missing``)
    missing: str = "missing_file"
    error: str | None = None  # the label-file line could not be parsed
    blank: bool = False  # an empty label-file line: no record, counted apart (``BlankLines``)


@dataclass(frozen=True)
class ConvertResult:
    dst: Path
    manifest: Path
    rejections: Path
    samples: int
    written: int
    counts: dict[str, int]  # rejections per reason
    seconds: float
    blank_lines: int = 0  # empty label-file lines (not samples, not rejections; listed in the report)

    @property
    def images_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BlankLines:
    """Empty lines of the label files: not records, so neither samples nor rejections (a trailing blank line
    must not fail the validation gate), but counted and listed in the rejection report, so a record lost to
    an emptied line is visible."""

    max_items: int
    count: int = 0
    lines: list[str] = field(default_factory=list)  # "<label file>:<line number>", the first max_items

    def add(self, where: str) -> None:
        self.count += 1
        if len(self.lines) < self.max_items:
            self.lines.append(where)

    def skip(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        """The samples without the blank lines, which are counted here."""
        for s in samples:
            if s.blank:
                self.add(s.source)
            else:
                yield s


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # the pool is the parallelism; nested cv2 threads only contend


@contextmanager
def _opencv_log_silenced() -> Iterator[None]:
    """OpenCV prints its decoders' complaints about bad images to stderr itself ("[ERROR:0@0.06] global
    grfmt_png.cpp:297 readHeader ..."), one or more lines per image; the inspection already counts them
    (reason ``undecodable``, in the report by path), so its log is off while a chunk is decoded. The level
    is process-wide: it is restored after the chunk, as the in-process path shares it with the caller."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _inspect_chunk(task: tuple[list[tuple[bytes | None, str | bytes | None, str]], Charset]) -> list[Inspection]:
    payload, charset = task
    with _opencv_log_silenced():
        return [inspect_sample(data, label, charset, missing) for data, label, missing in payload]


def _chunks(samples: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    chunk: list[Sample] = []
    for s in samples:
        chunk.append(s)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def inspect_pool(processes: int) -> Iterator[Pool | None]:
    """Spawned workers to share across several conversions (None when ``processes <= 0``: inspect in
    this process). spawn, not fork: see the module docstring."""
    if processes <= 0:
        yield None
        return
    with mp.get_context("spawn").Pool(processes, initializer=_init_worker) as pool:
        yield pool


def inspect_stream(samples: Iterable[Sample], charset: Charset, processes: int = 2, chunk_size: int = 256,
                   pool: Pool | None = None) -> Iterator[tuple[Sample, Inspection]]:
    """Inspect samples in a worker pool (``pool`` if given, else one of ``processes`` workers made for this
    call; no pool and ``processes <= 0``: in this process); yields (sample, inspection) in input order,
    bounded memory."""
    def task(chunk: list[Sample]):
        return [(s.data, s.label, s.missing) for s in chunk if s.error is None], charset

    def merge(chunk: list[Sample], results: list[Inspection]) -> Iterator[tuple[Sample, Inspection]]:
        it = iter(results)
        for s in chunk:
            yield s, (Inspection("unparseable_line") if s.error is not None else next(it))

    if pool is None and processes > 0:
        with inspect_pool(processes) as own:
            yield from inspect_stream(samples, charset, processes, chunk_size, own)
        return
    if pool is None:
        for chunk in _chunks(samples, chunk_size):
            yield from merge(chunk, _inspect_chunk(task(chunk)))
        return
    max_inflight = 4 * max(processes, 1)
    pending: deque = deque()
    for chunk in _chunks(samples, chunk_size):
        pending.append((chunk, pool.apply_async(_inspect_chunk, (task(chunk),))))
        if len(pending) >= max_inflight:
            done, res = pending.popleft()
            yield from merge(done, res.get())
    while pending:
        done, res = pending.popleft()
        yield from merge(done, res.get())


def samples_from_label_file(label_file: str | Path, fmt: LabelFormat,
                            images_root: str | Path | None = None) -> Iterator[Sample]:
    label_file = Path(label_file)
    root = Path(images_root) if images_root is not None else label_file.parent
    for line in iter_label_file(label_file, fmt):
        if line.blank:
            yield Sample(f"{label_file.name}:{line.lineno}", None, None, error=line.error, blank=True)
            continue
        if line.error is not None:
            yield Sample(f"{label_file.name}:{line.lineno}: {line.error}", None, None, error=line.error)
            continue
        try:
            data = (root / line.path).read_bytes()
        except OSError:
            data = None
        yield Sample(line.path, line.label, data)


def samples_from_lmdb(path: str | Path) -> Iterator[Sample]:
    name = Path(path).name
    for rec in iter_records(path):
        yield Sample(f"{name}#{rec.index}", rec.label, rec.image, missing="missing_image")


def convert_samples(samples: Iterable[Sample], dst: str | Path, manifest: str | Path, rejections: str | Path,
                    charset: Charset, *, processes: int = 2, chunk_size: int = 256, total: int | None = None,
                    description: str = "", progress: bool = False, pool: Pool | None = None) -> ConvertResult:
    """Write the samples that pass into an LMDB at ``dst`` (atomically) with a manifest and rejection report;
    ``pool``: an ``inspect_pool`` to use (else one of ``processes`` workers is made for this call)."""
    dst, manifest, rejections = Path(dst), Path(manifest), Path(rejections)
    start = time.perf_counter()
    rej, n = Rejections(), 0
    blank = BlankLines(rej.max_items)
    writer, mwriter = LmdbWriter(dst), ManifestWriter(manifest)
    stream = inspect_stream(blank.skip(samples), charset, processes, chunk_size, pool)
    try:
        for sample, insp in track(stream, progress, total=total, desc=f"convert {dst.name}", unit="img"):
            n += 1
            key = None
            if insp.status == STATUS_OK:
                key = image_key(writer.add(sample.data, insp.label_norm)).decode()  # type: ignore[arg-type]
            else:
                rej.add(insp.status, sample.source)
            mwriter.add(key, sample.source, sample.label, insp)
        writer.close()
        mwriter.close()
    except BaseException:
        writer.abort()
        mwriter.abort()
        raise
    finally:
        stream.close()  # stops this call's worker pool now, also on errors
    seconds = time.perf_counter() - start
    rej.write(rejections, n, source=description, output=str(dst), seconds=round(seconds, 3),
              blank_lines={"count": blank.count, "lines": blank.lines})
    if rej.total:
        log.warning("%s: rejected %d of %d samples: %s", description or dst, rej.total, n, dict(rej.counts))
    if blank.count:
        log.warning("%s: %d blank line(s) skipped (no record), e.g. %s", description or dst, blank.count,
                    ", ".join(blank.lines[:3]))
    return ConvertResult(dst, manifest, rejections, n, n - rej.total, dict(rej.counts), seconds, blank.count)


def output_paths(manifests_dir: str | Path, rel: str) -> tuple[Path, Path]:
    """Manifest and rejection-report paths for the output ``<paths.lmdb>/<rel>``."""
    base = Path(manifests_dir) / rel
    return base.with_name(base.name + ".parquet"), base.with_name(base.name + ".rejections.json")


def convert_spec(spec: ConvertSpec, raw_dir: str | Path, lmdb_dir: str | Path, manifests_dir: str | Path,
                 charset: Charset, cfg: RealDataConfig, progress: bool = False,
                 pool: Pool | None = None) -> list[ConvertResult]:
    """Build ``<lmdb_dir>/<spec.dst>`` (one LMDB, or one per LMDB in a source tree) from
    ``<raw_dir>/<spec.src>``, in ``pool`` if given (an ``inspect_pool(cfg.processes)``), else in one pool for
    the whole tree."""
    if pool is None and cfg.processes > 0:
        with inspect_pool(cfg.processes) as own:
            return convert_spec(spec, raw_dir, lmdb_dir, manifests_dir, charset, cfg, progress, own)
    src = Path(raw_dir) / spec.src
    kw = {"processes": cfg.processes, "chunk_size": cfg.chunk_size, "progress": progress, "pool": pool}
    if spec.format != "lmdb":
        if not src.is_file():
            raise FileNotFoundError(f"{src}: label file not found (data.real.convert src={spec.src!r})")
        root = Path(raw_dir) / spec.images_root if spec.images_root is not None else None
        man, rej = output_paths(manifests_dir, spec.dst)
        return [convert_samples(samples_from_label_file(src, spec.format, root), Path(lmdb_dir) / spec.dst,
                                man, rej, charset, description=str(src), **kw)]
    found = find_lmdbs(src) if src.is_dir() else []
    if not found:
        raise FileNotFoundError(f"{src}: no LMDB (data.mdb) found (data.real.convert src={spec.src!r})")
    results = []
    for path in found:
        rel = Path(spec.dst) / path.relative_to(src)
        man, rej = output_paths(manifests_dir, rel.as_posix())
        results.append(convert_samples(samples_from_lmdb(path), Path(lmdb_dir) / rel, man, rej, charset,
                                       total=num_samples(path), description=str(path), **kw))
    return results


def manifest_from_lmdb(path: str | Path, charset: Charset, processes: int = 0, chunk_size: int = 256,
                       pool: Pool | None = None, progress: bool = False):
    """Manifest (pandas DataFrame, ``manifest.COLUMNS``) of an existing LMDB, e.g. a synthetic one; ``pool``
    as in ``convert_samples``; ``progress``: a bar counts the records."""
    import pandas as pd

    rows: dict[str, list] = {c: [] for c in COLUMNS}
    stream = inspect_stream(samples_from_lmdb(path), charset, processes, chunk_size, pool)
    total = num_samples(path) if progress else None
    for sample, insp in track(stream, progress, total=total, desc=f"inspect {Path(path).name}", unit="img"):
        i = int(sample.source.rpartition("#")[2])
        key = image_key(i).decode() if sample.data is not None else None  # every record is in this LMDB
        values = (key, sample.source, label_text(sample.label),
                  insp.label_norm, insp.width, insp.height, insp.nbytes, insp.sha1, insp.status)
        for col, v in zip(COLUMNS, values, strict=True):
            rows[col].append(v)
    df = pd.DataFrame(rows)
    for col in ("width", "height"):
        df[col] = df[col].astype("Int32")
    df["bytes"] = df["bytes"].astype("int64")
    return df
