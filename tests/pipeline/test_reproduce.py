"""The `reproduce` profile end to end on loopback fixtures: `dvc repro` in a copy of the project downloads a
DTRB-layout archive and PaddleOCR's MobileNetV3 release (built from the parity kit) from a server on
127.0.0.1, trains 0 steps, evaluates the seven benchmarks, exports, quantizes and reports PaddleOCR's
published mean beside ours. Slow (every stage, ~5 minutes on 2 shared cores): `pytest -m slow`."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.data.test_download import FileServer
from tests.pipeline.project import copy_project, dvc
from tests.training.test_init import MV3, RELEASE, _release_tar
from tests.training.wordimages import random_words, write_word_lmdb
from textrec.data.lmdb_io import LmdbWriter
from textrec.models.checkpoint import read_params
from textrec.models.pretrained import PUBLISHED_BENCHMARKS

DTRB_DIRS = {"IIIT5K": "IIIT5k_3000", "SVT": "SVT", "IC03": "IC03_867", "IC13": "IC13_1015", "IC15": "IC15_2077",
             "SVTP": "SVTP", "CUTE80": "CUTE80"}


def _dtrb_zip(tmp: Path, kit: Path) -> bytes:
    """data_lmdb_release/{validation,evaluation/<bench>}: random words, and the kit's 24 real crops per benchmark."""
    root = tmp / "dtrb" / "data_lmdb_release"
    write_word_lmdb(root / "validation", random_words(16, np.random.default_rng(3)), seed=4)
    rows = [line.split("\t", 1) for line in (kit / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    for name in DTRB_DIRS.values():
        with LmdbWriter(root / "evaluation" / name) as w:
            for rel, label in rows:
                w.add((kit / rel).read_bytes(), label)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(root.parent.rglob("*")):
            zf.write(p, p.relative_to(root.parent).as_posix())
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~5 min typical; `dvc repro` itself may take 1500 s
def test_reproduce_profile_on_loopback_fixtures(parity_kit, tmp_path):
    srv = FileServer()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        archive, tar = _dtrb_zip(tmp_path, parity_kit), _release_tar(parity_kit / MV3)
        srv.files.update({"/data_lmdb_release.zip": archive, f"/{RELEASE}.tar": tar})
        project = copy_project(tmp_path / "project", "reproduce")
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["model"]["backbones"] = ["mobilenet_v3"]
        params["data"]["real"].update(mirror=srv.url(""), processes=0)
        params["data"]["real"]["datasets"][0]["sha256"] = hashlib.sha256(archive).hexdigest()
        # pinned as the first --allow-missing-checksum download would print it; a batch the fixture can fill
        params["train"]["mobilenet_v3"].update(init_sha256=hashlib.sha256(tar).hexdigest(), batch_size=8)
        params["quantize"].update(calibration_images=16, timing_rounds=1, max_accuracy_drop=1.0)
        params["export"]["parity_images"] = 4
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        dvc(["repro"], project, timeout=1500)
    finally:
        srv.shutdown()
        srv.server_close()
    assert sorted(r["path"] for r in srv.requests) == ["/data_lmdb_release.zip", f"/{RELEASE}.tar"]
    kit = read_params(parity_kit / MV3)
    best = read_params(project / "models" / "mobilenet_v3" / "best.pdparams")
    assert all(np.array_equal(best[k], v) for k, v in kit.items())  # PaddleOCR's weights, untouched
    summary = json.loads((project / "reports" / "train" / "mobilenet_v3" / "train.json").read_text())
    assert (summary["steps"], summary["init"]["source"]) == (0, "paddleocr")
    assert summary["init"]["archive_sha256"] == hashlib.sha256(tar).hexdigest()
    accs = [json.loads((project / "reports" / "eval" / "mobilenet_v3" / f"{b}.json").read_text())["accuracy"]
            for b in PUBLISHED_BENCHMARKS]
    assert len(set(accs)) == 1 and accs[0] > 0  # the same 24 crops everywhere; the kit's model reads some
    md = (project / "reports" / "summary.md").read_text()
    assert "## Against PaddleOCR's published accuracy" in md and "77.95%" in md and f"{100 * accs[0]:.2f}%" in md
