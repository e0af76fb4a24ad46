"""A benchmark's result: ``reports/bench/<name>.json``, written by bench/harness.py for every bench/ script.

The file is ``{"schema_version", "machine": {...}, **result}``: the measurement's own keys stay at the top
level (each script has its own), the machine record is the same for all of them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from textrec.artifacts._file import OMIT_NONE, Artifact, ArtifactError, from_json, to_json
from textrec.config.pipeline import PathsConfig

MIGRATED = "migrated_from"


@dataclass(frozen=True)
class LoadAverage:
    """[1 min, 5 min, 15 min] at the start of the measurement and at its end (the machine is shared)."""

    start: list[float | None] | None
    end: list[float | None] | None


@dataclass(frozen=True)
class MachineRecord:
    """Where a benchmark ran. Null only in a record converted from an older layout, which keeps that record
    verbatim under ``migrated_from`` (``gaps`` says what is missing otherwise)."""

    cpu: str | None  # the model name /proc/cpuinfo gives
    vendor: str | None
    family_model_stepping: str | None  # a VM's model name can be generic: these name the part
    cores: int | None
    flags: list[str] | None  # the instruction-set flags that decide which kernels run
    python: str | None
    platform: str | None
    niceness: int | None
    load_average: LoadAverage
    migrated_from: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)

    def gaps(self) -> list[str]:
        """What a record that was not migrated lacks or holds out of range ([] if nothing)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != MIGRATED}
        load = {f"load_average.{k}": v for k, v in dataclasses.asdict(self.load_average).items()}
        out = [f"cores {self.cores}"] if self.cores is not None and self.cores < 1 else []
        out += [f"{k} {v!r}: expected [1 min, 5 min, 15 min]" for k, v in load.items()
                if v is not None and (len(v) != 3 or any(x is not None and x < 0 for x in v))]
        if self.migrated_from is None:
            out += [f"{k} is null in a record that was not migrated" for k, v in (values | load).items() if v is None]
            out += [f"{k} {v!r} has a gap in a record that was not migrated" for k, v in load.items()
                    if v is not None and None in v]
        return out


MACHINE_KEYS = tuple(f.name for f in dataclasses.fields(MachineRecord) if f.name != MIGRATED)


@dataclass(frozen=True)
class BenchResult(Artifact):
    """One bench/ script's measurement and the machine it ran on."""

    STAGE = ""  # not a DVC stage: the bench script that wrote it

    machine: MachineRecord
    result: dict[str, Any]  # the script's own keys, at the file's top level

    @staticmethod
    def path(paths: PathsConfig, name: str) -> Path:
        return Path(paths.reports) / "bench" / f"{name}.json"

    def to_json(self) -> dict[str, Any]:
        clash = {"schema_version", "machine"} & set(self.result)
        if clash:
            raise ValueError(f"the result must not hold {sorted(clash)}: the harness adds them")
        return {"schema_version": self.SCHEMA_VERSION, "machine": to_json(self.machine), **to_json(self.result)}

    @classmethod
    def read(cls, path: str | Path, stage: str | None = None) -> Self:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ArtifactError(f"{path}: cannot be read as JSON ({e})") from None
        if not isinstance(doc, dict) or doc.get("schema_version") != cls.SCHEMA_VERSION:
            version = doc.get("schema_version") if isinstance(doc, dict) else None
            raise ArtifactError(f"{path}: schema_version {version} where BenchResult reads {cls.SCHEMA_VERSION} "
                                f"(python bench/harness.py --migrate {path} converts an old record)")
        result = {k: v for k, v in doc.items() if k not in ("schema_version", "machine")}
        try:
            return cls(from_json(MachineRecord, doc.get("machine"), "machine"), result)
        except ArtifactError as e:
            raise ArtifactError(f"{path}: {e}") from None

    def machines(self) -> dict[str, MachineRecord]:
        """The file's machine record and each run's own (time_to_accuracy: a record per run), by place."""
        runs = self.result.get("runs", [])
        out = {"machine": self.machine}
        for i, run in enumerate(runs if isinstance(runs, list) else []):
            if isinstance(run, dict) and "machine" in run:
                out[f"runs[{i}].machine"] = from_json(MachineRecord, run["machine"], f"runs[{i}].machine")
        return out
