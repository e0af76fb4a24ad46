"""Fixtures: an LMDB of the parity kit's 24 real images, and the kit's trained MobileNetV3 checkpoint exported
once per session through the real CLI (`textrec export ... --int8`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from textrec.data.lmdb_io import LmdbWriter


@pytest.fixture(scope="session")
def kit_lmdb(parity_rows, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("kit") / "kit_lmdb"
    with LmdbWriter(dst) as w:
        for path, label in parity_rows:
            w.add(path.read_bytes(), label)
    return dst


@pytest.fixture(scope="session")
def mv3_checkpoint(parity_kit) -> Path:
    return parity_kit / "mv3" / "best_accuracy.pdparams"


@pytest.fixture(scope="session")
def exported_mv3(mv3_checkpoint, kit_lmdb, tmp_path_factory) -> Path:
    from textrec.cli import main

    out = tmp_path_factory.mktemp("exported") / "mobilenet_v3"
    rc = main(["export", "--model", str(mv3_checkpoint), "--out", str(out), "--check", str(kit_lmdb),
               "--int8", "--calib", str(kit_lmdb), "--threads", "2"])
    assert rc == 0
    return out
