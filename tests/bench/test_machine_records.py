"""Every JSON in reports/bench/ carries the same machine record (bench/harness.py), whichever script wrote it
and whenever: a record converted from an older layout may hold nulls, only with ``migrated_from``."""

from __future__ import annotations

import json
from numbers import Real
from pathlib import Path

import pytest

from tests.bench.test_real_dev import _bench
from tests.conftest import REPO

REPORTS = sorted((REPO / "reports" / "bench").glob("*.json"))


def _problems(m: dict) -> list[str]:
    """What is wrong with one machine record ([] if nothing)."""
    harness = _bench("harness")
    keys = tuple(k for k in m if k != harness.MIGRATED)
    if keys != harness.MACHINE_KEYS:
        return [f"keys {keys}, expected {harness.MACHINE_KEYS}"]
    migrated = harness.MIGRATED in m
    load = m["load_average"]
    values = {k: m[k] for k in harness.MACHINE_KEYS if k != "load_average"}
    if not isinstance(load, dict) or set(load) != {"start", "end"}:
        return [f"load_average {load!r}: expected {{'start', 'end'}}"]
    values |= {f"load_average.{k}": v for k, v in load.items()}
    problems = [f"{k} is null in a record that was not migrated" for k, v in values.items()
                if v is None and not migrated]
    kinds = {"cpu": str, "vendor": str, "family_model_stepping": str, "python": str, "platform": str,
             "cores": int, "niceness": int, "flags": list}
    problems += [f"{k}: {values[k]!r} is not {t.__name__}" for k, t in kinds.items()
                 if values[k] is not None and not isinstance(values[k], t)]
    if isinstance(values["cores"], int) and values["cores"] < 1:
        problems.append(f"cores {values['cores']}")
    for k, v in load.items():
        if v is not None and (len(v) != 3 or not all(x is None or isinstance(x, Real) and x >= 0 for x in v)):
            problems.append(f"load_average.{k} {v!r}: expected [1 min, 5 min, 15 min]")
        elif v is not None and None in v and not migrated:
            problems.append(f"load_average.{k} {v!r} has a gap in a record that was not migrated")
    return problems


def test_there_are_bench_reports() -> None:
    assert len(REPORTS) >= 10


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_bench_json_has_the_machine_record(path: Path) -> None:
    harness = _bench("harness")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc.get("schema_version") == harness.SCHEMA_VERSION, f"{path.name}: no schema_version"
    records = {"machine": doc["machine"]} | {f"runs[{i}].machine": r["machine"]
                                             for i, r in enumerate(doc.get("runs", []))
                                             if isinstance(r, dict) and "machine" in r}
    problems = [f"{where}: {p}" for where, m in records.items() for p in _problems(m)]
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_record_check_rejects_an_old_layout_and_an_unmarked_null() -> None:
    harness = _bench("harness")
    assert _problems({"cpu": "AMD EPYC", "cores": 2, "threads": 2, "load_average_1m": 1.7})
    fresh = harness.Bench.start().machine()
    assert _problems(fresh) == []
    assert _problems(fresh | {"vendor": None}) == ["vendor is null in a record that was not migrated"]
    assert _problems(fresh | {"vendor": None, "migrated_from": {}}) == []
