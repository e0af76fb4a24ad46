"""Data sections: synthetic generation, real downloads and validation gates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from textrec.config._build import Fraction, NonNegFloat, NonNegInt, PosFloat, PosInt, Seed


@dataclass(frozen=True)
class SynthConfig:
    """The embedded synthetic dataset (textrec.data.synth): train/val LMDBs and a synthetic benchmark suite."""

    seed: Seed = 1234  # train and val images; each image is a function of (seed, split, index) only
    train_size: PosInt = 50_000
    val_size: PosInt = 1_000
    bench_seed: Seed = 20_240_601  # fixed apart from ``seed``: the synthetic benchmarks stay comparable
    bench_size: PosInt = 500  # per synthetic benchmark
    processes: NonNegInt = 2  # render workers (<= 1: in the main process); output is identical for any number
    chunk_size: PosInt = 64  # images per worker task
    image_format: Literal["jpeg", "png"] = "jpeg"  # JPEG quality is drawn per image by the profile
    # Word sources and their share of the mix (normalised at use).
    mix_lexicon: NonNegFloat = 0.6
    mix_random: NonNegFloat = 0.2
    mix_number: NonNegFloat = 0.2
    # punctuated tokens (prices, times, hyphenated words, ...: data/synth/punct.py), for a dictionary that
    # has punctuation (charset builtin:en); 0 keeps every other label exactly as without it
    mix_punct: NonNegFloat = 0.0
    # the render styles of train and val (data/synth/profiles.py: train or a benchmark's), each image drawn
    # from one, every entry an equal share (name one twice for twice its share): TRAIN alone by default; the
    # demo aims its renders at the styles the bundle reads worst
    train_styles: tuple[str, ...] = ("train",)
    lexicon_size: PosInt = 80_000  # most frequent alphabetic English words of wordfreq's 'large' list
    lexicon_flatten: NonNegFloat = 0.3  # sampling weight = frequency ** flatten (0: uniform, 1: by frequency)
    min_len: PosInt = 1
    max_len: PosInt = 25

    def __post_init__(self) -> None:
        if self.min_len > self.max_len:
            raise ValueError(f"min_len {self.min_len} is above max_len {self.max_len}")
        if self.mix_lexicon + self.mix_random + self.mix_number + self.mix_punct <= 0:
            raise ValueError("mix_lexicon + mix_random + mix_number + mix_punct must be > 0 (the shares are "
                             "normalised)")


@dataclass(frozen=True)
class DatasetSource:
    """One file downloaded into ``<paths.raw>/<name>/``; archives are extracted there, plain files placed there."""

    name: str
    url: str
    # None is refused unless the download runs with --allow-missing-checksum, which prints the computed hash.
    sha256: str | None = None
    kind: Literal["lmdb_archive", "image_archive", "checkpoint_archive", "file"] = "lmdb_archive"
    split: Literal["train", "val", "bench"] = "bench"  # informational: which split the data feeds
    size_bytes: PosInt | None = None
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
    retries: NonNegInt = 5
    backoff_seconds: NonNegFloat = 2.0  # doubled after each failed attempt
    timeout_seconds: PosFloat = 60.0
    datasets: tuple[DatasetSource, ...] = ()
    convert: tuple[ConvertSpec, ...] = ()
    keep_archives: bool = False  # keep downloaded archives in paths.downloads after extraction
    processes: NonNegInt = 2  # conversion decode/validate workers (0: in the main process)
    chunk_size: PosInt = 256  # images per worker task


# What `textrec convert` and data.source folder read (textrec.data.sources). paddleocr: PaddleOCR's label file
# (rec_gt_train.txt, "path<TAB>label"; the paths are relative to its data_dir: images_root, default the
# file's folder); tsv: the same layout under its plain name; space: "path label" (DTRB gt files); icdar:
# 'word_1.png, "label"' (ICDAR 2013/2015 word gt); folder: a directory holding labels.tsv ("path<TAB>label",
# relative to it) and the images; lmdb: an LMDB or a tree of them, every record re-checked.
SourceFormat = Literal["paddleocr", "tsv", "space", "icdar", "folder", "lmdb"]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class OwnSet:
    """Labelled crops of your own (data.source folder): a label file, a folder with labels.tsv, or LMDBs."""

    src: str  # relative to data.folder.root (or absolute)
    format: SourceFormat = "paddleocr"
    images_root: str | None = None  # label files: their image paths are relative to this (under root)
    name: str | None = None  # test sets: the benchmark name (bench/<name>, listed in eval.benchmarks)


@dataclass(frozen=True)
class FolderDataConfig:
    """data.source folder: every ``train`` set goes into the LMDB ``train``, every ``val`` set into ``val``,
    each ``test`` set into ``bench/<name>``, converted and checked as ``textrec convert`` does (bad rows are
    rejected and listed in the manifests, by reason). The other eval.benchmarks are rendered synthetic ones,
    so that a fine-tuned model is also measured on what it may forget. ``root`` is a dependency of prepare."""

    root: str = "data/own"
    train: tuple[OwnSet, ...] = ()
    val: tuple[OwnSet, ...] = ()
    test: tuple[OwnSet, ...] = ()

    def __post_init__(self) -> None:
        names = [t.name for t in self.test]
        for t in self.test:
            if t.name is None or not _NAME.fullmatch(t.name) or t.name.startswith("synth_"):
                raise ValueError(f"every test set needs a name of letters, digits, '_', '.', '-' (not "
                                 f"starting with 'synth_', the synthetic benchmarks), got {t.name!r} for "
                                 f"{t.src!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"test set names must be unique, got {names}")
        for s in (*self.train, *self.val):
            if s.name is not None:
                raise ValueError(f"{s.src!r}: only test sets take a name (train and val are one LMDB each)")


@dataclass(frozen=True)
class ValidationConfig:
    min_rows: NonNegInt = 1
    max_rejected_fraction: Fraction = 0.01
    max_duplicate_fraction: Fraction = 0.5  # share of rows whose image bytes repeat an earlier row
    min_width: PosInt = 1
    max_width: PosInt = 4096
    min_height: PosInt = 1
    max_height: PosInt = 4096
    max_examples: NonNegInt = 20  # offending rows quoted per failed expectation

    def __post_init__(self) -> None:
        if self.min_width > self.max_width or self.min_height > self.max_height:
            raise ValueError(f"min_width/min_height ({self.min_width}/{self.min_height}) must not exceed "
                             f"max_width/max_height ({self.max_width}/{self.max_height})")


@dataclass(frozen=True)
class DataConfig:
    source: Literal["synthetic", "real", "folder"] = "synthetic"
    synth: SynthConfig = field(default_factory=SynthConfig)
    real: RealDataConfig = field(default_factory=RealDataConfig)  # processes, chunk_size: folder's too
    folder: FolderDataConfig = field(default_factory=FolderDataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    def __post_init__(self) -> None:
        if self.source == "folder" and not (self.folder.train and self.folder.val):
            raise ValueError("data.source folder needs data.folder.train and data.folder.val (label files or "
                             "LMDBs of your own under data.folder.root)")
