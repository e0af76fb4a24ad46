"""Every JSON in reports/bench/ carries the same machine record (bench/harness.py), whichever script wrote it
and whenever: a record converted from an older layout may hold nulls, only with ``migrated_from``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.test_real_dev import _bench
from tests.conftest import REPO
from textrec.artifacts import ArtifactError, from_json
from textrec.artifacts.bench import BenchResult, MachineRecord

REPORTS = sorted((REPO / "reports" / "bench").glob("*.json"))


def _problems(m: dict) -> list[str]:
    """What is wrong with one machine record ([] if nothing): its fields and types are MachineRecord's, its
    values within MachineRecord.gaps."""
    try:
        return from_json(MachineRecord, m).gaps()
    except ArtifactError as e:
        return [str(e)]


def test_there_are_bench_reports() -> None:
    assert len(REPORTS) >= 10


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_bench_json_has_the_machine_record(path: Path) -> None:
    result = BenchResult.read(path)  # the schema version and every machine record's fields and types
    problems = [f"{where}: {p}" for where, m in result.machines().items() for p in m.gaps()]
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_record_check_rejects_an_old_layout_and_an_unmarked_null() -> None:
    harness = _bench("harness")
    assert _problems({"cpu": "AMD EPYC", "cores": 2, "threads": 2, "load_average_1m": 1.7})
    fresh = harness.Bench.start().machine()
    assert _problems(fresh) == []
    assert _problems(fresh | {"vendor": None}) == ["vendor is null in a record that was not migrated"]
    assert _problems(fresh | {"vendor": None, "migrated_from": {}}) == []
