"""The great-expectations gate, and the download -> prepare -> validate stages end to end."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import zipfile
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from textrec.artifacts import PrepareSummary, ValidationSummary
from textrec.charset import Charset
from textrec.config.data import ValidationConfig
from textrec.data.convert import convert_samples, manifest_from_lmdb, samples_from_label_file
from textrec.data.lmdb_io import LmdbWriter, image_key, label_key
from textrec.data.manifest import reconcile
from textrec.data.validate import (
    MATCHES_MANIFEST,
    DataValidationError,
    check,
    label_regex,
    lmdb_manifests,
    validate_manifests,
    write_summary,
)

REPO = Path(__file__).resolve().parents[2]
CHARSET = Charset.from_file()


def encode(w: int, h: int, seed: int) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    return cv2.imencode(".png", img)[1].tobytes()


def write_folder(root: Path, n: int, bad: int = 0) -> Path:
    """``n`` good images + ``bad`` undecodable ones, with a tsv label file; returns the label file."""
    (root / "images").mkdir(parents=True)
    lines = []
    for i in range(n + bad):
        (root / "images" / f"{i}.png").write_bytes(encode(30 + i, 16, i) if i < n else b"not an image")
        lines.append(f"images/{i}.png\tWord{i}")
    (root / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "labels.tsv"


@pytest.fixture(scope="module")
def good_manifest(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("good")
    convert_samples(samples_from_label_file(write_folder(tmp / "src", 40), "tsv"), tmp / "lmdb", tmp / "m.parquet",
                    tmp / "r.json", CHARSET, processes=0)
    return pd.read_parquet(tmp / "m.parquet")


def test_label_regex() -> None:
    assert label_regex(CHARSET) == "^[0123456789abcdefghijklmnopqrstuvwxyz]{1,25}$"


def test_good_manifest_passes_and_writes_docs(good_manifest: pd.DataFrame, tmp_path: Path) -> None:
    reports = validate_manifests({"bench/GOOD": good_manifest}, ValidationConfig(), CHARSET, tmp_path / "docs")
    [r] = reports
    assert r.success and r.failures == () and r.rows == r.ok_rows == 40 and r.evaluated == 9
    check(reports)  # does not raise
    assert (tmp_path / "docs" / "index.html").exists()
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == 1 and "bench_GOOD" in pages[0].name
    summary = write_summary(reports, tmp_path / "validation.json")
    assert ValidationSummary.read(tmp_path / "validation.json") == summary
    assert summary.success is True and summary.datasets["bench/GOOD"]["rejected_fraction"] == 0.0


def test_bad_manifest_fails_naming_expectations_and_examples(good_manifest: pd.DataFrame) -> None:
    bad = good_manifest.copy()
    bad.loc[0, "label_norm"] = "BAD!"
    bad.loc[1, "width"] = 99_999
    bad.loc[2:4, "status"] = "undecodable"  # 3/40 rejected > 1 %
    bad.loc[10:35, "sha1"] = "f" * 40  # 26 identical images among 37 kept rows
    cfg = ValidationConfig(max_rejected_fraction=0.01, max_duplicate_fraction=0.5, max_width=4096)
    [r] = validate_manifests({"bad": bad}, cfg, CHARSET, None)
    assert not r.success
    failed = {(f.expectation, f.column) for f in r.failures}
    assert failed == {("expect_column_values_to_be_in_set", "status"),
                      ("expect_column_values_to_match_regex", "label_norm"),
                      ("expect_column_values_to_be_between", "width"),
                      ("expect_column_proportion_of_unique_values_to_be_between", "sha1")}
    with pytest.raises(DataValidationError) as err:
        check([r])
    msg = str(err.value)
    assert msg.startswith("4 expectation(s) failed")
    assert "bad: expect_column_values_to_match_regex on 'label_norm'" in msg and '"label_norm": "BAD!"' in msg
    assert '"source": "images/0.png"' in msg  # offending rows are named by their source
    assert '"width": 99999' in msg and '"status": "undecodable"' in msg and "f" * 40 in msg
    assert r.rejected_fraction == pytest.approx(3 / 40)


def test_too_few_rows_and_wrong_columns(good_manifest: pd.DataFrame) -> None:
    df = good_manifest.drop(columns=["sha1"]).assign(sha1=good_manifest["sha1"], extra=1)
    [r] = validate_manifests({"x": df}, ValidationConfig(min_rows=1000), CHARSET, None)
    assert {f.expectation for f in r.failures} == {"expect_table_row_count_to_be_between",
                                                   "expect_table_columns_to_match_set"}


def test_lmdb_manifest_validates(tmp_path: Path) -> None:
    with LmdbWriter(tmp_path / "synth") as w:
        for i in range(20):
            w.add(encode(40, 32, i), f"w{i}")
        w.add(b"corrupt", "oops")
    m = manifest_from_lmdb(tmp_path / "synth", CHARSET)
    [ok] = validate_manifests({"synth": m}, ValidationConfig(max_rejected_fraction=0.1), CHARSET, None)
    [strict] = validate_manifests({"synth": m}, ValidationConfig(max_rejected_fraction=0.01), CHARSET, None)
    assert ok.success and not strict.success and strict.failures[0].examples == [
        {"key": "image-000000021", "source": "synth#21", "status": "undecodable"}]


def overwrite(lmdb: Path, records: dict[bytes, bytes]) -> None:
    """Change records of a finished LMDB in place, as a bad disk, a stray script or a bad copy would."""
    import lmdb as lmdb_lib

    env = lmdb_lib.open(str(lmdb), map_size=1 << 30)
    with env.begin(write=True) as txn:
        for k, v in records.items():
            txn.put(k, v)
    env.close()


def converted(tmp_path: Path, n: int = 30, bad: int = 2) -> tuple[Path, Path]:
    """A real-data conversion: ``n`` images written, ``bad`` inputs rejected -> (lmdb root, manifests dir)."""
    convert_samples(samples_from_label_file(write_folder(tmp_path / "src", n, bad), "tsv"),
                    tmp_path / "lmdb" / "train", tmp_path / "manifests" / "train.parquet", tmp_path / "r.json",
                    CHARSET, processes=0)
    return tmp_path / "lmdb", tmp_path / "manifests"


def test_reconcile_reads_the_records_and_names_what_changed(tmp_path: Path) -> None:
    lmdb, manifests = converted(tmp_path)
    manifest = pd.read_parquet(manifests / "train.parquet")
    rows, changed = reconcile(manifest, manifest_from_lmdb(lmdb / "train", CHARSET))
    assert changed.empty and len(rows) == 32 and (rows["status"] == "ok").sum() == 30
    assert rows.loc[rows["key"] == "image-000000003", "source"].item() == "images/2.png"  # named by its input (keys are 1-based)
    overwrite(lmdb / "train", {image_key(3): b"garbage", label_key(7): b"other"})
    rows, changed = reconcile(manifest, manifest_from_lmdb(lmdb / "train", CHARSET))
    assert list(changed["key"]) == ["image-000000003", "image-000000007"]
    assert rows.loc[rows["key"] == "image-000000003", "status"].item() == "undecodable"
    assert changed.iloc[1][["manifest_label_norm", "lmdb_label_norm"]].tolist() == ["word6", "other"]


def test_gate_reads_lmdb_records_not_the_manifest(tmp_path: Path) -> None:
    lmdb, manifests = converted(tmp_path, bad=0)
    frames, failures = lmdb_manifests(lmdb, manifests, CHARSET, processes=0)
    [r] = validate_manifests(frames, ValidationConfig(), CHARSET, None, failures)
    assert r.success and r.rows == 30
    overwrite(lmdb / "train", {image_key(i): b"\xff\xd8 not a jpeg" for i in (4, 9)})
    frames, failures = lmdb_manifests(lmdb, manifests, CHARSET, processes=0)
    [r] = validate_manifests(frames, ValidationConfig(max_rejected_fraction=0.05), CHARSET, None, failures)
    assert not r.success and r.ok_rows == 28
    assert {f.expectation for f in r.failures} == {MATCHES_MANIFEST, "expect_column_values_to_be_in_set"}
    with pytest.raises(DataValidationError) as err:
        check([r])
    msg = str(err.value)
    assert "2 of 30 records differ from" in msg and "dvc repro prepare" in msg
    assert '"key": "image-000000004", "source": "images/3.png", "status": "undecodable"' in msg
    assert '"image-000000009"' in msg


# ---- the three stages, end to end on a tiny mirrored archive ----------------------------------------------

def load_stage(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_stages_download_convert_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_folder(tmp_path / "build" / "mini", 12, bad=1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted((tmp_path / "build").rglob("*")):
            zf.write(p, p.relative_to(tmp_path / "build").as_posix())
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "mini.zip").write_bytes(buf.getvalue())
    params = {
        "paths": {k: str(tmp_path / k) for k in ("raw", "downloads", "lmdb", "manifests", "reports")},
        "data": {"source": "real",
                 "real": {"mirror": str(tmp_path / "mirror"), "processes": 0,
                          "datasets": [{"name": "mini", "url": "https://example.invalid/data/mini.zip",
                                        "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
                                        "kind": "image_archive"}],
                          "convert": [{"src": "mini/mini/labels.tsv", "dst": "bench/MINI", "format": "tsv"}]},
                 "validation": {"max_rejected_fraction": 0.1}},
    }
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params))
    assert load_stage("download").main(["--params", str(pfile), "--no-progress"]) == 0
    assert json.loads((tmp_path / "raw" / "downloads.json").read_text())["datasets"][0]["name"] == "mini"
    assert load_stage("prepare").main(["--params", str(pfile), "--no-progress"]) == 0
    assert PrepareSummary.read(tmp_path / "reports" / "prepare.json").converted["bench/MINI"].written == 12
    with LmdbWriter(tmp_path / "lmdb" / "train" / "synth") as w:  # written directly, as the synthetic path does
        for i in range(5):
            w.add(encode(40, 32, 100 + i), f"s{i}")
    assert load_stage("validate").main(["--params", str(pfile)]) == 0
    summary = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert summary["success"] is True and sorted(summary["datasets"]) == ["bench/MINI", "train/synth"]
    assert summary["datasets"]["train/synth"]["ok_rows"] == 5
    assert (tmp_path / "reports" / "data_docs" / "index.html").exists()

    params["data"]["validation"]["max_rejected_fraction"] = 0.0  # 1 of 13 rejected now fails the gate
    pfile.write_text(yaml.safe_dump(params))
    capsys.readouterr()
    assert load_stage("validate").main(["--params", str(pfile)]) == 1
    err = capsys.readouterr().err
    assert "expect_column_values_to_be_in_set on 'status'" in err and "images/12.png" in err
    assert json.loads((tmp_path / "reports" / "validation.json").read_text())["failed"] == ["bench/MINI"]


def test_stage_fails_on_records_corrupted_after_prepare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's fault: records of <paths.lmdb>/train corrupted in place; the manifest alone says PASS."""
    lmdb, manifests = converted(tmp_path, n=40, bad=0)
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump({"paths": {"lmdb": str(lmdb), "manifests": str(manifests),
                                               "reports": str(tmp_path / "reports")},
                                     "data": {"real": {"processes": 2}}}))  # the stage's spawned pool
    assert load_stage("validate").main(["--params", str(pfile)]) == 0
    overwrite(lmdb / "train", {image_key(5): b"corrupt", image_key(6): b"", label_key(8): b"tampered"})
    capsys.readouterr()
    assert load_stage("validate").main(["--params", str(pfile)]) == 1
    out, err = capsys.readouterr()
    assert "FAIL train: 38/40 rows kept" in out
    assert all(f"image-00000000{i}" in err for i in (5, 6, 8)) and MATCHES_MANIFEST in err
    summary = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert summary["failed"] == ["train"]
