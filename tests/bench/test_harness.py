"""bench/harness.py: the machine record read from this machine, the writer, the common flags, and the one-off
conversion of the records the scripts wrote before it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.bench.test_real_dev import _bench
from tests.conftest import REPO

CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_first(name: str) -> str:
    """The test's own reading of /proc/cpuinfo: the first ``name : value`` line."""
    for line in CPUINFO.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} in /proc/cpuinfo")


@pytest.mark.skipif(not CPUINFO.is_file() or "model name" not in CPUINFO.read_text(), reason="no /proc/cpuinfo")
def test_machine_record_names_this_cpu_as_proc_cpuinfo_does() -> None:
    harness = _bench("harness")
    m = harness.Bench.start().machine()
    assert tuple(m) == harness.MACHINE_KEYS
    assert m["cpu"] == _cpuinfo_first("model name")  # the full name, as lscpu shows it too
    assert m["vendor"] == _cpuinfo_first("vendor_id")
    assert m["family_model_stepping"] == "/".join(_cpuinfo_first(k) for k in ("cpu family", "model", "stepping"))
    assert m["cores"] == os.cpu_count()
    flags = set(_cpuinfo_first("flags").split())
    assert set(m["flags"]) <= flags and ("avx2" in m["flags"]) == ("avx2" in flags)
    assert m["niceness"] == os.nice(0) and m["python"].count(".") == 2 and "Linux" in m["platform"]


def test_load_average_at_start_is_kept_and_at_end_read_when_written(tmp_path: Path) -> None:
    harness = _bench("harness")
    started = harness.Bench.start()
    assert len(started.load_start) == 3 and all(v >= 0 for v in started.load_start)
    # a start long ago, under another load: the record keeps it and reads the end at the write
    earlier = harness.Bench(load_start=[7.5, 6.25, 5.0], niceness=19)
    before = harness.load_average()
    doc = earlier.write(tmp_path / "x.json", {"value": 1})
    after = harness.load_average()
    load = doc["machine"]["load_average"]
    assert load["start"] == [7.5, 6.25, 5.0] and doc["machine"]["niceness"] == 19
    assert load["end"] in (before, after)  # /proc/loadavg moves every 5 s: one of the two reads around it
    assert len(load["end"]) == 3


def test_write_puts_schema_and_machine_first_and_refuses_to_overwrite_them(tmp_path: Path) -> None:
    harness = _bench("harness")
    bench = harness.Bench.start()
    out = tmp_path / "deep" / "r.json"
    written = bench.write(out, {"images_per_second": 12.5, "label": "é"})
    on_disk = json.loads(out.read_text(encoding="utf-8"))
    assert on_disk == written and list(on_disk) == ["schema_version", "machine", "images_per_second", "label"]
    assert on_disk["schema_version"] == harness.SCHEMA_VERSION and "é" in out.read_text(encoding="utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]  # the temporary file was renamed
    for clash in ({"machine": {}}, {"schema_version": 0}):
        with pytest.raises(ValueError, match="the harness adds them"):
            bench.write(out, clash)


def test_parser_gives_out_under_reports_bench() -> None:
    harness = _bench("harness")
    ap = harness.parser("doc", "synth")
    assert ap.parse_args([]).out == REPO / "reports" / "bench" / "synth.json"
    assert ap.parse_args(["--out", "/tmp/a.json"]).out == Path("/tmp/a.json")


# The old layouts, as reports/bench/*.json held them before the harness
SERVING = {"platform": "Linux-6.18", "cpus": 2, "python": "3.11.7", "loadavg_before": [1.0913, 1.3178, 1.5971],
           "loadavg_after": [2.0034, 1.5097, 1.6547]}
INFERENCE = {"cpu": "AMD EPYC", "cores": 2, "threads": 2, "load_average_1m": 1.6787109375}
LMDB = {"cpu": "Intel(R) Xeon(R) Processor", "vendor": "GenuineIntel", "cores": 2, "flags": ["avx2"],
        "python": "3.11.7", "cpus": 2, "platform": "Linux-6.18", "load_average_1_5_15": [6.17, 7.19, 7.45]}
SYNTH = {"cpu_model": "AMD EPYC", "cores": 2, "python": "3.11.7", "load_average_before": [0.34, 0.98, 1.41],
         "load_average_after": [0.47, 1.0, 1.41]}
THROUGHPUT = {"cpu": "Intel(R) Xeon(R) Processor", "vendor": "GenuineIntel", "family_model_stepping": "6/207/2",
              "cores": 2, "flags": ["avx2"], "python": "3.11.7", "load_average_at_start": [0.19, 1.21, 2.95],
              "started": "2026-12-01T11:20:26", "load_average_at_end": [1.45, 1.23, 2.37]}


@pytest.mark.parametrize(("old", "facts", "load"), [
    (SERVING, {"cpu": None, "cores": 2, "platform": "Linux-6.18"},
     {"start": [1.09, 1.32, 1.6], "end": [2.0, 1.51, 1.65]}),
    (INFERENCE, {"cpu": "AMD EPYC", "cores": 2, "flags": None}, {"start": None, "end": [1.68, None, None]}),
    (LMDB, {"cpu": "Intel(R) Xeon(R) Processor", "cores": 2, "platform": "Linux-6.18"},
     {"start": None, "end": [6.17, 7.19, 7.45]}),
    (SYNTH, {"cpu": "AMD EPYC", "vendor": None}, {"start": [0.34, 0.98, 1.41], "end": [0.47, 1.0, 1.41]}),
    (THROUGHPUT, {"family_model_stepping": "6/207/2", "niceness": None},
     {"start": [0.19, 1.21, 2.95], "end": [1.45, 1.23, 2.37]}),
])
def test_migration_maps_what_each_old_layout_recorded(old: dict, facts: dict, load: dict) -> None:
    harness = _bench("harness")
    new = harness.migrate_record(old)
    assert tuple(new) == (*harness.MACHINE_KEYS, "migrated_from") and new["migrated_from"] == old
    assert {k: new[k] for k in facts} == facts and new["load_average"] == load


def test_migrate_file_converts_once_runs_included(tmp_path: Path) -> None:
    harness = _bench("harness")
    path = tmp_path / "tta.json"
    path.write_text(json.dumps({"machine": THROUGHPUT, "backbone": "mobilenet_v3",
                                "runs": [{"recipe": "frames", "machine": SYNTH}]}))
    assert harness.main(["--migrate", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert list(doc) == ["schema_version", "machine", "backbone", "runs"]
    assert doc["machine"] == harness.migrate_record(THROUGHPUT)
    assert doc["runs"][0]["machine"] == harness.migrate_record(SYNTH) and doc["runs"][0]["recipe"] == "frames"
    text = path.read_text()
    assert harness.migrate_file(path) is False and path.read_text() == text  # already in the schema
