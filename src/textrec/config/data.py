"""Data sections: synthetic generation, real downloads and validation gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class SynthConfig:
    """The embedded synthetic dataset (textrec.data.synth): train/val LMDBs and a synthetic benchmark suite."""

    seed: int = 1234  # train and val images; each image is a function of (seed, split, index) only
    train_size: int = 50_000
    val_size: int = 1_000
    bench_seed: int = 20_240_601  # fixed apart from ``seed``: the synthetic benchmarks stay comparable
    bench_size: int = 500  # per synthetic benchmark
    processes: int = 2  # render workers (<= 1: in the main process); output is identical for any number
    chunk_size: int = 64  # images per worker task
    image_format: Literal["jpeg", "png"] = "jpeg"  # JPEG quality is drawn per image by the profile
    # Word sources and their share of the mix (normalised at use).
    mix_lexicon: float = 0.6
    mix_random: float = 0.2
    mix_number: float = 0.2
    lexicon_size: int = 80_000  # most frequent alphabetic English words of wordfreq's 'large' list
    lexicon_flatten: float = 0.3  # sampling weight = frequency ** flatten (0: uniform, 1: by frequency)
    min_len: int = 1
    max_len: int = 25


@dataclass(frozen=True)
class DatasetSource:
    """One file downloaded into ``<paths.raw>/<name>/``; archives are extracted there, plain files placed there."""

    name: str
    url: str
    # None is refused unless the download runs with --allow-missing-checksum, which prints the computed hash.
    sha256: str | None = None
    kind: Literal["lmdb_archive", "image_archive", "file"] = "lmdb_archive"
    split: Literal["train", "val", "bench"] = "bench"  # informational: which split the data feeds
    size_bytes: int | None = None
    filename: str | None = None  # saved (and mirror) file name; default: the last part of the URL path


@dataclass(frozen=True)
class ConvertSpec:
    """One output under ``paths.lmdb``, built from downloaded data under ``paths.raw``."""

    src: str  # relative to paths.raw: an LMDB directory (or a tree of LMDBs), or a label file
    dst: str  # relative to paths.lmdb, e.g. "bench/IIIT5K"; a tree of LMDBs keeps its sub-directories
    # lmdb: re-validate an LMDB; tsv: "path<TAB>label" (PaddleOCR); space: "path label" (DTRB, first
    # whitespace splits); auto: tab if the line has one, else space; icdar: 'word_1.png, "label"'.
    format: Literal["lmdb", "tsv", "space", "auto", "icdar"] = "lmdb"
    images_root: str | None = None  # label files: image paths are relative to this (under paths.raw)


@dataclass(frozen=True)
class RealDataConfig:
    mirror: str | None = None  # a local directory or file:// URL holding the files under their file names
    retries: int = 5
    backoff_seconds: float = 2.0  # doubled after each failed attempt
    timeout_seconds: float = 60.0
    datasets: tuple[DatasetSource, ...] = ()
    convert: tuple[ConvertSpec, ...] = ()
    keep_archives: bool = False  # keep downloaded archives under <paths.raw>/.archives after extraction
    processes: int = 2  # conversion decode/validate workers (0: in the main process)
    chunk_size: int = 256  # images per worker task


@dataclass(frozen=True)
class ValidationConfig:
    min_rows: int = 1
    max_rejected_fraction: float = 0.01
    max_duplicate_fraction: float = 0.5  # share of rows whose image bytes repeat an earlier row
    min_width: int = 1
    max_width: int = 4096
    min_height: int = 1
    max_height: int = 4096
    max_examples: int = 20  # offending rows quoted per failed expectation


@dataclass(frozen=True)
class DataConfig:
    source: Literal["synthetic", "real"] = "synthetic"
    synth: SynthConfig = field(default_factory=SynthConfig)
    real: RealDataConfig = field(default_factory=RealDataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
