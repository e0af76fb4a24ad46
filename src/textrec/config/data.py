"""Data sections: synthetic generation, real downloads and validation gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 1234
    train_size: int = 50_000
    val_size: int = 1_000
    bench_size: int = 500  # per synthetic benchmark
    processes: int = 2
    # Word sources and their share of the mix (normalised at use).
    mix_lexicon: float = 0.6
    mix_random: float = 0.2
    mix_number: float = 0.2
    min_len: int = 1
    max_len: int = 25


@dataclass(frozen=True)
class DatasetSource:
    name: str
    url: str
    sha256: str
    kind: Literal["lmdb_archive", "image_archive"] = "lmdb_archive"
    split: Literal["train", "val", "bench"] = "bench"
    size_bytes: int | None = None


@dataclass(frozen=True)
class RealDataConfig:
    mirror: str | None = None  # a local directory or file:// URL that replaces the URLs' base
    retries: int = 5
    backoff_seconds: float = 2.0
    timeout_seconds: float = 60.0
    datasets: tuple[DatasetSource, ...] = ()


@dataclass(frozen=True)
class ValidationConfig:
    min_rows: int = 1
    max_rejected_fraction: float = 0.01
    max_duplicate_fraction: float = 0.5
    min_width: int = 1
    max_width: int = 4096
    min_height: int = 1
    max_height: int = 4096


@dataclass(frozen=True)
class DataConfig:
    source: Literal["synthetic", "real"] = "synthetic"
    synth: SynthConfig = field(default_factory=SynthConfig)
    real: RealDataConfig = field(default_factory=RealDataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
