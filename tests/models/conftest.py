"""Fixture for the model tests: PaddleOCR's reference parameter key lists (the parity kit fixture,
``parity_kit``, comes from tests/conftest.py). Both live in the repo's sibling directory ``shared``;
tests that need them skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
KEY_LISTS = {"mobilenet_v3": "rec_mv3_none_bilstm_ctc.keys.txt", "resnet34_vd": "rec_r34_vd_none_bilstm_ctc.keys.txt"}


def parse_key_list(path: Path) -> list[tuple[str, list[int]]]:
    """``name<TAB>[d1, d2]`` lines -> [(name, [d1, d2])] in file order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        name, shape = line.split("\t")
        out.append((name, [int(d) for d in shape.strip().strip("[]").split(",") if d.strip()]))
    return out


@pytest.fixture(scope="session")
def reference_keys() -> dict[str, list[tuple[str, list[int]]]]:
    if not all((REFERENCE / name).is_file() for name in KEY_LISTS.values()):
        pytest.skip(f"PaddleOCR reference key lists not found in {REFERENCE}")
    return {bb: parse_key_list(REFERENCE / name) for bb, name in KEY_LISTS.items()}
