"""What every bench/ script shares: the machine record, the JSON writer and the common flags.

    from harness import Bench, parser          # bench/, on sys.path as the script's folder

    ap = parser(__doc__, "synth")              # --out defaults to reports/bench/synth.json
    args = ap.parse_args(argv)
    bench = Bench.start()                      # the load average at the start of the measurement
    ...                                        # the measurement, and only it
    bench.write(args.out, {"images_per_second": ...})

Every bench JSON is ``{"schema_version": 1, "machine": {...}, **result}`` (``textrec.artifacts.BenchResult``,
which reads it back checked). The machine record has the fields of ``MachineRecord``: the CPU as /proc/cpuinfo names it (model name, vendor, family/model/stepping; a VM's
model name can be generic, the three numbers name the part), cores, the instruction-set flags that decide
which kernels run, python and platform, the niceness of the bench process, and the 1/5/15-minute load
average at the start and at the end, since the machine is shared and the load moves the wall times.

Records written by the scripts before this module (seven layouts) were converted once with

    python bench/harness.py --migrate reports/bench/*.json

which maps the fields they recorded onto the record; what they never recorded is null, allowed only in a
record carrying ``migrated_from`` (the old record, verbatim).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrec.artifacts import BenchResult, LoadAverage, MachineRecord, from_json, to_json
from textrec.artifacts.bench import MACHINE_KEYS, MIGRATED
from textrec.config import PathsConfig

REPO = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = BenchResult.SCHEMA_VERSION


def load_average() -> list[float]:
    """[1 min, 5 min, 15 min] load average, 2 decimals."""
    return [round(v, 2) for v in os.getloadavg()]


@dataclass(frozen=True)
class Bench:
    """One benchmark invocation: what it found at its start, for the machine record of what it writes."""

    load_start: list[float]
    niceness: int

    @classmethod
    def start(cls) -> Bench:
        return cls(load_average(), os.nice(0))

    def record(self) -> MachineRecord:
        """The machine record now: static facts from textrec.machine, the load at the start and now."""
        from textrec.machine import machine_info

        info = machine_info()  # cpu, vendor, family_model_stepping, cores, flags, python
        return MachineRecord(cpu=info["cpu"], vendor=info["vendor"],
                             family_model_stepping=info["family_model_stepping"], cores=info["cores"],
                             flags=info["flags"], python=info["python"], platform=platform.platform(),
                             niceness=self.niceness, load_average=LoadAverage(self.load_start, load_average()))

    def machine(self) -> dict[str, Any]:
        """``record()`` as JSON (a run inside a result carries its own)."""
        return to_json(self.record())

    def write(self, path: Path | str, result: dict[str, Any]) -> dict[str, Any]:
        """Write ``result`` with the schema version and the machine record (load at its end: now) to ``path``,
        atomically (a long benchmark rewrites its JSON after each part); returns what was written."""
        written = BenchResult(self.record(), result)
        written.write(path)
        return written.to_json()


def parser(doc: str | None, name: str) -> argparse.ArgumentParser:
    """The script's argument parser with the common flags: --out (default reports/bench/<name>.json)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / BenchResult.path(PathsConfig(), name),
                    help="the JSON to write (default: %(default)s)")
    return ap


# --- the one-off conversion of the records the scripts wrote before this module ---------------------------
# old key -> new key, for the facts stored as they are
_SAME = {"cpu": "cpu", "cpu_model": "cpu", "vendor": "vendor", "family_model_stepping": "family_model_stepping",
         "cores": "cores", "cpus": "cores", "flags": "flags", "python": "python", "platform": "platform",
         "niceness": "niceness"}
_LOAD_START = ("load_average_before", "loadavg_before", "load_average_at_start")
# read when the report was assembled, after the measurement: the load at its end
_LOAD_END = ("load_average_after", "loadavg_after", "load_average_at_end", "load_average_1_5_15")


def migrate_record(old: dict[str, Any]) -> dict[str, Any]:
    """An old machine record in the new shape: each fact it recorded in its place, the others null, the old
    record kept verbatim under ``migrated_from``."""
    new: dict[str, Any] = dict.fromkeys(MACHINE_KEYS)
    for key, value in old.items():
        if key in _SAME and new[_SAME[key]] is None:
            new[_SAME[key]] = value
    start = next((old[k] for k in _LOAD_START if k in old), None)
    end = next((old[k] for k in _LOAD_END if k in old), None)
    if end is None and "load_average_1m" in old:  # inference / int8_plans kept the 1-minute figure only
        end = [old["load_average_1m"], None, None]
    new["load_average"] = {"start": _rounded(start), "end": _rounded(end)}
    return {**new, MIGRATED: old}


def _rounded(load: list[float | None] | None) -> list[float | None] | None:
    return None if load is None else [None if v is None else round(v, 2) for v in load]


def migrate_file(path: Path) -> bool:
    """Convert one bench JSON in place (its top-level record and its runs' own records); False if it already
    has the schema."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if "schema_version" in doc:
        return False
    if "machine" not in doc:
        raise ValueError(f"{path}: no machine record to migrate")
    for run in doc.get("runs", []):  # time_to_accuracy.json: every run records its own machine
        if isinstance(run, dict) and isinstance(run.get("machine"), dict):
            run["machine"] = migrate_record(run["machine"])
    machine = from_json(MachineRecord, migrate_record(doc.pop("machine")), f"{path}: machine")
    BenchResult(machine, doc).write(path)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--migrate", type=Path, nargs="+", metavar="JSON", required=True,
                    help="bench JSONs written before the harness: convert their machine records in place")
    args = ap.parse_args(argv)
    for path in args.migrate:
        try:
            changed = migrate_file(path)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{path}: {'migrated' if changed else 'already schema ' + str(SCHEMA_VERSION)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
